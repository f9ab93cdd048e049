"""Forge: verify the Forge Invocation Token (FIT) on a call to our remote, and turn a verified
call into the same ``Context`` the Connect and embedded entries produce (SPEC §4 "Forge entry").

Every call from Forge carries ``Authorization: Bearer <FIT>``: RS256, key by ``kid`` from
Atlassian's JWKS, ``iss`` = ``forge/invocation-token``, ``aud`` = the app's ARI. The tenant is
``app.installationId``, the user ``principal``, the issue and project ``context.extension``.
Jira's OAuth tokens for the call come in ``x-forge-oauth-user`` / ``x-forge-oauth-system``;
they are kept on the invocation only for this request, never stored or logged.

References: https://developer.atlassian.com/platform/forge/remote/essentials/ and
https://developer.atlassian.com/platform/forge/remote/calling-product-apis/ (../shared/FORGE.md).
"""

import threading
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import jwt
from flask import current_app
from sqlalchemy import select

from ..extensions import db
from ..models import Tenant
from .jwt import JWTRejected

FIT_ISSUER = "forge/invocation-token"
LEEWAY_SECONDS = 10
JWKS_LIFESPAN = 300  # seconds a fetched key set is used before it is fetched again
JWKS_COOLDOWN = 30  # an unknown kid refreshes the set at most this often
ENVIRON_KEY = "gitint.forge"  # the verified call, on the inner request's WSGI environ
ATLASSIAN_API = "https://api.atlassian.com/"
USER_TOKEN_HEADER = "x-forge-oauth-user"  # noqa: S105 - a header name
SYSTEM_TOKEN_HEADER = "x-forge-oauth-system"  # noqa: S105

_clients: dict[str, jwt.PyJWKClient] = {}
_clients_lock = threading.Lock()


class KeysUnavailable(Exception):
    """Atlassian's key set could not be fetched: the call cannot be verified now (503)."""


@dataclass(frozen=True)
class Invocation:
    """A verified call from Forge: who, from which installation and module, about which issue."""

    installation_id: str
    api_base_url: str
    cloud_id: str | None
    site_url: str | None
    account_id: str | None
    module_key: str | None
    extension: dict = field(default_factory=dict, compare=False)
    user_token: str | None = field(default=None, repr=False, compare=False)
    system_token: str | None = field(default=None, repr=False, compare=False)

    def _part(self, name: str) -> dict:
        value = self.extension.get(name)
        return value if isinstance(value, dict) else {}

    @property
    def issue_key(self) -> str | None:
        return as_text(self._part("issue").get("key"))

    @property
    def project_key(self) -> str | None:
        return as_text(self._part("project").get("key"))

    @property
    def project_id(self) -> str | None:
        return as_text(self._part("project").get("id"))

    def bound_values(self) -> dict[str, str | None]:
        """The Jira context parameters a request of this call may carry (and must agree with)."""
        return {
            "issueKey": self.issue_key,
            "projectKey": self.project_key,
            "projectId": self.project_id,
        }


def as_text(value) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value if isinstance(value, str) and value else None


def _jwks(url: str) -> jwt.PyJWKClient:
    """One key-set client per URL and process: cached set, refreshed on an unknown kid."""
    with _clients_lock:
        client = _clients.get(url)
        if client is None:
            client = jwt.PyJWKClient(
                url, lifespan=JWKS_LIFESPAN, cooldown_duration=JWKS_COOLDOWN, timeout=5
            )
            _clients[url] = client
        return client


def clear_key_cache() -> None:
    with _clients_lock:
        _clients.clear()


def _signing_key(url: str, kid: str):
    try:
        return _jwks(url).get_signing_key(kid).key
    except jwt.PyJWKClientConnectionError:
        raise KeysUnavailable("Atlassian's signing keys could not be fetched") from None
    except jwt.PyJWKClientError:
        raise JWTRejected("unknown key id") from None
    except jwt.PyJWTError:
        raise KeysUnavailable("Atlassian's signing keys could not be read") from None


def _api_base_url(value, allow_private: bool) -> str:
    """``app.apiBaseUrl``: Atlassian's API gateway (any http(s) URL only for private hosts)."""
    if not isinstance(value, str) or len(value) > 500:
        raise JWTRejected("token has no valid apiBaseUrl")
    parts = urlsplit(value)
    if value.startswith(ATLASSIAN_API) and not parts.username and not parts.password:
        return value.rstrip("/")
    if allow_private and parts.scheme in ("http", "https") and parts.netloc:
        return value.rstrip("/")
    raise JWTRejected("token's apiBaseUrl is not Atlassian's API")


def verify(authorization: str | None, headers=None) -> Invocation:
    """Verify a call's ``Authorization: Bearer <FIT>`` exactly; JWTRejected says why (→ 401)."""
    config = current_app.config
    app_id = config.get("GITINT_FORGE_APP_ID")
    if not app_id:
        raise JWTRejected("Forge is not configured")
    scheme, _, token = (authorization or "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise JWTRejected("missing invocation token")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError:
        raise JWTRejected("malformed token") from None
    if header.get("alg") != "RS256":
        raise JWTRejected("algorithm not allowed")
    kid = header.get("kid")
    if not isinstance(kid, str) or not 0 < len(kid) <= 200:
        raise JWTRejected("no key id")
    key = _signing_key(config["GITINT_FORGE_JWKS_URL"], kid)
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            audience=app_id,
            issuer=FIT_ISSUER,
            leeway=LEEWAY_SECONDS,
            options={"require": ["iss", "aud", "exp", "iat", "nbf"]},
        )
    except jwt.InvalidAudienceError:
        raise JWTRejected("token is for another app") from None
    except jwt.InvalidIssuerError:
        raise JWTRejected("not a Forge invocation token") from None
    except jwt.ExpiredSignatureError:
        raise JWTRejected("token expired") from None
    except jwt.ImmatureSignatureError:
        raise JWTRejected("token not valid yet") from None
    except jwt.MissingRequiredClaimError as missing:
        raise JWTRejected(f"token has no {missing.claim}") from None
    except jwt.PyJWTError:
        raise JWTRejected("invalid signature") from None
    return _invocation(claims, headers or {})


def _invocation(claims: dict, headers) -> Invocation:
    config = current_app.config
    app = claims.get("app") if isinstance(claims.get("app"), dict) else {}
    if app.get("id") not in (None, config["GITINT_FORGE_APP_ID"]):
        raise JWTRejected("token is for another app")
    environment = app.get("environment") if isinstance(app.get("environment"), dict) else {}
    pinned = config.get("GITINT_FORGE_ENVIRONMENT_ID")
    if pinned and environment.get("id") != pinned:
        raise JWTRejected("token is for another environment of the app")
    installation_id = app.get("installationId")
    if not isinstance(installation_id, str) or not 0 < len(installation_id) <= 255:
        raise JWTRejected("token has no installation id")
    api_base_url = _api_base_url(app.get("apiBaseUrl"), config["GITINT_ALLOW_PRIVATE_HOSTS"])
    context = claims.get("context") if isinstance(claims.get("context"), dict) else {}
    extension = context.get("extension") if isinstance(context.get("extension"), dict) else {}
    principal = claims.get("principal")
    return Invocation(
        installation_id=installation_id,
        api_base_url=api_base_url,
        cloud_id=as_text(context.get("cloudId")),
        site_url=_site_url(context.get("siteUrl")),
        account_id=principal if isinstance(principal, str) and 0 < len(principal) <= 128 else None,
        module_key=as_text(context.get("moduleKey")),
        extension=extension,
        user_token=headers.get(USER_TOKEN_HEADER) or None,
        system_token=headers.get(SYSTEM_TOKEN_HEADER) or None,
    )


def _site_url(value) -> str | None:
    if not isinstance(value, str) or len(value) > 500:
        return None
    parts = urlsplit(value)
    return value.rstrip("/") if parts.scheme in ("http", "https") and parts.netloc else None


def upsert_tenant(
    installation_id: str, *, cloud_id: str | None, site_url: str | None, api_base_url: str
) -> Tenant:
    """The Forge tenant of an installation, created on first sight and kept up to date (the
    caller commits). An installation id that names a Connect or embedded tenant is refused."""
    tenant = db.session.scalar(select(Tenant).where(Tenant.issuer == installation_id))
    if tenant is None:
        host = urlsplit(site_url).hostname if site_url else None
        tenant = Tenant(kind="forge", issuer=installation_id, name=host or "Jira Cloud")
        db.session.add(tenant)
    elif tenant.kind != "forge":
        raise JWTRejected("installation id clashes with another tenant")
    wanted = {
        "base_url": site_url or api_base_url,
        "api_base_url": api_base_url,
        "cloud_id": cloud_id or tenant.cloud_id,
        "installed": True,
    }
    for name, value in wanted.items():
        if getattr(tenant, name) != value:
            setattr(tenant, name, value)
    return tenant


def tenant_of(invocation: Invocation) -> Tenant:
    """The invocation's tenant, committed when it was created or changed."""
    tenant = upsert_tenant(
        invocation.installation_id,
        cloud_id=invocation.cloud_id,
        site_url=invocation.site_url,
        api_base_url=invocation.api_base_url,
    )
    if tenant in db.session.new or db.session.is_modified(tenant):
        db.session.commit()
    return tenant
