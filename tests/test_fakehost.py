"""The demo/browser-test git host answers the real GitHub provider the way GitHub does."""

import pytest

from gitint.dev.fakehost import FakeGitHost, demo_state
from gitint.providers import make_provider
from gitint.providers.base import AuthExpired, BranchExists, HostSettings, PullRequestExists


@pytest.fixture
def host():
    with FakeGitHost(demo_state()) as running:
        yield running


def provider(host, token="ghp_demo_developer_token"):
    settings = HostSettings(kind="github_enterprise", base_url=host.base_url)
    return make_provider(settings, token, allow_private=True)


def test_full_flow_through_the_github_provider(host):
    """Do validate, list, create branch and create PR work end to end against the fake host?"""
    github = provider(host)
    assert github.validate().login == "dev-user"
    repos = list(github.list_repositories())
    assert len(repos) == 43
    web_app = next(r for r in repos if r.full_name == "acme/web-app")
    assert {b.name for b in github.list_branches(web_app)} >= {"main", "develop"}
    github.list_branches(web_app)  # revalidates with If-None-Match → 304
    branch = github.create_branch(web_app, "DEV-1-fix-login", "main")
    assert branch.name == "DEV-1-fix-login"
    pr = github.create_pull_request(web_app, "DEV-1-fix-login", "main", "DEV-1 Fix", "", False)
    assert pr.web_url.endswith("/acme/web-app/pull/1")
    with pytest.raises(BranchExists):
        github.create_branch(web_app, "DEV-1-fix-login", "main")
    with pytest.raises(PullRequestExists) as exists:
        github.create_pull_request(web_app, "DEV-1-fix-login", "main", "DEV-1 Fix", "", False)
    assert exists.value.url == pr.web_url


def test_revoked_token_is_a_401(host):
    """Does a revoked token get GitHub's 401 Bad credentials?"""
    host.state.tokens["ghp_demo_developer_token"]["valid"] = False
    with pytest.raises(AuthExpired):
        provider(host).validate()
