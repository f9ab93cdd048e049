"""Connect tenants: permissions and issue details from Jira's REST API, called as the app."""

import json
import time
from urllib.parse import parse_qsl, urlencode, urlsplit

import jwt
import pytest
import requests
import responses

from gitint.jira import rest
from gitint.jira.jwt import query_hash, sign
from tests.jira.conftest import ISSUE_PARAMS, SECRET_A

JIRA = "https://acme.atlassian.net"
CHECK = f"{JIRA}/rest/api/3/permissions/check"
ISSUE = f"{JIRA}/rest/api/3/issue/DEV-1"
GRANTED = {"projectPermissions": [{"permission": "VIEW_DEV_TOOLS", "projects": [10000]}]}
DENIED = {"projectPermissions": [{"permission": "VIEW_DEV_TOOLS", "projects": []}]}


@pytest.fixture
def connect(make_tenant):
    return make_tenant(issuer="acme-client", kind="connect", base_url=JIRA, secret=SECRET_A)


@pytest.fixture
def clock(monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(rest, "clock", lambda: now[0])
    return now


def _assert_app_signed(call, method):
    """The request carries our HS256 JWT: iss = app key, qsh of this request, 3-minute expiry."""
    scheme, token = call.request.headers["Authorization"].split(" ")
    assert scheme == "JWT"
    claims = jwt.decode(token, SECRET_A, algorithms=["HS256"])
    parts = urlsplit(call.request.url)
    assert claims["iss"] == "gitint"
    assert claims["exp"] - claims["iat"] == 180
    assert claims["qsh"] == query_hash(method, parts.path, parse_qsl(parts.query))


@responses.activate
def test_permission_check_calls_jira_as_the_app(app, connect):
    """Does the check POST accountId + project permission, signed as the app?"""
    responses.post(CHECK, json=GRANTED)
    assert rest.has_permission(connect, "account-1", "10000", "VIEW_DEV_TOOLS") is True
    call = responses.calls[0]
    assert json.loads(call.request.body) == {
        "accountId": "account-1",
        "projectPermissions": [{"permissions": ["VIEW_DEV_TOOLS"], "projects": [10000]}],
    }
    _assert_app_signed(call, "POST")


@responses.activate
def test_positive_answers_are_cached_for_60_seconds(app, connect, clock):
    """Is a positive answer reused within 60 s and asked again after?"""
    responses.post(CHECK, json=GRANTED)
    for _ in range(3):
        assert rest.has_permission(connect, "account-1", "10000", "VIEW_DEV_TOOLS")
    assert len(responses.calls) == 1
    clock[0] += 59
    assert rest.has_permission(connect, "account-1", "10000", "VIEW_DEV_TOOLS")
    assert len(responses.calls) == 1
    clock[0] += 2
    assert rest.has_permission(connect, "account-1", "10000", "VIEW_DEV_TOOLS")
    assert len(responses.calls) == 2


@responses.activate
def test_cache_is_per_user_project_and_permission(app, connect, clock):
    """Does a cached grant for one user/project never answer for another?"""
    responses.post(CHECK, json=GRANTED)
    assert rest.has_permission(connect, "account-1", "10000", "VIEW_DEV_TOOLS")
    responses.replace(responses.POST, CHECK, json=DENIED)
    assert not rest.has_permission(connect, "account-2", "10000", "VIEW_DEV_TOOLS")
    assert not rest.has_permission(connect, "account-1", "10001", "VIEW_DEV_TOOLS")
    assert len(responses.calls) == 3


@responses.activate
def test_negative_answers_are_not_cached(app, connect, clock):
    """Is a refusal asked again every time (a newly granted permission works at once)?"""
    responses.post(CHECK, json=DENIED)
    assert not rest.has_permission(connect, "account-1", "10000", "VIEW_DEV_TOOLS")
    assert not rest.has_permission(connect, "account-1", "10000", "VIEW_DEV_TOOLS")
    assert len(responses.calls) == 2
    responses.replace(responses.POST, CHECK, json=GRANTED)
    assert rest.has_permission(connect, "account-1", "10000", "VIEW_DEV_TOOLS")


@responses.activate
def test_global_permission_for_admin_pages(app, connect):
    """Is ADMINISTER checked as a global permission?"""
    responses.post(CHECK, json={"globalPermissions": ["ADMINISTER"]})
    assert rest.has_permission(connect, "account-1", None, "ADMINISTER")
    assert json.loads(responses.calls[0].request.body) == {
        "accountId": "account-1",
        "globalPermissions": ["ADMINISTER"],
    }


@responses.activate
def test_project_permission_without_a_project_fails_closed(app, connect):
    """Without a (numeric) project id, is a project permission refused without asking Jira?"""
    assert not rest.has_permission(connect, "account-1", None, "VIEW_DEV_TOOLS")
    assert not rest.has_permission(connect, "account-1", "10000&x=1", "VIEW_DEV_TOOLS")
    assert not rest.has_permission(connect, "", "10000", "VIEW_DEV_TOOLS")
    assert len(responses.calls) == 0


def test_cache_is_bounded(app, connect, monkeypatch):
    """Does the cache never grow past its bound?"""
    monkeypatch.setattr(rest, "CACHE_SIZE", 3)
    for n in range(10):
        rest._remember((connect.id, "x", f"user-{n}", "1", "VIEW_DEV_TOOLS"))
    assert len(rest._granted) == 3


@responses.activate
def test_issue_details_from_rest(app, connect):
    """Are the summary and type read from GET /rest/api/3/issue/{key}, signed with its qsh?"""
    responses.get(ISSUE, json={"fields": {"summary": "Fix login", "issuetype": {"name": "Bug"}}})
    assert rest.issue_details(connect, "DEV-1") == ("Fix login", "Bug")
    call = responses.calls[0]
    assert dict(parse_qsl(urlsplit(call.request.url).query)) == {"fields": "summary,issuetype"}
    _assert_app_signed(call, "GET")


@responses.activate
def test_issue_details_with_a_jira_context_path(app, make_tenant):
    """For a Jira at https://host/jira, is qsh over the path relative to that base URL?"""
    tenant = make_tenant(kind="connect", base_url="https://host.example.com/jira", secret=SECRET_A)
    responses.get(
        "https://host.example.com/jira/rest/api/3/issue/DEV-1",
        json={"fields": {"summary": "S", "issuetype": {"name": "Task"}}},
    )
    assert rest.issue_details(tenant, "DEV-1") == ("S", "Task")
    token = responses.calls[0].request.headers["Authorization"].split(" ")[1]
    claims = jwt.decode(token, SECRET_A, algorithms=["HS256"])
    expected = [("fields", "summary,issuetype")]
    assert claims["qsh"] == query_hash("GET", "/rest/api/3/issue/DEV-1", expected)


@responses.activate
def test_issue_details_refuses_odd_keys_and_missing_issues(app, connect):
    """Is a malformed issue key never put into the URL, and a 404 an empty answer?"""
    assert rest.issue_details(connect, "../../admin") == (None, None)
    assert len(responses.calls) == 0
    responses.get(f"{JIRA}/rest/api/3/issue/DEV-404", status=404, json={})
    assert rest.issue_details(connect, "DEV-404") == (None, None)


@responses.activate
def test_redirects_are_not_followed(app, connect):
    """Is a redirect from Jira an error rather than a followed request carrying our JWT?"""
    responses.post(CHECK, status=302, headers={"Location": "https://evil.example.com/"})
    with pytest.raises(rest.JiraUnavailable):
        rest.has_permission(connect, "account-1", "10000", "VIEW_DEV_TOOLS")
    assert len(responses.calls) == 1


def _entry(tenant, params=ISSUE_PARAMS, path="/probe/dialog"):
    now = int(time.time())
    claims = {
        "iss": tenant.issuer,
        "sub": "account-1",
        "iat": now,
        "exp": now + 60,
        "qsh": query_hash("GET", path, list(params.items())),
        # a Connect host cannot vouch for permissions: this claim must be ignored
        "context": {"permissions": ["VIEW_DEV_TOOLS", "ADMINISTER"]},
    }
    return f"{path}?{urlencode({**params, 'jwt': sign(claims, SECRET_A)})}"


@responses.activate
def test_connect_dialog_entry_uses_rest(app, probe_client, connect):
    """Does a Connect entry take summary/type from REST and the permission from Jira?"""
    responses.get(ISSUE, json={"fields": {"summary": "From Jira", "issuetype": {"name": "Story"}}})
    responses.post(CHECK, json=GRANTED)
    response = probe_client.get(_entry(connect))
    assert response.status_code == 200
    assert (response.get_json()["summary"], response.get_json()["type"]) == ("From Jira", "Story")


@responses.activate
def test_connect_permissions_are_not_taken_from_the_token(app, probe_client, connect):
    """Is a Connect user without the permission in Jira refused (403) despite a context claim?"""
    responses.get(ISSUE, json={"fields": {"summary": "S", "issuetype": {"name": "Bug"}}})
    responses.post(CHECK, json=DENIED)
    response = probe_client.get(_entry(connect))
    assert response.status_code == 403
    assert "View Development Tools" in response.get_data(as_text=True)
    responses.replace(responses.POST, CHECK, json={"globalPermissions": []})
    admin = probe_client.get(_entry(connect, params={}, path="/probe/admin"))
    assert admin.status_code == 403
    assert "Jira administrator" in admin.get_data(as_text=True)


@responses.activate
def test_htmx_calls_recheck_the_permission(app, probe_client, connect, clock):
    """Is the permission checked on every call (cached ≤ 60 s), not only at entry?"""
    from tests.conftest import context_headers

    responses.post(CHECK, json=GRANTED)
    headers = context_headers(connect, account_id="account-1")
    assert probe_client.post("/probe/dialog", headers=headers).status_code == 200
    clock[0] += 61
    responses.replace(responses.POST, CHECK, json=DENIED)
    assert probe_client.post("/probe/dialog", headers=headers).status_code == 403
    assert len(responses.calls) == 2


@pytest.mark.parametrize(
    "failure",
    [requests.ConnectionError("refused"), requests.ReadTimeout("slow"), 503, 401],
)
def test_jira_unreachable_is_a_clear_page(app, probe_client, connect, failure):
    """When Jira cannot be reached or refuses, is it a clear 502 page, never a stack trace?"""
    with responses.RequestsMock() as mock:
        if isinstance(failure, int):
            mock.get(ISSUE, status=failure, json={})
        else:
            mock.get(ISSUE, body=failure)
        response = probe_client.get(_entry(connect))
    assert response.status_code == 502
    page = response.get_data(as_text=True)
    assert "Jira could not be reached" in page and "Traceback" not in page
    assert response.headers["Cache-Control"] == "no-store"
    assert f"frame-ancestors {JIRA}" in response.headers["Content-Security-Policy"]


# ------------------------------------------------------------------ the outbound guard (issue 11)


@pytest.mark.parametrize(
    "base_url",
    [
        "https://127.0.0.1",
        "https://10.0.0.7/jira",
        "https://169.254.169.254",
        "https://[::ffff:192.168.1.1]",
        "http://acme.atlassian.net",
        "https://user:pass@acme.atlassian.net",
    ],
)
def test_jira_calls_to_a_refused_site_are_never_sent(app, make_tenant, sockets, base_url):
    """Is a Connect tenant's base URL that the outbound guard refuses (a stored row from before
    the install check, say) never called, with a sentence instead of a 500?"""
    tenant = make_tenant(kind="connect", base_url=base_url, secret=SECRET_A)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        with pytest.raises(rest.JiraUnavailable, match="not allowed"):
            rest.has_permission(tenant, "account-1", "10000", "VIEW_DEV_TOOLS")
        with pytest.raises(rest.JiraUnavailable, match="not allowed"):
            rest.issue_details(tenant, "DEV-1")
        assert len(mocked.calls) == 0
    assert sockets == []


@pytest.mark.parametrize("address", ["10.0.0.5", "127.0.0.1", "169.254.169.254", "fd00::1"])
def test_jira_name_resolving_to_a_private_address_is_refused(
    app, connect, monkeypatch, sockets, address
):
    """Is a Jira host name that resolves to a private address refused on the address the
    connection would use (no socket opened, no token sent)?"""
    from gitint.providers import http

    family = 10 if ":" in address else 2
    monkeypatch.setattr(
        http, "resolve", lambda host, port, **kw: [(family, 1, 6, "", (address, port))]
    )
    with pytest.raises(rest.JiraUnavailable, match="not allowed"):
        rest.has_permission(connect, "account-1", "10000", "VIEW_DEV_TOOLS")
    assert sockets == []


def test_jira_name_resolving_publicly_is_called_at_that_address(app, connect, monkeypatch, sockets):
    """Does a public answer open the connection to the checked address (Jira unreachable here,
    said as a sentence)?"""
    from gitint.providers import http

    monkeypatch.setattr(
        http, "resolve", lambda host, port, **kw: [(2, 1, 6, "", ("104.192.136.1", port))]
    )
    with pytest.raises(rest.JiraUnavailable, match="could not be reached"):
        rest.has_permission(connect, "account-1", "10000", "VIEW_DEV_TOOLS")
    assert sockets == [("104.192.136.1", 443)]


@responses.activate
def test_private_jira_is_called_with_private_hosts_allowed(app, make_tenant):
    """With GITINT_ALLOW_PRIVATE_HOSTS (dev, tests), is a local http Jira called?"""
    app.config["GITINT_ALLOW_PRIVATE_HOSTS"] = True
    tenant = make_tenant(kind="connect", base_url="http://127.0.0.1:2990/jira", secret=SECRET_A)
    responses.post("http://127.0.0.1:2990/jira/rest/api/3/permissions/check", json=GRANTED)
    assert rest.has_permission(tenant, "account-1", "10000", "VIEW_DEV_TOOLS") is True


# ---------------------------------------------------------------- display names (audit log)

USER = f"{JIRA}/rest/api/3/user"
FORGE_API = "https://api.atlassian.com/ex/jira/cloud-1"


@responses.activate
def test_a_connect_users_display_name_is_asked_as_the_app_and_kept_an_hour(app, connect, clock):
    """Is the name read from /user?accountId= signed as the app, asked once an hour per user?"""
    responses.get(USER, json={"accountId": "account-1", "displayName": "Alice Liddell"})
    assert rest.display_name(connect, "account-1") == "Alice Liddell"
    assert rest.display_name(connect, "account-1") == "Alice Liddell"
    assert len(responses.calls) == 1
    assert dict(parse_qsl(urlsplit(responses.calls[0].request.url).query)) == {
        "accountId": "account-1"
    }
    _assert_app_signed(responses.calls[0], "GET")
    clock[0] += rest.NAME_TTL + 1
    rest.display_name(connect, "account-1")
    assert len(responses.calls) == 2


@responses.activate
@pytest.mark.parametrize(
    "answer",
    [
        {"status": 404, "json": {"errorMessages": ["no user"]}},
        {"status": 503, "body": "down"},
        {"status": 200, "body": "not json"},
        {"status": 200, "json": {"displayName": 42}},
        {"body": requests.ConnectionError("reset")},
    ],
)
def test_no_name_when_jira_does_not_say(app, connect, answer):
    """Whatever Jira answers instead of a name, is it None (never an exception)?"""
    responses.get(USER, **answer)
    assert rest.display_name(connect, "account-1") is None


@responses.activate
def test_a_forge_users_display_name_comes_from_myself_with_their_token(app, make_tenant):
    """Does a Forge tenant ask /myself with the user's own token (no token: no name)?"""
    forge = make_tenant(issuer="ari:cloud:jira::site/cloud-1", kind="forge", secret=None)
    forge.api_base_url = FORGE_API
    responses.get(f"{FORGE_API}/rest/api/3/myself", json={"displayName": "Bob Builder"})
    assert rest.display_name(forge, "account-2", "user-token") == "Bob Builder"
    assert responses.calls[0].request.headers["Authorization"] == "Bearer user-token"
    assert rest.display_name(forge, "account-3", None) is None
    assert rest.display_name(make_tenant(), "account-4") is None  # embedded: the token says


@responses.activate
def test_the_audit_log_stores_a_connect_users_name_at_the_time(app, connect):
    """Does an audit row of a Connect user carry the display name Jira gave, and a row still
    get written when Jira gives none?"""
    from flask import g

    from gitint import audit
    from gitint.jira.context import Context

    responses.get(USER, json={"displayName": "Alice Liddell"})
    with app.test_request_context():
        g.ctx = Context(tenant_id=connect.id, tenant_kind="connect", account_id="account-1")
        assert audit.record("pat.save", "success").display_name == "Alice Liddell"
        g.ctx = Context(tenant_id=connect.id, tenant_kind="connect", account_id="gone")
        responses.replace(responses.GET, USER, status=404)
        event = audit.record("pat.save", "success")
        assert (event.account_id, event.display_name) == ("gone", None)
