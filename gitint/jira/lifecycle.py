"""Connect lifecycle: verify a signed install/uninstall callback, then create, update or
uninstall the tenant (SPEC §4 "Signed install").

Atlassian signs these callbacks with RS256; the public key is fetched by the token's ``kid``
from the install-keys service. References:
https://developer.atlassian.com/cloud/jira/platform/understanding-jwt-for-connect-apps/
https://developer.atlassian.com/cloud/jira/platform/connect-active-api-migrations/
"""

import re
import threading
import time
from collections import OrderedDict, deque
from urllib.parse import quote, urlsplit

import jwt
import requests
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from sqlalchemy import select

from ..crypto import seal
from ..extensions import db
from ..models import Tenant
from ..providers.base import BlockedHost
from ..providers.http import check_base_url
from .descriptor import APP_KEY
from .jwt import LEEWAY_SECONDS, JWTRejected, check_qsh, check_times, query_hash, unverified

# a key id: letters and digits, single separators between them (never "..", "/" or "%")
KID = re.compile(r"[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*")
KID_LENGTH = 128
# the signed callback's header: "JWT " and three base64url parts, read before the body
SIGNATURE = re.compile(r"JWT (?P<token>[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)")
SIGNATURE_LENGTH = 8192
TIMEOUT = (3.05, 10)
KEY_CACHE_SIZE = 32
UNKNOWN_CACHE_SIZE = 1024
UNKNOWN_KEY_TTL = 300  # seconds an unknown kid is answered from memory, without a fetch
FETCHES_PER_MINUTE = 10  # key fetches per process; beyond, callbacks wait (503, Atlassian retries)

clock = time.monotonic  # replaced in tests
_keys: OrderedDict[str, object] = OrderedDict()
_unknown: OrderedDict[str, float] = OrderedDict()  # kid → when the look-up may be tried again
_fetches: deque[float] = deque()  # when the fetches of the last minute started
_keys_lock = threading.Lock()
_session = requests.Session()
_session.trust_env = False


class KeyServiceUnavailable(Exception):
    """The install-keys service did not answer; Atlassian retries the callback later."""


class InvalidInstall(Exception):
    """The (verified) callback's body is not a usable installation; ``str()`` says why."""


def _cached_key(kid: str):
    """The key for ``kid`` from memory, None to fetch it; JWTRejected while a failed look-up
    is remembered, KeyServiceUnavailable once this minute's fetches are spent."""
    now = clock()
    with _keys_lock:
        if kid in _keys:
            _keys.move_to_end(kid)
            return _keys[kid]
        if _unknown.get(kid, now) > now:
            raise JWTRejected("unknown key id")
        _unknown.pop(kid, None)
        while _fetches and _fetches[0] <= now - 60:
            _fetches.popleft()
        if len(_fetches) >= FETCHES_PER_MINUTE:
            raise KeyServiceUnavailable("too many install-key look-ups; try again in a minute")
        _fetches.append(now)
    return None


def _unknown_key(kid: str, reason: str) -> JWTRejected:
    with _keys_lock:
        _unknown[kid] = clock() + UNKNOWN_KEY_TTL
        while len(_unknown) > UNKNOWN_CACHE_SIZE:
            _unknown.popitem(last=False)
    return JWTRejected(reason)


def public_key(keys_url: str, kid: str):
    """The RSA public key for ``kid``, fetched once per process (bounded cache); failed
    look-ups are remembered for a few minutes and fetches are capped per minute."""
    if len(kid) > KID_LENGTH or not KID.fullmatch(kid):
        raise JWTRejected("invalid key id")
    key = _cached_key(kid)
    if key is not None:
        return key
    try:
        response = _session.get(
            f"{keys_url.rstrip('/')}/{quote(kid, safe='')}", timeout=TIMEOUT, allow_redirects=False
        )
    except requests.RequestException:
        raise KeyServiceUnavailable("the install-keys service could not be reached") from None
    if response.status_code >= 500:
        raise KeyServiceUnavailable(f"the install-keys service answered {response.status_code}")
    if response.status_code != 200:
        raise _unknown_key(kid, "unknown key id")
    try:
        key = load_pem_public_key(response.content)
    except ValueError:
        raise _unknown_key(kid, "the install key could not be read") from None
    with _keys_lock:
        _keys[kid] = key
        while len(_keys) > KEY_CACHE_SIZE:
            _keys.popitem(last=False)
    return key


def clear_key_cache() -> None:
    with _keys_lock:
        _keys.clear()
        _unknown.clear()
        _fetches.clear()


def callback_token(authorization: str | None) -> str:
    """The token of an ``Authorization: JWT <token>`` header, checked for shape only (so an
    unsigned callback is refused before its body is read)."""
    value = (authorization or "").strip()
    match = SIGNATURE.fullmatch(value) if len(value) <= SIGNATURE_LENGTH else None
    if match is None:
        raise JWTRejected("the callback is not signed")
    return match["token"]


def verify_callback(
    authorization: str | None,
    client_key: str,
    *,
    method: str,
    path: str,
    query: list[tuple[str, str]],
    base_url: str,
    keys_url: str,
) -> dict:
    """Verify the ``Authorization: JWT ...`` header of a lifecycle callback; return its claims.

    RS256 only, key by ``kid``, ``aud`` = our base URL, ``iss`` = the body's clientKey, and the
    qsh of this request. Raises JWTRejected (→ 401) or KeyServiceUnavailable (→ 503).
    """
    token = callback_token(authorization)
    header, _claims = unverified(token)
    if header.get("alg") != "RS256":
        raise JWTRejected("algorithm not allowed")
    kid = header.get("kid")
    if not isinstance(kid, str):
        raise JWTRejected("no key id")
    key = public_key(keys_url, kid)
    base_url = base_url.rstrip("/")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            audience=[base_url, base_url + "/"],
            leeway=LEEWAY_SECONDS,
            options={"require": ["iss", "iat", "exp", "aud", "qsh"]},
        )
    except jwt.InvalidAudienceError:
        raise JWTRejected("token is for another app") from None
    except jwt.ExpiredSignatureError:
        raise JWTRejected("token expired") from None
    except jwt.PyJWTError:
        raise JWTRejected("invalid signature") from None
    if not client_key or claims.get("iss") != client_key:
        raise JWTRejected("issuer does not match the clientKey")
    check_times(claims)
    check_qsh(claims, query_hash(method, path, query, urlsplit(base_url).path))
    return claims


def _text(payload: dict, name: str, limit: int, required: bool = True) -> str | None:
    value = payload.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise InvalidInstall(f"{name} is missing or invalid")
    return value.strip()


def _site_url(value: str | None, allow_private: bool) -> str | None:
    """A Jira site URL the app may call and be framed by: the outbound guard's rules (https, a
    public address) unless private hosts are allowed; the name is checked again on each call."""
    if value is None:
        return None
    try:
        check_base_url(value, allow_private)
    except BlockedHost as blocked:
        raise InvalidInstall(f"baseUrl/displayUrl is not allowed: {blocked}") from None
    parts = urlsplit(value)
    if parts.query or parts.fragment:
        raise InvalidInstall("baseUrl/displayUrl must be a plain https URL")
    return value.rstrip("/")


def install(payload: dict, allow_private: bool = False) -> Tenant:
    """Create or update the Connect tenant of a verified ``installed`` callback (not committed).

    A reinstall replaces the shared secret and marks the tenant installed again.
    """
    if payload.get("key") not in (None, APP_KEY):
        raise InvalidInstall("the callback is for another app")
    client_key = _text(payload, "clientKey", 255)
    secret = _text(payload, "sharedSecret", 1000)
    base_url = _site_url(_text(payload, "baseUrl", 500), allow_private)
    display_url = _site_url(_text(payload, "displayUrl", 500, required=False), allow_private)
    tenant = db.session.scalar(select(Tenant).where(Tenant.issuer == client_key))
    if tenant is None:
        tenant = Tenant(kind="connect", issuer=client_key)
        db.session.add(tenant)
    elif tenant.kind != "connect":
        raise InvalidInstall("this clientKey belongs to an embedded Jira")
    tenant.base_url = base_url
    tenant.display_url = display_url if display_url != base_url else None
    tenant.name = urlsplit(display_url or base_url).netloc[:255]
    tenant.installed = True
    seal(tenant, secret)
    return tenant


def uninstall(client_key: str) -> Tenant | None:
    """Mark the Connect tenant of a verified ``uninstalled`` callback as uninstalled."""
    tenant = db.session.scalar(
        select(Tenant).where(Tenant.issuer == client_key, Tenant.kind == "connect")
    )
    if tenant is not None:
        tenant.installed = False
    return tenant
