"""The one place HTTP to git hosts happens.

Kept-alive sessions per host origin and process, connect/read timeouts, a User-Agent, the
credential only in its documented header and never across a redirect, ``trust_env`` off, an
SSRF guard that resolves a host once and connects to the address it checked, path segments that
cannot leave the API path, a bounded ETag cache, and host answers mapped to the error hierarchy
of ``base.py``.
"""

import email.utils
import hashlib
import http.cookiejar
import ipaddress
import logging
import re
import socket
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from urllib.parse import quote, urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError, ProtocolError
from urllib3.util import connection

from .base import (
    AuthExpired,
    BlockedHost,
    InvalidName,
    Malformed,
    NoAccess,
    NotFound,
    ProviderError,
    RateLimited,
    Unavailable,
)

log = logging.getLogger(__name__)

USER_AGENT = "gitint/0.1 (+jira-git-integration)"
TIMEOUT = (3.05, 15)  # connect, read (seconds)
METADATA_ADDRESSES = {
    ipaddress.ip_address("169.254.169.254"),
    ipaddress.ip_address("fd00:ec2::254"),
}
# IPv6 forms whose last 32 bits are the IPv4 address the packets reach: IPv4-mapped,
# IPv4-compatible, IPv4-translated (RFC 2765) and the NAT64 well-known prefix (RFC 6052).
EMBEDDING_IPV4 = tuple(
    ipaddress.ip_network(n) for n in ("::ffff:0:0/96", "::/96", "::ffff:0:0:0/96", "64:ff9b::/96")
)
# Refused whatever they carry. Newer Pythons call the first three non-global, 3.11 does not:
# local-use NAT64 (RFC 8215), 6to4 (2002::/16, which tunnels to any IPv4), documentation
# (RFC 9637); and the deprecated site-local range, which no Python calls non-global. Teredo
# (2001::/32) is within 2001::/23, non-global in every Python.
NEVER_PUBLIC = tuple(
    ipaddress.ip_network(n) for n in ("64:ff9b:1::/48", "2002::/16", "3fff::/20", "fec0::/10")
)

resolve = socket.getaddrinfo  # replaced in tests

_sessions: dict[tuple[str, bool], requests.Session] = {}
_sessions_lock = threading.Lock()


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Whether a git host may be reached at ``address``: global, not multicast or a metadata
    service, and no IPv6 form that carries a non-public IPv4 address."""
    if not address.is_global or address.is_multicast or address in METADATA_ADDRESSES:
        return False
    if address.version == 4:
        return True
    if any(address in network for network in NEVER_PUBLIC):
        return False
    if any(address in network for network in EMBEDDING_IPV4):
        return is_public(ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF))
    return True


def _refused(host: str) -> BlockedHost:
    return BlockedHost(f"{host} resolves to a private or reserved address, which is not allowed.")


def public_addresses(host: str, port: int) -> list[str]:
    """Resolve ``host`` once: its addresses in the resolver's order, refused when any of them
    is not public."""
    try:
        infos = resolve(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise Unavailable(f"The host name {host} could not be resolved.") from None
    addresses: list[str] = []
    for info in infos:
        text = info[4][0]
        if not is_public(ipaddress.ip_address(text.split("%")[0])):
            raise _refused(host)
        if text not in addresses:
            addresses.append(text)
    if not addresses:
        raise Unavailable(f"The host name {host} could not be resolved.")
    return addresses


class _Pinned:
    """A urllib3 connection that resolves its host once, checks the answer and opens the socket
    to a checked address. Everything else stays on the name: ``Host``, TLS SNI and the
    certificate's host name check (urllib3 takes them from ``self.host``)."""

    def _new_conn(self):
        failure: OSError | None = None
        for address in public_addresses(self.host, self.port):
            try:
                sock = connection.create_connection(
                    (address, self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except OSError as error:  # a timeout too: try the next address, as urllib3 does
                failure = error
                continue
            sys.audit("http.client.connect", self, self.host, self.port)
            return sock
        if isinstance(failure, TimeoutError):  # mapped as urllib3's own _new_conn maps them
            raise ConnectTimeoutError(
                self, f"Connection to {self.host} timed out. (connect timeout={self.timeout})"
            ) from failure
        raise NewConnectionError(
            self, f"Failed to establish a new connection: {failure}"
        ) from failure


class PinnedHTTPConnection(_Pinned, HTTPConnection):
    pass


class PinnedHTTPSConnection(_Pinned, HTTPSConnection):
    pass


class PinnedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = PinnedHTTPConnection


class PinnedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = PinnedHTTPSConnection


class PinnedAdapter(HTTPAdapter):
    """requests' adapter with pinned connections: the SSRF guard for every host name."""

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            "http": PinnedHTTPConnectionPool,
            "https": PinnedHTTPSConnectionPool,
        }


def session_for(url: str, allow_private: bool = False) -> requests.Session:
    """One kept-alive session per host origin in this process (and guard setting: with
    ``allow_private`` — dev and tests — connections are not pinned or checked)."""
    key = (origin_of(url), allow_private)
    with _sessions_lock:
        session = _sessions.get(key)
        if session is None:
            session = requests.Session()
            session.trust_env = False  # no proxies or .netrc credentials from the environment
            # one session serves every tenant and user of this host: keep no cookies between them
            session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
            session.headers["User-Agent"] = USER_AGENT
            adapter_class = HTTPAdapter if allow_private else PinnedAdapter
            adapter = adapter_class(pool_connections=1, pool_maxsize=4, max_retries=0)
            for prefix in ("https://", "http://"):  # the session serves one origin, all guarded
                session.mount(prefix, adapter)
            _sessions[key] = session
        return session


def connections_opened() -> int:
    """TCP connections opened so far by every kept-alive session (for bench/)."""
    total = 0
    for session in _sessions.values():
        for adapter in set(session.adapters.values()):
            for pool in adapter.poolmanager.pools._container.values():
                total += pool.num_connections
    return total


def check_base_url(url: str, allow_private: bool) -> None:
    """Refuse a base URL no request may go to: not http(s), a user name or password in it, and
    unless private hosts are allowed, http or a non-public address literal. A host name is
    checked when a connection is opened, on the one resolution the connection uses."""
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise BlockedHost("The base URL must look like https://git.example.com.")
    if parts.username or parts.password:
        raise BlockedHost("The base URL must not contain a user name or password.")
    if allow_private:
        return
    if parts.scheme != "https":
        raise BlockedHost("The base URL must use https.")
    try:
        address = ipaddress.ip_address(parts.hostname.split("%")[0])
    except ValueError:
        return  # a name
    if not is_public(address):
        raise _refused(parts.hostname)


def path_segment(value: str) -> str:
    """``value`` as one URL path segment, every reserved character percent-encoded ("/" too).
    Refused when empty or when any part between "/" or "\\" is "." or "..": a server that
    decodes the segment would resolve them out of the API path."""
    if not value or any(part in (".", "..") for part in re.split(r"[/\\]", value)):
        raise InvalidName(f"“{value}” cannot be sent to the git host as part of a name.")
    return quote(value, safe="")


def path_segments(value: str) -> str:
    """``value`` as "/"-separated path segments (GitHub's multi-segment ``heads/{branch}``),
    each encoded and checked like ``path_segment``."""
    return "/".join(path_segment(part) for part in value.split("/"))


def retry_after_seconds(response: requests.Response) -> int | None:
    """Seconds to wait, from Retry-After (seconds or date) or a rate-limit reset epoch."""
    value = response.headers.get("Retry-After")
    if value:
        if value.strip().isdigit():
            return int(value)
        parsed = email.utils.parsedate_to_datetime(value)
        if parsed is not None:
            return max(0, int(parsed.timestamp() - time.time()))
    for header in ("X-RateLimit-Reset", "RateLimit-Reset"):
        reset = response.headers.get(header)
        if reset and reset.strip().isdigit():
            return max(0, int(reset) - int(time.time()))
    return None


def is_rate_limited(response: requests.Response) -> bool:
    if response.status_code == 429:
        return True
    remaining = response.headers.get("X-RateLimit-Remaining") or response.headers.get(
        "RateLimit-Remaining"
    )
    return response.status_code == 403 and (remaining == "0" or "Retry-After" in response.headers)


def generic_error(response: requests.Response) -> ProviderError:
    """The error for an answer no host-specific rule recognised."""
    status = response.status_code
    if is_rate_limited(response):
        return RateLimited(retry_after=retry_after_seconds(response), status=status)
    if status == 401:
        return AuthExpired()
    if status == 403:
        return NoAccess(status=status)
    if status == 404:
        return NotFound(status=status)
    if status >= 500:
        return Unavailable(
            f"The git host had an internal error (HTTP {status}); try again.", status=status
        )
    return ProviderError(f"The git host refused the request (HTTP {status}).", status=status)


class EtagCache:
    """A bounded map of (credential fingerprint, URL) → (ETag, parsed body)."""

    def __init__(self, size: int = 2048):
        self.size = size
        self.items: OrderedDict = OrderedDict()
        self.lock = threading.Lock()

    def get(self, key):
        with self.lock:
            if key in self.items:
                self.items.move_to_end(key)
                return self.items[key]
            return None

    def put(self, key, etag: str, value) -> None:
        with self.lock:
            self.items[key] = (etag, *value)
            self.items.move_to_end(key)
            while len(self.items) > self.size:
                self.items.popitem(last=False)


etags = EtagCache()


class Transport:
    """Calls to one host with one credential.

    ``auth`` holds the credential's header; ``classify`` turns a failed answer into a
    host-specific error (or None to fall back to the generic mapping); ``allow_private``
    (GITINT_ALLOW_PRIVATE_HOSTS) turns the address guard off.
    """

    def __init__(
        self,
        base_url: str,
        auth: dict[str, str],
        *,
        classify: Callable[[requests.Response], ProviderError | None] | None = None,
        headers: dict[str, str] | None = None,
        allow_private: bool = False,
    ):
        self.base_url = base_url.rstrip("/")
        self.allow_private = allow_private
        self.origin = origin_of(self.base_url)
        self.auth = auth
        self.headers = headers or {}
        self.classify = classify
        self.calls = 0  # host calls made through this transport
        fingerprint = "|".join(auth.values()).encode()
        self.fingerprint = hashlib.sha256(fingerprint).hexdigest()[:24]

    def url(self, path: str) -> str:
        url = path if path.startswith(("http://", "https://")) else self.base_url + path
        if origin_of(url) != self.origin:  # also a relative "@evil.example/…" or ".evil.example"
            raise BlockedHost("The git host pointed to another host; the request was not sent.")
        return url

    def request(
        self, method: str, path: str, *, params=None, json=None, headers=None, ok_statuses=()
    ) -> requests.Response:
        """Send one request; 2xx/304 (and ``ok_statuses``) return, anything else raises."""
        url = self.url(path)
        sent_headers = {**self.headers, **(headers or {}), **self.auth}
        started = time.perf_counter()
        try:
            response = session_for(url, self.allow_private).request(
                method,
                url,
                params=params,
                json=json,
                headers=sent_headers,
                timeout=TIMEOUT,
                allow_redirects=False,
            )
        except requests.Timeout:
            raise Unavailable("The git host did not answer in time; try again.") from None
        except requests.ConnectionError as error:
            if error.args and isinstance(error.args[0], ProtocolError):  # reached, then dropped
                raise Unavailable(
                    "The connection to the git host broke before it answered; try again."
                ) from None
            raise Unavailable("The git host could not be reached; try again.") from None
        except requests.exceptions.InvalidHeader:  # its message quotes the header: the credential
            raise ProviderError(
                "The credential contains a line break or another character that cannot be sent; "
                "copy it again."
            ) from None
        finally:
            self.calls += 1
        log.debug(
            "%s %s -> %s in %.0f ms",
            method,
            urlsplit(url).path,
            getattr(locals().get("response"), "status_code", "-"),
            (time.perf_counter() - started) * 1000,
        )
        status = response.status_code
        if status < 300 or status == 304 or status in ok_statuses:
            return response
        if 300 <= status < 400:
            raise ProviderError(
                "The git host answered with a redirect, which is not followed with credentials; "
                "check the base URL.",
                status=status,
            )
        raise (self.classify and self.classify(response)) or generic_error(response)

    def get_page(self, path: str, params=None, *, cached: bool = False):
        """GET and parse JSON → (body, response headers). With ``cached``, revalidate with
        If-None-Match per credential and URL; a 304 returns the stored body (and is free on
        GitHub's rate limit)."""
        if not cached:
            response = self.request("GET", path, params=params)
            return parse_json(response), dict(response.headers)
        key = (self.fingerprint, self.url(path), tuple(sorted((params or {}).items())))
        hit = etags.get(key)
        headers = {"If-None-Match": hit[0]} if hit else None
        response = self.request("GET", path, params=params, headers=headers)
        if response.status_code == 304 and hit:
            return hit[1], hit[2]
        body, kept = parse_json(response), dict(response.headers)
        if response.headers.get("ETag"):
            etags.put(key, response.headers["ETag"], (body, kept))
        return body, kept

    def get_json(self, path: str, params=None, *, cached: bool = False):
        return self.get_page(path, params, cached=cached)[0]


def parse_json(response: requests.Response):
    """The JSON body, or Malformed when the host answered something else (e.g. HTML)."""
    try:
        return response.json()
    except ValueError:
        raise Malformed(status=response.status_code) from None


def next_link(headers: dict) -> str | None:
    """The rel="next" URL of a Link header, if any."""
    link = headers.get("Link") or headers.get("link")
    if not link:
        return None
    return requests.utils.parse_header_links(link) and next(
        (
            item["url"]
            for item in requests.utils.parse_header_links(link)
            if item.get("rel") == "next"
        ),
        None,
    )
