"""The task queue in immediate mode (jobs run inline): syncs asked for, joined, taken with a
lease, resumed after a dead worker, scheduled by "Sync every"; the daily jobs; signed messages."""

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from gitint import queue, sync
from gitint.extensions import db
from gitint.hosts import settings_of
from gitint.housekeeping import clean_up
from gitint.models import (
    Attempt,
    AuditEvent,
    Idempotency,
    Integration,
    Repository,
    SyncRun,
    WebhookDelivery,
    utcnow,
)
from tests.admin.conftest import FakeHost, FakeProvider, repos


def reload(integration) -> Integration:
    db.session.expire_all()
    return db.session.get(Integration, integration.id)


def stored(integration) -> set[str]:
    return set(
        db.session.scalars(
            select(Repository.host_id).where(Repository.integration_id == integration.id)
        )
    )


def test_tests_run_jobs_inline(app):
    """Is the queue in immediate mode under TESTING (no consumer needed, no file written)?"""
    assert queue.huey.immediate and queue.huey.flask_app is app


def test_a_requested_sync_runs_and_a_second_request_joins(app, tenant, make_integration, fake_host):
    """Does a request queue (here: run) a sync recorded as a SyncRun, and does a request while
    one is queued join it instead of queueing another?"""
    integration = make_integration(tenant)
    fake_host.pages = [repos(0, 5)]
    run, queued = queue.request_sync(integration.id, "manual", "admin-1")
    assert queued and stored(integration) == {str(n) for n in range(5)}
    run = db.session.get(SyncRun, run.id)
    assert (run.state, run.done, run.attempts, run.trigger) == ("done", 5, 1, "manual")
    assert run.started_at and run.finished_at
    reload(integration).sync_state = "queued"
    db.session.commit()
    joined, queued = queue.request_sync(integration.id, "manual", "admin-2")
    assert not queued and joined.id == run.id
    assert db.session.scalar(select(func.count()).select_from(SyncRun)) == 1


def test_a_live_lease_keeps_a_second_worker_out(app, tenant, make_integration, fake_host):
    """While a worker's lease is live, does another job for the integration return "joined"
    without a host call or a write?"""
    integration = make_integration(tenant)
    fake_host.pages = [repos(0, 5)]
    sync.request(integration.id, "manual", "admin-1")
    assert sync.take(integration.id, "worker-a") is not None
    assert sync.perform(integration.id) == sync.Outcome("joined")
    assert fake_host.pages_read == 0 and stored(integration) == set()
    assert reload(integration).sync_owner == "worker-a"


def test_a_dead_workers_sync_is_resumed_with_the_right_repositories(
    app, tenant, make_integration, make_repo
):
    """When a worker dies mid-sync (its lease runs out), is the sync found once, resumed under
    a new stamp, and does it end with exactly the host's repositories — those the dead worker
    wrote, those added and those removed since — audited as resumed?"""
    integration = make_integration(tenant)
    make_repo(integration, "org/gone-before", host_id="gone")
    sync.request(integration.id, "scheduled", "scheduler")
    first = sync.take(integration.id, "dead-worker")
    sync.upsert([sync.row_of(r, tenant.id, integration.id, first) for r in repos(0, 50)])
    db.session.commit()  # the dead worker's first batch; it never finished
    assert sync.stale() == []  # its lease is still live
    reload(integration).sync_lease_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert sync.stale() == [integration.id]
    assert sync.stale() == []  # handed out once
    host = FakeHost(pages=[repos(10, 60)])  # 0-9 deleted on the host since, 50-59 new
    provider = FakeProvider(settings_of(integration), "secret", host=host)
    outcome = sync.perform(integration.id, provider=provider)
    assert outcome == sync.Outcome("done", 50, 11)
    assert stored(integration) == {str(n) for n in range(10, 60)}
    run = db.session.scalar(select(SyncRun))
    assert (run.state, run.attempts) == ("done", 2)
    event = db.session.scalar(select(AuditEvent))
    assert event.action == "sync.scheduled" and "resumed" in event.detail
    assert event.account_id == "scheduler"


def test_a_sync_that_keeps_dying_is_failed_not_resumed_forever(app, tenant, make_integration):
    """When every attempt dies without finishing (a worker crash loop), is the run failed after
    sync.MAX_ATTEMPTS attempts — said on the integration and in the audit log — and no longer
    handed out?"""
    integration = make_integration(tenant)
    sync.request(integration.id, "scheduled", "scheduler")
    for attempt in range(sync.MAX_ATTEMPTS):
        assert sync.take(integration.id, f"worker-{attempt}") is not None
        reload(integration).sync_lease_until = utcnow() - timedelta(seconds=1)  # it died
        db.session.commit()
        assert sync.stale() == [integration.id]
    assert sync.take(integration.id, "worker-last") is None
    integration = reload(integration)
    assert integration.sync_state == "failed" and "stopped 5 times" in integration.sync_error
    run = db.session.scalar(select(SyncRun))
    assert (run.state, run.attempts) == ("failed", sync.MAX_ATTEMPTS)
    event = db.session.scalar(select(AuditEvent))
    assert event.result == "error" and "stopped 5 times" in event.detail
    assert sync.stale() == [] and not sync.is_pending(integration)


def test_a_lost_request_is_queued_again(app, tenant, make_integration, fake_host):
    """Is a request no worker took for 15 minutes (the queue lost it) handed out again?"""
    integration = make_integration(tenant)
    sync.request(integration.id, "manual", "admin-1")
    assert sync.stale() == []
    reload(integration).sync_requested_at = utcnow() - sync.LOST_AFTER - timedelta(seconds=1)
    db.session.commit()
    fake_host.pages = [repos(0, 2)]
    queue.resume_syncs()
    assert reload(integration).sync_state == "done" and len(stored(integration)) == 2


def test_stopping_hands_the_sync_back(app, tenant, make_integration):
    """Does release (a consumer stopping on SIGTERM) end the lease at once?"""
    integration = make_integration(tenant)
    sync.request(integration.id, "manual", "admin-1")
    sync.take(integration.id, "worker-a")
    assert sync.is_running(reload(integration))
    sync.release(integration.id)
    integration = reload(integration)
    assert not sync.is_running(integration) and sync.is_pending(integration)
    assert sync.stale() == [integration.id]


def test_the_lease_is_renewed_while_a_sync_runs(app, tenant, make_integration):
    """Does the heartbeat push the lease forward while the worker is busy (slow host pages)?"""
    app.config["GITINT_SYNC_LEASE"] = 0.4
    integration = make_integration(tenant)
    sync.request(integration.id, "manual", "admin-1")
    sync.take(integration.id, "worker-a")
    before = reload(integration).sync_lease_until
    with sync.Heartbeat(integration.id, "worker-a", sync.lease_length()) as beat:
        beat.stopped.wait(0.35)  # about three beats
    assert reload(integration).sync_lease_until > before


def test_due_follows_sync_every(app, tenant, make_integration):
    """Are integrations due when their "Sync every" has elapsed (or they never synced), and
    not when it is off, a sync is pending, or the host refused their credential?"""
    now = utcnow()
    fresh = make_integration(tenant, synced_at=now - timedelta(hours=5), sync_state="done")
    old = make_integration(tenant, synced_at=now - timedelta(hours=7), sync_state="done")
    hourly = make_integration(
        tenant, synced_at=now - timedelta(hours=2), sync_state="failed", sync_every_hours=1
    )
    never = make_integration(tenant)
    off = make_integration(tenant, sync_every_hours=0)
    busy = make_integration(tenant, sync_state="queued")
    refused = make_integration(tenant)
    refused.credential_status = "revoked"
    no_credential = make_integration(tenant, secret=None)
    db.session.commit()
    assert sync.due(now) == [old.id, hourly.id, never.id]
    assert {fresh.id, off.id, busy.id, refused.id, no_credential.id}.isdisjoint(sync.due(now))


def test_the_schedule_requests_due_syncs(app, tenant, make_integration, fake_host):
    """Does the scheduled job sync every due integration, audited as "sync.scheduled"?"""
    integration = make_integration(tenant)
    fake_host.pages = [repos(0, 3)]
    queue.schedule_syncs()
    assert reload(integration).sync_state == "done" and len(stored(integration)) == 3
    event = db.session.scalar(select(AuditEvent))
    assert (event.action, event.account_id, event.result) == (
        "sync.scheduled",
        "scheduler",
        "success",
    )
    assert event.detail == "3 repositories synced, 0 removed."
    queue.schedule_syncs()  # not due again
    assert db.session.scalar(select(func.count()).select_from(SyncRun)) == 1


def test_the_daily_check_takes_each_token_once(app, tenant, make_integration, make_credential):
    """Does the daily check re-validate only tokens not checked today, each claimed first (so
    two consumers running it at once never check one twice)?"""
    from gitint import credentials

    integration = make_integration(tenant)
    checked = make_credential(integration, "alice", checked_at=utcnow() - timedelta(hours=1))
    due = make_credential(integration, "bob", checked_at=utcnow() - timedelta(days=2))
    never = make_credential(integration, "carol")
    seen = []

    def revalidate(credential):
        seen.append(credential.account_id)
        return "valid"

    original = credentials.revalidate
    credentials.revalidate = revalidate
    try:
        assert credentials.check_stored(due_only=True, pause=0) == {"valid": 2}
        assert credentials.check_stored(due_only=True, pause=0) == {}
        assert credentials.check_stored(pause=0) == {"valid": 3}  # the CLI checks all
    finally:
        credentials.revalidate = original
    assert seen == ["bob", "carol", "alice", "bob", "carol"]
    assert {checked.id, due.id, never.id}


def test_clean_up_removes_only_what_expired(app, tenant, make_integration):
    """Does the clean-up delete expired idempotency and attempt rows, deliveries older than 30
    days and finished runs older than 90 days — and nothing newer, nor a current run?"""
    from gitint import webhooks

    now = utcnow()
    integration = make_integration(tenant)
    webhook, _ = webhooks.set_up(integration)
    db.session.flush()
    db.session.add_all(
        [
            Idempotency(tenant_id=tenant.id, key="old", created_at=now - timedelta(hours=1)),
            Idempotency(tenant_id=tenant.id, key="new", created_at=now),
            Attempt(bucket="b", created_at=now - timedelta(hours=1)),
            Attempt(bucket="b", created_at=now),
            WebhookDelivery(
                webhook_id=webhook.id, key="old", event="x", received_at=now - timedelta(days=31)
            ),
            WebhookDelivery(webhook_id=webhook.id, key="new", event="x", received_at=now),
        ]
    )
    runs = [
        SyncRun(
            tenant_id=tenant.id,
            integration_id=integration.id,
            trigger="scheduled",
            requested_by="scheduler",
            requested_at=now - timedelta(days=days),
            state="done",
        )
        for days in (200, 100, 1)
    ]
    db.session.add_all(runs)
    db.session.flush()
    integration.sync_run_id = runs[0].id  # the integration's current run is kept, however old
    db.session.commit()
    assert clean_up(now) == {
        "idempotency rows": 1,
        "attempts": 1,
        "webhook deliveries": 1,
        "sync runs": 1,
    }
    assert clean_up(now) == dict.fromkeys(
        ("idempotency rows", "attempts", "webhook deliveries", "sync runs"), 0
    )
    assert db.session.scalar(select(Idempotency.key)) == "new"
    assert set(db.session.scalars(select(SyncRun.id))) == {runs[0].id, runs[2].id}


def test_queue_messages_are_signed(app):
    """Does a worker drop a message not signed with a key of the key ring?"""
    signer = queue.KeyRingSerializer([b"a" * 32, b"b" * 32])
    data = signer.serialize({"job": 1})
    assert signer.deserialize(data) == {"job": 1}
    assert queue.KeyRingSerializer([b"c" * 32, b"a" * 32]).deserialize(data) == {"job": 1}
    with pytest.raises(ValueError, match="wrong signature"):
        queue.KeyRingSerializer([b"c" * 32]).deserialize(data)
    forged = data[:32] + data[32:].replace(b"job", b"jab")
    with pytest.raises(ValueError):
        signer.deserialize(forged)


def test_storage_follows_the_queue_url(app, tmp_path):
    """Does GITINT_QUEUE_URL pick SQLite or Redis (and refuse anything else), and the worker
    command refuse immediate mode?"""
    from huey.storage import RedisStorage, SqliteStorage

    try:
        app.config.update(GITINT_QUEUE_IMMEDIATE=False)
        app.config["GITINT_QUEUE_URL"] = f"sqlite:///{tmp_path}/q/queue.sqlite"
        queue.init_app(app)
        assert isinstance(queue.huey.storage, SqliteStorage)
        assert (tmp_path / "q" / "queue.sqlite").exists()
        app.config["GITINT_QUEUE_URL"] = "redis://127.0.0.1:6379/0"
        queue.init_app(app)
        assert isinstance(queue.huey.storage, RedisStorage)
        app.config["GITINT_QUEUE_URL"] = "amqp://elsewhere"
        with pytest.raises(ValueError, match="GITINT_QUEUE_URL"):
            queue.init_app(app)
    finally:
        app.config.update(GITINT_QUEUE_IMMEDIATE=None, GITINT_QUEUE_URL="sqlite:///unused")
        queue.init_app(app)
    assert queue.huey.immediate
    result = app.test_cli_runner().invoke(args=["gitint", "worker"])
    assert result.exit_code == 2 and "immediate mode" in result.output


def test_check_pats_queues_by_default(app, runner, tenant, make_integration, make_credential):
    """Does `check-pats` queue the check (run inline here) and say so, `--now` printing each?"""
    from gitint import credentials

    make_credential(make_integration(tenant), "alice")
    seen = []
    original = credentials.revalidate
    credentials.revalidate = lambda credential: seen.append(credential.account_id) or "valid"
    try:
        result = runner.invoke(args=["gitint", "check-pats"])
        assert result.exit_code == 0 and result.output.startswith("Queued")
        result = runner.invoke(args=["gitint", "check-pats", "--now", "--pause", "0"])
        assert "user alice: valid" in result.output and "Checked 1 credentials" in result.output
    finally:
        credentials.revalidate = original
    assert seen == ["alice", "alice"]
