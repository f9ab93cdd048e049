"""Real consumer processes (`flask --app app gitint worker`) on the SQLite queue and on Redis,
syncing against the fake GitHub host: end to end with a webhook, killed mid-sync and restarted,
stopped with SIGTERM, and two workers given one integration's sync at once."""

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests
from sqlalchemy import select
from werkzeug.serving import make_server

from gitint import queue, sync, webhooks
from gitint.dev.fakehost import FakeGitHost, FakeState
from gitint.extensions import db
from gitint.models import AuditEvent, Integration, Repository, SyncRun
from tests.conftest import TEST_KEY, context_headers, database_url

ROOT = Path(__file__).parents[2]
TOKEN = "ghp_integrationtoken0000"  # make_integration's default credential
REDIS_URL = os.environ.get("GITINT_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
LEASE = 2  # seconds: a killed worker's sync is taken over this long after its last renewal


def redis_reachable() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=0.5).ping())
    except redis.RedisError:
        return False


@pytest.fixture(params=["sqlite", "redis"])
def backend(request):
    if request.param == "redis" and not redis_reachable():
        if os.environ.get("GITINT_REQUIRE_REDIS"):
            pytest.fail(f"GITINT_REQUIRE_REDIS is set but Redis does not answer at {REDIS_URL}")
        pytest.skip(f"Redis does not answer at {REDIS_URL}")
    return request.param


class Workers:
    """Consumer processes sharing the test's database and queue."""

    def __init__(self, app, tmp_path, queue_url):
        self.tmp_path, self.processes, self.logs = tmp_path, [], []
        self.env = {
            **os.environ,
            "DATABASE_URL": database_url(tmp_path),
            "GITINT_SECRET_KEYS": TEST_KEY,
            "GITINT_QUEUE_URL": queue_url,
            "GITINT_QUEUE_NAME": app.config["GITINT_QUEUE_NAME"],
            "GITINT_ALLOW_PRIVATE_HOSTS": "1",
            "GITINT_SYNC_LEASE": str(LEASE),
            "PYTHONUNBUFFERED": "1",
        }

    def start(self, workers: int = 2) -> subprocess.Popen:
        log = self.tmp_path / f"worker-{len(self.processes)}.log"
        self.logs.append(log)
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "flask", "--app", "app", "gitint", "worker"]
                + ["--workers", str(workers)],
                cwd=ROOT,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.processes.append(process)
        return process

    def output(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text()[-3000:]}" for log in self.logs)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@pytest.fixture
def workers(app, tmp_path, backend):
    """Point this process's queue at a real SQLite file or Redis, and start consumers on it."""
    name = f"gitint-test-{uuid.uuid4().hex[:8]}"
    url = f"sqlite:///{tmp_path / 'queue.sqlite'}" if backend == "sqlite" else REDIS_URL
    app.config.update(GITINT_QUEUE_IMMEDIATE=False, GITINT_QUEUE_URL=url, GITINT_QUEUE_NAME=name)
    queue.init_app(app)
    running = Workers(app, tmp_path, url)
    yield running
    running.stop()
    queue.huey.flush()
    app.config.update(GITINT_QUEUE_IMMEDIATE=None, GITINT_QUEUE_NAME="gitint")
    queue.init_app(app)


@pytest.fixture
def githost():
    state = FakeState()
    state.add_token(TOKEN, "gitint-bot")
    for n in range(2500):
        state.add_repo(f"acme/repo-{n:04d}")
    with FakeGitHost(state) as host:
        try:
            yield host
        finally:
            state.released.set()  # no request stays held


@pytest.fixture
def integration(tenant, make_integration, githost):
    return make_integration(tenant, kind="github_enterprise", base_url=githost.base_url)


def wait_for(workers: Workers, what: str, predicate, timeout: float = 60.0):
    """Poll the database (a fresh snapshot each time) until ``predicate()`` is truthy."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.rollback()
        db.session.expire_all()
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    pytest.fail(f"timed out waiting for {what}\n{workers.output()}")


def state_of(integration) -> Integration:
    return db.session.get(Integration, integration.id)


def stored(integration) -> set[str]:
    return set(
        db.session.scalars(
            select(Repository.full_name).where(Repository.integration_id == integration.id)
        )
    )


def serve(app):
    """The app on a real port (the fake host delivers its webhooks there); stop() ends it."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_a_worker_process_syncs_and_applies_webhooks(
    app, client, workers, githost, integration, tenant, backend
):
    """Does a consumer process run a requested sync to the end (the host's 2,500 repositories),
    and does a repository created on the host then appear in the type-ahead after its webhook,
    without a sync?"""
    run, queued = queue.request_sync(integration.id, "manual", "admin-1")
    assert queued
    workers.start()
    wait_for(workers, "the sync", lambda: state_of(integration).sync_state == "done")
    assert stored(integration) == set(githost.state.repos)
    assert db.session.get(SyncRun, run.id).state == "done"
    server = serve(app)
    try:
        webhook, secret = webhooks.set_up(state_of(integration))
        db.session.commit()
        url = f"http://127.0.0.1:{server.server_port}/webhooks/{webhook.public_id}"
        githost.state.hooks.append((url, secret))
        answer = requests.post(
            f"{githost.base_url}/api/v3/orgs/acme/repos",
            json={"name": "brand-new"},
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=10,
        )
        assert answer.status_code == 201
        assert githost.state.deliveries[-1]["status"] == 202
        headers = context_headers(tenant)

        def typeahead() -> str:
            answer = client.get("/dialogs/repositories?repository_name=brand", headers=headers)
            return answer.get_data(as_text=True) if "acme/brand-new" in answer.text else ""

        found = wait_for(workers, "the webhook's repository in the type-ahead", typeahead)
        assert found.count("acme/repo-") == 0
        assert state_of(integration).sync_state == "done"  # no sync ran for it
        actions = db.session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
        assert actions == ["sync.manual", "sync.webhook"]
    finally:
        server.shutdown()


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_a_killed_workers_sync_is_finished_by_the_next(workers, githost, integration, backend):
    """When the consumer is killed (SIGKILL) mid-sync and another is started, does that one
    take the sync over once the lease runs out and end with exactly the host's repositories
    (including those created and deleted in between)?"""
    for n in range(2500, 2500 + sync.BATCH):  # more than a batch: one is written, then…
        githost.state.add_repo(f"acme/repo-{n:04d}")
    total = 2500 + sync.BATCH
    githost.state.hold_from_page = sync.BATCH // 100 + 1  # …the listing (100 a page) waits
    queue.request_sync(integration.id, "manual", "admin-1")
    first = workers.start()
    wait_for(workers, "the first batch", lambda: state_of(integration).sync_done == sync.BATCH)
    first.kill()
    first.wait()
    for n in range(0, total, 10):  # the host changes while nobody syncs
        githost.state.repos.pop(f"acme/repo-{n:04d}")
    githost.state.add_repo("acme/added-meanwhile")
    githost.state.released.set()
    workers.start()
    wait_for(workers, "the resumed sync", lambda: state_of(integration).sync_state == "done")
    assert stored(integration) == set(githost.state.repos)
    assert len(stored(integration)) == total - total // 10 + 1
    run = db.session.scalar(select(SyncRun))
    assert (run.state, run.attempts) == ("done", 2)
    assert "resumed" in db.session.scalar(select(AuditEvent.detail))


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_sigterm_hands_the_sync_back_at_once(workers, githost, integration, backend):
    """Does a consumer stopped with SIGTERM mid-sync give the sync back (lease ended, job queued
    again) so the next consumer finishes it without waiting for the lease?"""
    githost.state.hold_from_page = 2
    queue.request_sync(integration.id, "manual", "admin-1")
    first = workers.start()
    wait_for(workers, "the listing", lambda: githost.state.listings == 1)
    first.send_signal(signal.SIGTERM)
    assert first.wait(timeout=20) is not None
    db.session.rollback()
    assert not sync.is_running(state_of(integration)) and sync.is_pending(state_of(integration))
    pending = queue.huey.pending()
    assert any(isinstance(task, queue.sync_repositories.task_class) for task in pending)
    githost.state.released.set()
    workers.start()
    wait_for(workers, "the handed-back sync", lambda: state_of(integration).sync_state == "done")
    assert stored(integration) == set(githost.state.repos)


@pytest.mark.parametrize("backend", ["sqlite"], indirect=True)
def test_two_workers_never_sync_one_integration_at_once(workers, githost, integration, backend):
    """Given four jobs for one integration's sync on two consumer processes (two threads each),
    does exactly one list the host while the other three join it?"""
    githost.state.hold_from_page = 2
    queue.request_sync(integration.id, "manual", "admin-1")
    for _ in range(3):
        queue.sync_repositories(integration.id)
    workers.start()
    workers.start()

    def joined() -> bool:
        return workers.output().count(": joined") == 3 and githost.state.listings >= 1

    wait_for(workers, "one listing, and three jobs joining it", joined)
    assert githost.state.listings == 1
    githost.state.released.set()
    wait_for(workers, "the sync", lambda: state_of(integration).sync_state == "done")
    assert githost.state.listings == 1
    assert stored(integration) == set(githost.state.repos)
    assert db.session.scalar(select(SyncRun)).attempts == 1
