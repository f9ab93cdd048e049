"""Repository sync: copy the repositories the integration account can see into the database.

Memory stays bounded at any size: ``provider.list_repositories()`` is a stream, rows are upserted
``BATCH`` at a time, and every row written is stamped with this run's start time. At the end,
rows with an older stamp are gone from the host and are deleted. Progress lives on the
Integration row (``sync_state``, ``sync_done``, ``sync_error``, ``synced_at`` = the run's start),
so any worker can show it; a run that finds its stamp replaced (a newer run took over, or the
integration was deleted) stops.

In the web app a sync runs in a thread of the worker that received the click (``start``); the
CLI (``flask --app app gitint sync-repos``) runs it in the foreground.
"""

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from . import hosts
from .crypto import SecretError
from .extensions import db
from .models import Integration, Repository, utcnow
from .providers.base import AuthExpired, Provider, ProviderError, Repo

log = logging.getLogger(__name__)

BATCH = 1000
STALE_AFTER = timedelta(hours=1)  # a "running" sync older than this is taken to have died


@dataclass(frozen=True)
class Outcome:
    state: str  # done | failed | superseded
    done: int = 0
    removed: int = 0
    error: str | None = None


def is_running(integration: Integration) -> bool:
    """A sync is under way (and not so old that its worker must have died)."""
    return (
        integration.sync_state == "running"
        and integration.synced_at is not None
        and utcnow() - integration.synced_at < STALE_AFTER
    )


def repository_count(integration_id: int) -> int:
    return db.session.scalar(
        select(func.count()).where(Repository.integration_id == integration_id)
    )


def claim(integration_id: int, *, force: bool = False) -> datetime | None:
    """Mark a sync as running, atomically; this run's stamp, or None when one is under way."""
    stamp = utcnow()
    statement = update(Integration).where(Integration.id == integration_id)
    if not force:
        statement = statement.where(
            or_(
                Integration.sync_state != "running",
                Integration.synced_at.is_(None),
                Integration.synced_at < stamp - STALE_AFTER,
            )
        )
    result = db.session.execute(
        statement.values(sync_state="running", sync_done=0, sync_error=None, synced_at=stamp),
        execution_options={"synchronize_session": False},
    )
    db.session.commit()
    return stamp if result.rowcount == 1 else None


def run(
    integration_id: int,
    stamp: datetime,
    *,
    provider: Provider | None = None,
    on_progress: Callable[[int], None] | None = None,
    batch_size: int = BATCH,
) -> Outcome:
    """List every repository into the database for a claimed run; never raises."""
    integration = db.session.get(Integration, integration_id)
    if integration is None:
        return Outcome("superseded")
    tenant_id, done = integration.tenant_id, 0
    try:
        provider = provider or hosts.integration_provider(integration)
        batch: dict[str, dict] = {}
        for repo in provider.list_repositories():
            batch[repo.host_id] = _row(repo, tenant_id, integration_id, stamp)
            if len(batch) >= batch_size:
                done += _upsert(list(batch.values()))
                batch.clear()
                if not _report(integration_id, stamp, sync_done=done):
                    return Outcome("superseded", done)
                if on_progress:
                    on_progress(done)
        if batch:
            done += _upsert(list(batch.values()))
        removed = db.session.execute(
            delete(Repository).where(
                Repository.integration_id == integration_id, Repository.synced_at < stamp
            ),
            execution_options={"synchronize_session": False},
        ).rowcount
        if not _report(integration_id, stamp, sync_state="done", sync_done=done):
            return Outcome("superseded", done)
        if on_progress:
            on_progress(done)
        return Outcome("done", done, removed)
    except AuthExpired as error:
        db.session.rollback()
        hosts.mark_rejected(integration, error)
        return _fail(integration_id, stamp, done, str(error))
    except ProviderError as error:
        db.session.rollback()
        return _fail(integration_id, stamp, done, str(error))
    except SecretError:
        db.session.rollback()
        message = "The integration credential cannot be opened; enter it again."
        return _fail(integration_id, stamp, done, message)
    except Exception:
        log.exception("repository sync of integration %s failed", integration_id)
        db.session.rollback()
        return _fail(integration_id, stamp, done, "The sync stopped because of an internal error.")


def start(integration: Integration) -> bool:
    """Start a sync in the background; False when one is already under way."""
    stamp = claim(integration.id)
    if stamp is None:
        return False
    launch(_run_in_app, current_app._get_current_object(), integration.id, stamp)
    return True


def launch(target, *args) -> None:
    """Run ``target`` in a daemon thread of this worker (tests replace this to run inline)."""
    threading.Thread(target=target, args=args, name="gitint-sync", daemon=True).start()


def _run_in_app(app, integration_id: int, stamp: datetime) -> None:
    with app.app_context():
        run(integration_id, stamp)


def _row(repo: Repo, tenant_id: int, integration_id: int, stamp: datetime) -> dict:
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


def _upsert(rows: list[dict]) -> int:
    """Insert or update rows by (integration_id, host_id); a newer run's stamp is never undone."""
    dialect = {"postgresql": postgresql, "sqlite": sqlite}[db.engine.dialect.name]
    table = Repository.__table__
    statement = dialect.insert(table)
    changed = ("full_name", "search_name", "project", "default_branch", "web_url", "synced_at")
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.integration_id, table.c.host_id],
        set_={name: statement.excluded[name] for name in changed},
        where=table.c.synced_at <= statement.excluded.synced_at,
    )
    db.session.execute(statement, rows)
    return len(rows)


def _report(integration_id: int, stamp: datetime, **values) -> bool:
    """Write progress and commit if this run still owns the sync; else roll back and say so."""
    result = db.session.execute(
        update(Integration)
        .where(
            Integration.id == integration_id,
            Integration.synced_at == stamp,
            Integration.sync_state == "running",
        )
        .values(**values),
        execution_options={"synchronize_session": False},
    )
    if result.rowcount != 1:
        db.session.rollback()
        return False
    db.session.commit()
    return True


def _fail(integration_id: int, stamp: datetime, done: int, message: str) -> Outcome:
    _report(integration_id, stamp, sync_state="failed", sync_done=done, sync_error=message[:1000])
    return Outcome("failed", done, error=message)
