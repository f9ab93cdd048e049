"""The Create pull request dialog: defaults, Draft, GitLab's "merge request", creating, errors."""

import json
from datetime import UTC, datetime

from responses import matchers
from sqlalchemy import select

from gitint.creating import newest_branch_with
from gitint.extensions import db
from gitint.models import AuditEvent
from gitint.providers.base import Branch

from .conftest import (
    API,
    branch_form,
    get,
    github_branches,
    github_create_ref,
    github_pull,
    github_ref,
    open_dialog,
    post,
    pr_form,
)

PAGE = "/dialogs/create-pull-request"
CREATE = "/dialogs/create-pull-request"
REFRESH = "/dialogs/create-pull-request/refresh"
GITLAB = "https://gitlab.com/api/v4"


def html(response) -> str:
    return response.get_data(as_text=True)


def test_opening_makes_no_host_call_and_prefills(client, setup, host):
    """Does the dialog open with 0 host calls, the title and a link back to the issue?"""
    tenant, _, _ = setup
    response = open_dialog(client, tenant, PAGE)
    body = html(response)
    assert response.status_code == 200 and len(host.calls) == 0
    assert 'value="DEV-1 Fix the login page"' in body
    assert f"Jira issue: {tenant.base_url}/browse/DEV-1</textarea>" in body
    for label in ("Repository", "Title", "Description", "Draft"):
        assert f">{label}</label>" in body, label
    assert ">Create pull request</button>" in body and ">Cancel</button>" in body


def test_choosing_a_repository_defaults_source_and_target(client, setup, host):
    """Are source (last listed branch with the key) and target (default branch) pre-filled?"""
    tenant, _, repo = setup
    github_branches(host, ["main", "DEV-1-first", "other", "dev-1-second"])
    data = {"repository": repo.id, "repository_name": "acme/api", "title": "Mine"}
    body = html(post(client, tenant, REFRESH, data))
    assert len(host.calls) == 1
    assert 'name="source" type="text" value="dev-1-second"' in body
    assert 'name="target" type="text" value="main"' in body
    assert 'value="Mine"' in body  # the typed title is kept
    assert '<datalist id="branch-list" hx-swap-oob="true">' in body


def test_newest_branch_prefers_commit_dates():
    """With commit dates, is the newest matching branch chosen; without, the last listed?"""
    old = Branch("DEV-1-a", "1", committed_at=datetime(2024, 1, 1, tzinfo=UTC))
    new = Branch("DEV-1-b", "2", committed_at=datetime(2025, 1, 1, tzinfo=UTC))
    assert newest_branch_with([new, old, Branch("main", "3")], "DEV-1") == "DEV-1-b"
    assert (
        newest_branch_with([Branch("DEV-1-a", "1"), Branch("DEV-1-b", "2")], "DEV-1") == "DEV-1-b"
    )
    assert newest_branch_with([Branch("main", "1")], "DEV-1") is None


def test_create_pull_request_with_one_call(client, setup, host):
    """Does Create pull request make exactly 1 call, send draft, link the PR and audit it?"""
    tenant, _, repo = setup
    github_pull(
        host,
        match=[matchers.json_params_matcher({"draft": True}, strict_match=False)],
    )
    response = post(client, tenant, CREATE, pr_form(repo, draft="on"))
    assert response.status_code == 200 and len(host.calls) == 1
    assert 'href="https://github.com/acme/api/pull/7"' in html(response)
    sent = json.loads(host.calls[0].request.body)
    assert sent["head"] == "DEV-1-fix-the-login-page" and sent["base"] == "main"
    assert sent["body"].endswith("/browse/DEV-1")
    event = db.session.scalars(select(AuditEvent)).one()
    assert (event.action, event.acting, event.acting_login) == (
        "create_pull_request",
        "integration",
        "integration-bot",
    )


def test_double_submit_opens_one_pull_request(client, setup, host):
    """Do two identical POSTs open one pull request?"""
    tenant, _, repo = setup
    github_pull(host)
    post(client, tenant, CREATE, pr_form(repo))
    second = post(client, tenant, CREATE, pr_form(repo))
    assert len(host.calls) == 1 and "already created by your earlier request" in html(second)


def test_pull_request_exists_links_to_it(client, setup, host):
    """Does "already exists" link to the open pull request, input kept?"""
    tenant, _, repo = setup
    github_pull(
        host,
        status=422,
        json={
            "message": "Validation Failed",
            "errors": [
                {"message": "A pull request already exists for acme:DEV-1-fix-the-login-page."}
            ],
        },  # noqa: E501
    )
    existing = {
        "number": 3,
        "title": "t",
        "html_url": "https://github.com/acme/api/pull/3",
        "head": {"ref": "DEV-1-fix-the-login-page"},
        "base": {"ref": "main"},
    }
    host.get(f"{API}/repos/acme/api/pulls", json=[existing])
    response = post(client, tenant, CREATE, pr_form(repo, title="Typed title"))
    body = html(response)
    assert response.status_code == 422
    assert "already exists" in body and 'href="https://github.com/acme/api/pull/3"' in body
    assert "Open the existing pull request" in body and 'value="Typed title"' in body


def test_same_source_and_target_is_a_form_error(client, setup, host):
    """Is a pull request from a branch into itself refused before the host?"""
    tenant, _, repo = setup
    response = post(client, tenant, CREATE, pr_form(repo, source="main"))
    assert response.status_code == 422 and len(host.calls) == 0
    assert "must differ from the source branch" in html(response)


def test_pull_requests_switched_off(client, setup, host):
    """When PR creation is off for the integration, is it unavailable with that reason?"""
    tenant, integration, repo = setup
    integration.allow_pull_request = False
    db.session.commit()
    response = post(client, tenant, CREATE, pr_form(repo))
    assert response.status_code == 422 and len(host.calls) == 0
    assert "Creating a pull request is switched off" in html(response)


def test_branch_success_opens_the_prefilled_pull_request_dialog(client, setup, host):
    """After Create branch, does "Create pull request" swap in the PR dialog pre-filled?"""
    tenant, _, repo = setup
    github_ref(host)
    github_create_ref(host)
    body = html(post(client, tenant, "/dialogs/create-branch", branch_form(repo)))
    start = body.index('hx-get="') + len('hx-get="')
    next_url = body[start : body.index('"', start)].replace("&amp;", "&")
    dialog = html(get(client, tenant, next_url))
    assert len(host.calls) == 2  # the swap itself calls no host
    assert "<h1>Create pull request</h1>" in dialog and "<html" not in dialog
    assert 'name="source" type="text" value="DEV-1-fix-the-login-page"' in dialog
    assert 'name="target" type="text" value="main"' in dialog
    assert "Loading branches…" in dialog


def test_branch_loader_lists_branches(client, setup, host):
    """Does the loader of a pre-selected repository return the branch list out of band?"""
    tenant, _, repo = setup
    github_branches(host, ["main", "DEV-1-x"])
    body = html(get(client, tenant, f"/dialogs/branches?repository={repo.id}&action=pull_request"))
    assert '<datalist id="branch-list" hx-swap-oob="true">' in body
    assert '<option value="DEV-1-x"></option>' in body and len(host.calls) == 1


# ---------------------------------------------------------------- GitLab and CodeCommit wording


def gitlab_setup(make_tenant, make_integration, make_repo):
    tenant = make_tenant()
    integration = make_integration(tenant, kind="gitlab", name="GitLab", secret="glpat-bot00001")
    repo = make_repo(
        integration,
        "group/app",
        host_id="42",
        web_url="https://gitlab.com/group/app",
    )
    return tenant, integration, repo


def test_gitlab_says_merge_request(client, make_tenant, make_integration, make_repo, host):
    """On GitLab, does the dialog say "merge request" and the button "Create merge request"?"""
    tenant, _, repo = gitlab_setup(make_tenant, make_integration, make_repo)
    body = html(open_dialog(client, tenant, PAGE))
    assert "<h1>Create merge request</h1>" in body and ">Create merge request</button>" in body
    assert ">Draft</label>" in body and len(host.calls) == 0


def test_gitlab_newest_branch_by_commit_date(
    client, make_tenant, make_integration, make_repo, host
):
    """On GitLab (commit dates listed), is the newest branch with the key the source?"""
    tenant, _, repo = gitlab_setup(make_tenant, make_integration, make_repo)

    def branch(name, date):
        return {"name": name, "commit": {"id": "abc", "committed_date": date}, "web_url": ""}

    host.get(
        f"{GITLAB}/projects/42/repository/branches",
        json=[
            branch("DEV-1-newer", "2025-03-01T10:00:00.000+00:00"),
            branch("DEV-1-older", "2024-03-01T10:00:00.000+00:00"),
            branch("main", "2025-04-01T10:00:00.000+00:00"),
        ],
    )
    body = html(post(client, tenant, REFRESH, {"repository": repo.id}))
    assert 'name="source" type="text" value="DEV-1-newer"' in body


def test_gitlab_create_merge_request(client, make_tenant, make_integration, make_repo, host):
    """Does a GitLab merge request take 1 call, with the Draft: prefix, and link to it?"""
    tenant, _, repo = gitlab_setup(make_tenant, make_integration, make_repo)
    host.post(
        f"{GITLAB}/projects/42/merge_requests",
        json={
            "iid": 5,
            "title": "Draft: DEV-1 Fix the login page",
            "web_url": "https://gitlab.com/group/app/-/merge_requests/5",
            "source_branch": "DEV-1-fix-the-login-page",
            "target_branch": "main",
            "draft": True,
        },
        status=201,
        match=[
            matchers.json_params_matcher(
                {"title": "Draft: DEV-1 Fix the login page"}, strict_match=False
            )
        ],  # noqa: E501
    )
    body = html(post(client, tenant, CREATE, pr_form(repo, draft="on")))
    assert len(host.calls) == 1
    assert "Merge request created:" in body and "/-/merge_requests/5" in body


def test_codecommit_hides_draft(client, make_tenant, make_integration, make_repo, host):
    """Where the host has no drafts (CodeCommit), is the Draft box hidden?"""
    tenant = make_tenant()
    integration = make_integration(
        tenant, kind="codecommit", region="eu-west-1", secret="AKIAEXAMPLE:secret"
    )
    make_repo(integration, "service-repo")
    body = html(open_dialog(client, tenant, PAGE))
    assert "Draft" not in body and ">Create pull request</button>" in body


def test_gitlab_create_branch_is_one_call(client, make_tenant, make_integration, make_repo, host):
    """Does a GitLab branch take exactly 1 call (the base is passed by name)?"""
    tenant, _, repo = gitlab_setup(make_tenant, make_integration, make_repo)
    host.post(
        f"{GITLAB}/projects/42/repository/branches",
        json={"name": "DEV-1-fix-the-login-page", "commit": {"id": "abc"}, "web_url": ""},
        status=201,
    )
    body = html(post(client, tenant, "/dialogs/create-branch", branch_form(repo)))
    assert len(host.calls) == 1 and "Branch created:" in body
    assert ">Create merge request</button>" in body
