"""The Connect JavaScript client (all.js): a Connect tenant's pages load it first in <head> and
their CSP allows its CDN; the dev host's tenant loads the local stand-in; other embedded tenants
and Forge load none (gitint.jira.context.connect_js_url decides)."""

import html
import re
import time
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
import responses
from flask import g

from gitint.assets import manifest
from gitint.crypto import unseal
from gitint.dev.devhost import ensure_dev_tenant
from gitint.extensions import db
from gitint.jira.context import CONNECT_JS, DEV_ISSUER, Context, connect_js_url
from tests.conftest import context_headers, entry_url
from tests.jira.conftest import ISSUE_PARAMS

JIRA = "https://acme.atlassian.net"
CHECK = f"{JIRA}/rest/api/3/permissions/check"
ISSUE = f"{JIRA}/rest/api/3/issue/DEV-1"
GRANTED = {"projectPermissions": [{"permission": "VIEW_DEV_TOOLS", "projects": [10000]}]}
DENIED = {"projectPermissions": [{"permission": "VIEW_DEV_TOOLS", "projects": []}]}
CDN = "https://connect-cdn.atl-paas.net"
STAND_IN = "/static/" + manifest(str(Path(__file__).parents[2] / "static"))["dev/connect-all.js"]
DIALOG = "/dialogs/create-branch"


@pytest.fixture
def jira():
    """Jira's REST API for the Connect tenant: the issue, and the permission check (granted)."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        mocked.get(ISSUE, json={"fields": {"summary": "Fix login", "issuetype": {"name": "Bug"}}})
        mocked.post(CHECK, json=GRANTED)
        yield mocked


@pytest.fixture
def connect(make_tenant):
    return make_tenant(issuer="acme-client", kind="connect", base_url=JIRA)


def head_scripts(page: str) -> list[str]:
    """The <script> tags of the page's <head>, in order."""
    head = re.search(r"<head>(.*?)</head>", page, re.S).group(1)
    return re.findall(r"<script\b[^>]*>", head)


def script_src(page: str) -> str:
    return html.unescape(re.search(r'src="([^"]+)"', head_scripts(page)[0]).group(1))


def script_src_directive(response) -> str:
    csp = response.headers["Content-Security-Policy"]
    return re.search(r"script-src ([^;]+)", csp).group(1).strip()


def assert_connect_js_first(page: str, src: str) -> None:
    """``src`` is the first script in <head>, loaded in order (neither deferred nor async)."""
    first = head_scripts(page)[0]
    assert script_src(page) == src
    assert " defer" not in first and " async" not in first
    assert page.count(CONNECT_JS) == (1 if src == CONNECT_JS else 0)


def assert_in_ac_content(page: str) -> None:
    """#flash and #main are inside <div class="ac-content"> (what all.js measures)."""
    body = re.search(r"<body[^>]*>(.*)</body>", page, re.S).group(1).strip()
    assert body.startswith('<div class="ac-content">') and body.endswith("</div>")
    inside = body[len('<div class="ac-content">') :]
    assert inside.index('id="flash"') < inside.index('<main id="main"')


def test_connect_dialog_loads_all_js_first(probe_client, connect, jira):
    """Does a Connect tenant's dialog load Atlassian's all.js as the first script in <head>, its
    content inside .ac-content, with the CSP allowing that host for scripts only?"""
    response = probe_client.get(entry_url(connect, DIALOG, ISSUE_PARAMS))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert_connect_js_first(page, CONNECT_JS)
    assert_in_ac_content(page)
    assert script_src_directive(response) == f"'self' {CDN}"
    csp = response.headers["Content-Security-Policy"]
    assert "style-src 'self';" in csp and "connect-src 'self';" in csp
    assert "default-src 'self';" in csp and CDN not in csp.replace(f"script-src 'self' {CDN}", "")
    assert f"frame-ancestors {JIRA}" in csp


def test_connect_htmx_answers_allow_the_cdn_too(app, client, connect, jira):
    """Does a Connect tenant's htmx answer carry the same script-src (no page, no all.js)?"""
    headers = context_headers(connect)
    response = client.get(f"/dialogs/repositories?{urlencode({'q': 'x'})}", headers=headers)
    assert response.status_code < 500
    assert script_src_directive(response) == f"'self' {CDN}"
    assert "all.js" not in response.get_data(as_text=True)


def test_embedded_dialog_loads_no_connect_js(client, make_tenant):
    """Does an embedded tenant's dialog load neither all.js nor the stand-in, with a CSP of our
    origin only?"""
    tenant = make_tenant()
    response = client.get(entry_url(tenant, DIALOG, ISSUE_PARAMS))
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "all.js" not in page and "connect-all" not in page  # neither Atlassian's nor ours
    assert "/static/vendor/htmx" in head_scripts(page)[0]
    assert_in_ac_content(page)
    assert script_src_directive(response) == "'self'"
    assert CDN not in response.headers["Content-Security-Policy"]


def test_dev_host_tenant_loads_the_stand_in(dev_app):
    """Does the dev host's frame (its tenant, GITINT_DEV on) load the local stand-in first, which
    is served, and is nothing but our origin allowed for scripts?"""
    client = dev_app.test_client()
    devhost = client.get("/dev/jira?open=create-branch").get_data(as_text=True)
    src = urlsplit(html.unescape(re.search(r'<iframe src="([^"]+)"', devhost).group(1)))
    query = parse_qsl(src.query, keep_blank_values=True)
    response = client.get(f"{src.path}?{urlencode(query)}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert_connect_js_first(page, STAND_IN)
    assert_in_ac_content(page)
    assert script_src_directive(response) == "'self'"
    stand_in = client.get(STAND_IN)
    assert stand_in.status_code == 200
    for part in ("window.AP", "dialog", "theming", "initializeTheming", "ResizeObserver"):
        assert part in stand_in.get_data(as_text=True)
    stand_in.close()


def test_401_framed_for_a_connect_tenant_loads_all_js(probe_client, connect):
    """Does the 401 page of an expired Connect entry (framed by that Jira) load all.js, with the
    CSP allowing it, while an unknown issuer's 401 loads none?"""
    now = int(time.time())
    expired = entry_url(connect, DIALOG, ISSUE_PARAMS, iat=now - 600, exp=now - 300)
    response = probe_client.get(expired)
    assert response.status_code == 401
    page = response.get_data(as_text=True)
    assert_connect_js_first(page, CONNECT_JS)
    assert_in_ac_content(page)
    assert script_src_directive(response) == f"'self' {CDN}"
    assert f"frame-ancestors {JIRA}" in response.headers["Content-Security-Policy"]

    unknown = probe_client.get(entry_url(connect, DIALOG, ISSUE_PARAMS, iss="nobody"))
    assert unknown.status_code == 401
    assert "all.js" not in unknown.get_data(as_text=True)
    assert script_src_directive(unknown) == "'self'"


def test_403_for_a_connect_tenant_loads_all_js(probe_client, connect, jira):
    """Does the permission page Jira frames for a Connect user without the permission load it?"""
    jira.replace(responses.POST, CHECK, json=DENIED)
    response = probe_client.get(entry_url(connect, DIALOG, ISSUE_PARAMS))
    assert response.status_code == 403
    assert_connect_js_first(response.get_data(as_text=True), CONNECT_JS)
    assert script_src_directive(response) == f"'self' {CDN}"


def test_401_for_the_dev_tenant_loads_the_stand_in(dev_app):
    """Is the dev host's framed 401 page (expired entry) given the stand-in, not all.js?"""
    tenant = ensure_dev_tenant("http://localhost")
    db.session.commit()
    now = int(time.time())
    url = entry_url(
        tenant, DIALOG, ISSUE_PARAMS, secret=unseal(tenant), iat=now - 600, exp=now - 300
    )
    response = dev_app.test_client().get(url)
    assert response.status_code == 401
    assert_connect_js_first(response.get_data(as_text=True), STAND_IN)
    assert script_src_directive(response) == "'self'"


def _ctx(tenant, kind=None) -> Context:
    return Context(tenant_id=tenant.id, tenant_kind=kind or tenant.kind, account_id="user-1")


def test_the_helper_decides(app, make_tenant, make_app):
    """connect_js_url(): all.js for Connect, the stand-in only for the dev tenant with
    GITINT_DEV on, nothing for other embedded tenants, Forge, or no tenant at all."""
    connect = make_tenant(kind="connect")
    embedded = make_tenant()
    dev_tenant = make_tenant(issuer=DEV_ISSUER)
    cases = [
        (app, None, None, None),
        (app, _ctx(connect), None, CONNECT_JS),
        (app, None, connect.id, CONNECT_JS),
        (app, _ctx(embedded), None, None),
        (app, None, embedded.id, None),
        (app, _ctx(embedded, "forge"), None, None),  # Forge frames load no Connect client
        (app, _ctx(dev_tenant), None, None),  # GITINT_DEV off: the dev tenant is nobody
    ]
    dev = make_app(GITINT_DEV=True)
    cases += [
        (dev, _ctx(dev_tenant), None, STAND_IN),
        (dev, None, dev_tenant.id, STAND_IN),
        (dev, _ctx(embedded), None, None),
        (dev, _ctx(connect), None, CONNECT_JS),
    ]
    for which, ctx, frame_tenant_id, expected in cases:
        with which.test_request_context("/"):
            if ctx is not None:
                g.ctx = ctx
            g.frame_tenant_id = frame_tenant_id
            assert connect_js_url() == expected, (ctx, frame_tenant_id)


def test_pages_without_a_tenant_allow_no_cdn(client):
    """Do static files and pages without a tenant keep script-src 'self'?"""
    for path in ("/static/app.js", STAND_IN, "/dialogs/create-branch"):
        response = client.get(path)
        assert script_src_directive(response) == "'self'", path
        assert "all.js" not in (response.get_data(as_text=True) if path.startswith("/d") else "")
        response.close()
