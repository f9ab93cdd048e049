"""Atlassian Connect JWTs: the query string hash and verification of iframe entry tokens.

Reference: https://developer.atlassian.com/cloud/jira/platform/understanding-jwt-for-connect-apps/
"""

import hashlib
from urllib.parse import quote

import jwt
from sqlalchemy import select

from ..crypto import SecretError, unseal
from ..extensions import db
from ..models import Tenant

LEEWAY_SECONDS = 30


class JWTRejected(Exception):
    """The token is not acceptable; ``str()`` says why in a few words (never the token)."""


def _encode(value: str) -> str:
    """RFC 3986 percent-encoding as Connect uses it (space → %20, only A-Za-z0-9-._~ kept)."""
    return quote(value, safe="~")


def canonical_request(
    method: str, path: str, query: list[tuple[str, str]], base_path: str = ""
) -> str:
    """METHOD&path&query, with the path relative to the app's base URL path and ``jwt`` dropped."""
    if base_path and base_path != "/" and path.startswith(base_path.rstrip("/")):
        path = path[len(base_path.rstrip("/")) :]
    path = "/" + path.strip("/") if path.strip("/") else "/"
    path = path.replace("&", "%26")
    grouped: dict[str, list[str]] = {}
    for key, value in query:
        if key != "jwt":
            grouped.setdefault(key, []).append(value)
    params = "&".join(
        f"{_encode(key)}={','.join(sorted(_encode(v) for v in values))}"
        for key, values in sorted(grouped.items())
    )
    return f"{method.upper()}&{path}&{params}"


def query_hash(method: str, path: str, query: list[tuple[str, str]], base_path: str = "") -> str:
    return hashlib.sha256(canonical_request(method, path, query, base_path).encode()).hexdigest()


def verify_entry(
    token: str, method: str, path: str, query: list[tuple[str, str]], base_path: str = ""
) -> tuple[Tenant, dict]:
    """Verify a Jira-signed HS256 iframe token exactly (SPEC §4); return its tenant and claims."""
    try:
        header = jwt.get_unverified_header(token)
        unverified = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise JWTRejected("malformed token") from None
    if header.get("alg") != "HS256":
        raise JWTRejected("algorithm not allowed")
    issuer = unverified.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise JWTRejected("no issuer")
    tenant = db.session.scalar(select(Tenant).where(Tenant.issuer == issuer))
    if tenant is None or not tenant.installed:
        raise JWTRejected("unknown issuer")
    try:
        secret = unseal(tenant)
    except SecretError:
        raise JWTRejected("tenant secret unavailable") from None
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=["HS256"],
            leeway=LEEWAY_SECONDS,
            options={"require": ["iss", "iat", "exp", "qsh"], "verify_aud": False},
        )
    except jwt.ExpiredSignatureError:
        raise JWTRejected("token expired") from None
    except jwt.PyJWTError:
        raise JWTRejected("invalid token") from None
    if claims["qsh"] == "context-qsh":
        raise JWTRejected("context-qsh is not accepted on this page")
    if claims["qsh"] != query_hash(method, path, query, base_path):
        raise JWTRejected("token was issued for another URL")
    return tenant, claims


def sign(claims: dict, secret: str) -> str:
    """Sign an HS256 token (used when calling Jira as the app, and by the dev host)."""
    return jwt.encode(claims, secret, algorithm="HS256")
