"""The task queue: one Huey instance, its jobs and its schedule (https://huey.readthedocs.io).

Storage comes from ``GITINT_QUEUE_URL``: SQLite in ``instance/queue.sqlite`` by default (one
machine, nothing to install), Redis with ``redis://…`` (many web and worker machines). The
consumer is ``flask --app app gitint worker``; ``demo`` runs one in-process. With
``GITINT_QUEUE_IMMEDIATE`` (on by default under TESTING) a job runs inline when it is enqueued.

Jobs take ids, never secrets. Messages are signed with a key derived from the key ring, so
whoever can write to the queue's storage alone cannot make a worker run anything. Each job runs
in a fresh app context (its own database session). Every job is safe to run twice or on many
consumers at once — the periodic ones are enqueued by each consumer's scheduler:

- ``sync_repositories``: one integration's sync (gitint/sync.py: lease, join, resume);
- ``resume_syncs`` (every minute, and when a worker starts): syncs whose worker died;
- ``schedule_syncs`` (every minute): integrations whose "Sync every" has elapsed;
- ``apply_webhook``: a verified webhook delivery's repository changes (gitint/webhooks.py);
- ``check_pats`` (daily, 03:17 UTC, and from the CLI): users' tokens re-validated;
- ``clean_up`` (daily, 03:47 UTC): expired idempotency and attempt rows, old deliveries and runs.
"""

import functools
import hashlib
import hmac
import logging
from pathlib import Path

from flask import Flask, current_app, has_app_context
from huey import Huey, crontab
from huey.consumer import Consumer
from huey.serializer import Serializer
from huey.signals import SIGNAL_INTERRUPTED
from huey.storage import MemoryStorage, RedisStorage, SqliteStorage

log = logging.getLogger(__name__)


class KeyRingSerializer(Serializer):
    """Huey's pickled messages with an HMAC-SHA256 tag: signed with the first key, any opens."""

    def __init__(self, keys: list[bytes]):
        super().__init__()
        self.keys = keys

    def _tag(self, key: bytes, data: bytes) -> bytes:
        return hmac.new(key, data, hashlib.sha256).digest()

    def _serialize(self, data) -> bytes:
        body = super()._serialize(data)
        return self._tag(self.keys[0], body) + body

    def _deserialize(self, data: bytes):
        tag, body = data[:32], data[32:]
        if not any(hmac.compare_digest(tag, self._tag(key, body)) for key in self.keys):
            raise ValueError("a queue message with a wrong signature was dropped")
        return super()._deserialize(body)


huey = Huey("gitint", results=False, storage_class=MemoryStorage, immediate=True)
huey.flask_app = None


def init_app(app: Flask) -> None:
    """Point the queue at the app's storage (or immediate mode) and sign with its key ring."""
    immediate = app.config["GITINT_QUEUE_IMMEDIATE"]
    huey.immediate = app.testing if immediate is None else bool(immediate)
    huey.name = app.config["GITINT_QUEUE_NAME"]
    huey.serializer = KeyRingSerializer(app.extensions["gitint.keyring"].derive("queue"))
    url = app.config["GITINT_QUEUE_URL"]
    if huey.immediate:
        storage_class, options = MemoryStorage, {}
    elif url.startswith(("redis://", "rediss://", "unix://")):
        storage_class, options = RedisStorage, {"url": url}
    elif url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        path.parent.mkdir(parents=True, exist_ok=True)
        storage_class, options = SqliteStorage, {"filename": str(path)}
    else:
        raise ValueError("GITINT_QUEUE_URL must start with redis://, rediss:// or sqlite:///")
    huey.storage_class, huey.storage_kwargs = storage_class, options
    huey.storage = storage_class(huey.name, **options)
    huey.flask_app = app


def in_app(job):
    """Run ``job`` in a fresh app context: the current app's inline (immediate mode), else the
    app the queue was configured with (a consumer's worker thread has none)."""

    @functools.wraps(job)
    def wrapped(*args, **kwargs):
        app = current_app._get_current_object() if has_app_context() else huey.flask_app
        with app.app_context():
            return job(*args, **kwargs)

    return wrapped


# ---------------------------------------------------------------- repository sync


def request_sync(
    integration_id: int, trigger: str, requested_by: str, requested_by_name: str | None = None
):
    """Ask for a sync and enqueue its job: (run, True), or (the run it joined, False)."""
    from . import sync

    run, queued = sync.request(integration_id, trigger, requested_by, requested_by_name)
    if queued:
        try:
            sync_repositories(integration_id)
        except Exception:  # the queue is down: resume_syncs enqueues it again later
            log.exception("could not enqueue the sync of integration %s", integration_id)
    return run, queued


@huey.task()
@in_app
def sync_repositories(integration_id: int) -> None:
    from . import sync

    outcome = sync.perform(integration_id)
    log.info("sync of integration %s: %s", integration_id, outcome.state)


@huey.periodic_task(crontab(minute="*"))
@in_app
def resume_syncs() -> None:
    """Hand the syncs of dead workers (and lost requests) to a live one."""
    from . import sync

    for integration_id in sync.stale():
        log.info("resuming the sync of integration %s", integration_id)
        sync_repositories(integration_id)


@huey.periodic_task(crontab(minute="*"))
@in_app
def schedule_syncs() -> None:
    """Request a sync of every integration whose "Sync every" has elapsed."""
    from . import sync

    for integration_id in sync.due():
        request_sync(integration_id, "scheduled", "scheduler")


@huey.signal(SIGNAL_INTERRUPTED)
def hand_back(signal, task, *args, **kwargs) -> None:
    """A stopping consumer (SIGTERM) gives its sync back at once instead of at lease expiry."""
    if not isinstance(task, sync_repositories.task_class):
        return
    from . import sync

    integration_id = task.args[0]
    with huey.flask_app.app_context():
        sync.release(integration_id)
    sync_repositories(integration_id)


# ---------------------------------------------------------------- webhooks


@huey.task(retries=3, retry_delay=30)
@in_app
def apply_webhook(delivery_id: int, changes: list[dict]) -> None:
    from . import webhooks

    webhooks.apply(delivery_id, changes)


# ---------------------------------------------------------------- daily


@huey.task()
@in_app
def check_pats(issuer: str | None = None, integration_id: int | None = None) -> None:
    """Re-validate stored user tokens: all of them (the CLI), or those not checked today."""
    from . import credentials

    credentials.check_stored(issuer=issuer, integration_id=integration_id)


@huey.periodic_task(crontab(minute="17", hour="3"))
@in_app
def check_pats_daily() -> None:
    from . import credentials

    credentials.check_stored(due_only=True)


@huey.periodic_task(crontab(minute="47", hour="3"))
@in_app
def clean_up() -> None:
    from . import housekeeping

    removed = housekeeping.clean_up()
    log.info("clean-up removed %s", ", ".join(f"{n} {what}" for what, n in removed.items()))


# ---------------------------------------------------------------- consumers


def consumer(workers: int = 2, **options) -> Consumer:
    """A consumer of this queue (threads: one database connection pool per process)."""
    if huey.immediate:
        raise RuntimeError("the queue is in immediate mode: there is nothing to consume")
    options = {"initial_delay": 0.05, "max_delay": 1.0, **options}  # idle SQLite polls ≤ 1 s
    return Consumer(huey, workers=workers, worker_type="thread", **options)


def resume_soon(app: Flask) -> None:
    """At a worker's start: resume dead syncs now, and once more when a lease that was live
    when it died must have run out."""
    resume_syncs()
    resume_syncs.schedule(delay=app.config["GITINT_SYNC_LEASE"] + 1)


class InProcessConsumer(Consumer):
    """A consumer inside another program (the demo's server): it leaves signals to its host."""

    def _set_signal_handlers(self) -> None:
        pass


def start_in_process(workers: int = 1) -> InProcessConsumer | None:
    """Start worker and scheduler threads in this process; ``stop()`` ends them. None in
    immediate mode, where jobs already run inline."""
    if huey.immediate:
        return None
    running = InProcessConsumer(
        huey, workers=workers, worker_type="thread", initial_delay=0.05, max_delay=1.0
    )
    running.start()
    return running
