"""The audit log: every create attempt, admin change, repository sync (manual, cli, scheduled,
webhook) and refused webhook delivery; never a secret."""

from flask import g

from .extensions import db
from .models import AuditEvent, Integration


def record(action: str, result: str, **fields) -> AuditEvent:
    """Add one audit event for the current caller (g.ctx) and commit it (``fields``: as
    ``add``'s). ``acting`` is "user_pat" or "integration"; ``detail`` is the user-facing
    sentence."""
    event = add(g.ctx.tenant_id, g.ctx.account_id, action, result, **fields)
    db.session.commit()
    return event


def add(
    tenant_id: int,
    account_id: str,
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
    """Add one audit event for ``account_id`` (a Jira user, or "cli", "scheduler", "webhook"
    for work nobody clicked); the caller commits."""
    event = AuditEvent(
        tenant_id=tenant_id,
        account_id=account_id,
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
    return event
