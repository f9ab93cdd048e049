"""From database rows to providers: which host, which secret, what a 401 means for a row, and
which host-supplied links may be rendered as links."""

from urllib.parse import urlsplit

from flask import current_app

from .crypto import unseal
from .extensions import db
from .models import Credential, Integration, utcnow
from .providers import make_provider
from .providers.base import (
    UNREADABLE,
    AuthExpired,
    HostSettings,
    Identity,
    Malformed,
    Provider,
    ProviderError,
)


def settings_of(integration: Integration) -> HostSettings:
    return HostSettings(
        kind=integration.kind,
        base_url=integration.base_url,
        organization=integration.organization,
        region=integration.region,
        server_version=integration.server_version,
    )


def provider_for(integration: Integration, secret: str) -> Provider:
    """A provider for ``integration`` using ``secret`` (a token, or KEY_ID:SECRET)."""
    return make_provider(
        settings_of(integration),
        secret,
        allow_private=current_app.config["GITINT_ALLOW_PRIVATE_HOSTS"],
    )


def integration_provider(integration: Integration) -> Provider:
    """The provider acting as the integration account."""
    return provider_for(integration, unseal(integration))


def user_provider(credential: Credential) -> Provider:
    """The provider acting as the user, with their own credential."""
    return provider_for(credential.integration, unseal(credential))


def identity_of(provider: Provider) -> Identity:
    """``provider.validate()``; an answer without the documented shape is Malformed."""
    try:
        return provider.validate()
    except UNREADABLE:
        raise Malformed() from None


def mark_rejected(row: Integration | Credential, error: AuthExpired) -> None:
    """The host answered 401 for this credential: remember it as revoked or expired."""
    status = "revoked" if error.revoked else "expired"
    now = utcnow()
    if isinstance(row, Credential):
        row.status, row.checked_at = status, now
    else:
        row.credential_status, row.credential_checked_at = status, now
    db.session.commit()


def web_link(url: str | None, integration: Integration | None) -> str | None:
    """``url`` (a branch, PR or repository page the host gave) when it may be a link: https (or
    http with GITINT_ALLOW_PRIVATE_HOSTS), no user name, on the integration's web host. None
    otherwise: show it as plain text (this stops ``javascript:`` and links to other sites)."""
    if not url or integration is None:
        return None
    allow_private = current_app.config["GITINT_ALLOW_PRIVATE_HOSTS"]
    try:
        parts = urlsplit(url)
        host = make_provider(settings_of(integration), "unused:unused").web_host()
    except (ValueError, ProviderError, KeyError):  # an odd URL, settings or kind
        return None
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes or "@" in parts.netloc or not host:
        return None
    return url if parts.netloc.lower() == host.lower() else None
