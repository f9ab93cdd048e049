"""Feature-settings rules and the integration credential check (gitint/settings.py)."""

import pytest

from gitint.models import Integration
from gitint.providers.base import Identity, MissingScope
from gitint.settings import (
    check_credential,
    format_prefixes,
    host_changed,
    parse_prefixes,
    template_problem,
)


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("${issuekey}-${summary}", None),
        ("${issuetype}/${projectkey}/${issuekey}_${summary}", None),
        ("", "Enter a template"),
        ("${summary}", "must contain ${issuekey}"),
        ("${issuekey}-${Summary}", "Unknown variable ${Summary}"),
        ("${issuekey}-${summary", "not closed"),
        ("${issuekey}" + "x" * 200, "at most 200"),
    ],
)
def test_template_rules(template, problem):
    """Are only the four variables accepted, with ${issuekey} required?"""
    found = template_problem(template)
    assert (found is None) if problem is None else (problem in found)


def test_prefix_map_round_trip():
    """Does the type → prefix text parse (= or :) and format back, refusing bad prefixes?"""
    prefixes, problem = parse_prefixes("Bug=bugfix\n\n Story : feature \nTask=chore/tasks")
    assert problem is None
    assert prefixes == {"Bug": "bugfix", "Story": "feature", "Task": "chore/tasks"}
    assert format_prefixes(prefixes) == "Bug=bugfix\nStory=feature\nTask=chore/tasks"
    for bad in ("Bug", "Bug=", "=bugfix", "Bug=bug fix", "Bug=a..b", "Bug=-x", "Bug=x/"):
        assert parse_prefixes(bad)[1], bad


def test_host_changed():
    """Is a change of kind or host field a host change, and a name change not?"""
    integration = Integration(kind="github_enterprise", base_url="https://ghe.example.com")
    same = {"kind": "github_enterprise", "base_url": "https://ghe.example.com"}
    assert not host_changed(integration, same)
    assert host_changed(integration, {**same, "base_url": "https://evil.example.com"})
    assert host_changed(integration, {**same, "kind": "github"})


def test_check_credential_refuses_missing_scopes(app, fake_host):
    """Is a credential that cannot create branches refused, naming the scope; unknown accepted?"""
    integration = Integration(tenant_id=1, kind="github")
    fake_host.identity = Identity(
        login="bot",
        scopes=(),
        can_create_branch=False,
        can_create_pull_request=False,
        missing_scopes=("repo",),
    )
    with pytest.raises(MissingScope, match="“repo”") as raised:
        check_credential(integration, "ghp_x")
    assert raised.value.scope == "repo"
    fake_host.identity = Identity(login="bot", can_create_branch=False)
    with pytest.raises(MissingScope, match="cannot create branches"):
        check_credential(integration, "ghp_x")
    fake_host.identity = Identity(login="bot")  # the host cannot tell
    assert check_credential(integration, "ghp_x").login == "bot"
