"""Repository sync (gitint/sync.py) without HTTP views: pages, batches, vanished repositories,
failures, and who owns a run."""

from datetime import timedelta

import pytest
import responses
from responses import matchers
from sqlalchemy import event, select, text

from gitint import sync
from gitint.extensions import db
from gitint.hosts import settings_of
from gitint.models import Integration, Repository, utcnow
from gitint.providers.base import AuthExpired, Repo, Unavailable
from tests.admin.conftest import FakeHost, FakeProvider, repos


def fake(integration, *pages):
    return FakeProvider(settings_of(integration), "secret", host=FakeHost(pages=list(pages)))


def stored(integration):
    rows = db.session.execute(
        select(Repository.host_id, Repository.full_name)
        .where(Repository.integration_id == integration.id)
        .order_by(Repository.id)
    ).all()
    return dict(rows)


def test_three_pages_are_all_stored_and_vanished_ones_removed(
    app, tenant, make_integration, make_repo
):
    """Does a sync of a 3-page listing store every repository (in batches) and remove the
    repositories gone from the host?"""
    integration = make_integration(tenant)
    make_repo(integration, "org/gone", host_id="gone")
    make_repo(integration, "org/old-name", host_id="7")
    progress = []
    stamp = sync.claim(integration.id)
    outcome = sync.run(
        integration.id,
        stamp,
        provider=fake(integration, repos(0, 100), repos(100, 200), repos(200, 250)),
        on_progress=progress.append,
        batch_size=64,
    )
    assert outcome == sync.Outcome("done", 250, 1)
    assert progress == [64, 128, 192, 250]
    rows = stored(integration)
    assert set(rows) == {str(n) for n in range(250)}
    assert rows["7"] == "org/repo-7"  # renamed on the host: updated in place
    repo = db.session.scalar(select(Repository).where(Repository.host_id == "7"))
    assert repo.search_name == "org/repo-7" and repo.tenant_id == tenant.id
    db.session.expire_all()
    integration = db.session.get(Integration, integration.id)
    assert (integration.sync_state, integration.sync_done, integration.sync_error) == (
        "done",
        250,
        None,
    )
    assert integration.synced_at == stamp

    # the next run: the middle page is gone from the host
    stamp = sync.claim(integration.id)
    outcome = sync.run(
        integration.id, stamp, provider=fake(integration, repos(0, 100), repos(200, 250))
    )
    assert outcome == sync.Outcome("done", 150, 100)
    assert set(stored(integration)) == {str(n) for n in (*range(100), *range(200, 250))}


def test_sync_leaves_other_integrations_alone(
    app, tenant, make_tenant, make_integration, make_repo
):
    """Are other integrations' repositories (same host ids, other tenants) untouched?"""
    integration = make_integration(tenant)
    other = make_integration(make_tenant())
    make_repo(other, "them/repo-1", host_id="1")
    sync.run(integration.id, sync.claim(integration.id), provider=fake(integration, repos(0, 3)))
    assert stored(other) == {"1": "them/repo-1"}
    assert set(stored(integration)) == {"0", "1", "2"}


def test_duplicates_within_a_batch_are_merged(app, tenant, make_integration):
    """Does a host listing one repository twice (a moved page boundary) store it once?"""
    integration = make_integration(tenant)
    page = [Repo("1", "org/a"), Repo("1", "org/a-renamed"), Repo("2", "org/b")]
    outcome = sync.run(integration.id, sync.claim(integration.id), provider=fake(integration, page))
    assert outcome.state == "done"
    assert stored(integration) == {"1": "org/a-renamed", "2": "org/b"}


def test_a_host_error_fails_the_run_and_keeps_the_repositories(
    app, tenant, make_integration, make_repo
):
    """When the listing fails midway, is the run failed with the host's sentence and nothing
    deleted?"""
    integration = make_integration(tenant)
    make_repo(integration, "org/kept", host_id="kept")
    error = Unavailable("The git host could not be reached; try again.")
    outcome = sync.run(
        integration.id, sync.claim(integration.id), provider=fake(integration, repos(0, 5), error)
    )
    assert outcome.state == "failed" and outcome.error == str(error)
    assert "kept" in stored(integration)
    db.session.expire_all()
    integration = db.session.get(Integration, integration.id)
    assert integration.sync_state == "failed" and integration.sync_error == str(error)


def test_401_marks_the_integration_credential(app, tenant, make_integration):
    """Does a 401 during a sync mark the integration credential expired (hosts.mark_rejected)?"""
    integration = make_integration(tenant)
    error = AuthExpired("GitHub refused the access token.", expired=True)
    outcome = sync.run(
        integration.id, sync.claim(integration.id), provider=fake(integration, error)
    )
    assert outcome.state == "failed"
    db.session.expire_all()
    integration = db.session.get(Integration, integration.id)
    assert integration.credential_status == "expired"
    assert integration.credential_checked_at is not None


def test_only_one_run_at_a_time(app, tenant, make_integration):
    """Is a second claim refused while a worker's lease is live, unless forced, and taken once
    the lease has run out (the worker died)?"""
    integration = make_integration(tenant)
    first = sync.claim(integration.id)
    assert first is not None
    assert sync.claim(integration.id) is None
    db.session.expire_all()
    assert sync.is_running(db.session.get(Integration, integration.id))
    forced = sync.claim(integration.id, force=True)
    assert forced is not None and forced != first
    db.session.get(Integration, integration.id).sync_lease_until = utcnow() - timedelta(seconds=1)
    db.session.commit()
    assert not sync.is_running(db.session.get(Integration, integration.id))
    assert sync.is_pending(db.session.get(Integration, integration.id))
    assert sync.claim(integration.id) is not None


def test_a_superseded_run_stops_without_writing(app, tenant, make_integration):
    """When a newer run takes over, does the older one stop and leave its batch unwritten?"""
    integration = make_integration(tenant)
    old = sync.claim(integration.id)
    sync.claim(integration.id, force=True)
    outcome = sync.run(integration.id, old, provider=fake(integration, repos(0, 10)), batch_size=5)
    assert outcome.state == "superseded"
    assert stored(integration) == {}
    db.session.expire_all()
    assert db.session.get(Integration, integration.id).sync_state == "running"


def test_an_older_stamp_never_overwrites_a_newer_one(app, tenant, make_integration):
    """Does the upsert keep a row's newer stamp when an older run writes it late?"""
    integration = make_integration(tenant)
    newer = utcnow()
    older = newer - timedelta(minutes=5)
    row = sync.row_of(Repo("1", "org/new"), tenant.id, integration.id, newer)
    sync.upsert([row])
    sync.upsert([sync.row_of(Repo("1", "org/stale"), tenant.id, integration.id, older)])
    db.session.commit()
    repo = db.session.scalar(select(Repository))
    assert (repo.full_name, repo.synced_at) == ("org/new", newer)


def test_a_batch_is_sent_as_multi_row_inserts_and_searchable(app, tenant, make_integration):
    """Is a batch of 2,500 rows sent in a few statements (on SQLite three of 1,000 rows at most:
    row by row, every statement would flush the FTS5 search index), every row written and, on
    SQLite, found by the trigram index?"""
    integration = make_integration(tenant)
    stamp = utcnow()
    rows = [
        sync.row_of(Repo(str(n), f"org/repo-{n}"), tenant.id, integration.id, stamp)
        for n in range(2500)
    ]
    inserts = []

    def count(_conn, _cursor, statement, parameters, _context, executemany):
        if statement.startswith("INSERT INTO repositories"):
            inserts.append(len(parameters))  # one statement's parameters

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert sync.upsert(rows) == 2500
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    db.session.commit()
    assert len(stored(integration)) == 2500
    if db.engine.dialect.name == "sqlite":
        assert inserts == [1000 * 9, 1000 * 9, 500 * 9]  # 9 columns a row
        found = db.session.scalar(
            text("SELECT count(*) FROM repositories_search WHERE search_name MATCH '\"repo-12\"'")
        )
        assert found == 111  # repo-12, repo-120…129, repo-1200…1299
    else:
        assert inserts == [2500]  # one executemany of 2,500 rows: psycopg pipelines it


def github_page(start, stop):
    return [
        {
            "id": n,
            "full_name": f"acme/r{n}",
            "default_branch": "main",
            "html_url": f"https://github.com/acme/r{n}",
        }
        for n in range(start, stop)
    ]


@responses.activate
def test_github_listing_of_three_pages(app, tenant, make_integration):
    """Does a sync through the real GitHub provider follow the Link pages with the integration
    credential and store every repository?"""
    integration = make_integration(tenant, secret="ghp_integration_sync_0001")
    api = "https://api.github.com/user/repos"
    for page, (start, stop) in enumerate(((0, 100), (100, 200), (200, 230)), start=1):
        following = f'<{api}?per_page=100&page={page + 1}>; rel="next"' if page < 3 else ""
        params = {"per_page": "100"} if page == 1 else {"per_page": "100", "page": str(page)}
        responses.get(
            api,
            json=github_page(start, stop),
            headers={"Link": following} if following else {},
            match=[matchers.query_param_matcher(params)],
        )
    outcome = sync.run(integration.id, sync.claim(integration.id))
    assert outcome == sync.Outcome("done", 230, 0)
    assert len(responses.calls) == 3
    assert all(
        call.request.headers["Authorization"] == "Bearer ghp_integration_sync_0001"
        for call in responses.calls
    )
    assert stored(integration)["229"] == "acme/r229"


def test_postgresql_knows_the_new_table_size_after_a_sync(app, tenant, make_integration):
    """On PostgreSQL, does a finished sync leave the planner's statistics up to date (a table
    never analyzed is planned as a few rows, and a substring search then reads and sorts all
    of a large tenant's names)?"""
    if db.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only: SQLite's search plans need no statistics")
    integration = make_integration(tenant)
    stamp = sync.claim(integration.id)
    outcome = sync.run(integration.id, stamp, provider=fake(integration, repos(0, 30)))
    assert outcome.state == "done"
    estimate = db.session.execute(
        text("SELECT reltuples FROM pg_class WHERE relname = 'repositories'")
    ).scalar()
    assert estimate == 30
