"""GitHub provider against canned answers shaped like the official REST description."""

import json
import time
from datetime import datetime

import pytest
import requests
from responses import matchers

from gitint.providers import REGISTRY
from gitint.providers.base import (
    AuthExpired,
    BlockedHost,
    BranchExists,
    HostSettings,
    InvalidName,
    Malformed,
    MissingScope,
    NoAccess,
    NotFound,
    ProviderError,
    PullRequestExists,
    RateLimited,
    ReadOnly,
    Repo,
    Unavailable,
)
from gitint.providers.github import GitHub, parse_expiry

from .conftest import canned

TOKEN = "ghp_" + "S3cr3tT0k3n" * 3
API = "https://api.github.com"
REPO = Repo(host_id="1296269", full_name="octocat/Hello-World", default_branch="master")
SHA = "aa218f56b14c9653891f9e74264a383fa43fefbd"


def github(kind="github", base_url=None, **kw):
    return GitHub(HostSettings(kind=kind, base_url=base_url), TOKEN, **kw)


def data(name):
    return canned("github", name)


def repos_page(start):
    return [
        dict(data("repository"), id=n, full_name=f"octocat/repo-{n}") for n in (start, start + 1)
    ]


def branch_page(*names):
    return [dict(data("branches")[0], name=name) for name in names]


# ------------------------------------------------------------ registry and URLs


def test_registered_for_both_kinds():
    """Do both GitHub kinds resolve to the GitHub provider?"""
    assert REGISTRY["github"] is GitHub
    assert REGISTRY["github_enterprise"] is GitHub


def test_new_token_url_cloud_and_enterprise():
    """Does the New token link pre-select the repo scope on github.com and on GHES?"""
    assert github().new_token_url() == (
        "https://github.com/settings/tokens/new?scopes=repo&description=gitint"
    )
    ghes = github("github_enterprise", "https://ghe.example.com/")
    assert ghes.new_token_url() == (
        "https://ghe.example.com/settings/tokens/new?scopes=repo&description=gitint"
    )


def test_web_urls():
    """Do branch and pull request links point at the web UI, not the API?"""
    gh = github()
    assert (
        gh.web_url_for_branch(REPO, "ABC-1/x")
        == "https://github.com/octocat/Hello-World/tree/ABC-1/x"
    )
    assert gh.web_url_for_pull_request(REPO, "7") == "https://github.com/octocat/Hello-World/pull/7"


def test_enterprise_uses_api_v3_root(mocked, public_dns):
    """Does a GHES base URL become {base}/api/v3 for API calls?"""
    mocked.get("https://ghe.example.com/api/v3/user", json=data("user"))
    identity = github("github_enterprise", "https://ghe.example.com").validate()
    assert identity.login == "octocat"
    assert mocked.calls[0].request.url == "https://ghe.example.com/api/v3/user"


def test_enterprise_private_address_refused_before_any_call(sockets, monkeypatch):
    """Is a GHES host that resolves to a private address refused without opening a connection
    (so the token is never sent)?"""
    monkeypatch.setattr(
        "gitint.providers.http.resolve",
        lambda host, port, **kw: [(2, 1, 6, "", ("10.0.0.5", port))],
    )
    with pytest.raises(BlockedHost):
        github("github_enterprise", "https://ghe.internal.example").validate()
    assert sockets == []


def test_enterprise_private_address_allowed_when_configured(mocked):
    """With private hosts allowed, does an http GHES URL work?"""
    mocked.get("http://10.0.0.5/api/v3/user", json=data("user"))
    gh = github("github_enterprise", "http://10.0.0.5", allow_private=True)
    assert gh.validate().login == "octocat"


def test_sends_documented_headers(mocked):
    """Does every call carry Bearer auth, the GitHub media type and the API version?"""
    mocked.get(f"{API}/user", json=data("user"))
    github().validate()
    headers = mocked.calls[0].request.headers
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["Accept"] == "application/vnd.github+json"
    assert headers["X-GitHub-Api-Version"] == "2022-11-28"
    assert headers["User-Agent"].startswith("gitint/")


# ------------------------------------------------------------ validate


def test_validate_classic_token_with_repo_scope(mocked):
    """Does a classic token with repo report its owner, scopes, expiry and abilities?"""
    mocked.get(
        f"{API}/user",
        json=data("user"),
        headers={
            "X-OAuth-Scopes": "repo, read:org",
            "GitHub-Authentication-Token-Expiration": "2021-10-07 19:07:53 UTC",
        },
    )
    identity = github().validate()
    assert identity.login == "octocat"
    assert identity.display_name == "monalisa octocat"
    assert identity.scopes == ("repo", "read:org")
    assert identity.expires_at == datetime(2021, 10, 7, 19, 7, 53)
    assert identity.can_create_branch is True
    assert identity.can_create_pull_request is True
    assert identity.missing_scopes == ()


def test_validate_classic_token_without_repo_scope(mocked):
    """Is a classic token lacking repo reported as unable, naming the missing scope?"""
    mocked.get(f"{API}/user", json=data("user"), headers={"X-OAuth-Scopes": "public_repo, gist"})
    identity = github().validate()
    assert identity.can_create_branch is False
    assert identity.can_create_pull_request is False
    assert identity.missing_scopes == ("repo",)


def test_validate_fine_grained_token_is_unknown(mocked):
    """Does a fine-grained token (no X-OAuth-Scopes) leave scopes and abilities unknown?"""
    mocked.get(f"{API}/user", json=data("user"))
    identity = github().validate()
    assert identity.scopes is None
    assert identity.can_create_branch is None
    assert identity.can_create_pull_request is None
    assert identity.missing_scopes == ()
    assert identity.expires_at is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2021-10-07 19:07:53 UTC", datetime(2021, 10, 7, 19, 7, 53)),
        ("2021-10-07 19:07:53 +0000", datetime(2021, 10, 7, 19, 7, 53)),
        ("2021-10-07 21:07:53 +0200", datetime(2021, 10, 7, 19, 7, 53)),
        ("soon", None),
        (None, None),
    ],
)
def test_parse_expiry(value, expected):
    """Is the token expiry header read as naive UTC in both of its forms?"""
    assert parse_expiry(value) == expected


def test_validate_bad_credentials(mocked):
    """Does a 401 mean the token is expired or revoked?"""
    mocked.get(f"{API}/user", json=data("bad_credentials"), status=401)
    with pytest.raises(AuthExpired, match="expired or has been revoked"):
        github().validate()


# ------------------------------------------------------------ repositories and branches


def test_list_repositories_follows_three_pages(mocked):
    """Are all pages of /user/repos read by following Link rel=next?"""
    url = f"{API}/user/repos"
    for page in (1, 2, 3):
        params = {"per_page": "100"} if page == 1 else {"per_page": "100", "page": str(page)}
        link = f'<{url}?per_page=100&page={page + 1}>; rel="next", <{url}?page=3>; rel="last"'
        mocked.get(
            url,
            json=repos_page(page * 10),
            headers={"Link": link} if page < 3 else {},
            match=[matchers.query_param_matcher(params)],
        )
    repos = list(github().list_repositories())
    assert [r.host_id for r in repos] == ["10", "11", "20", "21", "30", "31"]
    assert repos[0] == Repo(
        host_id="10",
        full_name="octocat/repo-10",
        default_branch="master",
        web_url="https://github.com/octocat/Hello-World",
    )
    assert len(mocked.calls) == 3


def test_list_branches_all_pages_and_search(mocked):
    """Are branches read from every page and filtered case-insensitively?"""
    url = f"{API}/repos/octocat/Hello-World/branches"
    pages = [("master", "ABC-1-login"), ("abc-2-fix", "develop"), ("release/abc-3",)]
    for page, names in enumerate(pages, start=1):
        params = {"per_page": "100"} if page == 1 else {"per_page": "100", "page": str(page)}
        link = {"Link": f'<{url}?per_page=100&page={page + 1}>; rel="next"'} if page < 3 else {}
        mocked.get(
            url,
            json=branch_page(*names),
            headers=link,
            match=[matchers.query_param_matcher(params)],
        )
    branches = github().list_branches(REPO, search="Abc")
    assert [b.name for b in branches] == ["ABC-1-login", "abc-2-fix", "release/abc-3"]
    assert branches[0].sha == "c5b97d5ae6c19d5c5df71a34c7fbeeda2479ccbc"
    assert branches[2].web_url == "https://github.com/octocat/Hello-World/tree/release/abc-3"


def test_list_branches_revalidates_with_etag(mocked):
    """Does the second listing send If-None-Match and reuse the body on 304?"""
    url = f"{API}/repos/octocat/Hello-World/branches"
    mocked.get(url, status=304, match=[matchers.header_matcher({"If-None-Match": '"abc"'})])
    mocked.get(url, json=data("branches"), headers={"ETag": '"abc"'})
    first = github().list_branches(REPO)
    second = github().list_branches(REPO)
    assert first == second and [b.name for b in second] == ["master"]
    assert "If-None-Match" not in mocked.calls[0].request.headers
    assert mocked.calls[1].request.headers["If-None-Match"] == '"abc"'
    assert mocked.calls[1].response.status_code == 304


def test_get_branch(mocked):
    """Does get_branch read the head sha from the ref, keeping slashes in the name?"""
    mocked.get(f"{API}/repos/octocat/Hello-World/git/ref/heads/feature/a%20b", json=data("git_ref"))
    branch = github().get_branch(REPO, "feature/a b")
    assert branch.name == "feature/a b"
    assert branch.sha == SHA


def test_get_branch_missing(mocked):
    """Is a missing branch a NotFound that names it?"""
    mocked.get(
        f"{API}/repos/octocat/Hello-World/git/ref/heads/nope",
        json=data("not_found"),
        status=404,
        headers={"X-OAuth-Scopes": "repo", "X-Accepted-OAuth-Scopes": "repo"},
    )
    with pytest.raises(NotFound, match="The branch nope does not exist."):
        github().get_branch(REPO, "nope")


# ------------------------------------------------------------ create branch


def test_create_branch_two_calls(mocked):
    """Does creating a branch take exactly two calls: base sha, then the new ref?"""
    mocked.get(f"{API}/repos/octocat/Hello-World/git/ref/heads/master", json=data("git_ref"))
    mocked.post(
        f"{API}/repos/octocat/Hello-World/git/refs",
        json=dict(data("git_ref"), ref="refs/heads/ABC-1-x"),
        status=201,
        match=[matchers.json_params_matcher({"ref": "refs/heads/ABC-1-x", "sha": SHA})],
    )
    branch = github().create_branch(REPO, "ABC-1-x", "master")
    assert branch.name == "ABC-1-x" and branch.sha == SHA
    assert branch.web_url == "https://github.com/octocat/Hello-World/tree/ABC-1-x"
    assert len(mocked.calls) == 2


def test_create_branch_exists_links_to_it(mocked):
    """Is 'Reference already exists' a BranchExists with a link to the branch?"""
    mocked.get(f"{API}/repos/octocat/Hello-World/git/ref/heads/master", json=data("git_ref"))
    mocked.post(
        f"{API}/repos/octocat/Hello-World/git/refs", json=data("reference_exists"), status=422
    )
    with pytest.raises(BranchExists) as caught:
        github().create_branch(REPO, "ABC-1-x", "master")
    assert caught.value.url == "https://github.com/octocat/Hello-World/tree/ABC-1-x"
    assert "ABC-1-x already exists" in str(caught.value)
    assert len(mocked.calls) == 2


def test_create_branch_missing_base(mocked):
    """Is a missing base branch named, with no attempt to create the ref?"""
    mocked.get(
        f"{API}/repos/octocat/Hello-World/git/ref/heads/gone", json=data("not_found"), status=404
    )
    with pytest.raises(NotFound, match="base branch gone does not exist"):
        github().create_branch(REPO, "ABC-1-x", "gone")
    assert len(mocked.calls) == 1


def test_create_branch_invalid_name(mocked):
    """Is a name GitHub refuses an InvalidName?"""
    mocked.get(f"{API}/repos/octocat/Hello-World/git/ref/heads/master", json=data("git_ref"))
    mocked.post(f"{API}/repos/octocat/Hello-World/git/refs", json=data("invalid_ref"), status=422)
    with pytest.raises(InvalidName):
        github().create_branch(REPO, "bad..name", "master")


def test_create_branch_missing_permission_fine_grained(mocked):
    """Does a 403 with X-Accepted-GitHub-Permissions name the permission the token lacks?"""
    mocked.get(f"{API}/repos/octocat/Hello-World/git/ref/heads/master", json=data("git_ref"))
    mocked.post(
        f"{API}/repos/octocat/Hello-World/git/refs",
        json=data("not_accessible"),
        status=403,
        headers={"X-Accepted-GitHub-Permissions": "contents=write"},
    )
    with pytest.raises(MissingScope, match="Contents: write") as caught:
        github().create_branch(REPO, "ABC-1-x", "master")
    assert caught.value.scope == "contents=write"


# ------------------------------------------------------------ pull requests


def test_create_pull_request_one_call(mocked):
    """Does opening a PR take one call with title, head, base, body and draft?"""
    sent = {
        "title": "ABC-1 Login",
        "head": "new-topic",
        "base": "master",
        "body": "Jira: ABC-1",
        "draft": True,
    }
    mocked.post(
        f"{API}/repos/octocat/Hello-World/pulls",
        json=data("pull_request"),
        status=201,
        match=[matchers.json_params_matcher(sent)],
    )
    pr = github().create_pull_request(
        REPO, "new-topic", "master", "ABC-1 Login", "Jira: ABC-1", True
    )
    assert pr.id == "1347"
    assert pr.web_url == "https://github.com/octocat/Hello-World/pull/1347"
    assert (pr.source, pr.target) == ("new-topic", "master")
    assert len(mocked.calls) == 1


def test_create_pull_request_exists_links_to_it(mocked):
    """Is 'A pull request already exists' a PullRequestExists linking to the open PR?"""
    mocked.post(
        f"{API}/repos/octocat/Hello-World/pulls", json=data("pull_request_exists"), status=422
    )
    mocked.get(
        f"{API}/repos/octocat/Hello-World/pulls",
        json=data("pulls"),
        match=[
            matchers.query_param_matcher(
                {"head": "octocat:new-topic", "base": "master", "state": "open"}
            )
        ],
    )
    with pytest.raises(PullRequestExists) as caught:
        github().create_pull_request(REPO, "new-topic", "master", "t", "d", False)
    assert caught.value.url == "https://github.com/octocat/Hello-World/pull/1347"


def test_create_pull_request_no_commits(mocked):
    """Is 'No commits between' a clear sentence rather than a raw host message?"""
    mocked.post(f"{API}/repos/octocat/Hello-World/pulls", json=data("no_commits"), status=422)
    with pytest.raises(ProviderError, match="nothing to merge"):
        github().create_pull_request(REPO, "new-topic", "master", "t", "d", False)


def test_find_open_pull_request_none(mocked):
    """Is 'no open PR' answered with None?"""
    mocked.get(f"{API}/repos/octocat/Hello-World/pulls", json=[])
    assert github().find_open_pull_request(REPO, "a", "master") is None


# ------------------------------------------------------------ errors


@pytest.mark.parametrize("status", [403, 404])
def test_missing_classic_scope(mocked, status):
    """Does X-Accepted-OAuth-Scopes absent from X-OAuth-Scopes become MissingScope(repo)?"""
    mocked.get(
        f"{API}/repos/octocat/Hello-World/branches",
        json=data("not_found"),
        status=status,
        headers={"X-OAuth-Scopes": "read:user", "X-Accepted-OAuth-Scopes": "repo"},
    )
    with pytest.raises(MissingScope, match="repo") as caught:
        github().list_branches(REPO)
    assert caught.value.scope == "repo"


def test_repo_not_found_is_no_access(mocked):
    """Is a 404 on a repository with the right scope NoAccess?"""
    mocked.get(
        f"{API}/repos/octocat/Hello-World/branches",
        json=data("not_found"),
        status=404,
        headers={"X-OAuth-Scopes": "repo", "X-Accepted-OAuth-Scopes": "repo"},
    )
    with pytest.raises(NoAccess):
        github().list_branches(REPO)


def test_sso_required(mocked):
    """Does X-GitHub-SSO tell the user to authorize the token for single sign-on?"""
    mocked.get(
        f"{API}/repos/octocat/Hello-World/branches",
        json={"message": "Resource protected by organization SAML enforcement."},
        status=403,
        headers={
            "X-GitHub-SSO": "required; url=https://github.com/orgs/octo/sso?authorization_request=A1"
        },
    )
    with pytest.raises(MissingScope, match="single sign-on") as caught:
        github().list_branches(REPO)
    assert "https://github.com/orgs/octo/sso?authorization_request=A1" in str(caught.value)


def test_primary_rate_limit_403(mocked):
    """Is a 403 with x-ratelimit-remaining 0 RateLimited until x-ratelimit-reset?"""
    reset = int(time.time()) + 120
    mocked.get(
        f"{API}/user/repos",
        json=data("rate_limited"),
        status=403,
        headers={"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(reset)},
    )
    with pytest.raises(RateLimited) as caught:
        list(github().list_repositories())
    assert 115 <= caught.value.retry_after <= 120


def test_secondary_rate_limit_429(mocked):
    """Is a 429 with retry-after RateLimited for that many seconds?"""
    mocked.post(
        f"{API}/repos/octocat/Hello-World/pulls",
        status=429,
        json={"message": "You have exceeded a secondary rate limit."},
        headers={"retry-after": "30"},
    )
    with pytest.raises(RateLimited, match="30 s") as caught:
        github().create_pull_request(REPO, "a", "master", "t", "d", False)
    assert caught.value.retry_after == 30


@pytest.mark.parametrize("timeout", [requests.ConnectTimeout, requests.ReadTimeout])
def test_timeout_is_unavailable(mocked, timeout):
    """Does a connect or read timeout become Unavailable?"""
    mocked.get(f"{API}/user", body=timeout("timed out"))
    with pytest.raises(Unavailable):
        github().validate()


@pytest.mark.parametrize("status", [301, 302])
def test_redirect_not_followed(mocked, status):
    """Is a redirect refused rather than followed with the credential?"""
    mocked.get(f"{API}/user", status=status, headers={"Location": "https://evil.example/user"})
    with pytest.raises(ProviderError, match="redirect"):
        github().validate()
    assert len(mocked.calls) == 1


ERROR_ANSWERS = [
    (401, "bad_credentials", {}),
    (403, "not_accessible", {"X-Accepted-GitHub-Permissions": "contents=write"}),
    (404, "not_found", {"X-OAuth-Scopes": "gist", "X-Accepted-OAuth-Scopes": "repo"}),
    (404, "not_found", {}),
    (403, "rate_limited", {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "1"}),
    (422, "reference_exists", {}),
    (422, "pull_request_exists", {}),
    (500, "not_found", {}),
]


@pytest.mark.parametrize(("status", "body", "headers"), ERROR_ANSWERS)
def test_credential_never_in_errors(mocked, status, body, headers):
    """Does no error's str, repr or args ever contain the token?"""
    mocked.get(f"{API}/repos/octocat/Hello-World/git/ref/heads/master", json=data("git_ref"))
    mocked.post(
        f"{API}/repos/octocat/Hello-World/git/refs", json=data(body), status=status, headers=headers
    )
    with pytest.raises(ProviderError) as caught:
        github().create_branch(REPO, "x", "master")
    error = caught.value
    for text in (str(error), repr(error), json.dumps(error.args), repr(vars(error))):
        assert TOKEN not in text and "S3cr3t" not in text
    assert TOKEN not in repr(github())


def test_create_pull_request_source_missing(mocked):
    """Is a head branch GitHub calls invalid reported as a missing source branch?"""
    body = {
        "message": "Validation Failed",
        "errors": [{"resource": "PullRequest", "field": "head", "code": "invalid"}],
        "documentation_url": "https://docs.github.com/rest/pulls/pulls#create-a-pull-request",
    }
    mocked.post(f"{API}/repos/octocat/Hello-World/pulls", json=body, status=422)
    with pytest.raises(NotFound) as caught:
        github().create_pull_request(REPO, "gone", "master", "t", "d", False)
    assert str(caught.value) == "The source branch gone does not exist in octocat/Hello-World."


@pytest.mark.parametrize(("status", "body"), [(403, "not_accessible"), (404, "not_found")])
def test_read_only_collaborator(mocked, status, body):
    """Is a write refused for a classic `repo` token whose user may only read (permissions.push
    false) "can read but cannot push", naming GitHub Write — after one look at the repository?"""
    mocked.get(f"{API}/repos/octocat/Hello-World/git/ref/heads/master", json=data("git_ref"))
    mocked.post(
        f"{API}/repos/octocat/Hello-World/git/refs",
        json=data(body),
        status=status,
        headers={"X-OAuth-Scopes": "repo", "X-Accepted-OAuth-Scopes": "repo"},
    )
    permissions = {"admin": False, "maintain": False, "push": False, "triage": False, "pull": True}
    mocked.get(
        f"{API}/repos/octocat/Hello-World",
        json={"id": 1296269, "full_name": "octocat/Hello-World", "permissions": permissions},
    )
    with pytest.raises(ReadOnly) as caught:
        github().create_branch(REPO, "x", "master")
    assert caught.value.said("rita", "octocat/Hello-World") == (
        "@rita can read octocat/Hello-World but cannot push to it; "
        "ask for write access (GitHub Write)."
    )
    assert len(mocked.calls) == 3


def test_fine_grained_token_forbidden_without_permission_header(mocked):
    """Is 'Resource not accessible by personal access token' a MissingScope even unnamed?"""
    mocked.post(f"{API}/repos/octocat/Hello-World/pulls", json=data("not_accessible"), status=403)
    with pytest.raises(MissingScope):
        github().create_pull_request(REPO, "a", "master", "t", "d", False)


def test_empty_repository(mocked):
    """Does an empty repository get a sentence instead of a bare 409?"""
    mocked.get(
        f"{API}/repos/octocat/Hello-World/git/ref/heads/main",
        json={"message": "Git Repository is empty."},
        status=409,
    )
    with pytest.raises(ProviderError, match="empty"):
        github().create_branch(REPO, "ABC-1", "main")


def test_enterprise_base_url_that_is_not_github(mocked, public_dns):
    """Is a GHES base URL that answers HTML a clear error rather than a crash?"""
    mocked.get("https://ghe.example.com/api/v3/user", body="<html>login</html>")
    with pytest.raises(Malformed, match="could not read") as raised:
        github("github_enterprise", "https://ghe.example.com").validate()
    assert "base URL" not in str(raised.value)  # that advice is for the admin page only
