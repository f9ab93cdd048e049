"""The development Jira host's Forge mode (gitint/dev/forge.py): the dev key and its JWKS, Forge
Invocation Tokens shaped as Forge's, invokeRemote's rules, the Custom UI resource under its CSP
with the bridge injected first, the fake Jira REST API, the page, and the demo's Forge tenant."""

import html
import json
import os
import re
import stat
import threading
import time
from pathlib import Path

import jwt
import pytest
import requests
import responses
from sqlalchemy import func, select
from werkzeug.serving import make_server

from gitint import create_app
from gitint.dev import forge as dev_forge
from gitint.extensions import db
from gitint.models import Integration, Repository, Tenant
from tests.conftest import BASE_URL, _reset_schema

ROOT = Path(__file__).resolve().parents[2]
RESOURCE = ROOT / "forge" / "static" / "gitint"
SANDBOX = "allow-scripts allow-same-origin allow-forms allow-downloads allow-modals"
INDEX = """<!DOCTYPE html>
<html lang="en">
<HEAD data-x="1">
  <meta charset="utf-8">
  <title>resource</title>
  <script src="app.js" defer></script>
</HEAD>
<body><main id="main"></main></body>
</html>
"""


def _settings(app) -> dict:
    keys = ("TESTING", "SQLALCHEMY_DATABASE_URI", "GITINT_SECRET_KEYS")
    return {key: app.config[key] for key in keys}


@pytest.fixture
def make_dev(app, tmp_path):
    """Apps with GITINT_DEV on (or off) on the test database, each with an instance folder of
    its own (the dev key is written there)."""
    built = []

    def make(base_url=BASE_URL, **config):
        settings = {
            **_settings(app),
            "GITINT_BASE_URL": base_url,
            "GITINT_DEV": True,
            "GITINT_ALLOW_PRIVATE_HOSTS": True,
            **dev_forge.settings_for(base_url, {}),
            **config,
        }
        other = create_app(settings)
        other.instance_path = str(tmp_path / f"instance-{len(built)}")
        built.append(other)
        return other

    yield make
    for other in built:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def dev(make_dev, tmp_path):
    """A dev app (its context pushed) whose Forge resource is a small test folder."""
    folder = tmp_path / "resource"
    folder.mkdir()
    (folder / "index.html").write_text(INDEX)
    (folder / "app.js").write_text("window.loaded = true;\n")
    (tmp_path / "secret.txt").write_text("not part of the resource")
    app = make_dev(GITINT_DEV_FORGE_RESOURCE=str(folder))
    with app.app_context():
        yield app


def _jwks(client) -> jwt.PyJWKSet:
    response = client.get("/dev/forge/jwks.json")
    assert response.status_code == 200
    return jwt.PyJWKSet.from_dict(response.get_json())


# ------------------------------------------------------------------ key, JWKS and the FIT


def test_jwks_verifies_a_minted_fit(dev):
    """Does the dev host's JWKS verify the FITs it mints (RS256, by kid)?"""
    token = dev_forge.mint_fit("create-branch", dev_forge.USERS["developer"])
    header = jwt.get_unverified_header(token)
    assert header == {"alg": "RS256", "kid": "gitint-dev-forge-1", "typ": "JWT"}
    keys = _jwks(dev.test_client())
    key = keys[header["kid"]]
    assert key.key_id == "gitint-dev-forge-1" and key.algorithm_name == "RS256"
    jwk = dev.test_client().get("/dev/forge/jwks.json").get_json()["keys"][0]
    assert (jwk["kty"], jwk["alg"], jwk["use"]) == ("RSA", "RS256", "sig")
    assert "d" not in jwk and "p" not in jwk  # the public half only
    claims = jwt.decode(
        token,
        key.key,
        algorithms=["RS256"],
        audience=dev.config["GITINT_FORGE_APP_ID"],
        issuer="forge/invocation-token",
    )
    assert claims["principal"] == "dev-developer"


def test_dev_key_is_made_once_and_private(dev, make_dev):
    """Is the dev key generated once into the instance folder with mode 0600, then reused?"""
    first = _jwks(dev.test_client())["gitint-dev-forge-1"].key.public_numbers()
    path = Path(dev.instance_path) / "dev-forge-key.pem"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again = make_dev()
    again.instance_path = dev.instance_path
    with again.app_context():
        assert _jwks(again.test_client())["gitint-dev-forge-1"].key.public_numbers() == first


def test_fit_claims_have_forges_shape(dev):
    """Are the FIT's claims exactly those of Forge's contract, for an issue action?"""
    now = int(time.time())
    claims = dev_forge.fit_claims("create-pull-request", dev_forge.USERS["admin"], now)
    assert set(claims) == {"app", "context", "principal", "aud", "iss", "iat", "nbf", "exp", "jti"}
    assert claims["iss"] == "forge/invocation-token"
    assert claims["aud"] == claims["app"]["id"] == dev.config["GITINT_FORGE_APP_ID"]
    assert re.fullmatch(r"ari:cloud:ecosystem::app/[0-9a-f-]{36}", claims["aud"])
    assert claims["iat"] == claims["nbf"] == now and 25 <= claims["exp"] - now <= 60
    assert re.fullmatch(r"[0-9a-f]{40}", claims["jti"])
    assert claims["principal"] == "dev-admin"
    app = claims["app"]
    assert set(app) == {
        "id",
        "appVersion",
        "installationId",
        "apiBaseUrl",
        "environment",
        "module",
        "installation",
    }
    assert re.fullmatch(r"ari:cloud:ecosystem::installation/[0-9a-f-]{36}", app["installationId"])
    assert app["apiBaseUrl"] == BASE_URL + "/dev/forge/jira"
    assert app["environment"] == {
        "type": "DEVELOPMENT",
        "id": dev.config["GITINT_FORGE_ENVIRONMENT_ID"],
    }
    assert re.fullmatch(
        r"ari:cloud:ecosystem::environment/[0-9a-f-]{36}/[0-9a-f-]{36}", app["environment"]["id"]
    )
    assert app["module"] == {"type": "jira:issueAction", "key": "gitint-create-pull-request"}
    assert app["installation"]["id"] == app["installationId"]
    assert app["installation"]["contexts"][0]["apiBaseUrl"] == app["apiBaseUrl"]
    context = claims["context"]
    assert set(context) == {"localId", "cloudId", "moduleKey", "siteUrl", "extension"}
    assert context["moduleKey"] == "gitint-create-pull-request"
    assert context["siteUrl"] == BASE_URL + "/dev/jira"
    assert context["extension"] == {
        "type": "jira:issueAction",
        "issue": {"id": "10001", "key": "DEV-1", "type": "Bug", "typeId": "10004"},
        "project": {"id": "10000", "key": "DEV", "type": "software"},
    }
    page = dev_forge.fit_claims("admin", dev_forge.USERS["admin"], now)
    assert page["app"]["module"] == {"type": "jira:adminPage", "key": "gitint-admin"}
    assert page["context"]["extension"] == {"type": "jira:adminPage"}
    pats = dev_forge.fit_claims("pats", dev_forge.USERS["viewer"], now)
    assert pats["context"]["extension"] == {"type": "jira:personalSettingsPage"}
    assert pats["principal"] == "dev-viewer"


def test_frontend_context_agrees_with_the_fit(dev):
    """Does view.getContext() name the same module, site, user and issue as the FIT?"""
    user = dev_forge.USERS["developer"]
    context = dev_forge.frontend_context("create-branch", user)
    claims = dev_forge.fit_claims("create-branch", user)
    for name in ("cloudId", "siteUrl", "moduleKey", "localId", "extension"):
        assert context[name] == claims["context"][name]
    assert context["accountId"] == claims["principal"]
    assert context["environmentType"] == "DEVELOPMENT"
    assert claims["app"]["environment"]["id"].endswith("/" + context["environmentId"])


def test_the_servers_verification_accepts_the_fit(dev, monkeypatch):
    """Does gitint's own FIT check (gitint/jira/forge.py) accept the dev host's token and read
    the installation, user, module and issue from it?"""
    from gitint.jira import forge

    keys = _jwks(dev.test_client())
    monkeypatch.setattr(forge, "_signing_key", lambda url, kid: keys[kid].key)
    token = dev_forge.mint_fit("create-branch", dev_forge.USERS["developer"])
    headers = {"x-forge-oauth-user": "user-token", "x-forge-oauth-system": "system-token"}
    invocation = forge.verify(f"Bearer {token}", headers)
    assert invocation.installation_id == dev_forge.INSTALLATION_ID
    assert invocation.account_id == "dev-developer"
    assert invocation.module_key == "gitint-create-branch"
    assert (invocation.issue_key, invocation.project_key, invocation.project_id) == (
        "DEV-1",
        "DEV",
        "10000",
    )
    assert invocation.api_base_url == BASE_URL + "/dev/forge/jira"
    assert invocation.user_token == "user-token"


def test_module_keys_are_the_manifests():
    """Do the dev host's module keys and types match forge/manifest.yml?"""
    yaml = pytest.importorskip("yaml")
    manifest = yaml.safe_load((ROOT / "forge" / "manifest.yml").read_text())
    declared = {
        module["key"]: module_type
        for module_type, modules in manifest["modules"].items()
        for module in modules
    }
    for key, module_type in dev_forge.MODULES.values():
        assert declared.get(key) == module_type


# ------------------------------------------------------------------ invokeRemote


def _invoke(client, payload, module="gitint-create-branch", user="developer"):
    response = client.post(
        "/dev/forge/invoke", json={"module": module, "user": user, "payload": payload}
    )
    assert response.status_code == 200
    return response.get_json()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"path": "/forge/ui", "method": "POST", "body": ["a", "list"]}, "JSON object"),
        ({"path": "/forge/ui", "method": "POST", "body": "path=/pats"}, "JSON object"),
        ({"path": "/forge/ui", "method": "POST", "body": 3}, "JSON object"),
        ({"path": "/forge/ui", "method": "GET", "body": {"a": 1}}, "GET carries no body"),
        ({"path": "https://evil.example/x", "method": "POST", "body": {}}, "path"),
        ({"path": "//evil.example/x", "method": "POST", "body": {}}, "path"),
        ({"path": "/forge/ui", "method": "TRACE"}, "method"),
        ({"path": "/forge/ui", "method": "POST", "headers": {"a": 1}}, "headers"),
        ("not an object", "path, method"),
    ],
)
def test_invoke_rejects_what_forge_rejects(dev, payload, message):
    """Are a body that is not a JSON object, a foreign path, a bad method or headers refused
    before anything is sent?"""
    with responses.RequestsMock():  # nothing may be sent: any request would fail here
        answer = _invoke(dev.test_client(), payload)
    assert answer["success"] is False
    assert message in answer["error"]["message"]


def test_invoke_refuses_unknown_modules(dev):
    answer = _invoke(dev.test_client(), {"path": "/forge/ui", "method": "POST"}, module="x")
    assert answer == {"success": False, "error": {"message": "unknown module 'x'"}}
    assert dev.test_client().post("/dev/forge/invoke", data="x").status_code == 400


def test_invoke_calls_the_remote_as_forge_does(dev):
    """Does invoke POST the JSON body to GITINT_BASE_URL + path with a FIT, both app tokens and
    trace headers (the caller's own authorization dropped), and hand back {status, headers,
    body} with header values as lists?"""
    with responses.RequestsMock() as mock:
        mock.post(
            BASE_URL + "/forge/ui",
            json={"status": 200, "headers": {}, "html": "<p>hi</p>"},
            headers={"X-Thing": "a"},
        )
        answer = _invoke(
            dev.test_client(),
            {
                "path": "/forge/ui",
                "method": "POST",
                "headers": {"Authorization": "Bearer mine", "X-Custom": "1"},
                "body": {"path": "/pats", "method": "GET"},
                "invokeType": "ui-remote-fetch",
            },
            module="gitint-pats",
            user="admin",
        )
        sent = mock.calls[0].request
    assert answer["success"] is True
    payload = answer["payload"]
    assert payload["status"] == 200
    assert payload["body"] == {"status": 200, "headers": {}, "html": "<p>hi</p>"}
    assert payload["headers"]["x-thing"] == ["a"]
    assert payload["headers"]["content-type"] == ["application/json"]
    assert json.loads(sent.body) == {"path": "/pats", "method": "GET"}
    assert sent.headers["Content-Type"] == "application/json"
    assert sent.headers["X-Custom"] == "1"
    scheme, token = sent.headers["Authorization"].split(" ")
    assert scheme == "Bearer" and token != "mine"
    keys = _jwks(dev.test_client())
    claims = jwt.decode(
        token,
        keys[jwt.get_unverified_header(token)["kid"]].key,
        algorithms=["RS256"],
        audience=dev.config["GITINT_FORGE_APP_ID"],
    )
    assert claims["principal"] == "dev-admin"
    assert claims["app"]["module"] == {"type": "jira:personalSettingsPage", "key": "gitint-pats"}
    assert dev_forge.read_oauth_token(sent.headers["x-forge-oauth-user"])["sub"] == "dev-admin"
    system = dev_forge.read_oauth_token(sent.headers["x-forge-oauth-system"])
    assert (system["kind"], system["sub"]) == ("system", "system")
    assert re.fullmatch(r"[0-9a-f]{32}", sent.headers["x-b3-traceid"])
    assert re.fullmatch(r"[0-9a-f]{16}", sent.headers["x-b3-spanid"])


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        ({"status": 302, "headers": {"Location": BASE_URL + "/x"}}, "redirect"),
        ({"status": 307, "headers": {"Location": BASE_URL + "/x"}}, "redirect"),
        ({"status": 401, "json": {"error": "token expired"}}, "401"),
        ({"status": 200, "body": "<p>html</p>", "content_type": "text/html"}, "not JSON"),
        ({"status": 500, "body": "oops", "content_type": "text/plain"}, "not JSON"),
        ({"status": 200, "body": "{not json", "content_type": "application/json"}, "not JSON"),
        ({"body": requests.Timeout()}, "25 s"),
        ({"body": requests.ConnectionError()}, "could not be reached"),
    ],
)
def test_invoke_rejects_answers_forge_does_not_pass_on(dev, answer, message):
    """Are redirects, a 401, answers that are not JSON and timeouts errors, as in Forge?"""
    with responses.RequestsMock() as mock:
        mock.post(BASE_URL + "/forge/ui", **answer)
        result = _invoke(dev.test_client(), {"path": "/forge/ui", "method": "POST", "body": {}})
        assert len(mock.calls) == 1  # and a redirect is not followed
    assert result["success"] is False
    assert message in result["error"]["message"]


def test_invoke_passes_on_json_errors_of_the_remote(dev):
    """Is a non-2xx JSON answer other than 401 (e.g. 400) passed on with its status?"""
    with responses.RequestsMock() as mock:
        mock.post(BASE_URL + "/forge/ui", status=400, json={"error": "bad"})
        result = _invoke(dev.test_client(), {"path": "/forge/ui", "method": "POST", "body": {}})
    assert result["success"] is True
    assert (result["payload"]["status"], result["payload"]["body"]) == (400, {"error": "bad"})


def test_invoke_needs_forge_configured(dev):
    dev.config["GITINT_FORGE_APP_ID"] = None
    result = _invoke(dev.test_client(), {"path": "/forge/ui", "method": "POST", "body": {}})
    assert result["success"] is False and "GITINT_FORGE_APP_ID" in result["error"]["message"]


# ------------------------------------------------------------------ the resource


def _directives(csp: str) -> dict:
    return {part.split()[0]: part.split()[1:] for part in csp.split("; ")}


def test_resource_is_served_with_the_custom_ui_csp_and_the_bridge_first(dev):
    """Is index.html served with the bridge script as the first element of <head>, and every
    file of the resource under the Custom UI CSP (its own folder only, no inline script)?"""
    client = dev.test_client()
    response = client.get("/dev/forge/resource/index.html")
    assert response.status_code == 200 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    first = '<HEAD data-x="1"><script src="/dev/forge/bridge.js"></script>\n  <meta charset'
    assert first in page
    assert page.count("<script") == 2
    own = "http://localhost/dev/forge/resource/"
    for path in ("/dev/forge/resource/index.html", "/dev/forge/resource/app.js"):
        with client.get(path) as served:
            csp = _directives(served.headers["Content-Security-Policy"])
        assert csp["default-src"] == [own]
        assert csp["script-src"] == [own, "http://localhost/dev/forge/bridge.js"]
        assert csp["style-src"] == [own] and csp["connect-src"] == [own]
        assert csp["form-action"] == [own]
        assert csp["frame-ancestors"] == ["'self'"]
        assert csp["object-src"] == ["'none'"]
        assert "'unsafe-inline'" not in sum(csp.values(), [])
        assert set(SANDBOX.split()) <= set(csp["sandbox"])
    with client.get("/dev/forge/bridge.js") as bridge:
        assert bridge.status_code == 200 and bridge.mimetype == "text/javascript"
        assert "__bridge" in bridge.get_data(as_text=True)
        assert "Content-Security-Policy" in bridge.headers


def test_resource_urls_follow_the_script_root(dev):
    """Behind a path prefix, do the bridge URL and the CSP carry it?"""
    response = dev.test_client().get(
        "/dev/forge/resource/index.html", environ_overrides={"SCRIPT_NAME": "/gitint"}
    )
    assert '<script src="/gitint/dev/forge/bridge.js">' in response.get_data(as_text=True)
    csp = _directives(response.headers["Content-Security-Policy"])
    assert csp["script-src"][1] == "http://localhost/gitint/dev/forge/bridge.js"


@pytest.mark.parametrize(
    "path",
    [
        "/dev/forge/resource/../secret.txt",
        "/dev/forge/resource/%2e%2e/secret.txt",
        "/dev/forge/resource/..%2fsecret.txt",
        "/dev/forge/resource/%2e%2e%2fsecret.txt",
        "/dev/forge/resource/%2fetc%2fpasswd",
        "/dev/forge/resource/nothing.js",
        "/dev/forge/resource/../../gitint/__init__.py",
    ],
)
def test_resource_path_traversal_is_a_404(dev, path):
    with dev.test_client().get(path, follow_redirects=True) as response:  # "//" → "/"
        assert response.status_code == 404
        assert b"not part of the resource" not in response.data


def test_the_real_resource_gets_the_bridge_first(make_dev):
    """Is forge/static/gitint/index.html served with the bridge ahead of every other script?"""
    if not (RESOURCE / "index.html").is_file():
        pytest.skip("forge/static/gitint/index.html is not built")
    app = make_dev()
    with app.app_context():
        page = app.test_client().get("/dev/forge/resource/index.html").get_data(as_text=True)
    head = re.search(r"<head\b[^>]*>(.*?)</head>", page, re.S | re.I).group(1)
    assert head.lstrip().startswith('<script src="/dev/forge/bridge.js"></script>')
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)  # no inline script to allow


# ------------------------------------------------------------------ the fake Jira REST API


def _jira(client, path, token=None, **kwargs):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.get("/dev/forge/jira/rest/api/3" + path, headers=headers, **kwargs)


def test_fake_jira_refuses_a_missing_or_forged_token(dev):
    """Are calls without a token, with a forged, expired or foreign one (even a FIT) a 401?"""
    client = dev.test_client()
    now = int(time.time())
    forged = jwt.encode(
        {"iss": "gitint-dev-forge", "aud": dev_forge.CLOUD_ID, "sub": "dev-admin", "kind": "user"}
        | {"exp": now + 60},
        b"k" * 32,
        algorithm="HS256",
    )
    key = dev.extensions["gitint.keyring"].derive("gitint dev forge oauth")[0]
    expired = jwt.encode(
        {"iss": "gitint-dev-forge", "aud": dev_forge.CLOUD_ID, "sub": "dev-admin"}
        | {"kind": "user", "exp": now - 5},
        key,
        algorithm="HS256",
    )
    fit = dev_forge.mint_fit("admin", dev_forge.USERS["admin"])
    for token in (None, "garbage", forged, expired, fit):
        for path in ("/mypermissions?permissions=ADMINISTER", "/issue/DEV-1?fields=summary"):
            response = _jira(client, path, token)
            assert response.status_code == 401, (token, path)
            assert "havePermission" not in response.get_data(as_text=True)
    basic = client.get("/dev/forge/jira/rest/api/3/myself", headers={"Authorization": "Basic YTpi"})
    assert basic.status_code == 401


@pytest.mark.parametrize(
    ("user", "permission", "granted"),
    [
        ("developer", "VIEW_DEV_TOOLS", True),
        ("viewer", "VIEW_DEV_TOOLS", False),
        ("developer", "ADMINISTER", False),
        ("admin", "ADMINISTER", True),
    ],
)
def test_fake_jira_answers_mypermissions_for_the_tokens_user(dev, user, permission, granted):
    client = dev.test_client()
    token = dev_forge.mint_oauth_token("user", dev_forge.USERS[user].account_id)
    response = _jira(client, f"/mypermissions?permissions={permission}&projectId=10000", token)
    assert response.status_code == 200
    entry = response.get_json()["permissions"][permission]
    assert entry["havePermission"] is granted and entry["key"] == permission
    other = _jira(client, f"/mypermissions?permissions={permission}&projectId=99", token)
    assert other.status_code == 404
    assert _jira(client, "/mypermissions", token).status_code == 400


def test_fake_jira_shows_the_issue_and_counts_calls(dev):
    client = dev.test_client()
    calls = dev.extensions.setdefault("gitint.devforge.jira_calls", [])
    calls.clear()
    token = dev_forge.mint_oauth_token("user", "dev-developer")
    response = _jira(client, "/issue/DEV-1?fields=summary,issuetype", token)
    assert response.status_code == 200
    assert response.get_json()["fields"] == {
        "summary": "Login page rejects passwords with spaces",
        "issuetype": {"id": "10004", "name": "Bug", "subtask": False},
    }
    assert _jira(client, "/issue/DEV-2", token).status_code == 404
    myself = _jira(client, "/myself", token).get_json()
    assert myself["accountId"] == "dev-developer"
    assert [(c["path"], c["kind"]) for c in calls] == [
        ("/rest/api/3/issue/DEV-1", "user"),
        ("/rest/api/3/issue/DEV-2", "user"),
        ("/rest/api/3/myself", "user"),
    ]


# ------------------------------------------------------------------ the page


def test_forge_mode_page_opens_the_resource_in_a_sandboxed_frame(dev):
    """Does ?mode=forge open the resource in a sandboxed iframe with the module's context, keep
    the mode across user switches, and stay free of inline script?"""
    client = dev.test_client()
    response = client.get("/dev/jira?mode=forge&user=admin&open=create-branch")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    frame = re.search(r"<iframe ([^>]+)>", page).group(1)
    assert 'src="/dev/forge/resource/index.html"' in frame
    assert f'sandbox="{SANDBOX}"' in frame
    context = json.loads(html.unescape(re.search(r"data-forge-context='([^']+)'", page).group(1)))
    assert context["moduleKey"] == "gitint-create-branch"
    assert context["accountId"] == "dev-admin"
    assert context["extension"]["issue"]["key"] == "DEV-1"
    assert 'data-module="gitint-create-branch"' in page and 'data-user="admin"' in page
    for user in ("developer", "viewer"):
        assert f"mode=forge&amp;user={user}&amp;open=create-branch" in page
    assert re.search(r"dev/forge-host\.(\w+\.)?js", page) and "devhost." not in page
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)
    assert " style=" not in page and " onclick" not in page
    for target, module in (("pats", "gitint-pats"), ("admin", "gitint-admin")):
        opened = client.get(f"/dev/jira?mode=forge&open={target}").get_data(as_text=True)
        assert f'data-module="{module}"' in opened and "dh-page" in opened
    closed = client.get("/dev/jira?mode=forge").get_data(as_text=True)
    assert "<iframe" not in closed
    tenant = db.session.scalar(select(Tenant).where(Tenant.issuer == dev_forge.INSTALLATION_ID))
    assert (tenant.kind, tenant.cloud_id) == ("forge", dev_forge.CLOUD_ID)
    assert tenant.api_base_url == BASE_URL + "/dev/forge/jira"


def test_connect_page_links_to_the_forge_mode(dev):
    page = dev.test_client().get("/dev/jira?user=viewer&open=pats").get_data(as_text=True)
    assert "mode=forge&amp;user=viewer&amp;open=pats" in page


def test_forge_mode_says_what_is_missing(make_dev):
    app = make_dev(GITINT_FORGE_APP_ID=None)
    with app.app_context():
        page = app.test_client().get("/dev/jira?mode=forge&open=create-branch")
        text = page.get_data(as_text=True)
    assert page.status_code == 200 and "GITINT_FORGE_APP_ID" in text and "<iframe" not in text


def test_forge_dev_host_is_404_when_dev_is_off(make_dev):
    app = make_dev(GITINT_DEV=False)
    with app.app_context():
        client = app.test_client()
        for path in ("/dev/forge/jwks.json", "/dev/forge/resource/index.html"):
            assert client.get(path).status_code == 404
        assert client.post("/dev/forge/invoke", json={}).status_code == 404
        assert "devforge" not in app.blueprints


# ------------------------------------------------------------------ end to end, without a browser


@pytest.fixture
def served(make_dev, githost_url):
    """A dev app served on a free port (it calls itself as the Forge remote), with the Forge
    dev tenant and the demo's integrations synced."""
    from gitint import sync
    from gitint.dev.devhost import ensure_demo_integrations

    app = make_dev()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    base_url = f"http://127.0.0.1:{server.server_port}"
    app.config.update(GITINT_BASE_URL=base_url, **dev_forge.settings_for(base_url, {}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    with app.app_context():
        tenant = dev_forge.ensure_tenant(base_url)
        db.session.commit()
        for integration in ensure_demo_integrations(tenant, githost_url):
            assert sync.run(integration.id, sync.claim(integration.id, force=True)).state == "done"
        yield app
    server.shutdown()


@pytest.fixture
def githost_url():
    from gitint.dev.fakehost import FakeGitHost, demo_state

    with FakeGitHost(demo_state()) as host:
        yield host.base_url


def test_invoke_reaches_gitint_as_its_forge_remote(served):
    """Does a bridge call of the Create branch module reach /forge/ui with a FIT gitint
    verifies (JWKS over HTTP), asking the fake Jira with the user's token?"""
    from gitint.jira import forge, rest

    forge.clear_key_cache()
    rest.clear_cache()
    calls = served.extensions.setdefault("gitint.devforge.jira_calls", [])
    body = {
        "path": "/dialogs/create-branch",
        "method": "GET",
        "query": [["issueKey", "DEV-1"], ["projectKey", "DEV"], ["projectId", "10000"]],
        "form": [],
        "headers": {},
    }
    client = served.test_client()
    answer = _invoke(client, {"path": "/forge/ui", "method": "POST", "body": body})
    assert answer["success"] is True, answer
    envelope = answer["payload"]["body"]
    assert envelope["status"] == 200
    assert "Create branch" in envelope["html"]
    assert {c["kind"] for c in calls} == {"user"}
    assert any(c["path"] == "/rest/api/3/mypermissions" for c in calls)

    viewer = _invoke(client, {"path": "/forge/ui", "method": "POST", "body": body}, user="viewer")
    assert viewer["payload"]["body"]["status"] == 403

    other_issue = {**body, "query": [["issueKey", "DEV-2"]]}
    refused = _invoke(client, {"path": "/forge/ui", "method": "POST", "body": other_issue})
    assert refused["success"] is False and "401" in refused["error"]["message"]


# ------------------------------------------------------------------ the demo


def test_demo_sets_up_the_forge_dev_tenant(app, runner, monkeypatch):
    """Does `demo` configure Forge for the dev host and give the Forge dev tenant the demo's
    synced integrations?"""
    served = []
    monkeypatch.setattr(
        "werkzeug.serving.run_simple", lambda host, port, wsgi, **kw: served.append(wsgi)
    )
    for name in ("GITINT_DEV", "GITINT_ALLOW_PRIVATE_HOSTS", "GITINT_BASE_URL"):
        monkeypatch.setenv(name, "")
    for name in ("GITINT_FORGE_APP_ID", "GITINT_FORGE_JWKS_URL", "GITINT_FORGE_ENVIRONMENT_ID"):
        monkeypatch.delenv(name, raising=False)
    _reset_schema()
    result = runner.invoke(args=["gitint", "demo", "--port", "5098"])
    assert result.exit_code == 0, result.output
    assert "http://127.0.0.1:5098/dev/jira?mode=forge" in result.output
    assert result.output.count("(Forge mode).") == 2
    config = served[0].config
    assert config["GITINT_FORGE_APP_ID"] == dev_forge.APP_ID
    assert config["GITINT_FORGE_JWKS_URL"] == "http://127.0.0.1:5098/dev/forge/jwks.json"
    assert config["GITINT_FORGE_ENVIRONMENT_ID"] == dev_forge.ENVIRONMENT_ID
    assert "devforge" in served[0].blueprints
    db.session.expire_all()
    tenant = db.session.scalar(select(Tenant).where(Tenant.issuer == dev_forge.INSTALLATION_ID))
    assert tenant.kind == "forge" and tenant.api_base_url == "http://127.0.0.1:5098/dev/forge/jira"
    integrations = select(func.count()).select_from(Integration)
    assert db.session.scalar(integrations.where(Integration.tenant_id == tenant.id)) == 2
    repositories = select(func.count()).select_from(Repository)
    assert db.session.scalar(repositories.where(Repository.tenant_id == tenant.id)) == 2 * 43
    with served[0].app_context():
        db.session.remove()
        db.engine.dispose()
