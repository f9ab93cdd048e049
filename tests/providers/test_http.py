"""The shared transport: SSRF guard, retry-after parsing, ETag cache, error mapping."""

import email.utils
import time

import pytest
import requests

from gitint.providers import http
from gitint.providers.base import (
    AuthExpired,
    BlockedHost,
    NoAccess,
    NotFound,
    ProviderError,
    RateLimited,
    Unavailable,
)
from gitint.providers.http import (
    EtagCache,
    Transport,
    check_base_url,
    generic_error,
    next_link,
    retry_after_seconds,
)


def answer(status: int, headers: dict | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response.headers.update(headers or {})
    return response


# ------------------------------------------------------------ check_base_url


def test_refuses_plain_http(public_dns):
    """Is an http:// base URL refused when private hosts are not allowed?"""
    with pytest.raises(BlockedHost, match="https"):
        check_base_url("http://ghe.example.com", allow_private=False)


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1",
        "https://10.1.2.3",
        "https://192.168.0.10:8443",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]",
        "https://[fd00:ec2::254]",
    ],
)
def test_refuses_private_address_literals(url):
    """Are loopback, private, link-local and metadata addresses refused?"""
    with pytest.raises(BlockedHost):
        check_base_url(url, allow_private=False)


def test_refuses_name_resolving_to_private_address(monkeypatch, sockets):
    """Is a host name that resolves to a private address refused, before any connection?"""
    monkeypatch.setattr(
        http, "resolve", lambda host, port, **kw: [(2, 1, 6, "", ("10.0.0.7", port))]
    )
    check_base_url("https://ghe.example.com", allow_private=False)  # names: at connection time
    with pytest.raises(BlockedHost, match="private"):
        Transport("https://ghe.example.com", {"Authorization": "Bearer t"}).request("GET", "/")
    assert sockets == []


@pytest.mark.parametrize("allow_private", [False, True])
def test_refuses_credentials_in_url(allow_private):
    """Is a base URL with user:pass@ refused, even when private hosts are allowed?"""
    with pytest.raises(BlockedHost, match="user name or password"):
        check_base_url("https://user:pass@ghe.example.com", allow_private=allow_private)


def test_allows_public_address(public_dns):
    """Is an https URL resolving to a public address accepted?"""
    check_base_url("https://ghe.example.com", allow_private=False)


@pytest.mark.parametrize(
    "url", ["http://10.0.0.7", "https://127.0.0.1:8443", "http://gitlab.local"]
)
def test_allow_private_lets_http_and_private_through(url):
    """With GITINT_ALLOW_PRIVATE_HOSTS on, are http and private hosts accepted?"""
    check_base_url(url, allow_private=True)


@pytest.mark.parametrize("url", ["ftp://ghe.example.com", "ghe.example.com", "https://"])
def test_refuses_non_web_urls(url):
    """Is anything that is not an http(s) URL with a host refused?"""
    with pytest.raises(BlockedHost):
        check_base_url(url, allow_private=True)


# ------------------------------------------------------------ Transport


def test_transport_refuses_other_origin(mocked):
    """Does the transport refuse an absolute URL (e.g. a Link) pointing at another host?"""
    transport = Transport("https://api.github.com", {"Authorization": "Bearer t"})
    with pytest.raises(BlockedHost):
        transport.request("GET", "https://evil.example/user/repos?page=2")
    assert len(mocked.calls) == 0


@pytest.mark.parametrize(
    "link", ["@evil.example/user/repos", ".evil.example/x", ":443@evil.example/"]
)
def test_transport_refuses_a_relative_link_that_changes_the_host(mocked, link):
    """Is a relative Link glued onto a base URL without a path ("https://api.github.com" +
    "@evil.example/…") refused too, so the credential never goes to another host?"""
    transport = Transport("https://api.github.com", {"Authorization": "Bearer t"})
    with pytest.raises(BlockedHost):
        transport.request("GET", link)
    assert len(mocked.calls) == 0


def test_transport_never_quotes_a_credential_it_cannot_send(mocked):
    """A token with a line break: a ProviderError without the token (requests' own error quotes
    the whole Authorization header, and would reach a 500 and the log)."""
    transport = Transport("https://api.github.com", {"Authorization": "Bearer sEcReT\nt0ken"})
    with pytest.raises(ProviderError) as raised:
        transport.request("GET", "/user")
    assert "sEcReT" not in str(raised.value) and "t0ken" not in str(raised.value)
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    assert len(mocked.calls) == 0


def test_transport_connection_error_is_unavailable(mocked):
    """Is an unreachable host Unavailable?"""
    mocked.get("https://api.github.com/user", body=requests.ConnectionError("refused"))
    with pytest.raises(Unavailable, match="could not be reached"):
        Transport("https://api.github.com", {"Authorization": "Bearer t"}).request("GET", "/user")


def test_transport_uses_classify_first(mocked):
    """Does a host-specific classify win over the generic mapping?"""
    mocked.get("https://api.github.com/user", status=418)
    transport = Transport("https://api.github.com", {}, classify=lambda r: NoAccess("teapot"))
    with pytest.raises(NoAccess, match="teapot"):
        transport.request("GET", "/user")


def test_etag_cache_is_per_credential(mocked):
    """Is a cached ETag of one credential never sent with another credential?"""
    url = "https://api.github.com/repos/o/r/branches"
    mocked.get(url, json=[], headers={"ETag": '"e1"'})
    Transport("https://api.github.com", {"Authorization": "Bearer one"}).get_json(
        "/repos/o/r/branches", cached=True
    )
    Transport("https://api.github.com", {"Authorization": "Bearer two"}).get_json(
        "/repos/o/r/branches", cached=True
    )
    assert "If-None-Match" not in mocked.calls[1].request.headers


def test_session_is_kept_per_origin():
    """Is one kept-alive session reused per host origin, ignoring the environment?"""
    first = http.session_for("https://api.github.com/user")
    assert http.session_for("https://API.github.com/repos") is first
    assert http.session_for("https://gitlab.com/api/v4") is not first
    assert first.trust_env is False


# ------------------------------------------------------------ retry-after, Link, cache


def test_retry_after_seconds():
    """Is Retry-After in seconds read as is?"""
    assert retry_after_seconds(answer(429, {"Retry-After": "120"})) == 120


def test_retry_after_http_date():
    """Is Retry-After as an HTTP date turned into seconds from now?"""
    when = email.utils.formatdate(time.time() + 60, usegmt=True)
    assert 55 <= retry_after_seconds(answer(429, {"Retry-After": when})) <= 60


@pytest.mark.parametrize("header", ["X-RateLimit-Reset", "RateLimit-Reset", "x-ratelimit-reset"])
def test_retry_after_reset_epoch(header):
    """Is a rate-limit reset epoch turned into seconds from now?"""
    reset = str(int(time.time()) + 300)
    assert 295 <= retry_after_seconds(answer(403, {header: reset})) <= 300


def test_retry_after_absent():
    """Is 'no hint' None rather than a guess?"""
    assert retry_after_seconds(answer(429)) is None


def test_next_link():
    """Is the rel=next URL taken from a Link header, and None on the last page?"""
    link = (
        '<https://api.github.com/user/repos?page=2>; rel="next", '
        '<https://api.github.com/user/repos?page=5>; rel="last"'
    )
    assert next_link({"Link": link}) == "https://api.github.com/user/repos?page=2"
    assert next_link({"link": '<https://x/?page=1>; rel="prev"'}) is None
    assert next_link({}) is None


def test_etag_cache_is_bounded():
    """Does the ETag cache drop the least recently used entries beyond its size?"""
    cache = EtagCache(size=3)
    for n in range(3):
        cache.put(n, f'"{n}"', ([n], {}))
    assert cache.get(0) is not None  # 0 becomes the most recently used
    cache.put(3, '"3"', ([3], {}))
    cache.put(4, '"4"', ([4], {}))
    assert len(cache.items) == 3
    assert cache.get(1) is None and cache.get(2) is None
    assert cache.get(0) == ('"0"', [0], {})


# ------------------------------------------------------------ generic_error


@pytest.mark.parametrize(
    ("status", "headers", "error"),
    [
        (401, {}, AuthExpired),
        (403, {}, NoAccess),
        (403, {"X-RateLimit-Remaining": "0"}, RateLimited),
        (403, {"Retry-After": "10"}, RateLimited),
        (404, {}, NotFound),
        (429, {}, RateLimited),
        (500, {}, Unavailable),
        (503, {}, Unavailable),
        (418, {}, ProviderError),
    ],
)
def test_generic_error_mapping(status, headers, error):
    """Is each unrecognised host answer mapped to the right error class?"""
    result = generic_error(answer(status, headers))
    assert type(result) is error
    assert result.status == status
    assert str(result).endswith(".")


def test_sessions_keep_no_cookies_between_callers():
    """Does a host's Set-Cookie stay out of the next caller's request on the shared session?"""
    import responses as rsps

    from gitint.providers.http import Transport

    with rsps.RequestsMock() as mock:
        mock.get("https://git.example.com/a", json={}, headers={"Set-Cookie": "sid=user-a"})
        mock.get("https://git.example.com/b", json={})
        Transport("https://git.example.com", {"Authorization": "Bearer a"}).get_json("/a")
        Transport("https://git.example.com", {"Authorization": "Bearer b"}).get_json("/b")
        assert "Cookie" not in mock.calls[1].request.headers
