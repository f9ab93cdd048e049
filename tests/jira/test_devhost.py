"""The development Jira host (GITINT_DEV only) and the `tenant add` / `demo` commands."""

import html
import re
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest
from sqlalchemy import func, select

from gitint.crypto import unseal
from gitint.extensions import db
from gitint.jira.context import CONTEXT_HEADER, DEV_ISSUER
from gitint.jira.jwt import verify_entry
from gitint.models import Integration, Repository, Tenant
from tests.conftest import _reset_schema, entry_token

SECRET = "embedded-shared-secret-0123456789abcdef"


def _frame(page: str) -> tuple[str, list[tuple[str, str]]]:
    src = html.unescape(re.search(r'<iframe src="([^"]+)"', page).group(1))
    parts = urlsplit(src)
    return parts.path, parse_qsl(parts.query, keep_blank_values=True)


def _open(client, user, target):
    response = client.get(f"/dev/jira?user={user}&open={target}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_dev_host_is_404_when_dev_is_off(make_app):
    """Without GITINT_DEV, is /dev/jira a 404?"""
    off = make_app(GITINT_DEV=False)
    with off.app_context():
        assert off.test_client().get("/dev/jira").status_code == 404
        assert "devhost" not in off.blueprints


def test_dev_host_tokens_are_refused_when_dev_is_off(dev_app, make_app):
    """Are the dev tenant's entry and context tokens (anyone can mint them on /dev/jira) refused
    by an app on the same database without GITINT_DEV?"""
    path, query = _frame(_open(dev_app.test_client(), "admin", "admin"))
    url = f"{path}?{urlencode(query)}"
    entered = dev_app.test_client().get(url)
    assert entered.status_code == 200
    context = re.search(r'name="gitint-context" content="([^"]+)"', entered.get_data(as_text=True))
    off = make_app(GITINT_DEV=False)
    with off.app_context():
        client = off.test_client()
        assert client.get(url).status_code == 401
        headers = {CONTEXT_HEADER: context.group(1), "HX-Request": "true"}
        assert client.get("/admin/integrations", headers=headers).status_code == 401
        assert client.post("/admin/integrations/new", headers=headers).status_code == 401


def test_dev_host_page_looks_like_an_issue(dev_app):
    """Does /dev/jira show DEV-1 (a Bug in DEV), the user switcher and the action buttons?"""
    response = dev_app.test_client().get("/dev/jira")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for text in ("DEV-1", "Bug", "(DEV)", "Create branch", "Create pull request"):
        assert text in page
    for user in ("admin", "developer", "viewer"):
        assert f"user={user}" in page
    assert "Git: personal access tokens" in page and "Manage Git repositories" in page
    assert "<iframe" not in page  # nothing is open until a button is used
    assert re.search(r"<script[^>]*src=\"[^\"]*devhost\.[0-9a-f]{10}\.js\"", page)


@pytest.mark.parametrize(
    ("user", "account", "permissions"),
    [
        ("admin", "dev-admin", ["VIEW_DEV_TOOLS", "ADMINISTER"]),
        ("developer", "dev-developer", ["VIEW_DEV_TOOLS"]),
        ("viewer", "dev-viewer", []),
    ],
)
def test_dialog_iframe_url_verifies(dev_app, user, account, permissions):
    """Does the iframe URL carry a token that verifies for the dialog path, for that user?"""
    page = _open(dev_app.test_client(), user, "create-branch")
    path, query = _frame(page)
    assert path == "/dialogs/create-branch"
    assert dict(query)["issueKey"] == "DEV-1" and dict(query)["projectKey"] == "DEV"
    token = dict(query)["jwt"]
    tenant, claims = verify_entry(token, "GET", path, query)
    assert tenant.issuer == DEV_ISSUER and tenant.kind == "embedded"
    assert claims["sub"] == account
    assert claims["exp"] - claims["iat"] == 180
    assert claims["context"]["permissions"] == permissions
    assert claims["context"]["issue"] == {
        "summary": "Login page rejects passwords with spaces",
        "type": "Bug",
    }
    assert claims["context"]["user"]["displayName"]
    with pytest.raises(Exception, match="another URL"):
        verify_entry(token, "GET", "/dialogs/create-pull-request", query)


@pytest.mark.parametrize(
    ("target", "path"),
    [
        ("create-pull-request", "/dialogs/create-pull-request"),
        ("pats", "/pats"),
        ("admin", "/admin/integrations"),
    ],
)
def test_other_targets_open_with_signed_urls(dev_app, target, path):
    """Do the PR dialog, the PAT page and the admin page open with verifying tokens?"""
    frame_path, query = _frame(_open(dev_app.test_client(), "admin", target))
    assert frame_path == path
    verify_entry(dict(query)["jwt"], "GET", frame_path, query)


def test_dev_tenant_is_framed_by_our_own_origin(dev_app):
    """Is the dev tenant framed by GITINT_BASE_URL only, whatever Host header a request sends?"""
    client = dev_app.test_client()
    response = client.get("/dev/jira", base_url="http://evil.example")
    tenant = db.session.scalar(select(Tenant).where(Tenant.issuer == DEV_ISSUER))
    assert tenant.base_url == dev_app.config["GITINT_BASE_URL"]
    assert tenant.display_url is None
    assert "evil.example" not in response.headers["Content-Security-Policy"]
    secret = unseal(tenant)
    client.get("/dev/jira", base_url="http://gitint.test")
    db.session.expire_all()
    assert unseal(tenant) == secret and tenant.display_url is None
    count = select(func.count()).select_from(Tenant).where(Tenant.issuer == DEV_ISSUER)
    assert db.session.scalar(count) == 1


def test_unknown_user_falls_back_to_developer(dev_app):
    """Is an unknown ?user= treated as the developer?"""
    _, query = _frame(_open(dev_app.test_client(), "root", "create-branch"))
    _, claims = verify_entry(dict(query)["jwt"], "GET", "/dialogs/create-branch", query)
    assert claims["sub"] == "dev-developer"


def test_dev_host_page_has_no_inline_script(dev_app):
    """Is the dev host page itself free of inline scripts and styles (CSP script-src 'self')?"""
    response = dev_app.test_client().get("/dev/jira?open=create-branch")
    page = response.get_data(as_text=True)
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)
    assert " style=" not in page and " onclick" not in page
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]


# ------------------------------------------------------------------ tenant add


def _tenant(issuer):
    db.session.expire_all()
    return db.session.scalar(select(Tenant).where(Tenant.issuer == issuer))


def test_tenant_add_reads_the_secret_from_stdin(app, runner):
    """Does `tenant add` create an embedded tenant with the stdin secret, never echoing it?"""
    args = ["gitint", "tenant", "add", "--issuer", "jira-dc", "--base-url", "https://jira.dc/"]
    result = runner.invoke(args=[*args, "--name", "Jira DC"], input=SECRET + "\n")
    assert result.exit_code == 0, result.output
    assert "Created" in result.output and SECRET not in result.output
    tenant = _tenant("jira-dc")
    assert (tenant.kind, tenant.name, tenant.base_url) == ("embedded", "Jira DC", "https://jira.dc")
    assert unseal(tenant) == SECRET
    token = entry_token(tenant, "/pats", {}, secret=SECRET)
    assert verify_entry(token, "GET", "/pats", [])[0].id == tenant.id


def test_tenant_add_updates_an_existing_tenant(app, runner):
    """Does running it again update the URL, display URL and secret (one tenant)?"""
    base = ["gitint", "tenant", "add", "--issuer", "jira-dc"]
    runner.invoke(args=[*base, "--base-url", "https://old.dc"], input=SECRET)
    new_secret = "another-embedded-secret-0123456789abcdef"
    result = runner.invoke(
        args=[*base, "--base-url", "https://new.dc", "--display-url", "https://alias.dc"],
        input=new_secret,
    )
    assert result.exit_code == 0 and "Updated" in result.output
    tenant = _tenant("jira-dc")
    assert (tenant.base_url, tenant.display_url) == ("https://new.dc", "https://alias.dc")
    assert unseal(tenant) == new_secret
    assert db.session.scalar(select(func.count()).select_from(Tenant)) == 1


def test_tenant_add_refuses_bad_input(app, runner, make_tenant):
    """Are short secrets, non-http URLs and Connect tenants refused, nothing saved?"""
    base = ["gitint", "tenant", "add", "--issuer", "jira-dc", "--base-url"]
    assert runner.invoke(args=[*base, "https://jira.dc"], input="short").exit_code != 0
    assert runner.invoke(args=[*base, "ftp://jira.dc"], input=SECRET).exit_code != 0
    assert _tenant("jira-dc") is None
    make_tenant(issuer="cloud", kind="connect", secret="cloud-secret")
    cloud = ["gitint", "tenant", "add", "--issuer", "cloud", "--base-url", "https://x.dc"]
    assert runner.invoke(args=cloud, input=SECRET).exit_code != 0
    assert unseal(_tenant("cloud")) == "cloud-secret"


# ------------------------------------------------------------------ demo


def test_demo_sets_up_and_is_safe_to_run_again(app, runner, monkeypatch):
    """Does `demo` migrate, create the dev tenant once, print the URL and serve the dev host?"""
    served = []
    monkeypatch.setattr(
        "werkzeug.serving.run_simple",
        lambda host, port, wsgi, **kw: served.append((host, port, wsgi)),
    )
    for name in ("GITINT_DEV", "GITINT_ALLOW_PRIVATE_HOSTS", "GITINT_BASE_URL"):
        monkeypatch.setenv(name, "")  # restored after the test; demo sets them for its process
    _reset_schema()  # an empty database, as on a first run
    first = runner.invoke(args=["gitint", "demo", "--port", "5099"])
    assert first.exit_code == 0, first.output
    assert "http://127.0.0.1:5099/dev/jira" in first.output
    host, port, served_app = served[0]
    assert (host, port) == ("127.0.0.1", 5099)
    assert first.output.count("Synced 43 repositories") == 4  # both, Connect and Forge mode
    assert served_app.config["GITINT_DEV"] and served_app.config["GITINT_ALLOW_PRIVATE_HOSTS"]
    assert "devhost" in served_app.blueprints
    tenant = _tenant(DEV_ISSUER)
    assert tenant.base_url == "http://127.0.0.1:5099" and tenant.kind == "embedded"
    secret = unseal(tenant)
    second = runner.invoke(args=["gitint", "demo", "--port", "5099"])
    assert second.exit_code == 0, second.output
    assert unseal(_tenant(DEV_ISSUER)) == secret
    count = select(func.count()).select_from(Tenant).where(Tenant.issuer == DEV_ISSUER)
    assert db.session.scalar(count) == 1
    assert db.session.scalar(select(func.count()).select_from(Integration)) == 2 * 2
    assert db.session.scalar(select(func.count()).select_from(Repository)) == 2 * 2 * 43
    with served[1][2].test_client() as client:
        assert client.get("/dev/jira").status_code == 200
    with served[1][2].app_context():
        db.session.remove()
        db.engine.dispose()


def test_demo_keeps_the_fake_hosts_port(app, runner, monkeypatch):
    """Does `demo`, started again, give the fake git host the port it had, so links made
    earlier (branches, pull requests, the audit log) keep working?"""
    from gitint.dev import fakehost

    started = []
    start = fakehost.FakeGitHost.start
    monkeypatch.setattr(
        fakehost.FakeGitHost, "start", lambda self: started.append(self) or start(self)
    )
    monkeypatch.setattr("werkzeug.serving.run_simple", lambda *a, **kw: None)
    for name in ("GITINT_DEV", "GITINT_ALLOW_PRIVATE_HOSTS", "GITINT_BASE_URL"):
        monkeypatch.setenv(name, "")
    _reset_schema()
    try:
        assert runner.invoke(args=["gitint", "demo", "--port", "5098"]).exit_code == 0
        first = started[0].base_url
        started[0].stop()  # the first demo process has ended
        assert runner.invoke(args=["gitint", "demo", "--port", "5098"]).exit_code == 0
        assert started[1].base_url == first
        urls = db.session.scalars(select(Integration.base_url))
        assert set(urls) == {first}
    finally:
        for host in started[1:]:
            host.stop()
        db.session.remove()


def test_issue_links_lead_to_the_dev_hosts_issue_page(dev_app):
    """Does the issue link a pull request's description carries (the dev tenants' Jira base URL
    + /browse/KEY, Connect and Forge) open the dev host's issue page?"""
    client = dev_app.test_client()
    connect = client.get("/browse/DEV-1")
    assert connect.status_code == 302 and connect.location.endswith("/dev/jira")
    forge = client.get("/dev/jira/browse/DEV-1")
    assert forge.status_code == 302 and forge.location.endswith("/dev/jira?mode=forge")
    assert client.get(connect.location).status_code == 200


def test_fake_hosts_token_page_names_the_token_that_works():
    """Does the fake git host's New token page say which token works there?"""
    from urllib.request import urlopen

    from gitint.dev.fakehost import FakeGitHost, demo_state

    with FakeGitHost(demo_state()) as host:
        page = urlopen(host.base_url + "/settings/tokens/new?scopes=repo").read().decode()  # noqa: S310
    assert "<code>ghp_demo_developer_token</code>" in page and "Personal access token" in page


def test_dev_host_theme_switch(dev_app):
    """Does ?theme=dark load the dark tokens, mark the page dark and keep the theme in links, and
    an increased-contrast theme load its tokens with data-contrast-mode="more"?"""
    client = dev_app.test_client()
    light = client.get("/dev/jira").get_data(as_text=True)
    assert 'data-color-mode="light"' in light and "dev/tokens-light." in light
    dark = client.get("/dev/jira?theme=dark&open=create-branch").get_data(as_text=True)
    assert 'data-color-mode="dark"' in dark and "dev/tokens-dark." in dark
    assert "open=create-pull-request&amp;theme=dark" in dark
    assert 'data-close-url="/dev/jira?user=developer&amp;theme=dark"' in dark
    assert "data-contrast-mode" not in dark
    more = client.get("/dev/jira?theme=light-increased-contrast").get_data(as_text=True)
    assert '<html lang="en" data-color-mode="light" data-contrast-mode="more">' in more
    assert "dev/tokens-light-increased-contrast." in more
    assert 'theme=dark-increased-contrast">Dark, increased contrast</a>' in more
    unknown = client.get("/dev/jira?theme=sepia").get_data(as_text=True)
    assert 'data-color-mode="light">' in unknown and "dev/tokens-light." in unknown
