"""Rows that outlive their use: expired idempotency and attempt rows, old webhook deliveries and
sync runs. The queue's ``clean_up`` job runs this daily; running it twice removes nothing more."""

from datetime import datetime, timedelta

from sqlalchemy import delete, select

from .creating import IDEMPOTENCY_WINDOW
from .credentials import ATTEMPT_WINDOW
from .extensions import db
from .models import Attempt, Idempotency, Integration, SyncRun, WebhookDelivery, utcnow

DELIVERY_RETENTION = timedelta(days=30)  # a delivery replayed within this changes nothing
SYNC_RUN_RETENTION = timedelta(days=90)


def clean_up(now: datetime | None = None) -> dict[str, int]:
    """Delete what has expired; how many rows of each kind went."""
    now = now or utcnow()
    current_runs = select(Integration.sync_run_id).where(Integration.sync_run_id.is_not(None))
    statements = {
        "idempotency rows": delete(Idempotency).where(
            Idempotency.created_at < now - IDEMPOTENCY_WINDOW
        ),
        "attempts": delete(Attempt).where(Attempt.created_at < now - ATTEMPT_WINDOW),
        "webhook deliveries": delete(WebhookDelivery).where(
            WebhookDelivery.received_at < now - DELIVERY_RETENTION
        ),
        "sync runs": delete(SyncRun).where(
            SyncRun.requested_at < now - SYNC_RUN_RETENTION,
            SyncRun.state.not_in(("queued", "running")),
            SyncRun.id.not_in(current_runs),
        ),
    }
    removed = {
        what: db.session.execute(
            statement, execution_options={"synchronize_session": False}
        ).rowcount
        for what, statement in statements.items()
    }
    db.session.commit()
    return removed
