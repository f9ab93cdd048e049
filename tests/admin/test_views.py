"""The admin pages: permissions, tenant isolation, adding/editing integrations, feature
settings, sync, delete and the audit log."""

import re
from datetime import timedelta

import pytest
import responses
from sqlalchemy import func, select

from gitint import queue
from gitint.extensions import db
from gitint.models import AuditEvent, Credential, Integration, Repository, utcnow
from gitint.providers.base import AuthExpired, Identity, Unavailable
from tests.admin.conftest import ADMIN, repos
from tests.conftest import context_headers, entry_url

CANARY = "ghp_CANARY0canary1CANARY2canary3zz"


def admin_routes(app):
    """Every (method, rule) of the admin blueprint."""
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("admin."):
            for method in sorted(rule.methods & {"GET", "POST"}):
                yield method, rule


def url_of(rule, integration_id):
    return rule.rule.replace("<int:integration_id>", str(integration_id))


def add(client, headers, **fields):
    data = {"kind": "github", "name": "Acme GitHub", "token": "ghp_token0000000000abcd"}
    data.update(fields)
    return client.post("/admin/integrations/new", data=data, headers=headers)


def count(model, *where):
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


# ---------------------------------------------------------------- who may use the pages


def test_admin_blueprint_has_the_expected_routes(app):
    """Are all the admin pages registered (so the permission tests below cover them)?"""
    endpoints = {rule.endpoint for _, rule in admin_routes(app)}
    assert {
        "admin.integrations",
        "admin.new_integration",
        "admin.integration",
        "admin.update_settings",
        "admin.preview",
        "admin.repository_sync",
        "admin.delete_integration",
        "admin.audit_log",
    } <= endpoints


def test_non_admin_gets_403_on_every_admin_route(app, client, tenant, developer, make_integration):
    """Does a non-administrator get the 403 page on every admin route, GET and POST?"""
    integration = make_integration(tenant)
    for method, rule in admin_routes(app):
        response = client.open(
            url_of(rule, integration.id), method=method, headers=developer, data={"name": "x"}
        )
        assert response.status_code == 403, (method, rule.rule)
        assert "Jira administrator" in response.get_data(as_text=True)
    assert db.session.get(Integration, integration.id).name == integration.name


def test_non_admin_entry_gets_403(client, tenant):
    """Does opening the admin page from Jira without admin rights show the 403 page?"""
    response = client.get(entry_url(tenant, "/admin/integrations"))
    assert response.status_code == 403
    text = response.get_data(as_text=True)
    assert "You need to be a <strong>Jira administrator</strong>" in text
    assert "permission in this project" not in text  # being one is not a project permission


def test_admin_entry_opens_the_page(client, tenant, make_integration):
    """Does the iframe entry with ADMINISTER show the integrations list as a full page?"""
    make_integration(tenant, name="Acme GitHub")
    response = client.get(entry_url(tenant, "/admin/integrations", permissions=ADMIN))
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<html" in body and "Acme GitHub" in body and "@integration-bot" in body
    assert response.headers["Cache-Control"] == "no-store"


def test_no_context_header_is_401(app, client, tenant, make_integration):
    """Is every admin route refused with 401 without a verified context?"""
    integration = make_integration(tenant)
    for method, rule in admin_routes(app):
        response = client.open(url_of(rule, integration.id), method=method)
        assert response.status_code == 401, (method, rule.rule)


def test_state_changing_routes_refuse_get(client, tenant, admin, make_integration):
    """Is GET on the settings route (it only changes state) a 405?"""
    integration = make_integration(tenant)
    response = client.get(f"/admin/integrations/{integration.id}/settings", headers=admin)
    assert response.status_code == 405


def test_other_tenants_integration_is_404(
    app, client, make_tenant, make_integration, admin, tenant
):
    """Is another tenant's integration id a 404 on every admin route that takes one?"""
    other = make_integration(make_tenant(), name="Theirs")
    routes = [(m, r) for m, r in admin_routes(app) if "integration_id" in r.arguments]
    assert routes
    for method, rule in routes:
        response = client.open(
            url_of(rule, other.id), method=method, headers=admin, data={"name": "mine"}
        )
        assert response.status_code == 404, (method, rule.rule)
    db.session.expire_all()
    assert db.session.get(Integration, other.id).name == "Theirs"


@pytest.mark.parametrize("integration_id", [2**31, 2**63, 10**30])
def test_ids_past_the_integer_range_are_404(app, client, admin, integration_id):
    """Is an id past the database's integer range a 404 on every admin route that takes one
    (PostgreSQL and SQLite raise on it instead of finding nothing)?"""
    routes = [(m, r) for m, r in admin_routes(app) if "integration_id" in r.arguments]
    for method, rule in routes:
        response = client.open(
            url_of(rule, integration_id), method=method, headers=admin, data={"name": "x"}
        )
        assert response.status_code == 404, (method, rule.rule)


@pytest.mark.parametrize(
    "body",
    ["0", "false", "[1, 2]", '"text"', "[" * 50_000],
    ids=["0", "false", "list", "text", "deep"],
)
def test_a_json_body_is_never_taken_for_the_form(client, admin, tenant, make_integration, body):
    """Is a JSON body on a form route ignored (the form is empty and says so), never a 500?"""
    integration = make_integration(tenant)
    headers = {**admin, "Content-Type": "application/json"}
    for path in (
        "/admin/integrations/new",
        f"/admin/integrations/{integration.id}",
        f"/admin/integrations/{integration.id}/settings",
    ):
        response = client.post(path, data=body, headers=headers)
        assert response.status_code < 500, path


def test_list_shows_only_this_tenants_integrations(
    client, make_tenant, make_integration, admin, tenant, make_repo
):
    """Does the list show this tenant's integrations with counts, and none of another tenant's?"""
    mine = make_integration(tenant, name="Mine", require_user_pat=True)
    make_repo(mine, "org/a")
    make_repo(mine, "org/b")
    make_integration(make_tenant(), name="Theirs")
    body = client.get("/admin/integrations", headers=admin).get_data(as_text=True)
    assert "Mine" in body and "Theirs" not in body
    row = re.search(r'<th scope="row">Mine</th>(.*?)</tr>', body, re.S).group(1)
    assert '"Repositories">2</td>' in row and '"Require User PAT">On</td>' in row
    assert "github.com" in row


# ---------------------------------------------------------------- add and edit


def test_add_integration_validates_and_stores_the_credential(client, admin, fake_host, tenant):
    """Is a valid credential checked with the host, sealed, and shown only as last 4 + login?"""
    response = add(client, admin)
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    integration = db.session.scalar(select(Integration).where(Integration.name == "Acme GitHub"))
    assert integration.tenant_id == tenant.id
    assert integration.credential_login == "integration-bot"
    assert integration.credential_last4 == "abcd"
    assert integration.credential_scopes == "repo"
    assert integration.credential_status == "valid"
    assert "ghp_token0000000000abcd" not in integration.credential_ct
    assert fake_host.secrets == ["ghp_token0000000000abcd"]
    assert "@integration-bot" in body and "ghp_token" not in body
    assert count(AuditEvent, AuditEvent.action == "integration.add") == 1


def test_failed_validation_is_not_saved_and_says_why(client, admin, fake_host):
    """Is a credential the host refuses not saved, with the reason under the field, input kept?"""
    fake_host.error = AuthExpired("GitHub refused the access token: it is expired or revoked.")
    response = add(client, admin, name="Kept name")
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'id="token-error">GitHub refused the access token' in body
    assert 'value="Kept name"' in body
    assert count(Integration) == 0


def test_missing_scope_is_named_and_not_saved(client, admin, fake_host):
    """Is a token lacking the needed scope refused with the scope named?"""
    fake_host.identity = Identity(
        login="bot",
        scopes=("read:user",),
        can_create_branch=False,
        can_create_pull_request=False,
        missing_scopes=("repo",),
    )
    response = add(client, admin)
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "lacks the “repo” scope" in body
    assert count(Integration) == 0


def test_unknown_scopes_are_saved_and_said(client, admin, fake_host):
    """When the host cannot tell the scopes, is the credential saved with "scopes unknown"?"""
    fake_host.identity = Identity(login="fine-grained-bot")
    body = add(client, admin).get_data(as_text=True)
    assert "scopes unknown" in body
    integration = db.session.scalar(select(Integration))
    assert (
        integration.credential_scopes is None and integration.credential_login == "fine-grained-bot"
    )


def test_kind_fields_are_required(client, admin, fake_host):
    """Does each kind require its own host fields, with messages under them?"""
    for kind, field in (
        ("github_enterprise", "base_url"),
        ("gitlab_self_managed", "base_url"),
        ("azure_devops", "organization"),
        ("vsts", "organization"),
        ("tfs", "base_url"),
        ("tfs", "server_version"),
        ("codecommit", "region"),
    ):
        data = {"access_key_id": "AKIAEXAMPLE", "secret_access_key": "s3cret"}
        response = add(client, admin, kind=kind, **data)
        assert response.status_code == 422, kind
        assert f'id="{field}-error"' in response.get_data(as_text=True), (kind, field)
    assert fake_host.secrets == []  # no host call with incomplete settings
    assert count(Integration) == 0


def test_codecommit_needs_both_keys(client, admin, fake_host):
    """Is a CodeCommit integration stored with KEY_ID:SECRET, and refused with only one part?"""
    response = add(client, admin, kind="codecommit", region="eu-west-1", access_key_id="AKIA1")
    assert response.status_code == 422
    assert "Enter both the access key ID and the secret access key." in response.get_data(True)
    response = add(
        client,
        admin,
        kind="codecommit",
        region="eu-west-1",
        access_key_id="AKIAEXAMPLE",
        secret_access_key="wJalrXUtnFEMI/K7MDENG",
    )
    assert response.status_code == 200
    assert fake_host.secrets == ["AKIAEXAMPLE:wJalrXUtnFEMI/K7MDENG"]
    assert "wJalrXUtnFEMI" not in response.get_data(as_text=True)


def test_kind_switch_renders_only_that_kinds_fields(client, admin):
    """Does choosing a kind return only the fields block with the fields that kind needs?"""
    headers = {**admin, "HX-Target": "fields"}
    body = client.get("/admin/integrations/new?kind=tfs", headers=headers).get_data(as_text=True)
    assert body.lstrip().startswith('<div id="fields">')
    assert "Collection URL" in body and "Server version" in body and "Organization" not in body
    body = client.get("/admin/integrations/new?kind=codecommit", headers=headers).get_data(True)
    assert "Region" in body and "Access key ID" in body and "Secret access key" in body
    assert "Personal access token" not in body
    body = client.get("/admin/integrations/new?kind=github", headers=headers).get_data(True)
    assert "Base URL" not in body and "Personal access token" in body


def test_private_base_url_is_refused_under_the_field(client, admin):
    """Does the SSRF guard's sentence appear under Base URL for http:// and private addresses?"""
    for url, sentence in (
        ("http://ghe.example.com", "The base URL must use https."),
        ("https://10.1.2.3", "resolves to a private or reserved address"),
    ):
        response = add(client, admin, kind="github_enterprise", base_url=url)
        body = response.get_data(as_text=True)
        assert response.status_code == 422
        error = re.search(r'id="base_url-error">([^<]*)<', body)
        assert error and sentence in error.group(1), body
    assert count(Integration) == 0


@responses.activate
def test_host_that_is_not_github_points_the_admin_to_the_base_url(client, admin):
    """Is a base URL whose /user answers HTML "could not read" plus "Check the base URL." under
    Base URL (that advice is for the admin page, not the dialogs)?"""
    responses.get("https://ghe.example.com/api/v3/user", body="<html>login</html>")
    response = add(client, admin, kind="github_enterprise", base_url="https://ghe.example.com")
    error = re.search(r'id="base_url-error">([^<]*)<', response.get_data(as_text=True))
    assert response.status_code == 422
    assert error and error.group(1).endswith("could not read; try again. Check the base URL.")
    assert count(Integration) == 0


def test_duplicate_name_is_refused(client, admin, fake_host, tenant, make_integration):
    """Is a second integration with the same name refused under the Name field?"""
    make_integration(tenant, name="Acme GitHub")
    response = add(client, admin)
    assert response.status_code == 422
    assert 'id="name-error">Another integration already has this name.' in response.get_data(True)


def test_edit_with_empty_credential_keeps_the_stored_one(
    client, admin, fake_host, tenant, make_integration
):
    """On edit, does leaving the credential empty keep it (no host call) and save the name?"""
    integration = make_integration(tenant, name="Old")
    sealed = integration.credential_ct
    response = client.post(
        f"/admin/integrations/{integration.id}",
        data={"kind": "github", "name": "New", "token": ""},
        headers=admin,
    )
    assert response.status_code == 200
    db.session.expire_all()
    assert integration.name == "New" and integration.credential_ct == sealed
    assert fake_host.secrets == []


def test_edit_with_new_credential_validates_it(client, admin, fake_host, tenant, make_integration):
    """On edit, is a new credential checked and stored, and a refused one not stored?"""
    integration = make_integration(tenant)
    sealed = integration.credential_ct
    fake_host.error = Unavailable("The git host could not be reached; try again.")
    url = f"/admin/integrations/{integration.id}"
    response = client.post(
        url, data={"kind": "github", "name": "G", "token": "ghp_new1"}, headers=admin
    )
    assert response.status_code == 422
    assert "could not be reached" in response.get_data(as_text=True)
    db.session.expire_all()
    assert integration.credential_ct == sealed
    fake_host.error = None
    response = client.post(
        url, data={"kind": "github", "name": "G", "token": "ghp_new2"}, headers=admin
    )
    assert response.status_code == 200
    db.session.expire_all()
    assert integration.credential_ct != sealed and integration.credential_last4 == "new2"


def test_changing_the_host_needs_the_credential_again(
    client, admin, fake_host, tenant, make_integration, make_repo, make_credential
):
    """Does moving an integration to another host require the credential, and then drop the old
    host's repositories and users' credentials (so no token is sent to the new host)?"""
    integration = make_integration(tenant)
    make_repo(integration, "org/a")
    make_credential(integration, "alice")
    url = f"/admin/integrations/{integration.id}"
    data = {"kind": "github_enterprise", "name": "G", "base_url": "https://ghe.example.com"}
    response = client.post(url, data=data, headers=admin)
    assert response.status_code == 422
    assert "enter the credential again" in response.get_data(as_text=True)
    assert count(Repository) == 1 and count(Credential) == 1
    response = client.post(url, data={**data, "token": "ghp_ghe0001"}, headers=admin)
    assert response.status_code == 200
    db.session.expire_all()
    assert integration.kind == "github_enterprise"
    assert integration.base_url == "https://ghe.example.com"
    assert count(Repository) == 0 and count(Credential) == 0


# ---------------------------------------------------------------- feature settings


def settings_data(**changes):
    data = {
        "allow_branch": "y",
        "allow_pull_request": "y",
        "branch_template": "${issuetype}/${issuekey}-${summary}",
        "separator": "-",
        "max_length": "60",
        "type_prefixes": "Bug=bugfix\nStory: feature",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_require_user_pat_is_saved_and_read_back(client, admin, tenant, make_integration):
    """Is Require User PAT (with the other settings) saved by Update and shown checked after?"""
    integration = make_integration(tenant)
    url = f"/admin/integrations/{integration.id}/settings"
    response = client.post(url, data=settings_data(require_user_pat="y"), headers=admin)
    assert response.status_code == 200
    assert response.get_data(as_text=True).lstrip().startswith('<section id="settings"')
    db.session.expire_all()
    assert integration.require_user_pat is True
    assert integration.type_prefixes == {"Bug": "bugfix", "Story": "feature"}
    assert integration.max_length == 60
    page = client.get(f"/admin/integrations/{integration.id}", headers=admin).get_data(True)
    assert re.search(r'<input[^>]* checked[^>]*id="require_user_pat"', page)
    assert "Bug=bugfix\nStory=feature" in page
    client.post(url, data=settings_data(), headers=admin)  # unchecked → off
    db.session.expire_all()
    assert integration.require_user_pat is False
    events = db.session.scalars(select(AuditEvent.detail).order_by(AuditEvent.id)).all()
    assert events == ["Require User PAT on.", "Require User PAT off."]


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"max_length": "201"}, "max_length", "from 10 to 200"),
        ({"max_length": ""}, "max_length", "from 10 to 200"),
        ({"branch_template": "${summary}"}, "branch_template", "must contain ${issuekey}"),
        ({"branch_template": "${issuekey}-${title}"}, "branch_template", "Unknown variable"),
        ({"type_prefixes": "Bug bugfix"}, "type_prefixes", "Line 1"),
        ({"type_prefixes": "Bug=bug fix"}, "type_prefixes", "the prefix"),
    ],
)
def test_invalid_settings_are_refused_under_the_field(
    client, admin, tenant, make_integration, changes, field, message
):
    """Are invalid settings refused (422) with the message under the field and input kept?"""
    integration = make_integration(tenant)
    response = client.post(
        f"/admin/integrations/{integration.id}/settings",
        data=settings_data(require_user_pat="y", **changes),
        headers=admin,
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 422
    assert message in re.search(rf'id="{field}-error">([^<]*)<', body).group(1)
    assert re.search(r'<input[^>]* checked[^>]*id="require_user_pat"', body)
    db.session.expire_all()
    assert integration.require_user_pat is False


def test_preview_shows_the_branch_name_for_a_sample_issue(client, admin, tenant, make_integration):
    """Does the live preview render the name the typed settings give for the sample issue?"""
    integration = make_integration(tenant)
    query = settings_data()
    response = client.get(
        f"/admin/integrations/{integration.id}/preview",
        query_string=query,
        headers={**admin, "HX-Target": "preview"},
    )
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<div" not in body  # the inner content of #preview
    assert "<code>bugfix/DEV-123-fix-the-login-redirect-on-safari</code>" in body
    query["branch_template"] = "${nope}"
    body = client.get(
        f"/admin/integrations/{integration.id}/preview", query_string=query, headers=admin
    ).get_data(as_text=True)
    assert "Fix the settings above" in body


def test_tfs_without_pats_warns(client, admin, tenant, make_integration):
    """Does a TFS 2015 integration warn that Require User PAT makes creation unavailable?"""
    old = make_integration(
        tenant, kind="tfs", base_url="https://tfs.example.com/tfs/Default", server_version="2015"
    )
    new = make_integration(
        tenant, kind="tfs", base_url="https://tfs.example.com/tfs/Default", server_version="2018"
    )
    warning = "branch and pull request creation are unavailable"
    assert warning in client.get(f"/admin/integrations/{old.id}", headers=admin).get_data(True)
    assert warning not in client.get(f"/admin/integrations/{new.id}", headers=admin).get_data(True)


def test_tfs_fields_follow_the_server_version(client, admin, fake_host):
    """Do TFS 2013/2015 ask for the account's user name and password (no "Personal access token"
    field), TFS 2017+ for a token, and is user:password what gets checked with the host?"""
    headers = {**admin, "HX-Target": "fields"}
    old = client.get(
        "/admin/integrations/new?kind=tfs&server_version=2015", headers=headers
    ).get_data(as_text=True)
    assert '<label for="account_user">User name</label>' in old
    assert '<label for="token">Password</label>' in old and "Personal access token" not in old
    new = client.get(
        "/admin/integrations/new?kind=tfs&server_version=2018", headers=headers
    ).get_data(as_text=True)
    assert "Personal access token" in new and "account_user" not in new
    assert 'hx-params="kind,server_version,base_url"' in new  # the version re-renders these
    base = {"kind": "tfs", "base_url": "https://tfs.example.com/tfs/Default", "token": "pw"}
    response = add(client, admin, server_version="2015", **base)
    assert response.status_code == 422 and "Enter both the user name and the password." in (
        response.get_data(as_text=True)
    )
    add(client, admin, server_version="2015", account_user="CORP\\gitint", **base)
    assert fake_host.secrets == ["CORP\\gitint:pw"]


def test_require_user_pat_help_names_tfs_2013_and_2015(client, admin, tenant, make_integration):
    """Does the Require User PAT help of a TFS integration say TFS 2013/2015 cannot use it?"""
    tfs = make_integration(
        tenant, kind="tfs", base_url="https://tfs.example.com/tfs/Default", server_version="2018"
    )
    body = client.get(f"/admin/integrations/{tfs.id}", headers=admin).get_data(as_text=True)
    assert "TFS 2013 and 2015 have no personal access tokens, so they cannot use it." in body


def test_token_field_after_an_error_says_enter_it_again(client, admin, fake_host):
    """After a refused save the token field is empty (a password field): does it say so?"""
    response = add(client, admin, name="")
    body = response.get_data(as_text=True)
    assert response.status_code == 422 and 'value="ghp_token' not in body
    assert '<p class="hint" id="token-hint">Enter it again: a secret is not sent back' in body
    fresh = client.get("/admin/integrations/new", headers=admin).get_data(as_text=True)
    assert "Enter it again" not in fresh


# ---------------------------------------------------------------- sync, delete


def test_sync_button_runs_the_sync_and_progress_stops_polling(
    client, admin, tenant, make_integration, fake_host
):
    """Does Sync repositories store the host's repositories, and the component stop polling
    when done (while it polls every second during a run)?"""
    integration = make_integration(tenant)
    fake_host.pages = [repos(0, 3), repos(3, 5)]
    url = f"/admin/integrations/{integration.id}/sync"
    response = client.post(url, headers={**admin, "HX-Target": "sync"})
    body = response.get_data(as_text=True)
    assert response.status_code == 200
    assert body.lstrip().startswith('<section id="sync"')
    assert "5 repositories" in body and "every 1s" not in body
    assert count(Repository, Repository.integration_id == integration.id) == 5
    db.session.expire_all()
    integration.sync_state, integration.sync_done, integration.synced_at = "running", 2, utcnow()
    integration.sync_lease_until = utcnow() + timedelta(minutes=1)
    db.session.commit()
    body = client.get(url, headers=admin).get_data(as_text=True)
    assert 'hx-trigger="every 1s"' in body and "<progress" in body and 'value="2"' in body
    again = client.post(url, headers=admin).get_data(as_text=True)
    assert "A sync is already queued or running; your request joins it." in again
    integration.sync_lease_until = utcnow() - timedelta(seconds=1)  # its worker died
    db.session.commit()
    body = client.get(url, headers=admin).get_data(as_text=True)
    assert "stopped\n    without finishing; another worker resumes it" in body
    assert 'hx-trigger="every 1s"' in body
    integration.sync_state = "queued"
    db.session.commit()
    body = client.get(url, headers=admin).get_data(as_text=True)
    assert "waiting for a worker" in body and 'hx-trigger="every 1s"' in body
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "sync.manual"))
    assert (event.account_id, event.result) == ("admin-1", "success")
    assert event.detail == "5 repositories synced, 0 removed."


def test_a_clicked_sync_is_audited_by_the_admins_display_name(
    client, admin, tenant, make_integration, fake_host
):
    """Does the audit row of a sync an admin clicked carry their display name at the time (the
    account id on hover in the log), while a scheduled sync still says "Schedule"?"""
    integration = make_integration(tenant)
    fake_host.pages = [repos(0, 2)]
    client.post(f"/admin/integrations/{integration.id}/sync", headers=admin)
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "sync.manual"))
    assert (event.account_id, event.display_name) == ("admin-1", "Dev User")
    queue.request_sync(integration.id, "scheduled", "scheduler")
    body = client.get("/admin/audit", headers=admin).get_data(as_text=True)
    assert '<span title="Jira account ID: admin-1">Dev User</span>' in body
    assert '<span title="Jira account ID: scheduler">Schedule</span>' in body


def test_sync_error_is_shown(client, admin, tenant, make_integration, fake_host):
    """Does a sync the host refuses show the reason and mark the credential?"""
    integration = make_integration(tenant)
    fake_host.pages = [repos(0, 2), AuthExpired("GitHub refused the access token.", revoked=True)]
    body = client.post(f"/admin/integrations/{integration.id}/sync", headers=admin).get_data(True)
    assert "GitHub refused the access token." in body and "failed" in body
    db.session.expire_all()
    assert integration.credential_status == "revoked"


def test_delete_confirms_then_cascades(
    client, admin, tenant, make_integration, make_repo, make_credential
):
    """Does delete ask first, then remove the integration, its repositories and users'
    credentials, and record it in the audit log?"""
    integration = make_integration(tenant, name="Doomed")
    keep = make_integration(tenant, name="Kept")
    make_repo(integration, "org/a")
    make_repo(keep, "org/b")
    make_credential(integration, "alice")
    make_credential(keep, "alice")
    url = f"/admin/integrations/{integration.id}/delete"
    confirm = client.get(url, headers=admin).get_data(as_text=True)
    assert "Delete Doomed?" in confirm and "1 user personal access token " in confirm
    assert count(Integration) == 2
    response = client.post(url, headers=admin)
    assert response.status_code == 200
    assert "The integration Doomed was deleted." in response.get_data(as_text=True)
    db.session.expire_all()
    assert count(Integration) == 1
    assert count(Repository) == 1 and count(Credential) == 1
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "integration.delete"))
    assert event.integration_name == "Doomed" and event.account_id == "admin-1"


# ---------------------------------------------------------------- audit log


def audit(tenant_id, n, **fields):
    values = {"account_id": "user-1", "action": "create_branch", "result": "success"}
    values.update(fields)
    return AuditEvent(tenant_id=tenant_id, integration_name=f"I{n}", **values)


def test_audit_log_filters_and_pages(client, admin, tenant, make_tenant):
    """Does the audit page show only this tenant's events, filter them, and page them?"""
    other = make_tenant()
    events = [audit(tenant.id, n, repository=f"org/r{n}") for n in range(60)]
    events.append(
        audit(
            tenant.id,
            99,
            account_id="bob",
            result="error",
            acting="user_pat",
            acting_login="bob-gh",
            detail="The branch already exists.",
        )
    )
    events.append(audit(other.id, 0, account_id="mallory", repository="secret/repo"))
    db.session.add_all(events)
    db.session.commit()
    body = client.get("/admin/audit", headers=admin).get_data(as_text=True)
    assert "61 events, page 1 of 2" in body and "secret/repo" not in body
    page2 = client.get("/admin/audit?page=2", headers={**admin, "HX-Target": "results"})
    assert page2.get_data(as_text=True).lstrip().startswith('<section id="results"')
    assert "page 2 of 2" in page2.get_data(as_text=True)
    body = client.get("/admin/audit?result=error", headers=admin).get_data(as_text=True)
    assert "1 event." in body and "as @bob-gh with their own token" in body
    body = client.get("/admin/audit?user=bob", headers=admin).get_data(as_text=True)
    assert "1 event." in body
    body = client.get("/admin/audit?user=mallory", headers=admin).get_data(as_text=True)
    assert "0 events." in body
    body = client.get("/admin/audit?since=2000-01-01&until=2000-01-02", headers=admin)
    assert "0 events." in body.get_data(as_text=True)


def test_audit_log_reads_in_words(client, admin, tenant, make_integration, fake_host):
    """Does the log name actions in words, users by the display name they had (the account id
    on hover), the created branch linked in Detail, who acted, and refused token saves?"""
    github = make_integration(tenant, "github")  # the link is on its web host: a link
    events = [
        audit(
            tenant.id,
            1,
            integration_id=github.id,
            account_id="557058:alice",
            display_name="Alice Liddell",
            action="create_branch",
            repository="acme/web-app",
            acting="user_pat",
            acting_login="alice",
            detail="DEV-1-fix-login",
            link="https://github.com/acme/web-app/tree/DEV-1-fix-login",
        ),
        audit(tenant.id, 2, action="settings.update", acting="integration", acting_login="bot"),
        audit(tenant.id, 3, account_id="scheduler", action="sync.scheduled"),
    ]
    db.session.add_all(events)
    db.session.commit()
    body = client.get("/admin/audit", headers=admin).get_data(as_text=True)
    assert '<span title="Jira account ID: 557058:alice">Alice Liddell</span>' in body
    assert ">Created branch<" in body and ">Changed feature settings<" in body
    assert '<span title="Jira account ID: scheduler">Schedule</span>' in body  # nobody clicked
    assert '<a class="ident" href="https://github.com/acme/web-app/tree/DEV-1-fix-login"' in body
    assert "as @alice with their own token" in body and "as the integration account @bot" in body
    assert '<option value="create_branch">Created branch</option>' in body  # the filter, too
    by_name = client.get("/admin/audit?user=Alice+Liddell", headers=admin).get_data(True)
    assert "1 event." in by_name


def test_refused_token_save_is_audited(client, tenant, make_integration, monkeypatch):
    """Is a token the host refuses recorded (as an error, with the reason, never the token)?"""
    from gitint.views import pats

    integration = make_integration(tenant)

    def refuse(*args, **kwargs):
        raise AuthExpired("GitHub refused the token: it is expired or revoked.")

    monkeypatch.setattr(pats, "save_credential", refuse)
    headers = context_headers(tenant)
    response = client.post(
        f"/pats/{integration.id}", data={"token": "ghp_refused000000001"}, headers=headers
    )
    assert response.status_code == 422
    event = db.session.scalar(select(AuditEvent))
    assert (event.action, event.result) == ("pat_saved", "error")
    assert event.display_name == "Dev User"  # the name the user had, kept with the event
    assert "expired or revoked" in event.detail and "ghp_refused" not in str(vars(event))


# ---------------------------------------------------------------- no secret leaves


def test_integration_credential_never_appears_in_any_response(
    app, client, tenant, fake_host, caplog
):
    """Across every admin page and action, is the integration credential absent from every
    response body and header, the audit log and the logs?"""
    admin = context_headers(tenant, "admin-1", ADMIN, issue_key=None, project_key=None)
    fake_host.pages = [repos(0, 2)]
    seen = []

    def call(method, url, headers=None, **kwargs):
        response = client.open(url, method=method, headers={**admin, **(headers or {})}, **kwargs)
        seen.append(response)
        return response

    call("GET", "/admin/integrations/new")
    call(
        "POST",
        "/admin/integrations/new",
        data={"kind": "github", "name": "Canary", "token": CANARY},
    )
    integration = db.session.scalar(select(Integration))
    iid = integration.id
    fake_host.error = AuthExpired("GitHub refused the access token.")
    call(
        "POST",
        f"/admin/integrations/{iid}",
        data={"kind": "github", "name": "Canary", "token": CANARY + "x"},
    )
    fake_host.error = None
    call("POST", f"/admin/integrations/{iid}", data={"kind": "github", "name": "Canary 2"})
    call("GET", "/admin/integrations")
    seen.append(client.get(entry_url(tenant, "/admin/integrations", permissions=ADMIN)))
    call("GET", f"/admin/integrations/{iid}")
    call("GET", f"/admin/integrations/{iid}?kind=github", headers={"HX-Target": "fields"})
    call("POST", f"/admin/integrations/{iid}/settings", data=settings_data(require_user_pat="y"))
    call("GET", f"/admin/integrations/{iid}/preview", query_string=settings_data())
    call("POST", f"/admin/integrations/{iid}/sync")
    call("GET", f"/admin/integrations/{iid}/sync")
    call("GET", "/admin/audit")
    call("GET", f"/admin/integrations/{iid}/delete")
    call("POST", f"/admin/integrations/{iid}/delete")
    assert fake_host.secrets[0] == CANARY  # the canary did reach the host
    for response in seen:
        assert CANARY not in response.get_data(as_text=True)
        for name, value in response.headers.items():
            assert CANARY not in value, name
    for event in db.session.scalars(select(AuditEvent)):
        assert CANARY not in " ".join(str(v) for v in vars(event).values())
    assert CANARY not in caplog.text
