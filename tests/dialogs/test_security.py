"""Trying to break the dialogs: no context, no permission, other tenants' ids, wrong methods."""

import pytest

from tests.conftest import context_headers, entry_url

from .conftest import (
    JIRA_PARAMS,
    branch_form,
    get,
    github_create_ref,
    github_ref,
    open_dialog,
    post,
    pr_form,
)

HTMX_GETS = (
    "/dialogs/repositories?repository_name=a",
    "/dialogs/branch-name?name=x",
    "/dialogs/branch-check?base=x",
    "/dialogs/branches?repository=1",
)
POSTS = (
    "/dialogs/create-branch",
    "/dialogs/create-branch/refresh",
    "/dialogs/create-pull-request",
    "/dialogs/create-pull-request/refresh",
)


@pytest.mark.parametrize("path", ("/dialogs/create-branch", "/dialogs/create-pull-request"))
def test_entry_needs_view_dev_tools(client, setup, path):
    """Does a user without View Development Tools get 403 on opening a dialog?"""
    tenant, _, _ = setup
    response = open_dialog(client, tenant, path, permissions=())
    assert response.status_code == 403
    assert "View Development Tools" in response.get_data(as_text=True)


@pytest.mark.parametrize("path", HTMX_GETS + POSTS)
def test_htmx_calls_need_view_dev_tools(client, setup, path):
    """Is the permission checked on every htmx call too?"""
    tenant, _, repo = setup
    call = post if path in POSTS else get
    kwargs = {"data": branch_form(repo)} if call is post else {}
    assert call(client, tenant, path, permissions=(), **kwargs).status_code == 403


@pytest.mark.parametrize("path", HTMX_GETS + POSTS)
def test_htmx_calls_need_the_context_header(client, setup, path):
    """Without the context header, is every call refused with 401?"""
    method = client.post if path in POSTS else client.get
    assert method(path, headers={"HX-Request": "true"}).status_code == 401


@pytest.mark.parametrize(
    "path", ("/dialogs/create-branch/refresh", "/dialogs/create-pull-request/refresh")
)
def test_get_on_state_changing_routes(client, setup, path):
    """Is GET on a POST-only route refused (405)?"""
    tenant, _, _ = setup
    assert get(client, tenant, path).status_code == 405


def test_put_is_refused(client, setup):
    """Is PUT on a dialog route refused (405)?"""
    tenant, _, repo = setup
    response = client.put("/dialogs/create-branch", headers=context_headers(tenant))
    assert response.status_code == 405


def test_other_tenants_repository_is_404(client, setup, make_tenant, make_integration, make_repo):
    """Does posting another tenant's repository id give 404 on every route that loads it?"""
    tenant, _, _ = setup
    other = make_tenant()
    foreign = make_repo(make_integration(other), "evil/repo")
    for path, form in (
        ("/dialogs/create-branch", branch_form(foreign)),
        ("/dialogs/create-branch/refresh", branch_form(foreign)),
        ("/dialogs/create-pull-request", pr_form(foreign)),
        ("/dialogs/create-pull-request/refresh", pr_form(foreign)),
    ):
        assert post(client, tenant, path, form).status_code == 404, path
    assert get(client, tenant, f"/dialogs/branches?repository={foreign.id}").status_code == 404
    url = entry_url(
        tenant, "/dialogs/create-branch", {**JIRA_PARAMS, "repository": str(foreign.id)}
    )
    assert client.get(url).status_code == 404


def test_other_tenants_repository_is_not_checked(
    client, setup, make_tenant, make_integration, make_repo, host
):  # noqa: E501
    """Do the as-you-type checks ignore another tenant's repository (no host call, no data)?"""
    tenant, _, _ = setup
    foreign = make_repo(make_integration(make_tenant()), "evil/repo")
    body = get(client, tenant, f"/dialogs/branch-check?repository={foreign.id}&base=main")
    assert body.get_data(as_text=True) == "" and len(host.calls) == 0


def test_branch_check_answers_are_text_not_markup(client, setup, host):
    """Are the typed name and the host's error sentence escaped in the branch check's answer?"""
    tenant, _, repo = setup
    typed = "<b>x"
    host.get(
        f"https://api.github.com/repos/acme/api/git/ref/heads/{typed}",
        json={"message": "<a href=https://evil.example>Sign in again</a>"},
        status=422,
    )
    body = get(client, tenant, f"/dialogs/branch-check?repository={repo.id}&base={typed}").text
    assert "<a " not in body and "&lt;a href=https://evil.example&gt;" in body
    github_ref(host, branch="<i>y", status=404)
    body = get(client, tenant, f"/dialogs/branch-check?repository={repo.id}&base=<i>y").text
    assert body == "The branch &lt;i&gt;y does not exist in acme/api."


def test_htmx_dialog_swap_needs_permission(client, setup):
    """Is the pre-filled PR dialog (an htmx GET) permission-checked like the entry?"""
    tenant, _, repo = setup
    path = f"/dialogs/create-pull-request?repository={repo.id}&source=x"
    assert get(client, tenant, path, permissions=()).status_code == 403
    assert get(client, tenant, path).status_code == 200


def test_nul_characters_do_not_break_the_database(client, setup, host):
    """Do NUL characters in the inputs give answers, not server errors (PostgreSQL refuses NUL)?"""
    tenant, _, repo = setup
    assert get(client, tenant, "/dialogs/repositories?repository_name=a%00b").status_code == 200
    data = branch_form(repo, base="ma\x00in", name="DEV-1\x00x")
    github_ref(host)
    github_create_ref(host, name="DEV-1x")
    assert post(client, tenant, "/dialogs/create-branch", data).status_code == 200
