"""Who acts for an action: the user with their own PAT, or the integration account — the core rule.

``decide`` is a pure function of a few facts; ``acting_for`` reads those facts from the rows.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from .models import Credential, Integration, utcnow

USER = "user"
INTEGRATION = "integration"
SETUP_REQUIRED = "setup_required"
UNAVAILABLE = "unavailable"

BRANCH = "branch"
PULL_REQUEST = "pull_request"
EXPIRY_WARNING = timedelta(days=7)
NO_PAT_VERSIONS = {"2013", "2015"}  # TFS before 2017 has no personal access tokens

# the state of the user's own credential, as decide() sees it
NONE, VALID, EXPIRED, REVOKED, INSUFFICIENT = "none", "valid", "expired", "revoked", "insufficient"


@dataclass(frozen=True)
class Acting:
    """The decision: ``state`` is user / integration / setup_required / unavailable."""

    state: str
    login: str | None = None
    reason: str | None = None  # why setup is required or the action is unavailable
    warning: str | None = None  # e.g. the PAT expires soon, or was refused and is not used
    offer_pat: bool = False  # show "Use my own personal access token"

    @property
    def can_act(self) -> bool:
        return self.state in (USER, INTEGRATION)

    @property
    def audit_name(self) -> str | None:
        """The audit log's ``acting`` value."""
        return {USER: "user_pat", INTEGRATION: "integration"}.get(self.state)

    @property
    def line(self) -> str:
        """The "Acting as" sentence."""
        who = f" (@{self.login})" if self.login else ""
        if self.state == USER:
            return f"you{who} with your personal access token"
        if self.state == INTEGRATION:
            return f"the integration account{who}"
        return ""


def decide(
    *,
    action: str,
    action_allowed: bool,
    require_user_pat: bool,
    host_supports_pats: bool,
    pat: str,
    pat_expires_soon: bool = False,
    integration_ok: bool = True,
    pat_login: str | None = None,
    integration_login: str | None = None,
    pr_noun: str = "pull request",
) -> Acting:
    """Who acts for ``action`` (BRANCH or PULL_REQUEST); ``pat`` is one of NONE, VALID, EXPIRED,
    REVOKED, INSUFFICIENT (a date-expired PAT is EXPIRED)."""
    what = "Branch creation" if action == BRANCH else f"Creating a {pr_noun}"
    if not action_allowed:
        return Acting(UNAVAILABLE, reason=f"{what} is switched off for this integration.")
    if require_user_pat and not host_supports_pats:
        return Acting(
            UNAVAILABLE,
            reason=f"{what} is unavailable: this integration requires your own personal access "
            "token, and TFS 2013 and 2015 have none. Ask your Jira administrator.",
        )
    pat_ok = host_supports_pats and pat == VALID
    soon = "Your personal access token expires within 7 days; replace it soon."
    if pat_ok:
        return Acting(USER, login=pat_login, warning=soon if pat_expires_soon else None)
    problem = {
        EXPIRED: "Your personal access token has expired or was revoked.",
        REVOKED: "Your personal access token was revoked or refused by the host.",
        INSUFFICIENT: "Your personal access token lacks a permission this action needs.",
    }.get(pat)
    if require_user_pat:
        ask = "This integration acts with your own personal access token. Add one to continue."
        return Acting(
            SETUP_REQUIRED, reason=f"{problem} Add a new one to continue." if problem else ask
        )
    if integration_ok:
        warning = f"{problem} The integration account acts instead." if problem else None
        return Acting(
            INTEGRATION, login=integration_login, warning=warning, offer_pat=host_supports_pats
        )
    if host_supports_pats:
        return Acting(
            SETUP_REQUIRED,
            reason="The integration account's credential does not work. Use your own personal "
            "access token, or ask your Jira administrator to fix the integration.",
        )
    return Acting(
        UNAVAILABLE,
        reason="The integration account's credential does not work. Ask your Jira administrator.",
    )


def host_supports_pats(integration: Integration) -> bool:
    return not (integration.kind == "tfs" and integration.server_version in NO_PAT_VERSIONS)


def pat_state(credential: Credential | None, now: datetime) -> str:
    """The user's credential as ``decide`` sees it: a PAT past its expiry date is EXPIRED."""
    if credential is None:
        return NONE
    if credential.status == VALID and credential.expires_at and credential.expires_at <= now:
        return EXPIRED
    return (
        credential.status if credential.status in (VALID, EXPIRED, REVOKED, INSUFFICIENT) else NONE
    )


def integration_ok(integration: Integration, now: datetime) -> bool:
    """Whether the integration account's credential is set and not known to be refused."""
    if not integration.credential_ct or integration.credential_status not in (None, VALID):
        return False
    return not (integration.credential_expires_at and integration.credential_expires_at <= now)


def acting_for(
    integration: Integration,
    credential: Credential | None,
    action: str,
    pr_noun: str = "pull request",
    now: datetime | None = None,
) -> Acting:
    """``decide`` for these rows."""
    now = now or utcnow()
    expires = credential.expires_at if credential else None
    return decide(
        action=action,
        action_allowed=integration.allow_branch
        if action == BRANCH
        else integration.allow_pull_request,
        require_user_pat=integration.require_user_pat,
        host_supports_pats=host_supports_pats(integration),
        pat=pat_state(credential, now),
        pat_expires_soon=bool(expires and now < expires <= now + EXPIRY_WARNING),
        integration_ok=integration_ok(integration, now),
        pat_login=credential.login if credential else None,
        integration_login=integration.credential_login,
        pr_noun=pr_noun,
    )
