"""Repository sync: copy the repositories the integration account can see into the database.

Memory stays bounded at any size: ``provider.list_repositories()`` is a stream, rows are upserted
``BATCH`` at a time, and every row written is stamped with this run's start time. At the end,
rows with an older stamp are gone from the host and are deleted. Progress lives on the
Integration row (``sync_state``, ``sync_done``, ``sync_error``, ``synced_at`` = the run's start),
so any web worker or machine shows it.

A sync runs on the task queue (gitint/queue.py), never in a web worker:

- ``request`` records a SyncRun and marks the integration "queued", atomically; while a sync is
  queued or running a second request joins it (nothing new is queued).
- ``perform`` (the queue's job) takes the sync with a lease: the integration row names the owner
  and the time its lease ends, renewed every few seconds while it runs. Every write of progress
  checks the owner in the same transaction as the batch it commits, so two workers never sync
  one integration at once: a second job finds a live lease and returns ("joined").
- A worker that dies stops renewing. ``stale`` finds runs whose lease ran out (and requests the
  queue lost) so the queue can hand them to a live worker, which starts the listing again under
  a new stamp: rows the dead attempt wrote are simply re-stamped, and only the finished listing
  decides what was removed, so a resumed sync ends with exactly the host's repositories.
- ``due`` lists the integrations whose "Sync every" has elapsed (the scheduled re-sync).
"""

import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import and_, delete, func, or_, select, text, update
from sqlalchemy.dialects import postgresql, sqlite

from . import audit, hosts
from .crypto import SecretError
from .extensions import db
from .models import Integration, Repository, SyncRun, utcnow
from .providers.base import AuthExpired, Provider, ProviderError, Repo
from .settings import SYNC_EVERY

log = logging.getLogger(__name__)

# rows per upsert and commit: SQLite rewrites the index pages a batch touches at each commit, so
# 5,000 rows per commit writes a sync into a 400,000-repository tenant 20 % faster than 1,000
BATCH = 5000
OPEN = ("queued", "running")
MAX_ATTEMPTS = 5  # a run whose workers stopped this often without finishing is failed
LOST_AFTER = timedelta(minutes=15)  # a request no worker took this long ago is queued again


@dataclass(frozen=True)
class Outcome:
    state: str  # done | failed | superseded | joined (another worker holds the sync)
    done: int = 0
    removed: int = 0
    error: str | None = None


# ---------------------------------------------------------------- reading


def is_running(integration: Integration) -> bool:
    """A worker is syncing now (its lease is live)."""
    return (
        integration.sync_state == "running"
        and integration.sync_lease_until is not None
        and integration.sync_lease_until > utcnow()
    )


def is_pending(integration: Integration) -> bool:
    """A sync is queued or under way (a run whose worker died counts: it will be resumed)."""
    return integration.sync_state in OPEN


def repository_count(integration_id: int) -> int:
    return db.session.scalar(
        select(func.count()).where(Repository.integration_id == integration_id)
    )


def lease_length() -> timedelta:
    return timedelta(seconds=current_app.config["GITINT_SYNC_LEASE"])


# ---------------------------------------------------------------- asking for a sync


def request(
    integration_id: int, trigger: str, requested_by: str, requested_by_name: str | None = None
) -> tuple[SyncRun | None, bool]:
    """Ask for a sync: (the new run, True) when it was queued, or (the run under way, False)
    when one is already queued or running, which the request joins. ``requested_by_name`` is
    the Jira user's display name, for the audit row written when the sync ends. The caller
    enqueues the job (gitint/queue.py) after a True."""
    integration = db.session.get(Integration, integration_id)
    if integration is None:
        return None, False
    run = SyncRun(
        tenant_id=integration.tenant_id,
        integration_id=integration_id,
        trigger=trigger,
        requested_by=requested_by[:128],
        requested_by_name=(requested_by_name or "")[:255] or None,
        requested_at=utcnow(),
        state="queued",
    )
    db.session.add(run)
    db.session.flush()
    result = db.session.execute(
        update(Integration)
        .where(Integration.id == integration_id, Integration.sync_state.not_in(OPEN))
        .values(sync_state="queued", sync_run_id=run.id, sync_requested_at=run.requested_at),
        execution_options={"synchronize_session": False},
    )
    if result.rowcount != 1:
        db.session.rollback()
        current = db.session.scalar(
            select(SyncRun)
            .join(Integration, Integration.sync_run_id == SyncRun.id)
            .where(Integration.id == integration_id)
        )
        return current, False
    db.session.commit()
    return run, True


def due(now: datetime | None = None) -> list[int]:
    """Integrations whose "Sync every" has elapsed since their last sync started, that have a
    credential the host has not refused, and no sync queued or running."""
    now = now or utcnow()
    every = [hours for hours in SYNC_EVERY if hours]
    elapsed = or_(
        Integration.synced_at.is_(None),
        *(
            and_(
                Integration.sync_every_hours == h, Integration.synced_at <= now - timedelta(hours=h)
            )
            for h in every
        ),
    )
    query = (
        select(Integration.id)
        .where(
            Integration.sync_every_hours.in_(every),
            Integration.sync_state.not_in(OPEN),
            Integration.credential_ct.is_not(None),
            or_(
                Integration.credential_status.is_(None),
                Integration.credential_status.not_in(("expired", "revoked")),
            ),
            elapsed,
        )
        .order_by(Integration.id)
    )
    return list(db.session.scalars(query))


def stale(now: datetime | None = None) -> list[int]:
    """Integrations whose sync needs a worker again: running with an expired lease (its worker
    died), or queued so long ago that the queue must have lost the job. Each is returned once
    (its request time is bumped; again only after ``LOST_AFTER``), so many consumers asking at
    once do not pile up jobs."""
    now = now or utcnow()
    requested = Integration.sync_requested_at
    not_asked_again = or_(requested.is_(None), requested < now - LOST_AFTER)
    dead = and_(
        Integration.sync_state == "running",
        or_(Integration.sync_lease_until.is_(None), Integration.sync_lease_until < now),
        or_(not_asked_again, requested <= Integration.synced_at),  # since this attempt began
    )
    lost = and_(Integration.sync_state == "queued", not_asked_again)
    ids = []
    for integration_id in db.session.scalars(select(Integration.id).where(or_(dead, lost))).all():
        result = db.session.execute(
            update(Integration)
            .where(Integration.id == integration_id, or_(dead, lost))
            .values(sync_requested_at=now),
            execution_options={"synchronize_session": False},
        )
        if result.rowcount == 1:
            ids.append(integration_id)
    db.session.commit()
    return ids


def release(integration_id: int) -> None:
    """The worker is stopping (SIGTERM): end its lease now, so the queue can resume the sync."""
    db.session.execute(
        update(Integration)
        .where(Integration.id == integration_id, Integration.sync_state == "running")
        .values(sync_lease_until=utcnow() - timedelta(seconds=1)),
        execution_options={"synchronize_session": False},
    )
    db.session.commit()


# ---------------------------------------------------------------- doing it


def perform(
    integration_id: int,
    *,
    force: bool = False,
    provider: Provider | None = None,
    on_progress: Callable[[int], None] | None = None,
    batch_size: int = BATCH,
) -> Outcome:
    """The queue's job: take the integration's sync (queued, or left by a dead worker; with
    ``force`` even a live one), list every repository, record the run and audit it."""
    owner = secrets.token_hex(8)
    stamp = take(integration_id, owner, force=force)
    if stamp is None:
        return Outcome("joined")
    with Heartbeat(integration_id, owner, lease_length()):
        return run(
            integration_id,
            stamp,
            owner=owner,
            provider=provider,
            on_progress=on_progress,
            batch_size=batch_size,
        )


def claim(integration_id: int, *, force: bool = False) -> datetime | None:
    """Take the sync for a run in this process right now (``run`` next: the demo, tests): the
    stamp, or None while a live worker holds it (``force`` takes it over anyway)."""
    request(integration_id, "cli", "cli")
    return take(integration_id, secrets.token_hex(8), force=force)


def take(integration_id: int, owner: str, *, force: bool = False) -> datetime | None:
    """Become the sync's worker, atomically: this attempt's stamp, or None when the sync is
    not waiting for one (nothing asked, or a live worker has it)."""
    now = utcnow()
    statement = update(Integration).where(Integration.id == integration_id)
    if not force:
        statement = statement.where(
            or_(
                Integration.sync_state == "queued",
                and_(
                    Integration.sync_state == "running",
                    or_(
                        Integration.sync_lease_until.is_(None),
                        Integration.sync_lease_until < now,
                    ),
                ),
            )
        )
    result = db.session.execute(
        statement.values(
            sync_state="running",
            sync_owner=owner,
            sync_lease_until=now + lease_length(),
            sync_done=0,
            sync_error=None,
            synced_at=now,
        ),
        execution_options={"synchronize_session": False},
    )
    if result.rowcount != 1:
        db.session.rollback()
        return None
    integration = db.session.get(Integration, integration_id)
    sync_run = db.session.get(SyncRun, integration.sync_run_id) if integration.sync_run_id else None
    if sync_run is None or sync_run.state not in OPEN:  # --force, or a run from before the queue
        sync_run = SyncRun(
            tenant_id=integration.tenant_id,
            integration_id=integration_id,
            trigger="cli" if force else "scheduled",
            requested_by="cli" if force else "scheduler",
            requested_at=now,
        )
        db.session.add(sync_run)
        db.session.flush()
        integration.sync_run_id = sync_run.id
    if (sync_run.attempts or 0) >= MAX_ATTEMPTS:  # it keeps dying (a bug, a broken database)
        message = (
            f"The sync stopped {sync_run.attempts} times without finishing; it was not resumed"
            " again. See the worker's log, then sync again."
        )
        integration.sync_state, integration.sync_error = "failed", message
        integration.sync_owner = integration.sync_lease_until = None
        finish(integration_id, Outcome("failed", integration.sync_done, error=message))
        return None
    sync_run.state, sync_run.started_at = "running", now
    sync_run.attempts = (sync_run.attempts or 0) + 1
    db.session.commit()
    return now


class Heartbeat:
    """While a sync runs, renew its lease from a side thread (host pages can be slow; a lease
    renewed only with progress could lapse on a live worker)."""

    def __init__(self, integration_id: int, owner: str, lease: timedelta):
        self.integration_id, self.owner, self.lease = integration_id, owner, lease
        self.engine = db.engine
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.beat, name="gitint-sync-lease", daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.thread.join(timeout=self.lease.total_seconds())

    def beat(self) -> None:
        while not self.stopped.wait(self.lease.total_seconds() / 4):
            try:
                with self.engine.begin() as connection:
                    connection.execute(
                        update(Integration)
                        .where(
                            Integration.id == self.integration_id,
                            Integration.sync_owner == self.owner,
                            Integration.sync_state == "running",
                        )
                        .values(sync_lease_until=utcnow() + self.lease)
                    )
            except Exception:  # a busy database: the next beat tries again
                log.warning("could not renew the sync lease of integration %s", self.integration_id)


def run(
    integration_id: int,
    stamp: datetime,
    *,
    owner: str | None = None,
    provider: Provider | None = None,
    on_progress: Callable[[int], None] | None = None,
    batch_size: int = BATCH,
) -> Outcome:
    """List every repository into the database for a taken run, then record how it ended
    (its SyncRun and the audit log); never raises."""
    outcome = _list(integration_id, stamp, owner, provider, on_progress, batch_size)
    if outcome.state in ("done", "failed"):
        finish(integration_id, outcome)  # one transaction with the integration's final state
    if outcome.state == "done":
        refresh_statistics()
        if on_progress:
            on_progress(outcome.done)
    return outcome


def _list(integration_id, stamp, owner, provider, on_progress, batch_size) -> Outcome:
    integration = db.session.get(Integration, integration_id)
    if integration is None:
        return Outcome("superseded")
    tenant_id, done = integration.tenant_id, 0
    report = _Reporter(integration_id, stamp, owner)
    try:
        provider = provider or hosts.integration_provider(integration)
        db.session.commit()  # no transaction stays open while the host answers
        batch: dict[str, dict] = {}
        for repo in provider.list_repositories():
            batch[repo.host_id] = row_of(repo, tenant_id, integration_id, stamp)
            if len(batch) >= batch_size:
                done += upsert(list(batch.values()))
                batch.clear()
                if not report(sync_done=done):
                    return Outcome("superseded", done)
                if on_progress:
                    on_progress(done)
        if batch:
            done += upsert(list(batch.values()))
        removed = db.session.execute(
            delete(Repository).where(
                Repository.integration_id == integration_id, Repository.synced_at < stamp
            ),
            execution_options={"synchronize_session": False},
        ).rowcount
        if not report(
            sync_state="done",
            sync_done=done,
            sync_lease_until=None,
            repositories_changed_at=utcnow(),
        ):
            return Outcome("superseded", done)
        return Outcome("done", done, removed)
    except AuthExpired as error:
        db.session.rollback()
        hosts.mark_rejected(integration, error)
        return _fail(report, done, str(error))
    except ProviderError as error:
        db.session.rollback()
        return _fail(report, done, str(error))
    except SecretError:
        db.session.rollback()
        return _fail(report, done, "The integration credential cannot be opened; enter it again.")
    except Exception:
        log.exception("repository sync of integration %s failed", integration_id)
        db.session.rollback()
        return _fail(report, done, "The sync stopped because of an internal error.")


def finish(integration_id: int, outcome: Outcome) -> None:
    """Close the integration's SyncRun and audit the sync (manual, cli or scheduled); commit."""
    integration = db.session.get(Integration, integration_id)
    if integration is None or integration.sync_run_id is None:
        db.session.commit()
        return
    sync_run = db.session.get(SyncRun, integration.sync_run_id)
    sync_run.state, sync_run.finished_at = outcome.state, utcnow()
    sync_run.done, sync_run.removed, sync_run.error = outcome.done, outcome.removed, outcome.error
    if outcome.state == "done":
        detail = f"{outcome.done:,} repositories synced, {outcome.removed:,} removed."
    else:
        detail = outcome.error
    if sync_run.attempts > 1:
        detail += f" (resumed after a stopped worker; attempt {sync_run.attempts})"
    audit.add(
        integration.tenant_id,
        sync_run.requested_by,
        "sync." + sync_run.trigger,
        "success" if outcome.state == "done" else "error",
        integration=integration,
        acting="integration",
        acting_login=integration.credential_login,
        detail=detail,
        display_name=sync_run.requested_by_name,
    )
    db.session.commit()


def refresh_statistics() -> None:
    """PostgreSQL: after a sync, ``VACUUM (ANALYZE) repositories``, so the next keystroke's plan
    knows the table's new size and its index-only scans skip the heap. Left to autovacuum,
    a table just filled keeps its old estimate for a minute or more (one never analyzed: 99
    rows; a tenant's 500,000 are then read and sorted for one substring, ~400 ms instead of
    ~10). SQLite's planner needs no statistics for these queries."""
    if db.engine.dialect.name != "postgresql":
        return
    try:
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM (ANALYZE) repositories"))
    except Exception:  # the sync is done either way; autovacuum catches up later
        log.warning("could not VACUUM (ANALYZE) repositories after a sync", exc_info=True)


# ---------------------------------------------------------------- writing rows

ROW_FIELDS = ("full_name", "search_name", "project", "default_branch", "web_url", "synced_at")


def row_of(repo: Repo, tenant_id: int, integration_id: int, stamp: datetime) -> dict:
    """The repositories row for ``repo`` (lengths cut to the columns)."""
    return {
        "tenant_id": tenant_id,
        "integration_id": integration_id,
        "host_id": repo.host_id[:255],
        "full_name": repo.full_name[:500],
        "search_name": repo.full_name[:500].lower(),
        "project": (repo.project or None) and repo.project[:255],
        "default_branch": (repo.default_branch or None) and repo.default_branch[:255],
        "web_url": (repo.web_url or None) and repo.web_url[:1000],
        "synced_at": stamp,
    }


def upsert(rows: list[dict], fields: tuple[str, ...] = ROW_FIELDS) -> int:
    """Insert or update rows by (integration_id, host_id), changing only ``fields`` of an
    existing row; a newer stamp is never undone by an older one. ``rows`` have distinct host ids.

    On SQLite, RETURNING makes SQLAlchemy send the rows as multi-row INSERTs ("insertmanyvalues",
    1,000 rows a statement) rather than one statement per row: each statement flushes the FTS5
    index the insert trigger feeds (models.REPOSITORIES_SEARCH), so row by row the search index
    costs 3× more to keep. psycopg already pipelines the executemany (RETURNING would halve it)."""
    dialect = {"postgresql": postgresql, "sqlite": sqlite}[db.engine.dialect.name]
    table = Repository.__table__
    statement = dialect.insert(table)
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.integration_id, table.c.host_id],
        set_={name: statement.excluded[name] for name in fields},
        where=table.c.synced_at <= statement.excluded.synced_at,
    )
    if dialect is sqlite:
        db.session.execute(statement.returning(table.c.id), rows).all()
    else:
        db.session.execute(statement, rows)
    return len(rows)


class _Reporter:
    """Write progress and commit while this run still owns the sync; else roll back, say so."""

    def __init__(self, integration_id: int, stamp: datetime, owner: str | None):
        self.integration_id, self.stamp, self.owner = integration_id, stamp, owner

    def __call__(self, **values) -> bool:
        conditions = [
            Integration.id == self.integration_id,
            Integration.synced_at == self.stamp,
            Integration.sync_state == "running",
        ]
        if self.owner is not None:
            conditions.append(Integration.sync_owner == self.owner)
            if values.get("sync_state", "running") == "running":
                values["sync_lease_until"] = utcnow() + lease_length()
        result = db.session.execute(
            update(Integration).where(*conditions).values(**values),
            execution_options={"synchronize_session": False},
        )
        if result.rowcount != 1:
            db.session.rollback()
            return False
        if values.get("sync_state", "running") == "running":
            db.session.commit()  # the end is committed by ``finish``, with the run and audit
        return True


def _fail(report: _Reporter, done: int, message: str) -> Outcome:
    if not report(
        sync_state="failed",
        sync_done=done,
        sync_error=message[:1000],
        sync_lease_until=None,
        repositories_changed_at=utcnow(),
    ):
        return Outcome("superseded", done)
    return Outcome("failed", done, error=message)
