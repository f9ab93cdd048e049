"""Atlassian Connect JWTs: the query string hash and verification of iframe entry tokens.

References: https://developer.atlassian.com/cloud/jira/platform/understanding-jwt-for-connect-apps/
and https://developer.atlassian.com/cloud/bitbucket/query-string-hash/ (canonical request).
"""

import base64
import hashlib
import hmac
import json
import time
from urllib.parse import quote

import jwt
from sqlalchemy import bindparam, select

from ..crypto import SecretError, unseal
from ..extensions import db
from ..models import Tenant

LEEWAY_SECONDS = 30
CONTEXT_QSH = "context-qsh"


class JWTRejected(Exception):
    """The token is not acceptable; ``str()`` says why in a few words (never the token).

    ``tenant_id`` is set when the issuer is a known tenant (its Jira may then frame the 401 page).
    """

    def __init__(self, reason: str, tenant_id: int | None = None):
        super().__init__(reason)
        self.tenant_id = tenant_id


_jws = jwt.PyJWS()  # reads tokens only (_parse): signatures are HMAC-SHA256 with hmac


def _encode(value: str) -> str:
    """RFC 3986 percent-encoding as Connect uses it (space → %20, only A-Za-z0-9-._~ kept)."""
    return quote(value, safe="~")


def relative_path(path: str, base_path: str = "") -> str:
    """The canonical URI: ``path`` without the base URL's path, '/' first, no trailing '/'."""
    base = base_path.rstrip("/")
    if base and (path == base or path.startswith(base + "/")):
        path = path[len(base) :]
    path = "/" + path.strip("/")
    return path.replace("&", "%26")


def canonical_request(
    method: str, path: str, query: list[tuple[str, str]], base_path: str = ""
) -> str:
    """METHOD&path&query, with the path relative to the app's base URL path and ``jwt`` dropped.

    Parameters are sorted by encoded name; repeated values are sorted and joined with commas.
    """
    grouped: dict[str, list[str]] = {}
    for key, value in query:
        if key != "jwt":
            grouped.setdefault(_encode(key), []).append(value)
    params = "&".join(
        f"{key}={','.join(_encode(v) for v in sorted(values))}"
        for key, values in sorted(grouped.items())
    )
    return f"{method.upper()}&{relative_path(path, base_path)}&{params}"


def query_hash(method: str, path: str, query: list[tuple[str, str]], base_path: str = "") -> str:
    """The ``qsh`` claim: SHA-256 hex of the canonical request."""
    return hashlib.sha256(canonical_request(method, path, query, base_path).encode()).hexdigest()


def unverified(token: str) -> tuple[dict, dict]:
    """Header and claims of a token without checking anything (to find the key to check it with)."""
    header, claims, _signature = _parse(token)
    return header, claims


def _parse(token: str) -> tuple[dict, dict, bytes]:
    """Header, claims and signature of a token, read once by PyJWT's own reader (its checks of
    each segment are most of a verification's cost)."""
    try:
        decoded = _jws.decode_complete(token, options={"verify_signature": False})
        claims = json.loads(decoded["payload"])
    except (jwt.PyJWTError, ValueError):
        raise JWTRejected("malformed token") from None
    if not isinstance(claims, dict):
        raise JWTRejected("malformed token")
    return decoded["header"], claims, decoded["signature"]


def check_times(claims: dict, leeway: int = LEEWAY_SECONDS, tenant_id: int | None = None) -> None:
    """``exp`` and ``iat`` present and numeric, not expired, not issued in the future; ``nbf``,
    when present, numeric and reached (the same leeway for all three)."""
    now = time.time()
    exp, iat, nbf = claims.get("exp"), claims.get("iat"), claims.get("nbf")
    if not isinstance(exp, int | float) or not isinstance(iat, int | float):
        raise JWTRejected("token has no valid exp/iat", tenant_id)
    if nbf is not None and not isinstance(nbf, int | float):
        raise JWTRejected("token has no valid nbf", tenant_id)
    if exp < now - leeway:
        raise JWTRejected("token expired", tenant_id)
    if iat > now + leeway:
        raise JWTRejected("token issued in the future", tenant_id)
    if nbf is not None and nbf > now + leeway:
        raise JWTRejected("token not valid yet", tenant_id)


def check_hs256(token: str, signature: bytes, secret: str, tenant_id: int | None = None) -> None:
    """Check the HS256 signature of the parsed ``token``: HMAC-SHA256 of header.payload exactly
    as sent, compared in constant time."""
    expected = hmac.digest(secret.encode(), token.rpartition(".")[0].encode(), hashlib.sha256)
    if not hmac.compare_digest(expected, signature):
        raise JWTRejected("invalid signature", tenant_id)


def check_qsh(claims: dict, expected: str, tenant_id: int | None = None) -> None:
    """The token must be bound to this exact request (no context-qsh on URL-bound entries)."""
    qsh = claims.get("qsh")
    if not isinstance(qsh, str) or not qsh:
        raise JWTRejected("token has no qsh", tenant_id)
    if qsh == CONTEXT_QSH:
        raise JWTRejected("context-qsh is not accepted on this page", tenant_id)
    if qsh != expected:
        raise JWTRejected("token was issued for another URL", tenant_id)


_TENANT_BY_ISSUER = select(Tenant).where(Tenant.issuer == bindparam("issuer"))


def verify_entry(
    token: str, method: str, path: str, query: list[tuple[str, str]], base_path: str = ""
) -> tuple[Tenant, dict]:
    """Verify a Jira-signed HS256 iframe token exactly (SPEC §4); return its tenant and claims."""
    header, claims, signature = _parse(token)
    if header.get("alg") != "HS256":
        raise JWTRejected("algorithm not allowed")
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise JWTRejected("no issuer")
    tenant = db.session.scalar(_TENANT_BY_ISSUER, {"issuer": issuer})
    if tenant is None or not tenant.installed:
        raise JWTRejected("unknown issuer")
    try:
        secret = unseal(tenant, remember=True)  # read on every entry: kept a minute
    except SecretError:
        raise JWTRejected("tenant secret unavailable", tenant.id) from None
    check_hs256(token, signature, secret, tenant.id)
    check_times(claims, tenant_id=tenant.id)
    check_qsh(claims, query_hash(method, path, query, base_path), tenant.id)
    return tenant, claims


_HEADER = base64.urlsafe_b64encode(b'{"alg":"HS256","typ":"JWT"}').rstrip(b"=")


def sign(claims: dict, secret: str | bytes) -> str:
    """Sign an HS256 token (used when calling Jira as the app, for context tokens, and by the dev
    host): RFC 7515's compact form, as PyJWT writes it, without its key checks on every call."""
    key = secret.encode() if isinstance(secret, str) else secret
    payload = base64.urlsafe_b64encode(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = _HEADER + b"." + payload.rstrip(b"=")
    signature = base64.urlsafe_b64encode(hmac.digest(key, signing_input, hashlib.sha256))
    return (signing_input + b"." + signature.rstrip(b"=")).decode()
