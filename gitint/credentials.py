"""Users' own credentials (PATs, IAM keys): validate and save, their status, and what a 401 means.

Other flows that act with a user's credential go through ``call_as`` (or catch ``AuthExpired``
and call ``mark_from_error``) so a token the host rejects is marked expired/revoked and the UI
asks for a new one.
"""

import math
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar
from urllib.parse import urlsplit

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.exc import IntegrityError

from . import hosts
from .crypto import SecretError, seal
from .extensions import db
from .models import Attempt, Credential, Integration, utcnow
from .providers.base import AuthExpired, MissingScope, Provider, ProviderError, Unsupported

T = TypeVar("T")

ATTEMPT_LIMIT = 10  # validations per user per integration ...
ATTEMPT_WINDOW = timedelta(minutes=10)  # ... per this window
WARN_BEFORE = timedelta(days=7)  # "expires in N days" from this close


class TooManyAttempts(ProviderError):
    """The user tried too many tokens lately; no host call was made."""

    def __init__(self, minutes: int):
        unit = "minute" if minutes == 1 else "minutes"
        super().__init__(f"Too many attempts; try again in {minutes} {unit}.", status=429)
        self.minutes = minutes


class MissingInput(ProviderError):
    """A field of the setup form is empty; no host call was made."""


# ---------------------------------------------------------------- reading


def status_of(credential: Credential | None) -> str:
    """valid, expiring (≤ 7 days left), expired, revoked, insufficient, or missing."""
    if credential is None:
        return "missing"
    if credential.status != "valid":
        return credential.status
    if credential.expires_at is not None:
        left = credential.expires_at - utcnow()
        if left <= timedelta(0):
            return "expired"
        if left <= WARN_BEFORE:
            return "expiring"
    return "valid"


def is_usable(credential: Credential | None) -> bool:
    """Whether the credential can act (valid, or valid but expiring soon)."""
    return status_of(credential) in ("valid", "expiring")


def days_left(credential: Credential) -> int | None:
    """Whole days until expiry, rounded up (so "≤ 7 days" reads "expires in 7 days")."""
    if credential.expires_at is None:
        return None
    seconds = (credential.expires_at - utcnow()).total_seconds()
    return max(0, math.ceil(seconds / 86400))


def host_display(integration: Integration) -> str:
    """Where the host is, as a user recognises it: github.com, dev.azure.com/org, ..."""
    kind = integration.kind
    if kind == "github":
        return "github.com"
    if kind == "gitlab":
        return "gitlab.com"
    if kind == "azure_devops":
        return f"dev.azure.com/{integration.organization or ''}"
    if kind == "vsts":
        return f"{integration.organization or ''}.visualstudio.com"
    if kind == "codecommit":
        return f"AWS CodeCommit ({integration.region or 'no region set'})"
    parts = urlsplit(integration.base_url or "")
    return (parts.netloc + parts.path).rstrip("/") or "(no address set)"


def setup_provider(integration: Integration) -> tuple[Provider | None, str | None]:
    """A secret-less provider for the setup fragment (label, token page), or the reason why not."""
    try:
        return hosts.provider_for(integration, ""), None
    except ProviderError as error:
        return None, str(error)


def new_token_url(provider: Provider | None) -> str | None:
    """The host's token page, or None where there is none (TFS 2013/2015, bad settings)."""
    if provider is None or not provider.supports_pats:
        return None
    try:
        return provider.new_token_url()
    except ProviderError:
        return None


# ---------------------------------------------------------------- saving


def _secret_from(kind: str, fields: dict) -> tuple[str, str]:
    """(secret as the provider takes it, last 4 to show) from the form fields."""
    if kind == "iam_key":
        key_id = (fields.get("access_key_id") or "").strip()
        secret = (fields.get("secret_access_key") or "").strip()
        if not key_id or not secret:
            raise MissingInput("Enter both the access key ID and the secret access key.")
        return f"{key_id}:{secret}", key_id[-4:]  # the key id, never the secret, gives last 4
    token = (fields.get("token") or "").strip()
    if not token:
        raise MissingInput("Enter the personal access token.")
    return token, token[-4:]


def attempt_bucket(integration: Integration, account_id: str) -> str:
    return f"pat-validate:{integration.tenant_id}:{account_id}:{integration.id}"


def count_attempt(integration: Integration, account_id: str) -> None:
    """Record one validation attempt, or raise TooManyAttempts (then nothing is recorded)."""
    bucket = attempt_bucket(integration, account_id)
    now = utcnow()
    since = now - ATTEMPT_WINDOW
    db.session.execute(delete(Attempt).where(Attempt.bucket == bucket, Attempt.created_at < since))
    count, oldest = db.session.execute(
        select(func.count(Attempt.id), func.min(Attempt.created_at)).where(
            Attempt.bucket == bucket, Attempt.created_at >= since
        )
    ).one()
    if count >= ATTEMPT_LIMIT:
        db.session.commit()
        wait = (oldest + ATTEMPT_WINDOW - now).total_seconds()
        raise TooManyAttempts(max(1, math.ceil(wait / 60)))
    db.session.add(Attempt(bucket=bucket, created_at=now))
    db.session.commit()  # visible to every worker before the host call


def _rejected(error: AuthExpired, provider: Provider) -> AuthExpired:
    """A clearer sentence for a token that fails when it is first entered."""
    keys = provider.credential_kind == "iam_key"
    noun, has = ("These access keys", "have") if keys else ("This token", "has")
    if error.revoked:
        return AuthExpired(f"{noun} {has} been revoked on {provider.label}.", revoked=True)
    if error.expired:
        return AuthExpired(f"{noun} {has} expired on {provider.label}.", expired=True)
    return AuthExpired(
        f"{provider.label} did not accept {noun.lower()}: check that you copied "
        f"{'them' if keys else 'it'} completely and that {'they are' if keys else 'it is'} "
        "not expired, revoked or deactivated."
    )


def save_credential(integration: Integration, account_id: str, secret_fields: dict) -> Credential:
    """Validate the entered token with the host, then store it sealed (one per user+integration).

    ``secret_fields``: ``token``, or ``access_key_id`` + ``secret_access_key``. Raises a
    ProviderError (MissingInput, TooManyAttempts, Unsupported, AuthExpired, MissingScope,
    Unavailable, ...) whose ``str()`` is the sentence to show; then nothing is stored and any
    previously stored credential is untouched.
    """
    probe, problem = setup_provider(integration)
    if probe is None:
        raise ProviderError(problem)
    if not probe.supports_pats:
        raise Unsupported(
            "TFS 2013 and 2015 have no personal access tokens; ask your administrator to use "
            "the integration account, or upgrade to TFS 2017 or newer."
        )
    kind = probe.credential_kind
    secret, last4 = _secret_from(kind, secret_fields)
    count_attempt(integration, account_id)
    provider = hosts.provider_for(integration, secret)
    try:
        identity = hosts.identity_of(provider)
    except AuthExpired as error:
        raise _rejected(error, provider) from None
    if False in (identity.can_create_branch, identity.can_create_pull_request):
        missing = ", ".join(f"“{s}”" for s in identity.missing_scopes) or "a needed"
        raise MissingScope(
            f"This token lacks the {missing} scope; create one with it.",
            scope=identity.missing_scopes[0] if identity.missing_scopes else None,
        )
    fields = {
        "kind": kind,
        "last4": last4,
        "login": identity.login,
        "scopes": None if identity.scopes is None else ", ".join(identity.scopes)[:500],
        "expires_at": identity.expires_at,
        "status": "valid",
        "checked_at": utcnow(),
    }
    try:
        return _store(integration, account_id, secret, fields)
    except IntegrityError:  # another request inserted the row first: update it instead
        db.session.rollback()
        return _store(integration, account_id, secret, fields)


def _store(integration: Integration, account_id: str, secret: str, fields: dict) -> Credential:
    credential = db.session.scalar(
        select(Credential).where(
            Credential.tenant_id == integration.tenant_id,
            Credential.account_id == account_id,
            Credential.integration_id == integration.id,
        )
    )
    if credential is None:
        credential = Credential(
            tenant_id=integration.tenant_id,
            account_id=account_id,
            integration_id=integration.id,
            ciphertext="",
            **fields,
        )
        db.session.add(credential)
        db.session.flush()  # an id first; the sealed data is bound to the row
    else:
        for name, value in fields.items():
            setattr(credential, name, value)
    seal(credential, secret)  # after kind is set: kind is part of the associated data
    db.session.commit()
    return credential


def delete_credential(credential: Credential) -> None:
    db.session.delete(credential)
    db.session.commit()


# ---------------------------------------------------------------- host answers


def mark_from_error(credential: Credential, error: Exception) -> bool:
    """Remember a host's 401 on the credential (expired, or revoked when the host says so).

    Returns True when the credential was marked; any other error leaves it as it is.
    """
    if isinstance(error, AuthExpired):
        hosts.mark_rejected(credential, error)
        return True
    return False


def call_as(credential: Credential, fn: Callable[[Provider], T]) -> T:
    """Run ``fn(provider)`` with the user's credential; a 401 marks it, then re-raises.

    Example: ``branch = call_as(cred, lambda p: p.create_branch(repo, name, base))``.
    """
    provider = hosts.user_provider(credential)
    try:
        return fn(provider)
    except AuthExpired as error:
        mark_from_error(credential, error)
        raise


def revalidate(credential: Credential) -> str:
    """Ask the host about a stored credential again; update status/expiry/checked_at.

    Returns the outcome: valid, insufficient, expired, revoked, or "unchanged: <reason>" when
    the host could not answer (the status is then left as it was).
    """
    try:
        identity = hosts.identity_of(hosts.user_provider(credential))
    except AuthExpired as error:
        hosts.mark_rejected(credential, error)
        return credential.status
    except SecretError:
        return "unchanged: the stored secret cannot be opened (was its key removed?)"
    except ProviderError as error:
        return f"unchanged: {error}"
    usable = False not in (identity.can_create_branch, identity.can_create_pull_request)
    credential.status = "valid" if usable else "insufficient"
    credential.login = identity.login
    credential.scopes = None if identity.scopes is None else ", ".join(identity.scopes)[:500]
    credential.expires_at = identity.expires_at
    credential.checked_at = utcnow()
    db.session.commit()
    return status_of(credential)


def host_key(integration: Integration) -> str:
    """Calls to the same host share one rate budget (check-pats pauses between them)."""
    return "|".join(
        str(part or "")
        for part in (
            integration.kind,
            integration.base_url,
            integration.organization,
            integration.region,
        )
    )


# ---------------------------------------------------------------- checking stored tokens

RECHECK_AFTER = timedelta(hours=20)  # the daily job skips credentials checked since


def check_stored(
    *,
    issuer: str | None = None,
    integration_id: int | None = None,
    due_only: bool = False,
    pause: float | None = None,
    report: Callable[[Credential, str], None] | None = None,
) -> Counter:
    """Re-validate stored credentials with their hosts (``revalidate``), pausing ``pause``
    seconds between two calls to the same host; outcomes counted by kind.

    ``due_only`` (the daily job) takes only those not checked for ``RECHECK_AFTER``, each
    claimed atomically first, so consumers running the job at once never check one twice."""
    import os
    import time

    from .models import Tenant

    if pause is None:
        pause = float(os.environ.get("GITINT_CHECK_PATS_PAUSE", "1"))
    query = select(Credential.id).join(Credential.integration).order_by(Credential.id)
    if issuer:
        query = query.join(Tenant, Tenant.id == Credential.tenant_id).where(Tenant.issuer == issuer)
    if integration_id is not None:
        query = query.where(Integration.id == integration_id)
    cutoff = utcnow() - RECHECK_AFTER
    not_recent = or_(Credential.checked_at.is_(None), Credential.checked_at < cutoff)
    if due_only:
        query = query.where(not_recent)
    last_call: dict[str, float] = {}
    outcomes: Counter = Counter()
    for credential_id in db.session.scalars(query).all():
        if due_only:
            claimed = db.session.execute(
                update(Credential)
                .where(Credential.id == credential_id, not_recent)
                .values(checked_at=utcnow()),
                execution_options={"synchronize_session": False},
            ).rowcount
            db.session.commit()
            if not claimed:
                continue
        credential = db.session.get(Credential, credential_id)
        key = host_key(credential.integration)
        if key in last_call:
            time.sleep(max(0.0, pause - (time.monotonic() - last_call[key])))
        outcome = revalidate(credential)
        last_call[key] = time.monotonic()
        outcomes[outcome.split(":")[0]] += 1
        if report:
            report(credential, outcome)
    return outcomes
