"""Signed install: the RS256 installed/uninstalled callbacks, verified with the install-keys
service (mocked with `responses` and a generated RSA key)."""

import io
import re
import time

import pytest
import requests
import responses
from sqlalchemy import func, select

from gitint.crypto import unseal
from gitint.extensions import db
from gitint.jira import lifecycle
from gitint.jira.jwt import query_hash, sign
from gitint.models import Tenant
from tests.conftest import BASE_URL
from tests.jira.conftest import (
    ISSUE_PARAMS,
    KEYS_URL,
    SECRET_A,
    SECRET_B,
    install_body,
    install_token,
    public_pem,
)

CLIENT_KEY = "acme-client-key"


@pytest.fixture
def keys(rsa_key):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(f"{KEYS_URL}/kid-1", body=public_pem(rsa_key))
        mock.get(f"{KEYS_URL}/kid-missing", status=404)
        yield mock


def _post(client, path, token=None, body=None, **body_fields):
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"JWT {token}"
    return client.post(path, data=body or install_body(**body_fields), headers=headers)


def _install(client, rsa_key, secret=SECRET_A, **claims):
    token = install_token(rsa_key, CLIENT_KEY, aud=BASE_URL, **claims)
    return _post(client, "/lifecycle/installed", token, secret=secret)


def _tenants() -> int:
    return db.session.scalar(select(func.count()).select_from(Tenant))


def _connect_tenant() -> Tenant | None:
    db.session.expire_all()
    return db.session.scalar(select(Tenant).where(Tenant.issuer == CLIENT_KEY))


def test_signed_install_creates_the_tenant(client, keys, rsa_key):
    """Does a correctly signed installed callback create a Connect tenant with a sealed secret?"""
    response = _install(client, rsa_key)
    assert response.status_code == 204, response.get_data(as_text=True)
    tenant = _connect_tenant()
    assert (tenant.kind, tenant.installed) == ("connect", True)
    assert tenant.base_url == "https://acme.atlassian.net"
    assert tenant.display_url == "https://jira.acme.com"
    assert SECRET_A not in tenant.shared_secret_ct and unseal(tenant) == SECRET_A


def test_reinstall_replaces_the_secret(client, keys, rsa_key):
    """Does a reinstall replace the shared secret (old tokens stop verifying)?"""
    assert _install(client, rsa_key).status_code == 204
    assert _install(client, rsa_key, secret=SECRET_B).status_code == 204
    tenant = _connect_tenant()
    assert unseal(tenant) == SECRET_B and _tenants() == 1
    assert len([c for c in keys.calls if "kid-1" in c.request.url]) == 1  # key cached by kid


def test_uninstall_marks_the_tenant_uninstalled(client, keys, rsa_key):
    """Does a signed uninstalled callback mark the tenant uninstalled, so entries are refused?"""
    assert _install(client, rsa_key).status_code == 204
    token = install_token(rsa_key, CLIENT_KEY, aud=BASE_URL, path="/lifecycle/uninstalled")
    response = _post(client, "/lifecycle/uninstalled", token, eventType="uninstalled")
    assert response.status_code == 204
    assert _connect_tenant().installed is False
    now = int(time.time())
    entry = sign(
        {
            "iss": CLIENT_KEY,
            "sub": "u",
            "iat": now,
            "exp": now + 60,
            "qsh": query_hash("GET", "/x", []),
        },
        SECRET_A,
    )
    from gitint.jira.jwt import JWTRejected, verify_entry

    with pytest.raises(JWTRejected):
        verify_entry(entry, "GET", "/x", [])
    assert _install(client, rsa_key).status_code == 204  # and a reinstall brings it back
    assert _connect_tenant().installed is True


def _bad_tokens(rsa_key, other_rsa_key) -> dict:
    return {
        "unsigned": None,
        "wrong key": install_token(other_rsa_key, CLIENT_KEY, aud=BASE_URL),
        "HS256 with the shared secret": sign(
            {
                "iss": CLIENT_KEY,
                "aud": BASE_URL,
                "iat": int(time.time()),
                "exp": int(time.time()) + 60,
                "qsh": query_hash("POST", "/lifecycle/installed", []),
            },
            SECRET_A,
        ),
        "wrong aud": install_token(rsa_key, CLIENT_KEY, aud="https://evil.example.com"),
        "wrong iss": install_token(rsa_key, "another-client", aud=BASE_URL),
        "wrong qsh": install_token(rsa_key, CLIENT_KEY, aud=BASE_URL, path="/lifecycle/other"),
        "context-qsh": install_token(rsa_key, CLIENT_KEY, aud=BASE_URL, qsh="context-qsh"),
        "expired": install_token(
            rsa_key,
            CLIENT_KEY,
            aud=BASE_URL,
            iat=int(time.time()) - 900,
            exp=int(time.time()) - 300,
        ),
        "unknown kid": install_token(rsa_key, CLIENT_KEY, aud=BASE_URL, kid="kid-missing"),
        "kid with a path": install_token(rsa_key, CLIENT_KEY, aud=BASE_URL, kid="../etc/passwd"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "unsigned",
        "wrong key",
        "HS256 with the shared secret",
        "wrong aud",
        "wrong iss",
        "wrong qsh",
        "context-qsh",
        "expired",
        "unknown kid",
        "kid with a path",
    ],
)
def test_bad_install_is_401_and_changes_nothing(client, keys, rsa_key, other_rsa_key, case):
    """Is each badly signed installed callback a 401 that neither creates nor changes a tenant?"""
    assert _install(client, rsa_key).status_code == 204  # the tenant exists with SECRET_A
    token = _bad_tokens(rsa_key, other_rsa_key)[case]
    response = _post(client, "/lifecycle/installed", token, secret=SECRET_B)
    assert response.status_code == 401
    assert SECRET_B not in response.get_data(as_text=True)
    tenant = _connect_tenant()
    assert unseal(tenant) == SECRET_A and tenant.installed is True and _tenants() == 1


def test_bad_first_install_creates_nothing(client, keys, other_rsa_key):
    """Does a wrongly signed first install leave the database empty?"""
    token = install_token(other_rsa_key, CLIENT_KEY, aud=BASE_URL)
    assert _post(client, "/lifecycle/installed", token).status_code == 401
    assert _tenants() == 0


@pytest.mark.parametrize("case", ["unsigned", "wrong key", "wrong iss", "wrong aud"])
def test_bad_uninstall_is_401_and_changes_nothing(client, keys, rsa_key, other_rsa_key, case):
    """Can only a correctly signed callback uninstall a tenant?"""
    assert _install(client, rsa_key).status_code == 204
    path = "/lifecycle/uninstalled"
    token = {
        "unsigned": None,
        "wrong key": install_token(other_rsa_key, CLIENT_KEY, aud=BASE_URL, path=path),
        "wrong iss": install_token(rsa_key, "someone-else", aud=BASE_URL, path=path),
        "wrong aud": install_token(rsa_key, CLIENT_KEY, aud="https://evil.example", path=path),
    }[case]
    assert _post(client, path, token, eventType="uninstalled").status_code == 401
    assert _connect_tenant().installed is True


def test_install_cannot_take_over_an_embedded_tenant(client, keys, rsa_key, make_tenant):
    """Is a Connect install whose clientKey names an embedded tenant refused, secret unchanged?"""
    embedded = make_tenant(issuer=CLIENT_KEY, secret=SECRET_B)
    assert _install(client, rsa_key).status_code == 400
    db.session.expire_all()
    assert embedded.kind == "embedded" and unseal(embedded) == SECRET_B


def test_install_refuses_a_plain_http_site(client, keys, rsa_key):
    """Is an http:// baseUrl refused (Jira Cloud is https) when private hosts are not allowed?"""
    token = install_token(rsa_key, CLIENT_KEY, aud=BASE_URL)
    response = _post(client, "/lifecycle/installed", token, baseUrl="http://acme.example.com")
    assert response.status_code == 400 and _tenants() == 0


def test_install_under_a_base_path(app, client, keys, rsa_key):
    """With GITINT_BASE_URL at /gitint, are aud = that URL and qsh over the relative path?"""
    app.config["GITINT_BASE_URL"] = "https://x.example.com/gitint"
    token = install_token(rsa_key, CLIENT_KEY, aud="https://x.example.com/gitint")
    assert _post(client, "/lifecycle/installed", token).status_code == 204
    wrong_aud = install_token(rsa_key, "other-key", aud=BASE_URL)
    assert (
        _post(client, "/lifecycle/installed", wrong_aud, clientKey="other-key").status_code == 401
    )


def test_key_service_unreachable_is_503(client, rsa_key):
    """When the install-keys service is down, is it a 503 (Atlassian retries) and nothing saved?"""
    with responses.RequestsMock() as mock:
        mock.get(f"{KEYS_URL}/kid-1", body=requests.ConnectionError("down"))
        response = _install(client, rsa_key)
    assert response.status_code == 503 and _tenants() == 0


def test_installed_tenant_can_open_a_dialog(probe_client, keys, rsa_key):
    """After a signed install, does an iframe token signed with the new secret verify?"""
    from urllib.parse import urlencode

    assert _install(probe_client, rsa_key).status_code == 204
    now = int(time.time())
    claims = {
        "iss": CLIENT_KEY,
        "sub": "account-1",
        "iat": now,
        "exp": now + 60,
        "qsh": query_hash("GET", "/probe/dialog", list(ISSUE_PARAMS.items())),
    }
    keys.get(
        "https://acme.atlassian.net/rest/api/3/issue/DEV-1",
        json={"fields": {"summary": "Fix it", "issuetype": {"name": "Bug"}}},
    )
    keys.post(
        "https://acme.atlassian.net/rest/api/3/permissions/check",
        json={"projectPermissions": [{"permission": "VIEW_DEV_TOOLS", "projects": [10000]}]},
    )
    url = f"/probe/dialog?{urlencode({**ISSUE_PARAMS, 'jwt': sign(claims, SECRET_A)})}"
    response = probe_client.get(url)
    assert response.status_code == 200
    assert response.get_json()["summary"] == "Fix it"
    csp = response.headers["Content-Security-Policy"]
    assert "https://acme.atlassian.net" in csp and "https://jira.acme.com" in csp


# ------------------------------------------------------------------ hardening (issue 11)


class Unreadable(io.RawIOBase):
    """A 200 MB request body that fails the test if the app reads any of it."""

    size = 200 * 1024 * 1024

    def __init__(self):
        self.position = 0

    def readable(self):
        return True

    def seekable(self):
        return True

    def seek(self, offset, whence=io.SEEK_SET):
        self.position = self.size + offset if whence == io.SEEK_END else offset
        return self.position

    def tell(self):
        return self.position

    def readinto(self, buffer):
        raise AssertionError("the body was read")


def _huge_post(client, path, authorization=None):
    headers = {"Content-Type": "application/json"}
    if authorization:
        headers["Authorization"] = authorization
    return client.post(path, input_stream=Unreadable(), headers=headers)


@pytest.mark.parametrize(
    "authorization", [None, "", "JWT", "JWT ", "Bearer a.b.c", "JWT not-a-token", "JWT a.b.c.d"]
)
def test_unsigned_callback_is_401_before_the_body_is_read(client, authorization):
    """Is a callback without a well-formed ``JWT`` header refused without reading its body?"""
    for path in ("/lifecycle/installed", "/lifecycle/uninstalled"):
        response = _huge_post(client, path, authorization)
        assert response.status_code == 401 and response.is_json
    assert _tenants() == 0


def test_signed_callback_over_the_limit_is_413_unread(app, client, keys, rsa_key):
    """Is a signed callback whose body is over MAX_CONTENT_LENGTH (1 MiB) a short 413 JSON,
    answered without reading the body?"""
    assert app.config["MAX_CONTENT_LENGTH"] == 1024 * 1024
    token = install_token(rsa_key, CLIENT_KEY, aud=BASE_URL)
    response = _huge_post(client, "/lifecycle/installed", f"JWT {token}")
    assert response.status_code == 413 and response.is_json
    assert len(response.get_json()["error"]) < 80
    body = install_body(description="x" * (1024 * 1024))
    assert _post(client, "/lifecycle/installed", token, body=body).status_code == 413
    assert _tenants() == 0


@pytest.mark.parametrize(
    "body",
    ["[" * 50_000, '{"a":' * 50_000, "not json", '"a string"', "[]", ""],
    ids=["50000 [", "50000 {", "not json", "a string", "a list", "empty"],
)
def test_malformed_callback_body_is_400(client, keys, rsa_key, body):
    """Is a signed callback whose body is not a JSON object a 400, never a 500 (50,000 nested
    brackets make the parser recurse too deep)?"""
    token = install_token(rsa_key, CLIENT_KEY, aud=BASE_URL)
    for path in ("/lifecycle/installed", "/lifecycle/uninstalled"):
        headers = {"Content-Type": "application/json", "Authorization": f"JWT {token}"}
        response = client.post(path, data=body, headers=headers)
        assert response.status_code == 400 and response.is_json, path
        assert "Traceback" not in response.get_data(as_text=True)
    assert _tenants() == 0


@pytest.mark.parametrize(
    "fields",
    [
        {"baseUrl": "https://127.0.0.1"},
        {"baseUrl": "https://10.1.2.3:8443"},
        {"baseUrl": "https://169.254.169.254/latest"},
        {"baseUrl": "https://[::1]"},
        {"baseUrl": "https://[::ffff:10.0.0.1]"},
        {"baseUrl": "https://user:pass@acme.atlassian.net"},
        {"baseUrl": "ftp://acme.atlassian.net"},
        {"displayUrl": "https://192.168.0.10"},
        {"displayUrl": "http://jira.acme.com"},
    ],
)
def test_install_refuses_a_site_the_outbound_guard_refuses(client, keys, rsa_key, fields):
    """Is a signed install whose baseUrl/displayUrl is not https on a public address refused
    (400, nothing saved), so Jira REST is never called there?"""
    token = install_token(rsa_key, CLIENT_KEY, aud=BASE_URL)
    response = _post(client, "/lifecycle/installed", token, **fields)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert "not allowed" in response.get_json()["error"]
    assert _tenants() == 0


def test_install_of_a_private_site_with_private_hosts_allowed(app, client, keys, rsa_key):
    """With GITINT_ALLOW_PRIVATE_HOSTS (dev, tests), is a local http Jira accepted?"""
    app.config["GITINT_ALLOW_PRIVATE_HOSTS"] = True
    token = install_token(rsa_key, CLIENT_KEY, aud=BASE_URL)
    response = _post(client, "/lifecycle/installed", token, baseUrl="http://127.0.0.1:2990/jira")
    assert response.status_code == 204
    assert _connect_tenant().base_url == "http://127.0.0.1:2990/jira"


@pytest.mark.parametrize("kid", ["..", "a..b", ".", "../kid-1", "a/b", "kid-1/..", "%2e%2e", "a b"])
def test_key_id_of_another_shape_is_401_without_a_fetch(client, keys, rsa_key, kid):
    """Is a kid that is not a plain key id (dots, slashes, escapes) refused before any fetch,
    so the key URL can never leave the install-keys path?"""
    token = install_token(rsa_key, CLIENT_KEY, aud=BASE_URL, kid=kid)
    assert _post(client, "/lifecycle/installed", token).status_code == 401
    assert len(keys.calls) == 0 and _tenants() == 0


@pytest.fixture
def key_clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(lifecycle, "clock", lambda: now[0])
    return now


def test_unknown_key_id_is_fetched_once_per_few_minutes(client, keys, rsa_key, key_clock):
    """Is a failed key look-up remembered (401 without a fetch) and tried again only later?"""
    token = install_token(rsa_key, CLIENT_KEY, aud=BASE_URL, kid="kid-missing")
    for _ in range(5):
        assert _post(client, "/lifecycle/installed", token).status_code == 401
    assert len(keys.calls) == 1
    key_clock[0] += lifecycle.UNKNOWN_KEY_TTL + 1
    assert _post(client, "/lifecycle/installed", token).status_code == 401
    assert len(keys.calls) == 2


def test_key_fetches_are_capped_per_minute(client, rsa_key, key_clock):
    """Do many unknown kids cost at most FETCHES_PER_MINUTE fetches a minute (then 503, which
    Atlassian retries), while cached keys keep working?"""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.get(f"{KEYS_URL}/kid-1", body=public_pem(rsa_key))
        mock.get(re.compile(rf"{re.escape(KEYS_URL)}/kid-x\d+"), status=404)
        assert _install(client, rsa_key).status_code == 204  # kid-1 is now cached
        statuses = []
        for n in range(lifecycle.FETCHES_PER_MINUTE + 5):
            token = install_token(rsa_key, CLIENT_KEY, aud=BASE_URL, kid=f"kid-x{n}")
            statuses.append(_post(client, "/lifecycle/installed", token).status_code)
        assert len(mock.calls) == lifecycle.FETCHES_PER_MINUTE
        assert statuses.count(503) == 6 and set(statuses) == {401, 503}
        assert _install(client, rsa_key, secret=SECRET_B).status_code == 204
        key_clock[0] += 61
        token = install_token(rsa_key, CLIENT_KEY, aud=BASE_URL, kid="kid-x99")
        assert _post(client, "/lifecycle/installed", token).status_code == 401
        assert len(mock.calls) == lifecycle.FETCHES_PER_MINUTE + 1
