"""The audit log: every create attempt and admin change, never a secret."""

from flask import g

from .extensions import db
from .models import AuditEvent, Integration


def record(
    action: str,
    result: str,
    *,
    integration: Integration | None = None,
    repository: str | None = None,
    acting: str | None = None,
    acting_login: str | None = None,
    detail: str | None = None,
    link: str | None = None,
) -> AuditEvent:
    """Add one audit event for the current caller (g.ctx) and commit it.

    ``acting`` is "user_pat" or "integration"; ``detail`` is the user-facing sentence.
    """
    event = AuditEvent(
        tenant_id=g.ctx.tenant_id,
        account_id=g.ctx.account_id,
        integration_id=integration.id if integration else None,
        integration_name=integration.name if integration else "",
        repository=repository,
        action=action,
        acting=acting,
        acting_login=acting_login,
        result=result,
        detail=detail,
        link=link,
    )
    db.session.add(event)
    db.session.commit()
    return event
