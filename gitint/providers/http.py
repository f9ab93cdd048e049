"""The one place HTTP to git hosts happens.

Kept-alive sessions per host origin and process, connect/read timeouts, a User-Agent, the
credential only in its documented header and never across a redirect, ``trust_env`` off, an
SSRF guard for self-hosted URLs, a bounded ETag cache, and host answers mapped to the error
hierarchy of ``base.py``.
"""

import email.utils
import hashlib
import http.cookiejar
import ipaddress
import logging
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter

from .base import (
    AuthExpired,
    BlockedHost,
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

resolve = socket.getaddrinfo  # replaced in tests

_sessions: dict[str, requests.Session] = {}
_sessions_lock = threading.Lock()


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def session_for(url: str) -> requests.Session:
    """One kept-alive session per host origin in this process."""
    origin = origin_of(url)
    with _sessions_lock:
        session = _sessions.get(origin)
        if session is None:
            session = requests.Session()
            session.trust_env = False  # no proxies or .netrc credentials from the environment
            # one session serves every tenant and user of this host: keep no cookies between them
            session.cookies.set_policy(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))
            session.headers["User-Agent"] = USER_AGENT
            adapter = HTTPAdapter(pool_connections=1, pool_maxsize=4, max_retries=0)
            session.mount(origin, adapter)
            _sessions[origin] = session
        return session


def connections_opened() -> int:
    """TCP connections opened so far by every kept-alive session (for bench/)."""
    total = 0
    for session in _sessions.values():
        for adapter in session.adapters.values():
            for pool in adapter.poolmanager.pools._container.values():
                total += pool.num_connections
    return total


def check_base_url(url: str, allow_private: bool) -> None:
    """Refuse non-https and private, loopback, link-local or metadata addresses (SSRF guard)."""
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
        infos = resolve(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise Unavailable(f"The host name {parts.hostname} could not be resolved.") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%")[0])
        if address in METADATA_ADDRESSES or not address.is_global:
            raise BlockedHost(
                f"{parts.hostname} resolves to a private or reserved address, which is not allowed."
            )


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
    host-specific error (or None to fall back to the generic mapping).
    """

    def __init__(
        self,
        base_url: str,
        auth: dict[str, str],
        *,
        classify: Callable[[requests.Response], ProviderError | None] | None = None,
        headers: dict[str, str] | None = None,
    ):
        self.base_url = base_url.rstrip("/")
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
            response = session_for(url).request(
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
        except requests.ConnectionError:
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
    """The JSON body, or a ProviderError when the host answered something else (e.g. HTML)."""
    try:
        return response.json()
    except ValueError:
        raise ProviderError(
            "The git host answered with something that is not its API; check the base URL.",
            status=response.status_code,
        ) from None


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
