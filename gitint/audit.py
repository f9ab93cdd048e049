"""The audit log: every create attempt, admin change, repository sync (manual, cli, scheduled,
webhook) and refused webhook delivery; never a secret."""

from flask import g

from .extensions import db
from .jira import context
from .models import AuditEvent, Integration


def record(action: str, result: str, **fields) -> AuditEvent:
    """Add one audit event for the current caller (g.ctx), with the user's display name at the
    time, and commit it (``fields``: as ``add``'s). ``acting`` is "user_pat" or "integration";
    ``detail`` is the user-facing sentence."""
    display_name = context.display_name(g.ctx)
    event = add(
        g.ctx.tenant_id, g.ctx.account_id, action, result, display_name=display_name, **fields
    )
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
    display_name: str | None = None,
) -> AuditEvent:
    """Add one audit event for ``account_id`` (a Jira user, or "cli", "scheduler", "webhook"
    for work nobody clicked), with the user's display name at the time; the caller commits."""
    event = AuditEvent(
        tenant_id=tenant_id,
        account_id=account_id,
        display_name=(display_name or "")[:255] or None,
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


# What each action is, in words (the audit log shows these; the filter offers them).
ACTIONS = {
    "create_branch": "Created branch",
    "create_pull_request": "Created pull request",
    "pat_saved": "Saved personal access token",
    "pat_deleted": "Deleted personal access token",
    "integration.add": "Added integration",
    "integration.update": "Changed integration",
    "integration.delete": "Deleted integration",
    "settings.update": "Changed feature settings",
    "webhook.add": "Set up webhook",
    "webhook.secret": "Regenerated webhook secret",
    "webhook.rejected": "Refused webhook delivery",
    "sync.manual": "Synced repositories",
    "sync.cli": "Synced repositories (command line)",
    "sync.scheduled": "Synced repositories (schedule)",
    "sync.webhook": "Updated repositories (webhook)",
}
REFUSED = {"pat_saved": "Refused personal access token"}  # the words of a failed attempt
ACTORS = {"cli": "Command line", "scheduler": "Schedule", "webhook": "Host webhook"}  # no user


def who(event: AuditEvent) -> str:
    """The user as the log shows them: the display name stored at the time, the words for
    work nobody clicked, else the account id."""
    return event.display_name or ACTORS.get(event.account_id) or event.account_id


def action_words(action: str, result: str = "success") -> str:
    """ "Created branch" for "create_branch"; an action without words stays as it is."""
    if result != "success" and action in REFUSED:
        return REFUSED[action]
    return ACTIONS.get(action, action)
