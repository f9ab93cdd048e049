"""Faults said right: our own earlier create recognised after a lost answer, sentences that
blame the right thing, an empty or taken Branch name, and host-supplied links shown as links
only on the integration's web host."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from gitint.creating import RECOVERED
from gitint.extensions import db
from gitint.hosts import web_link
from gitint.models import AuditEvent, utcnow

from .conftest import API, branch_form, get, github_pull, github_ref, post, pr_form

BRANCH = "/dialogs/create-branch"
PULL = "/dialogs/create-pull-request"
NAME = "DEV-1-fix-the-login-page"


def html(response) -> str:
    return response.get_data(as_text=True)


def audit_rows():
    return db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()


def branch_exists(host):
    host.post(
        f"{API}/repos/acme/api/git/refs", status=422, json={"message": "Reference already exists"}
    )


def pull_exists(host, author="integration-bot", created=None, html_url=None):
    """GitHub's 422 for an open PR, and the PR its list returns."""
    message = f"A pull request already exists for acme:{NAME}."
    github_pull(
        host, status=422, json={"message": "Validation Failed", "errors": [{"message": message}]}
    )
    created = created or utcnow()
    existing = {
        "number": 3,
        "title": "DEV-1 Fix the login page",
        "html_url": html_url or "https://github.com/acme/api/pull/3",
        "head": {"ref": NAME},
        "base": {"ref": "main"},
        "user": {"login": author},
        "created_at": created.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    host.get(f"{API}/repos/acme/api/pulls", json=[existing])


# ---------------------------------------------------------------- lost answer, then retry


def test_branch_at_the_base_commit_is_our_earlier_create(client, setup, host):
    """After a lost answer, is "already exists" for a branch at the base's head a success
    (link, Create pull request, audited as success) in 4 GitHub calls?"""
    tenant, _, repo = setup
    github_ref(host)  # main → SHA
    branch_exists(host)
    github_ref(host, branch=NAME)  # also SHA: the branch we made
    response = post(client, tenant, BRANCH, branch_form(repo))
    body = html(response)
    assert response.status_code == 200, body
    assert "already created by your earlier request" in body
    assert f'href="https://github.com/acme/api/tree/{NAME}"' in body
    assert ">Create pull request</button>" in body
    assert len(host.calls) == 4
    (event,) = audit_rows()
    assert event.result == "success" and event.detail.endswith(RECOVERED)


def test_branch_elsewhere_still_already_exists(client, setup, host):
    """Is a same-named branch at another commit still "already exists", with its link?"""
    tenant, _, repo = setup
    github_ref(host)
    branch_exists(host)
    host.get(
        f"{API}/repos/acme/api/git/ref/heads/{NAME}",
        json={"ref": f"refs/heads/{NAME}", "object": {"sha": "b" * 40}},
    )
    response = post(client, tenant, BRANCH, branch_form(repo))
    assert response.status_code == 422
    assert "already exists" in html(response) and "Open the existing branch" in html(response)
    assert audit_rows()[-1].result == "error"


def test_pull_request_opened_by_us_just_now_is_a_success(client, setup, host):
    """Is an open PR with the same source and target, opened by the acting login within the
    idempotency window, our own earlier create (2 calls, audited as success)?"""
    tenant, _, repo = setup
    pull_exists(host)
    response = post(client, tenant, PULL, pr_form(repo))
    body = html(response)
    assert response.status_code == 200, body
    assert 'href="https://github.com/acme/api/pull/3"' in body
    assert len(host.calls) == 2
    assert audit_rows()[-1].result == "success"
    assert audit_rows()[-1].detail.endswith(RECOVERED)


@pytest.mark.parametrize(
    ("author", "age"), [("someone-else", timedelta(0)), ("integration-bot", timedelta(hours=2))]
)
def test_pull_request_of_someone_else_or_old_still_exists(client, setup, host, author, age):
    """Is a PR opened by another login, or long ago, still "already exists" with its link?"""
    tenant, _, repo = setup
    pull_exists(host, author=author, created=utcnow() - age)
    response = post(client, tenant, PULL, pr_form(repo))
    assert response.status_code == 422
    assert "already exists" in html(response)
    assert 'href="https://github.com/acme/api/pull/3"' in html(response)


# ---------------------------------------------------------------- sentences that blame right


def test_read_only_collaborator_is_told_to_ask_for_write(client, setup, host):
    """Does a classic repo token of a read-only collaborator get "@login can read REPO but
    cannot push to it", not "lacks a permission" or "no access"?"""
    tenant, _, repo = setup
    github_ref(host)
    host.post(
        f"{API}/repos/acme/api/git/refs",
        status=403,
        json={"message": "Resource not accessible by personal access token"},
        headers={"X-OAuth-Scopes": "repo", "X-Accepted-OAuth-Scopes": "repo"},
    )
    host.get(
        f"{API}/repos/acme/api", json={"full_name": "acme/api", "permissions": {"push": False}}
    )
    response = post(client, tenant, BRANCH, branch_form(repo, name="DEV-1-kept"))
    body = html(response)
    assert response.status_code == 422
    assert (
        "@integration-bot can read acme/api but cannot push to it; "
        "ask for write access (GitHub Write)."
    ) in body
    assert "lacks" not in body and "no access" not in body
    assert 'value="DEV-1-kept"' in body
    assert audit_rows()[-1].detail.startswith("@integration-bot can read acme/api")


def test_unreadable_answer_does_not_send_a_developer_to_the_base_url(client, setup, host):
    """Is a create answered with something that is not JSON one sentence without "check the
    base URL", input kept?"""
    tenant, _, repo = setup
    github_ref(host)
    host.post(f"{API}/repos/acme/api/git/refs", status=201, body="<html>proxy</html>")
    response = post(client, tenant, BRANCH, branch_form(repo))
    body = html(response)
    assert response.status_code == 422
    assert "The git host sent an answer gitint could not read; try again." in body
    assert "base URL" not in body
    assert f'value="{NAME}"' in body


def test_gitlab_target_branch_missing_names_it(
    client, make_tenant, make_integration, make_repo, host
):
    """Is GitLab's refusal for a missing target branch "The target branch X does not exist in
    REPO."?"""
    tenant = make_tenant()
    integration = make_integration(tenant, kind="gitlab", secret="glpat-integration0000")
    repo = make_repo(integration, "acme/api", host_id="3", web_url="https://gitlab.com/acme/api")
    host.post(
        "https://gitlab.com/api/v4/projects/3/merge_requests",
        status=400,
        json={"message": {"target_branch": ["does not exist"]}},
    )
    response = post(client, tenant, PULL, pr_form(repo, target="gone"))
    assert response.status_code == 422
    assert "The target branch gone does not exist in acme/api." in html(response)


def test_branch_list_without_names_is_one_sentence(client, setup, host):
    """Is a branch list whose items lack "name" one sentence in the dialog (not a 500), with the
    input kept?"""
    tenant, _, repo = setup
    host.get(f"{API}/repos/acme/api/branches", json=[{"commit": {"sha": "a" * 40}}])
    response = post(client, tenant, "/dialogs/create-branch/refresh", branch_form(repo))
    body = html(response)
    assert response.status_code == 200
    assert "The git host sent an answer gitint could not read; try again." in body
    assert f'value="{NAME}"' in body


# ---------------------------------------------------------------- the Branch name field


def test_empty_branch_name_is_asked_for(client, setup, host):
    """Is an emptied Branch name "Enter a branch name." (not the template name, no host call)?"""
    tenant, _, repo = setup
    response = post(client, tenant, BRANCH, branch_form(repo, name=""))
    body = html(response)
    assert response.status_code == 422 and len(host.calls) == 0
    assert "Enter a branch name." in body
    assert 'name="name" type="text" value=""' in body


def test_listed_branch_name_is_flagged_with_its_link(client, setup, host):
    """Is a typed name that is in the loaded branch list flagged at the field, with the link to
    the branch, without a host call?"""
    tenant, _, repo = setup
    url = f"/dialogs/branch-name?repository={repo.id}&name=DEV-1-old&listed=DEV-1-old"
    body = html(get(client, tenant, url))
    assert "A branch named DEV-1-old already exists in acme/api." in body
    assert 'href="https://github.com/acme/api/tree/DEV-1-old"' in body
    free = html(get(client, tenant, f"/dialogs/branch-name?repository={repo.id}&name=DEV-1-new"))
    assert "already exists" not in free
    assert len(host.calls) == 0


# ---------------------------------------------------------------- host-supplied links


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://github.com/acme/api/pull/3", True),
        ("javascript:alert(document.domain)", False),
        ("JavaScript:alert(1)//https://github.com/", False),
        ("http://github.com/acme/api", False),
        ("https://evil.example/acme/api", False),
        ("https://github.com.evil.example/acme", False),
        ("https://github.com@evil.example/acme", False),
        ("https://user@github.com/acme", False),
        ("//github.com/acme/api", False),
        ("https://[::1/", False),
        ("", False),
    ],
)
def test_host_links_only_on_the_web_host(app, setup, url, shown):
    """Is a host-supplied URL a link only when https on the integration's web host?"""
    _, integration, _ = setup
    assert web_link(url, integration) == (url if shown else None)


def test_http_links_with_private_hosts(app, make_tenant, make_integration):
    """With GITINT_ALLOW_PRIVATE_HOSTS, is http on the (GHES) web host a link, and still only
    there?"""
    ghes = make_integration(
        make_tenant(), kind="github_enterprise", base_url="http://10.0.0.5:8080"
    )
    assert web_link("http://10.0.0.5:8080/acme/api", ghes) is None
    app.config["GITINT_ALLOW_PRIVATE_HOSTS"] = True
    assert web_link("http://10.0.0.5:8080/acme/api", ghes) == "http://10.0.0.5:8080/acme/api"
    assert web_link("http://10.0.0.5/acme/api", ghes) is None  # another port: another origin


def test_javascript_link_from_the_host_is_plain_text(client, setup, host):
    """Is a PR link the host gave as javascript: shown as plain text on the success screen and
    on "already exists"?"""
    tenant, _, repo = setup
    github_pull(
        host,
        json={
            "number": 9,
            "title": "DEV-1 Fix the login page",
            "html_url": "javascript:alert(1)",
            "head": {"ref": NAME},
            "base": {"ref": "main"},
        },
    )
    body = html(post(client, tenant, PULL, pr_form(repo)))
    assert "Pull request created" in body and "javascript:" not in body
    assert "DEV-1 Fix the login page" in body


def test_existing_branch_link_elsewhere_is_not_a_link(client, setup, make_repo, host):
    """Is an "already exists" link off the web host left out?"""
    tenant, integration, _ = setup
    repo = make_repo(integration, "acme/web", host_id="102", web_url="https://evil.example/x")
    host.post(
        f"{API}/repos/acme/web/pulls",
        status=422,
        json={
            "message": "Validation Failed",
            "errors": [{"message": "A pull request already exists"}],
        },
    )
    host.get(
        f"{API}/repos/acme/web/pulls",
        json=[
            {
                "number": 4,
                "title": "t",
                "html_url": "https://evil.example/pull/4",
                "head": {"ref": NAME},
                "base": {"ref": "main"},
            }
        ],
    )
    body = html(post(client, tenant, PULL, pr_form(repo)))
    assert "already exists" in body and "evil.example" not in body
