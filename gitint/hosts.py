"""From database rows to providers: which host, which secret, and what a 401 means for a row."""

from flask import current_app

from .crypto import unseal
from .extensions import db
from .models import Credential, Integration, utcnow
from .providers import make_provider
from .providers.base import AuthExpired, HostSettings, Provider


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


def mark_rejected(row: Integration | Credential, error: AuthExpired) -> None:
    """The host answered 401 for this credential: remember it as revoked or expired."""
    status = "revoked" if error.revoked else "expired"
    now = utcnow()
    if isinstance(row, Credential):
        row.status, row.checked_at = status, now
    else:
        row.credential_status, row.credential_checked_at = status, now
    db.session.commit()
