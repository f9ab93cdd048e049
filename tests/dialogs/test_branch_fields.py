"""Base, source and target branches typed into the dialogs: git's ref rules before any host call,
so no name can walk out of the repository's API path (``../../../../user``)."""

import re

import pytest

from .conftest import branch_form, get, github_pull, github_ref, post, pr_form

ESCAPE = "../../../../user"  # once sent GitHub's GET /repos/acme/user with the token
RULE = "cannot contain “..”"


def html(response) -> str:
    return response.get_data(as_text=True)


def field_error(body: str, field: str) -> str:
    """The text under a branch field (its ``{field}-messages`` paragraph)."""
    found = re.search(rf'<p id="{field}-messages"[^>]*>([^<]*)</p>', body)
    assert found, body
    return found.group(1)


@pytest.mark.parametrize("field", ["base", "source", "target"])
def test_branch_check_refuses_a_dot_segment_without_calling_the_host(client, setup, host, field):
    """Does the as-you-type check answer a rule for ``../../../../user`` and call no host?"""
    tenant, _, repo = setup
    response = get(client, tenant, f"/dialogs/branch-check?repository={repo.id}&{field}={ESCAPE}")
    assert response.status_code == 200 and RULE in html(response)
    assert len(host.calls) == 0


def test_create_branch_refuses_a_base_outside_the_repository(client, setup, host):
    """Does Create branch with base ``../../../../user`` come back 422 with the rule under Base
    branch, the input kept, and no host call?"""
    tenant, _, repo = setup
    response = post(client, tenant, "/dialogs/create-branch", branch_form(repo, base=ESCAPE))
    body = html(response)
    assert response.status_code == 422 and len(host.calls) == 0
    assert RULE in field_error(body, "base")
    assert f'name="base" type="text" value="{ESCAPE}"' in body
    assert 'name="name" type="text" value="DEV-1-fix-the-login-page"' in body


@pytest.mark.parametrize("field", ["source", "target"])
def test_create_pull_request_refuses_a_branch_outside_the_repository(client, setup, host, field):
    """Does Create pull request with a source or target ``../../../../user`` come back 422 with
    the rule under that field, the input kept, and no host call?"""
    tenant, _, repo = setup
    form = pr_form(repo, **{field: ESCAPE})
    response = post(client, tenant, "/dialogs/create-pull-request", form)
    body = html(response)
    assert response.status_code == 422 and len(host.calls) == 0
    assert RULE in field_error(body, field)
    assert f'name="{field}" type="text" value="{ESCAPE}"' in body
    assert 'value="DEV-1 Fix the login page"' in body


@pytest.mark.parametrize(
    ("name", "rule"),
    [
        ("feature/.hidden", "can start with “.”"),
        ("a b", "spaces"),
        ("topic.lock", "“.lock”"),
        ("a@{1}", "“@{”"),
        ("HEAD", "“HEAD”"),
        ("-x", "start with “-”"),
    ],
)
def test_every_git_rule_applies_to_the_base(client, setup, host, name, rule):
    """Is any name git refuses stopped at the Base branch field before the host?"""
    tenant, _, repo = setup
    response = post(client, tenant, "/dialogs/create-branch", branch_form(repo, base=name))
    assert response.status_code == 422 and len(host.calls) == 0
    assert rule in field_error(html(response), "base")


def test_existing_branch_names_need_only_git_rules(client, setup, host):
    """Are names a host may already have (``refs/…``, 40 hex, longer than the integration's
    limit for new names) still accepted as a base and a source?"""
    tenant, integration, repo = setup
    odd = "refs/x" + "/y" * integration.max_length
    github_ref(host, branch=odd)
    response = get(client, tenant, f"/dialogs/branch-check?repository={repo.id}&base={odd}")
    assert response.status_code == 200 and html(response) == ""
    github_pull(host)
    response = post(client, tenant, "/dialogs/create-pull-request", pr_form(repo, source="a" * 40))
    assert response.status_code == 200, html(response)


def test_refresh_shows_the_rule_under_the_field(client, setup, host):
    """Does choosing a repository again keep a broken base and say what is wrong with it?"""
    tenant, _, repo = setup
    host.get(f"https://api.github.com/repos/{repo.full_name}/branches", json=[])
    response = post(
        client, tenant, "/dialogs/create-branch/refresh", branch_form(repo, base=ESCAPE)
    )
    assert RULE in field_error(html(response), "base")
    assert [call.request.path_url.split("?")[0] for call in host.calls] == [
        "/repos/acme/api/branches"
    ]
