"""Fixtures for the dialog tests: a tenant with a GitHub integration and repository, GitHub
mocked with `responses`, and helpers to open a dialog and to post as htmx does."""

import pytest
import responses

from gitint.providers import http
from tests.conftest import context_headers, entry_url

API = "https://api.github.com"
JIRA_PARAMS = {"issueKey": "DEV-1", "projectKey": "DEV", "projectId": "10000"}
SHA = "aa218f56b14c9653891f9e74264a383fa43fefbd"


@pytest.fixture(autouse=True)
def fresh_transport():
    """No kept-alive sessions or ETags carried from one test to the next."""
    http.etags.items.clear()
    http._sessions.clear()
    yield
    http.etags.items.clear()
    http._sessions.clear()


@pytest.fixture
def host():
    """Every outbound request must match a registered answer; unmatched calls fail the test."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        yield mocked


@pytest.fixture
def setup(make_tenant, make_integration, make_repo):
    """One tenant, one GitHub integration (account @integration-bot), one repository."""
    tenant = make_tenant()
    integration = make_integration(tenant, name="GitHub")
    repo = make_repo(integration, "acme/api", host_id="101", default_branch="main")
    return tenant, integration, repo


def open_dialog(client, tenant, path="/dialogs/create-branch", params=None, **kwargs):
    """GET the dialog as Jira's iframe would (signed entry URL)."""
    return client.get(entry_url(tenant, path, {**JIRA_PARAMS, **(params or {})}, **kwargs))


def post(client, tenant, path, data, account_id="user-1", **kwargs):
    """POST from the dialog page as htmx does (context header, HX-Request)."""
    return client.post(path, data=data, headers=context_headers(tenant, account_id, **kwargs))


def get(client, tenant, path, account_id="user-1", **kwargs):
    return client.get(path, headers=context_headers(tenant, account_id, **kwargs))


def branch_form(repo, **fields):
    """What the Create branch form posts once a repository is chosen."""
    data = {
        "repository": str(repo.id),
        "repository_name": repo.full_name,
        "base": "main",
        "base_default": "main",
        "name": "DEV-1-fix-the-login-page",
        "name_default": "DEV-1-fix-the-login-page",
    }
    data.update(fields)
    return data


def pr_form(repo, **fields):
    data = {
        "repository": str(repo.id),
        "repository_name": repo.full_name,
        "source": "DEV-1-fix-the-login-page",
        "source_default": "DEV-1-fix-the-login-page",
        "target": "main",
        "target_default": "main",
        "title": "DEV-1 Fix the login page",
        "description": "Jira issue: https://jira.example.com/browse/DEV-1",
    }
    data.update(fields)
    return data


# ---------------------------------------------------------------- GitHub answers


def github_ref(host, full_name="acme/api", branch="main", status=200):
    body = {"ref": f"refs/heads/{branch}", "object": {"sha": SHA, "type": "commit"}}
    if status != 200:
        body = {"message": "Not Found"}
    host.get(f"{API}/repos/{full_name}/git/ref/heads/{branch}", json=body, status=status)


def github_create_ref(host, full_name="acme/api", name="DEV-1-fix-the-login-page", **kwargs):
    body = kwargs.pop("json", {"ref": f"refs/heads/{name}", "object": {"sha": SHA}})
    host.post(
        f"{API}/repos/{full_name}/git/refs", json=body, status=kwargs.pop("status", 201), **kwargs
    )


def github_branches(host, names, full_name="acme/api"):
    body = [{"name": n, "commit": {"sha": SHA, "url": ""}, "protected": False} for n in names]
    host.get(f"{API}/repos/{full_name}/branches", json=body)


def github_pull(host, full_name="acme/api", number=7, **kwargs):
    body = kwargs.pop(
        "json",
        {
            "number": number,
            "title": "DEV-1 Fix the login page",
            "html_url": f"https://github.com/{full_name}/pull/{number}",
            "head": {"ref": "DEV-1-fix-the-login-page"},
            "base": {"ref": "main"},
            "draft": False,
        },
    )
    host.post(
        f"{API}/repos/{full_name}/pulls", json=body, status=kwargs.pop("status", 201), **kwargs
    )
