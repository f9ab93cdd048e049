"""Signed install: the RS256 installed/uninstalled callbacks, verified with the install-keys
service (mocked with `responses` and a generated RSA key)."""

import time

import pytest
import requests
import responses
from sqlalchemy import func, select

from gitint.crypto import unseal
from gitint.extensions import db
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
