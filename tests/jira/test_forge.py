"""Forge: the invocation token checked exactly, tenants from the lifecycle or the first token,
the UI envelope over the app's own views, Jira REST with the user's token, and its cost."""

import base64
import json
import logging
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
import responses
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import func, select

from gitint.extensions import db
from gitint.jira import forge, rest
from gitint.models import Tenant

APP_ID = "ari:cloud:ecosystem::app/5f1c0de0-0000-4000-8000-000000000001"
ENVIRONMENT = "env-1111"
INSTALLATION = "ari:cloud:ecosystem::installation/0b1e2c3d-0000-4000-8000-000000000002"
API_BASE = "https://api.atlassian.com/ex/jira/cloud-1"
USER_TOKEN = "forge-user-token-0123456789"
SYSTEM_TOKEN = "forge-system-token-0123456789"
KID = "forge-test-key-1"
ISSUE = {"id": "10001", "key": "DEV-1", "type": "Bug"}
PROJECT = {"id": "10000", "key": "DEV", "type": "software"}
DIALOG_QUERY = [["issueKey", "DEV-1"], ["projectKey", "DEV"], ["projectId", "10000"]]


class KeyServer:
    """A JWKS endpoint on 127.0.0.1 that counts its fetches (PyJWKClient uses urllib)."""

    def __init__(self):
        self.keys: dict[str, rsa.RSAPrivateKey] = {KID: _SIGNING_KEY}
        self.fetches = 0
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the stdlib's name
                server.fetches += 1
                body = json.dumps(server.jwks()).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_port}/.well-known/jwks.json"
        threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        ).start()

    def jwks(self) -> dict:
        keys = []
        for kid, key in self.keys.items():
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
            keys.append({**jwk, "kid": kid, "alg": "RS256", "use": "sig"})
        return {"keys": keys}

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def _new_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


_SIGNING_KEY = _new_key()  # one per run: RSA key generation is slow


@pytest.fixture
def keys():
    server = KeyServer()
    forge.clear_key_cache()
    yield server
    forge.clear_key_cache()
    server.close()


@pytest.fixture
def forge_app(app, keys):
    app.config.update(
        GITINT_FORGE_APP_ID=APP_ID,
        GITINT_FORGE_JWKS_URL=keys.url,
        GITINT_FORGE_ENVIRONMENT_ID=ENVIRONMENT,
    )
    return app


@pytest.fixture
def jira():
    """Jira REST as the Forge tenant sees it, answering to the user's token only."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        yield mocked


def jira_grants(jira, *permissions, summary="Fix the login page"):
    """mypermissions answers havePermission for exactly ``permissions``; the issue reads back."""

    def my_permissions(request):
        if request.headers.get("Authorization") != "Bearer " + USER_TOKEN:
            return 401, {}, "{}"
        asked = request.params["permissions"]
        body = {"permissions": {asked: {"key": asked, "havePermission": asked in permissions}}}
        return 200, {}, json.dumps(body)

    jira.add_callback(responses.GET, f"{API_BASE}/rest/api/3/mypermissions", my_permissions)
    issue = {"key": "DEV-1", "fields": {"summary": summary, "issuetype": {"name": "Bug"}}}
    jira.add(responses.GET, f"{API_BASE}/rest/api/3/issue/DEV-1", json=issue)


def jira_calls(jira) -> int:
    return sum(1 for call in jira.calls if call.request.url.startswith(API_BASE))


def claims(**changes) -> dict:
    """A FIT's claims exactly as Forge shapes them for a jira:issueAction call."""
    now = int(time.time())
    payload = {
        "iss": "forge/invocation-token",
        "aud": APP_ID,
        "iat": now,
        "nbf": now,
        "exp": now + 25,
        "jti": str(uuid.uuid4()),
        "app": {
            "id": APP_ID,
            "installationId": INSTALLATION,
            "apiBaseUrl": API_BASE,
            "appVersion": "1.0.0",
            "environment": {"type": "PRODUCTION", "id": ENVIRONMENT},
            "module": {"type": "jira:issueAction", "key": "gitint-create-branch"},
        },
        "context": {
            "cloudId": "cloud-1",
            "siteUrl": "https://acme.atlassian.net",
            "moduleKey": "gitint-create-branch",
            "localId": "local-1",
            "extension": {"type": "jira:issueAction", "issue": ISSUE, "project": PROJECT},
        },
        "principal": "user-1",
    }
    payload.update(changes)
    return payload


def fit(keys, payload=None, kid=KID, algorithm="RS256", key=None) -> str:
    return jwt.encode(
        payload or claims(),
        key or keys.keys[KID],
        algorithm=algorithm,
        headers={"kid": kid} if kid else None,
    )


def forge_headers(token: str) -> dict:
    return {
        "Authorization": "Bearer " + token,
        "x-forge-oauth-user": USER_TOKEN,
        "x-forge-oauth-system": SYSTEM_TOKEN,
        "x-b3-traceid": "trace",
    }


def ui_call(client, token, path="/dialogs/create-branch", method="GET", query=None, **body):
    body = {"path": path, "method": method, "query": DIALOG_QUERY if query is None else query}
    return client.post("/forge/ui", json={**body}, headers=forge_headers(token))


def call(client, keys, *, token=None, **body):
    return ui_call(client, token or fit(keys), **body)


# ---------------------------------------------------------------- the token, checked exactly


def test_a_valid_token_opens_the_dialog_in_the_envelope(forge_app, client, keys, jira):
    """Does a valid FIT get 200 JSON {status, headers, html} with the Create branch dialog?"""
    jira_grants(jira, "VIEW_DEV_TOOLS")
    response = call(client, keys)
    assert response.status_code == 200 and response.is_json
    envelope = response.get_json()
    assert envelope["status"] == 200
    assert envelope["headers"]["Content-Type"].startswith("text/html")
    assert "<h1>Create branch</h1>" in envelope["html"], envelope["html"]
    assert response.headers["Cache-Control"] == "no-store"


def _hs256_with_public_key(keys):
    public_pem = keys.keys[KID].public_key().public_bytes(Encoding.PEM, PublicFormat.PKCS1)
    header = base64.urlsafe_b64encode(b'{"alg":"HS256","kid":"%s","typ":"JWT"}' % KID.encode())
    body = base64.urlsafe_b64encode(json.dumps(claims()).encode())
    signing_input = header.rstrip(b"=") + b"." + body.rstrip(b"=")
    import hashlib
    import hmac

    signature = hmac.new(public_pem, signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + base64.urlsafe_b64encode(signature).rstrip(b"=")).decode()


def _alg_none(keys):
    header = base64.urlsafe_b64encode(b'{"alg":"none","kid":"%s"}' % KID.encode()).rstrip(b"=")
    body = base64.urlsafe_b64encode(json.dumps(claims()).encode()).rstrip(b"=")
    return (header + b"." + body + b".").decode()


def _tampered(keys):
    head, _body, signature = fit(keys).split(".")
    forged = claims(principal="someone-else")
    body = base64.urlsafe_b64encode(json.dumps(forged).encode()).rstrip(b"=").decode()
    return f"{head}.{body}.{signature}"


def _other_key(keys):
    return fit(keys, key=_new_key())


REJECTED = {
    "alg none": _alg_none,
    "HS256 signed with the public key": _hs256_with_public_key,
    "RS512": lambda keys: fit(keys, algorithm="RS512"),
    "unknown kid": lambda keys: fit(keys, kid="not-a-key"),
    "no kid": lambda keys: fit(keys, kid=None),
    "signed by another key": _other_key,
    "wrong aud": lambda keys: fit(keys, claims(aud="ari:cloud:ecosystem::app/other")),
    "wrong iss": lambda keys: fit(keys, claims(iss="someone/else")),
    "expired": lambda keys: fit(keys, claims(exp=int(time.time()) - 60)),
    "nbf in the future": lambda keys: fit(keys, claims(nbf=int(time.time()) + 120)),
    "no nbf": lambda keys: fit(keys, {k: v for k, v in claims().items() if k != "nbf"}),
    "tampered payload": _tampered,
    "other environment": lambda keys: fit(
        keys, claims(app={**claims()["app"], "environment": {"type": "DEVELOPMENT", "id": "x"}})
    ),
    "app id disagrees with aud": lambda keys: fit(
        keys, claims(app={**claims()["app"], "id": "ari:cloud:ecosystem::app/other"})
    ),
    "apiBaseUrl not Atlassian's": lambda keys: fit(
        keys, claims(app={**claims()["app"], "apiBaseUrl": "https://evil.example.com/ex/jira"})
    ),
    "no installation id": lambda keys: fit(
        keys, claims(app={k: v for k, v in claims()["app"].items() if k != "installationId"})
    ),
    "missing principal on a UI call": lambda keys: fit(
        keys, {k: v for k, v in claims().items() if k != "principal"}
    ),
    "not a JWT": lambda keys: "not-a-token",
}


@pytest.mark.parametrize("case", REJECTED)
def test_rejected_tokens_get_401_json_and_change_nothing(forge_app, client, keys, jira, case):
    """Is every bad token a 401 JSON with a short reason, no tenant created, no Jira call?"""
    response = call(client, keys, token=REJECTED[case](keys))
    assert response.status_code == 401 and response.is_json, case
    assert 0 < len(response.get_json()["error"]) < 80
    assert db.session.scalar(select(func.count()).select_from(Tenant)) == 0
    assert jira_calls(jira) == 0


def test_missing_or_other_scheme_authorization_is_401(forge_app, client, keys):
    """Is a call without ``Bearer <FIT>`` refused with 401 JSON, never a redirect?"""
    body = {"path": "/pats", "method": "GET"}
    assert client.post("/forge/ui", json=body).status_code == 401
    basic = {"Authorization": "Basic dXNlcjpwYXNz"}
    assert client.post("/forge/ui", json=body, headers=basic).status_code == 401
    assert client.post("/forge/lifecycle", json={}).status_code == 401


@pytest.mark.parametrize("param,value", [("issueKey", "DEV-2"), ("projectId", "10001")])
def test_body_context_disagreeing_with_the_token_is_refused(
    forge_app, client, keys, jira, param, value
):
    """Does a query or form value naming another issue or project than the token get a 401?"""
    jira_grants(jira, "VIEW_DEV_TOOLS")
    query = [[k, value if k == param else v] for k, v in DIALOG_QUERY]
    assert call(client, keys, query=query).status_code == 401
    form_call = client.post(
        "/forge/ui",
        json={"path": "/dialogs/create-branch", "method": "POST", "form": [[param, value]]},
        headers=forge_headers(fit(keys)),
    )
    assert form_call.status_code == 401
    assert jira_calls(jira) == 0


def test_a_page_without_issue_refuses_issue_params(forge_app, client, keys, jira):
    """Can a PAT-page token (no issue in its context) be used to open an issue's dialog?"""
    payload = claims()
    payload["context"] = {**payload["context"], "extension": {"type": "jira:personalSettingsPage"}}
    assert call(client, keys, token=fit(keys, payload)).status_code == 401


def test_forge_off_without_app_id(app, client, keys):
    """With GITINT_FORGE_APP_ID unset, is every /forge/ call refused (401 JSON)?"""
    app.config["GITINT_FORGE_APP_ID"] = None
    app.config["GITINT_FORGE_JWKS_URL"] = keys.url
    response = client.post("/forge/ui", json={"path": "/pats"}, headers=forge_headers(fit(keys)))
    assert response.status_code == 401 and "not configured" in response.get_json()["error"]


def test_unknown_kid_refreshes_the_key_set_at_most_once_per_30s(forge_app, client, keys, jira):
    """Does a burst of unknown kids cost one refresh, and a rotated key work after it?"""
    jira_grants(jira, "VIEW_DEV_TOOLS")
    assert call(client, keys).status_code == 200
    assert keys.fetches == 1
    for n in range(5):
        assert call(client, keys, token=fit(keys, kid=f"unknown-{n}")).status_code == 401
    assert keys.fetches == 1  # the first fetch happened < 30 s ago: no refresh at all
    client_ = forge._jwks(keys.url)
    client_._last_successful_fetch -= 31  # as if 31 s passed
    keys.keys["rotated"] = _new_key()
    rotated = fit(keys, kid="rotated", key=keys.keys["rotated"])
    assert call(client, keys, token=rotated).status_code == 200
    assert keys.fetches == 2
    assert call(client, keys).status_code == 200 and keys.fetches == 2  # cached again


def test_unreachable_key_set_is_503_not_401(forge_app, client, keys):
    """When Atlassian's JWKS cannot be fetched, is the answer a 503 JSON (not a token failure)?"""
    token = fit(keys)
    keys.close()
    forge.clear_key_cache()
    response = call(client, keys, token=token)
    assert response.status_code == 503 and response.is_json


def test_private_api_base_url_only_with_private_hosts(forge_app, client, keys, jira):
    """Is a non-Atlassian apiBaseUrl accepted only when GITINT_ALLOW_PRIVATE_HOSTS is on?"""
    local = "http://127.0.0.1:9/ex/jira"
    token = fit(keys, claims(app={**claims()["app"], "apiBaseUrl": local}))
    assert call(client, keys, token=token).status_code == 401
    forge_app.config["GITINT_ALLOW_PRIVATE_HOSTS"] = True
    jira.add(responses.GET, f"{local}/rest/api/3/mypermissions", json={"permissions": {}})
    jira.add(responses.GET, f"{local}/rest/api/3/issue/DEV-1", json={"fields": {}})
    response = call(client, keys, token=token)
    assert response.status_code == 200 and response.get_json()["status"] == 403


# ---------------------------------------------------------------- tenants


def test_first_valid_token_creates_the_tenant(forge_app, client, keys, jira):
    """Does the first valid call register the installation with cloudId, site and API URLs?"""
    jira_grants(jira, "VIEW_DEV_TOOLS")
    assert call(client, keys).get_json()["status"] == 200
    tenant = db.session.scalars(select(Tenant)).one()
    assert (tenant.kind, tenant.issuer, tenant.cloud_id) == ("forge", INSTALLATION, "cloud-1")
    assert (tenant.base_url, tenant.api_base_url) == ("https://acme.atlassian.net", API_BASE)
    assert tenant.shared_secret_ct is None and tenant.installed
    call(client, keys)
    assert db.session.scalar(select(func.count()).select_from(Tenant)) == 1


def lifecycle_event(event_type="avi:forge:installed:app") -> dict:
    return {
        "eventType": event_type,
        "id": "event-1",
        "installerAccountId": "user-1",
        "context": {"cloudId": "cloud-1", "environmentId": ENVIRONMENT},
        "app": {"id": APP_ID, "version": "1.0.0"},
    }


def _lifecycle_fit(keys, **app_changes):
    payload = claims(app={**claims()["app"], **app_changes})
    for name in ("principal", "context"):
        payload.pop(name)
    return fit(keys, payload)


def test_installed_and_upgraded_events_register_the_tenant(forge_app, client, keys):
    """Do the lifecycle events (FIT without principal) create and then update the tenant?"""
    headers = {"Authorization": "Bearer " + _lifecycle_fit(keys)}
    response = client.post("/forge/lifecycle", json=lifecycle_event(), headers=headers)
    assert response.status_code == 200
    tenant = db.session.scalars(select(Tenant)).one()
    assert (tenant.kind, tenant.issuer, tenant.cloud_id) == ("forge", INSTALLATION, "cloud-1")
    moved = API_BASE + "-moved"
    headers = {"Authorization": "Bearer " + _lifecycle_fit(keys, apiBaseUrl=moved)}
    event = lifecycle_event("avi:forge:upgraded:app")
    assert client.post("/forge/lifecycle", json=event, headers=headers).status_code == 200
    db.session.expire_all()
    assert db.session.scalars(select(Tenant)).one().api_base_url == moved


def test_lifecycle_ignores_other_events_and_refuses_bad_bodies(forge_app, client, keys):
    """Is an unknown event acknowledged without change, and a non-object body a 400?"""
    headers = {"Authorization": "Bearer " + _lifecycle_fit(keys)}
    other = client.post("/forge/lifecycle", json={"eventType": "avi:other"}, headers=headers)
    assert other.status_code == 200
    assert db.session.scalar(select(func.count()).select_from(Tenant)) == 0
    bad = client.post("/forge/lifecycle", data="[", headers=headers)
    assert bad.status_code == 400


def test_installation_id_of_another_tenant_kind_is_refused(
    forge_app, client, keys, jira, make_tenant
):
    """Can a FIT take over a Connect or embedded tenant whose issuer equals its installationId?"""
    make_tenant(issuer=INSTALLATION, kind="connect")
    jira_grants(jira, "VIEW_DEV_TOOLS")
    response = call(client, keys)
    assert response.get_json()["status"] == 401
    headers = {"Authorization": "Bearer " + _lifecycle_fit(keys)}
    assert (
        client.post("/forge/lifecycle", json=lifecycle_event(), headers=headers).status_code == 401
    )


# ---------------------------------------------------------------- the envelope and the views


def test_permission_is_checked_with_the_user_token(forge_app, client, keys, jira):
    """Without View Development Tools, is the dialog a 403 inside the envelope?"""
    jira_grants(jira)  # nothing granted
    envelope = call(client, keys).get_json()
    assert envelope["status"] == 403 and "View Development Tools" in envelope["html"]
    [permission_call] = [c for c in jira.calls if "mypermissions" in c.request.url]
    assert permission_call.request.headers["Authorization"] == "Bearer " + USER_TOKEN
    assert "projectId=10000" in permission_call.request.url


def test_pat_page_asks_for_the_permission_in_any_project(forge_app, client, keys, jira):
    """Does the PAT page (no project in its context) ask mypermissions without projectId?"""
    payload = claims()
    payload["context"] = {**payload["context"], "extension": {"type": "jira:personalSettingsPage"}}
    jira_grants(jira, "VIEW_DEV_TOOLS")
    envelope = call(client, keys, token=fit(keys, payload), path="/pats", query=[]).get_json()
    assert envelope["status"] == 200 and "Git: personal access tokens" in envelope["html"]
    [asked] = [c.request.url for c in jira.calls if "mypermissions" in c.request.url]
    assert "projectId" not in asked and "permissions=VIEW_DEV_TOOLS" in asked


def test_admin_pages_need_jira_administrator(forge_app, client, keys, jira):
    """Is the admin page 403 for a developer and 200 for a Jira administrator?"""
    payload = claims()
    payload["context"] = {**payload["context"], "extension": {"type": "jira:adminPage"}}
    jira_grants(jira, "VIEW_DEV_TOOLS")
    token = fit(keys, payload)
    assert (
        call(client, keys, token=token, path="/admin/integrations", query=[]).get_json()["status"]
        == 403
    )
    rest.clear_cache()
    jira.reset()
    jira_grants(jira, "ADMINISTER")
    envelope = call(client, keys, token=token, path="/admin/integrations", query=[]).get_json()
    assert envelope["status"] == 200 and "Manage Git repositories" in envelope["html"]


def test_warm_dialog_open_costs_no_jira_call_and_no_host_call(
    forge_app, client, keys, jira, make_integration, make_repo
):
    """Cold: at most two Jira calls (permission, issue); warm: none; never a git host call."""
    headers = {"Authorization": "Bearer " + _lifecycle_fit(keys)}
    client.post("/forge/lifecycle", json=lifecycle_event(), headers=headers)
    tenant = db.session.scalars(select(Tenant)).one()
    repo = make_repo(make_integration(tenant, name="GitHub"), "acme/api", host_id="101")
    jira_grants(jira, "VIEW_DEV_TOOLS", summary="Login page rejects spaces")
    query = [*DIALOG_QUERY, ["repository", str(repo.id)]]
    first = call(client, keys, query=query).get_json()
    assert first["status"] == 200 and "DEV-1-login-page-rejects-spaces" in first["html"]
    assert jira_calls(jira) == 2
    second = call(client, keys, query=query).get_json()
    assert second["status"] == 200 and "DEV-1-login-page-rejects-spaces" in second["html"]
    assert jira_calls(jira) == 2
    assert len(jira.calls) == 2  # nothing else went out: no git host call


def test_other_tenants_ids_are_404_inside_the_envelope(
    forge_app, client, keys, jira, make_tenant, make_integration
):
    """Does an integration id of another tenant give a 404 inside a 200 envelope?"""
    jira_grants(jira, "VIEW_DEV_TOOLS", "ADMINISTER")
    other = make_integration(make_tenant(), name="Theirs")
    token = fit(keys)
    envelope = call(
        client, keys, token=token, path=f"/admin/integrations/{other.id}", query=[]
    ).get_json()
    assert envelope["status"] == 404


@pytest.mark.parametrize(
    "path",
    [
        "/forge/ui",
        "/forge/lifecycle",
        "/lifecycle/installed",
        "/healthz",
        "/static/app.js",
        "/atlassian-connect.json",
        "/nowhere",
    ],
)
def test_only_ui_views_are_reachable(forge_app, client, keys, jira, path):
    """Can the envelope reach anything but the dialogs, the PAT page and the admin pages?"""
    envelope = call(client, keys, path=path, query=[]).get_json()
    assert envelope["status"] == 404


@pytest.mark.parametrize(
    "body",
    [
        [],
        "x",
        {"path": "dialogs"},
        {"path": "/a/../admin"},
        {"path": "//evil.example"},
        {"path": "/pats", "method": "PATCH"},
        {"path": "/pats", "query": [["a"]]},
        {"path": "/pats", "form": {"a": "b"}},
        {"path": "/pats", "headers": {"HX-Request": 1}},
    ],
)
def test_unreadable_envelopes_are_400(forge_app, client, keys, body):
    """Is a body that is not a UI call a 400 JSON (not a 500, not a 401)?"""
    response = client.post("/forge/ui", json=body, headers=forge_headers(fit(keys)))
    assert response.status_code == 400 and response.is_json


def test_htmx_post_with_validation_error_is_422_in_the_envelope(
    forge_app, client, keys, jira, make_integration, make_repo
):
    """Does an htmx POST with an invalid branch name come back 422 with the input kept?"""
    jira_grants(jira, "VIEW_DEV_TOOLS")
    call(client, keys)  # creates the tenant
    tenant = db.session.scalars(select(Tenant)).one()
    repo = make_repo(make_integration(tenant, name="GitHub"), "acme/api", host_id="101")
    form = [
        ["repository", str(repo.id)],
        ["repository_name", "acme/api"],
        ["base", "main"],
        ["base_default", "main"],
        ["name", "DEV-1 bad..name"],
        ["name_default", "DEV-1-x"],
    ]
    response = client.post(
        "/forge/ui",
        json={
            "path": "/dialogs/create-branch",
            "method": "POST",
            "query": DIALOG_QUERY,
            "form": form,
            "headers": {"HX-Request": "true", "HX-Target": "dialog-body", "X-Other": "no"},
        },
        headers=forge_headers(fit(keys)),
    )
    envelope = response.get_json()
    assert response.status_code == 200 and envelope["status"] == 422
    assert "DEV-1 bad..name" in envelope["html"]
    assert "<html" not in envelope["html"]  # the htmx block, not the whole page


def test_saving_a_pat_sends_its_hx_trigger_through_the_envelope(
    forge_app, client, keys, jira, make_integration
):
    """Does the PAT save answer's HX-Trigger (patSaved) reach the frame, other headers not?"""
    jira_grants(jira, "VIEW_DEV_TOOLS")
    call(client, keys)  # creates the tenant
    tenant = db.session.scalars(select(Tenant)).one()
    github = make_integration(tenant, "github", name="GitHub.com")
    jira.add(
        responses.GET,
        "https://api.github.com/user",
        json={"login": "octocat"},
        headers={"X-OAuth-Scopes": "repo"},
    )
    token = "ghp_Forge0000000000000000000000000000042"
    response = client.post(
        "/forge/ui",
        json={
            "path": f"/pats/{github.id}",
            "method": "POST",
            "query": DIALOG_QUERY,
            "form": [["target", "dialog"], ["token", token]],
            "headers": {"HX-Request": "true"},
        },
        headers=forge_headers(fit(keys)),
    )
    envelope = response.get_json()
    assert envelope["status"] == 200 and "Token saved as @octocat" in envelope["html"]
    assert json.loads(envelope["headers"]["HX-Trigger"]) == {"patSaved": {"integration": github.id}}
    assert "Content-Security-Policy" not in envelope["headers"]
    assert token not in response.text


def test_forge_tokens_are_never_logged_or_echoed(forge_app, client, keys, jira, caplog):
    """Do the FIT and the Jira tokens stay out of logs and of the answer?"""
    jira_grants(jira, "VIEW_DEV_TOOLS")
    token = fit(keys)
    with caplog.at_level(logging.DEBUG):
        response = call(client, keys, token=token)
        call(client, keys, token=fit(keys, kid="unknown"))
    for secret in (token, USER_TOKEN, SYSTEM_TOKEN):
        assert secret not in caplog.text
        assert secret not in response.text


def test_deep_or_oversized_bodies_are_400_or_413_json(forge_app, client, keys):
    """Is a verified call whose body nests 50,000 brackets a 400 JSON, and one over 1 MiB a 413
    JSON, never a 500 (issue 11)?"""
    nested = "[" * 50_000
    for path, token in (("/forge/ui", fit(keys)), ("/forge/lifecycle", _lifecycle_fit(keys))):
        headers = {**forge_headers(token), "Content-Type": "application/json"}
        deep = client.post(path, data=nested, headers=headers)
        assert deep.status_code == 400 and deep.is_json, path
        big = client.post(
            path, data=json.dumps({"path": "/pats", "x": "y" * 1_100_000}), headers=headers
        )
        assert big.status_code == 413 and big.is_json, path
        assert len(big.get_json()["error"]) < 80


def test_unsigned_call_is_401_before_the_body_is_read(forge_app, client, keys):
    """Is a call without ``Bearer <FIT>`` refused without reading its (huge) body?"""
    from tests.jira.test_lifecycle import Unreadable

    for path in ("/forge/ui", "/forge/lifecycle"):
        for headers in ({}, {"Authorization": "Basic dXNlcjpwYXNz"}, {"Authorization": "Bearer"}):
            headers = {**headers, "Content-Type": "application/json"}
            response = client.post(path, input_stream=Unreadable(), headers=headers)
            assert response.status_code == 401 and response.is_json, (path, headers)
