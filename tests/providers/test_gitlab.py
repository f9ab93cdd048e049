"""GitLab provider against canned REST v4 answers (``responses``)."""

import json
import re
import socket
import time
from datetime import datetime
from pathlib import Path

import pytest
import requests
import responses
from responses import matchers

from gitint.providers import REGISTRY, http
from gitint.providers.base import (
    AuthExpired,
    BlockedHost,
    BranchExists,
    HostSettings,
    InvalidName,
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
from gitint.providers.gitlab import GitLab

DATA = Path(__file__).parent.parent / "data" / "gitlab"
TOKEN = "glpat-SECRETtoken1234567890"
WEB = "https://gitlab.example.com"
API = f"{WEB}/api/v4"
REPO = Repo(host_id="3", full_name="acme/api", default_branch="main", web_url=f"{WEB}/acme/api")
BRANCHES = f"{API}/projects/3/repository/branches"
MRS = f"{API}/projects/3/merge_requests"


def load(name):
    return json.loads((DATA / f"{name}.json").read_text())


def gitlab(base_url=WEB, allow_private=True, kind="gitlab_self_managed"):
    return GitLab(HostSettings(kind=kind, base_url=base_url), TOKEN, allow_private=allow_private)


# ---------------------------------------------------------------- validate


def test_validate_reads_scopes_expiry_and_login(mocked):
    """Does validate show the owner, the scopes and the expiry, and allow creating with api?"""
    mocked.get(f"{API}/personal_access_tokens/self", json=load("token_self"))
    mocked.get(f"{API}/user", json=load("user"))
    identity = gitlab().validate()
    assert identity.login == "jsmith"
    assert identity.display_name == "John Smith"
    assert identity.scopes == ("api",)
    assert identity.expires_at == datetime(2027, 1, 31)
    assert identity.can_create_branch is True and identity.can_create_pull_request is True
    assert identity.missing_scopes == ()
    assert mocked.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert "PRIVATE-TOKEN" not in mocked.calls[0].request.headers


def test_validate_without_api_scope_names_it(mocked):
    """Does a read_api token validate but say it cannot create, naming the api scope?"""
    mocked.get(
        f"{API}/personal_access_tokens/self",
        json={**load("token_self"), "scopes": ["read_api"], "expires_at": None},
    )
    mocked.get(f"{API}/user", json=load("user"))
    identity = gitlab().validate()
    assert identity.can_create_branch is False and identity.can_create_pull_request is False
    assert identity.missing_scopes == ("api",)
    assert identity.expires_at is None


def test_validate_on_old_gitlab_leaves_scopes_unknown(mocked):
    """Before 15.5 (no /personal_access_tokens/self) are scopes unknown rather than guessed?"""
    mocked.get(f"{API}/personal_access_tokens/self", status=404, json={"message": "404 Not Found"})
    mocked.get(f"{API}/user", json=load("user"))
    identity = gitlab().validate()
    assert identity.login == "jsmith"
    assert identity.scopes is None and identity.expires_at is None
    assert identity.can_create_branch is None and identity.can_create_pull_request is None


def test_validate_with_token_that_cannot_read_itself(mocked):
    """Does a token refused with insufficient_scope fail validation naming api?"""
    mocked.get(
        f"{API}/personal_access_tokens/self",
        status=403,
        json={"error": "insufficient_scope", "scope": "read_user"},
    )
    with pytest.raises(MissingScope) as caught:
        gitlab().validate()
    assert caught.value.scope == "api"


# ---------------------------------------------------------------- lists


def test_list_repositories_follows_keyset_links(mocked):
    """Are all three keyset pages read, in order, with the documented parameters?"""
    first = {
        "membership": "true",
        "simple": "true",
        "archived": "false",
        "pagination": "keyset",
        "order_by": "id",
        "sort": "asc",
        "per_page": "100",
    }
    page2 = f"{API}/projects?{'&'.join(f'{k}={v}' for k, v in first.items())}&id_after=5"
    page3 = page2.replace("id_after=5", "id_after=13")
    mocked.get(
        f"{API}/projects",
        json=load("projects_1"),
        headers={"Link": f'<{page2}>; rel="next"'},
        match=[matchers.query_param_matcher(first)],
    )
    mocked.get(
        page2,
        json=load("projects_2"),
        headers={"Link": f'<{page3}>; rel="next"'},
        match=[matchers.query_param_matcher({**first, "id_after": "5"})],
    )
    mocked.get(
        page3,
        json=load("projects_3"),
        match=[matchers.query_param_matcher({**first, "id_after": "13"})],
    )
    repos = list(gitlab().list_repositories())
    assert [r.host_id for r in repos] == ["3", "5", "8", "13", "21"]
    assert repos[2].full_name == "acme/platform/infra"
    assert repos[2].default_branch == "master"
    assert repos[0].web_url == f"{WEB}/acme/api"
    assert len(mocked.calls) == 3


def branch_pages(mocked, search=None):
    extra = {"search": search} if search else {}
    mocked.get(
        BRANCHES,
        json=load("branches_1"),
        headers={"X-Next-Page": "2", "ETag": 'W/"b1"'},
        match=[matchers.query_param_matcher({"per_page": "100", **extra})],
    )
    mocked.get(
        BRANCHES,
        json=load("branches_2"),
        headers={"X-Next-Page": "3", "ETag": 'W/"b2"'},
        match=[matchers.query_param_matcher({"per_page": "100", "page": "2", **extra})],
    )
    mocked.get(
        BRANCHES,
        json=load("branches_3"),
        headers={"X-Next-Page": "", "ETag": 'W/"b3"'},
        match=[matchers.query_param_matcher({"per_page": "100", "page": "3", **extra})],
    )


def test_list_branches_reads_every_page(mocked):
    """Are branches from all pages returned with sha, naive-UTC commit time and link?"""
    branch_pages(mocked)
    branches = gitlab().list_branches(REPO)
    assert [b.name for b in branches] == [
        "main",
        "PROJ-1-login-page",
        "feature/PROJ-7-search",
        "release/1.0",
        "proj-7-hotfix",
    ]
    assert branches[0].sha == "7b5c3cc8be40ee161ae89a06bba6229da1032a0c"
    assert branches[0].committed_at == datetime(2026, 11, 20, 10, 44, 20)
    assert branches[2].committed_at == datetime(2026, 11, 21, 11, 30)
    assert branches[2].web_url == f"{WEB}/acme/api/-/tree/feature/PROJ-7-search"


def test_list_branches_follows_link_header(mocked):
    """Is a Link rel=next followed as given?"""
    nxt = f"{BRANCHES}?page=2&per_page=100"
    mocked.get(
        BRANCHES,
        json=load("branches_1"),
        headers={"Link": f'<{nxt}>; rel="next"'},
        match=[matchers.query_param_matcher({"per_page": "100"})],
    )
    mocked.get(nxt, json=load("branches_3"))
    assert len(gitlab().list_branches(REPO)) == 3


def test_list_branches_search_is_sent_and_applied(mocked):
    """Is the search passed to GitLab and also applied case-insensitively here?"""
    branch_pages(mocked, search="proj-7")
    names = [b.name for b in gitlab().list_branches(REPO, search="proj-7")]
    assert names == ["feature/PROJ-7-search", "proj-7-hotfix"]


def test_list_branches_revalidates_with_etag(mocked):
    """Does a second listing send If-None-Match and reuse the stored pages on 304?"""
    branch_pages(mocked)
    provider = gitlab()
    first = provider.list_branches(REPO)
    mocked.reset()
    for page, etag in ((None, 'W/"b1"'), ("2", 'W/"b2"'), ("3", 'W/"b3"')):
        params = {"per_page": "100", **({"page": page} if page else {})}
        mocked.get(
            BRANCHES,
            status=304,
            match=[
                matchers.query_param_matcher(params),
                matchers.header_matcher({"If-None-Match": etag}),
            ],
        )
    assert provider.list_branches(REPO) == first
    assert len(mocked.calls) == 3


# ---------------------------------------------------------------- one branch


def test_get_branch_encodes_the_name(mocked):
    """Is a branch name with a slash sent as %2F and parsed?"""
    mocked.get(f"{BRANCHES}/feature%2FPROJ-7-search", json=load("branch"))
    branch = gitlab().get_branch(REPO, "feature/PROJ-7-search")
    assert branch.sha == "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678"
    assert mocked.calls[0].request.url.endswith("/repository/branches/feature%2FPROJ-7-search")


def test_project_path_id_is_encoded(mocked):
    """Is a project addressed by its path sent URL-encoded?"""
    repo = Repo(host_id="acme/api", full_name="acme/api", web_url=f"{WEB}/acme/api")
    mocked.get(f"{API}/projects/acme%2Fapi/repository/branches/main", json=load("branch"))
    gitlab().get_branch(repo, "main")
    assert "/projects/acme%2Fapi/" in mocked.calls[0].request.url


def test_get_missing_branch_names_it(mocked):
    """Does a 404 on a branch say which branch is missing?"""
    mocked.get(f"{BRANCHES}/nope", status=404, json={"message": "404 Branch Not Found"})
    with pytest.raises(NotFound, match="“nope”"):
        gitlab().get_branch(REPO, "nope")


def test_missing_project_is_no_access(mocked):
    """Is a 404 on the project reported as no access (GitLab hides private projects)?"""
    mocked.get(f"{BRANCHES}/main", status=404, json={"message": "404 Project Not Found"})
    with pytest.raises(NoAccess):
        gitlab().get_branch(REPO, "main")


# ---------------------------------------------------------------- create branch


def test_create_branch_is_one_call(mocked):
    """Is a branch created with one POST carrying branch and ref?"""
    mocked.post(
        BRANCHES,
        status=201,
        json=load("branch"),
        match=[matchers.json_params_matcher({"branch": "feature/PROJ-7-search", "ref": "main"})],
    )
    branch = gitlab().create_branch(REPO, "feature/PROJ-7-search", "main")
    assert branch.name == "feature/PROJ-7-search"
    assert branch.web_url == f"{WEB}/acme/api/-/tree/feature/PROJ-7-search"
    assert len(mocked.calls) == 1


def test_create_existing_branch_links_to_it(mocked):
    """Does 'Branch already exists' become BranchExists with the branch link?"""
    mocked.post(BRANCHES, status=400, json={"message": "Branch already exists"})
    with pytest.raises(BranchExists) as caught:
        gitlab().create_branch(REPO, "PROJ-1-login", "main")
    assert caught.value.url == f"{WEB}/acme/api/-/tree/PROJ-1-login"
    assert len(mocked.calls) == 1


@pytest.mark.parametrize(
    "message",
    ["Invalid reference name: nope", "Failed to create branch 'x': invalid reference name 'nope'"],
)
def test_create_branch_from_missing_base(mocked, message):
    """Does an unknown base become NotFound that names the base branch?"""
    mocked.post(BRANCHES, status=400, json={"message": message})
    with pytest.raises(NotFound, match="base branch “nope” does not exist"):
        gitlab().create_branch(REPO, "x", "nope")


def test_create_branch_with_invalid_name(mocked):
    """Does 'Branch name is invalid' become InvalidName?"""
    mocked.post(BRANCHES, status=400, json={"message": "Branch name is invalid"})
    with pytest.raises(InvalidName):
        gitlab().create_branch(REPO, "bad..name", "main")


# ---------------------------------------------------------------- merge requests


def test_create_merge_request_is_one_call(mocked):
    """Is a merge request opened with one POST and returned as a PullRequest?"""
    mocked.post(
        MRS,
        status=201,
        json=load("merge_request"),
        match=[
            matchers.json_params_matcher(
                {
                    "source_branch": "feature/PROJ-7-search",
                    "target_branch": "main",
                    "title": "PROJ-7 Search",
                    "description": "Jira: https://jira.example.com/browse/PROJ-7",
                }
            )
        ],
    )
    pr = gitlab().create_pull_request(
        REPO,
        "feature/PROJ-7-search",
        "main",
        "PROJ-7 Search",
        "Jira: https://jira.example.com/browse/PROJ-7",
        draft=False,
    )
    assert (pr.id, pr.web_url, pr.draft) == ("12", f"{WEB}/acme/api/-/merge_requests/12", False)
    assert len(mocked.calls) == 1


def test_draft_merge_request_gets_title_prefix(mocked):
    """Is a draft sent as a 'Draft: ' title prefix (GitLab has no draft field)?"""
    mocked.post(
        MRS,
        status=201,
        json={**load("merge_request"), "title": "Draft: PROJ-7 Search", "draft": True},
    )
    pr = gitlab().create_pull_request(
        REPO, "feature/PROJ-7-search", "main", "PROJ-7 Search", "", True
    )
    sent = json.loads(mocked.calls[0].request.body)
    assert sent["title"] == "Draft: PROJ-7 Search"
    assert "draft" not in sent
    assert pr.draft is True


def test_existing_merge_request_links_to_it_without_another_call(mocked):
    """Does the 409 array message give the existing MR's link, with no extra call?"""
    mocked.post(
        MRS,
        status=409,
        json={"message": ["Another open merge request already exists for this source branch: !12"]},
    )
    with pytest.raises(PullRequestExists) as caught:
        gitlab().create_pull_request(REPO, "feature/PROJ-7-search", "main", "t", "", False)
    assert caught.value.url == f"{WEB}/acme/api/-/merge_requests/12"
    assert len(mocked.calls) == 1


def test_existing_merge_request_without_reference_is_looked_up(mocked):
    """When the 409 names no !iid (older GitLab), is the open MR looked up for its link?"""
    mocked.post(
        MRS,
        status=409,
        json={"message": ['Cannot Create: This merge request already exists: ["PROJ-7 Search"]']},
    )
    mocked.get(MRS, json=[load("merge_request")])
    with pytest.raises(PullRequestExists) as caught:
        gitlab().create_pull_request(REPO, "feature/PROJ-7-search", "main", "t", "", False)
    assert caught.value.url == f"{WEB}/acme/api/-/merge_requests/12"


def test_find_open_merge_request(mocked):
    """Does find_open_pull_request query opened MRs by source and target?"""
    mocked.get(
        MRS,
        json=[load("merge_request")],
        match=[
            matchers.query_param_matcher(
                {
                    "state": "opened",
                    "source_branch": "feature/PROJ-7-search",
                    "target_branch": "main",
                }
            )
        ],
    )
    pr = gitlab().find_open_pull_request(REPO, "feature/PROJ-7-search", "main")
    assert pr.id == "12"
    mocked.replace(responses.GET, MRS, json=[])
    assert gitlab().find_open_pull_request(REPO, "feature/PROJ-7-search", "main") is None


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("body", "expired", "revoked", "words"),
    [
        (
            {
                "error": "invalid_token",
                "error_description": "Token is expired. You can either do re-authorization or "
                "token refresh.",
            },
            True,
            False,
            "expired",
        ),
        (
            {
                "error": "invalid_token",
                "error_description": "Token was revoked. You have to re-authorize from the user.",
            },
            False,
            True,
            "revoked",
        ),
        ({"message": "401 Unauthorized"}, False, False, "did not accept"),
    ],
)
def test_401_says_why(mocked, body, expired, revoked, words):
    """Are expired, revoked and unknown tokens told apart?"""
    mocked.get(f"{BRANCHES}/main", status=401, json=body)
    with pytest.raises(AuthExpired) as caught:
        gitlab().get_branch(REPO, "main")
    assert (caught.value.expired, caught.value.revoked) == (expired, revoked)
    assert words in str(caught.value)


def test_insufficient_scope_names_the_scope(mocked):
    """Does 403 insufficient_scope become MissingScope('api')?"""
    mocked.post(
        BRANCHES,
        status=403,
        json={
            "error": "insufficient_scope",
            "error_description": "The request requires higher privileges than provided by the "
            "access token.",
            "scope": "api",
        },
    )
    with pytest.raises(MissingScope) as caught:
        gitlab().create_branch(REPO, "x", "main")
    assert caught.value.scope == "api"
    assert "“api”" in str(caught.value)


def test_plain_403_on_a_write_is_read_only(mocked):
    """Is a plain 403 on a write (a Reporter) "can read but cannot push", naming Developer, and
    a plain 403 on a read still no access?"""
    mocked.post(BRANCHES, status=403, json={"message": "403 Forbidden"})
    with pytest.raises(ReadOnly) as caught:
        gitlab().create_branch(REPO, "x", "main")
    assert caught.value.said("rita", "acme/api") == (
        "@rita can read acme/api but cannot push to it; ask for write access (GitLab Developer)."
    )
    mocked.post(f"{API}/projects/3/merge_requests", status=403, json={"message": "403 Forbidden"})
    with pytest.raises(ReadOnly):
        gitlab().create_pull_request(REPO, "x", "main", "t", "d", False)
    mocked.get(BRANCHES, status=403, json={"message": "403 Forbidden"})
    with pytest.raises(NoAccess):
        gitlab().list_branches(REPO)


@pytest.mark.parametrize(
    "body",
    [
        {"message": {"target_branch": ["does not exist"]}},
        {"message": ['Target branch "gone" does not exist']},
        {"message": {"target_branch": ["can't be blank", "is invalid"]}},
    ],
)
def test_missing_target_branch_is_named(mocked, body):
    """Is a merge request refused for its target branch "The target branch X does not exist in
    REPO." (not a missing project or access)?"""
    mocked.post(f"{API}/projects/3/merge_requests", status=400, json=body)
    with pytest.raises(NotFound) as caught:
        gitlab().create_pull_request(REPO, "DEV-1-x", "gone", "t", "d", False)
    assert str(caught.value) == "The target branch gone does not exist in acme/api."


def test_missing_source_branch_is_named(mocked):
    """Is a refused source branch named as the source?"""
    body = {"message": {"source_branch": ["does not exist"]}}
    mocked.post(f"{API}/projects/3/merge_requests", status=422, json=body)
    with pytest.raises(NotFound, match="The source branch DEV-1-x does not exist in acme/api."):
        gitlab().create_pull_request(REPO, "DEV-1-x", "main", "t", "d", False)


@pytest.mark.parametrize(
    "headers", [{"Retry-After": "30"}, {"RateLimit-Reset": "{reset}", "RateLimit-Remaining": "0"}]
)
def test_rate_limited_says_when(mocked, headers):
    """Does a 429 tell the seconds to wait, from Retry-After or RateLimit-Reset?"""
    headers = {k: v.format(reset=int(time.time()) + 30) for k, v in headers.items()}
    mocked.get(f"{BRANCHES}/main", status=429, body="Retry later", headers=headers)
    with pytest.raises(RateLimited) as caught:
        gitlab().get_branch(REPO, "main")
    assert caught.value.retry_after in (29, 30)
    assert f"{caught.value.retry_after} s" in str(caught.value)


def test_timeout_is_unavailable(mocked):
    """Does a read timeout become Unavailable?"""
    mocked.get(f"{BRANCHES}/main", body=requests.ReadTimeout("read timed out"))
    with pytest.raises(Unavailable):
        gitlab().get_branch(REPO, "main")


def test_redirect_is_not_followed(mocked):
    """Is a redirect refused rather than followed with the token?"""
    mocked.get(
        f"{API}/user", status=302, headers={"Location": "https://evil.example.net/api/v4/user"}
    )
    with pytest.raises(ProviderError, match="redirect"):
        gitlab().http.get_json("/user")
    assert len(mocked.calls) == 1
    assert mocked.calls[0].request.url == f"{API}/user"


def test_token_never_in_errors(mocked):
    """Does no error's str or repr contain the token?"""
    mocked.get(f"{BRANCHES}/a", status=401, json={"message": "401 Unauthorized"})
    mocked.get(f"{BRANCHES}/b", status=403, json={"error": "insufficient_scope", "scope": "api"})
    mocked.get(f"{BRANCHES}/c", status=404, json={"message": "404 Branch Not Found"})
    mocked.get(f"{BRANCHES}/d", status=429, headers={"Retry-After": "5"})
    mocked.get(f"{BRANCHES}/e", body=requests.ConnectTimeout(f"token {TOKEN}"))
    mocked.get(f"{BRANCHES}/f", status=500, body=TOKEN)
    provider = gitlab()
    for name in "abcdef":
        with pytest.raises(ProviderError) as caught:
            provider.get_branch(REPO, name)
        assert TOKEN not in str(caught.value) and TOKEN not in repr(caught.value)
    assert TOKEN not in repr(provider)


# ---------------------------------------------------------------- hosts and links


def test_self_managed_uses_api_v4_and_gitlab_com_by_default(mocked):
    """Is the self-managed API root {base}/api/v4 and the cloud one gitlab.com/api/v4?"""
    mocked.get(f"{API}/user", json=load("user"))
    mocked.get("https://gitlab.com/api/v4/user", json=load("user"))
    gitlab(base_url=f"{WEB}/").http.get_json("/user")
    gitlab(kind="gitlab", base_url=None, allow_private=False).http.get_json("/user")
    assert [c.request.url for c in mocked.calls] == [
        f"{API}/user",
        "https://gitlab.com/api/v4/user",
    ]


def resolve_to(monkeypatch, address):
    monkeypatch.setattr(
        http, "resolve", lambda host, port, **kw: [(socket.AF_INET, 1, 6, "", (address, port))]
    )


def test_public_https_base_url_is_allowed(mocked, public_dns):
    """Is a public https self-managed URL accepted without allow_private?"""
    mocked.get(f"{API}/user", json=load("user"))
    gitlab(allow_private=False).http.get_json("/user")


@pytest.mark.parametrize(
    ("url", "address"),
    [("http://gitlab.example.com", "140.82.112.3"), (WEB, "10.0.0.5"), (WEB, "127.0.0.1")],
)
def test_http_or_private_base_url_refused(sockets, monkeypatch, url, address):
    """Are http:// and private addresses refused, before any connection, unless allow_private
    is on?"""
    resolve_to(monkeypatch, address)
    with pytest.raises(BlockedHost):
        gitlab(base_url=url, allow_private=False).validate()
    assert sockets == []
    with responses.RequestsMock() as mocked:
        mocked.get(re.compile(r".*/api/v4/personal_access_tokens/self"), json=load("token_self"))
        mocked.get(re.compile(r".*/api/v4/user"), json=load("user"))
        assert gitlab(base_url=url, allow_private=True).validate().login == "jsmith"


def test_new_token_url_for_both_kinds():
    """Does New token open the host's token page with api pre-selected?"""
    query = "-/user_settings/personal_access_tokens?name=gitint&scopes=api"
    assert gitlab(kind="gitlab", base_url=None, allow_private=False).new_token_url() == (
        f"https://gitlab.com/{query}"
    )
    assert gitlab().new_token_url() == f"{WEB}/{query}"


def test_wording_and_links():
    """Is the provider registered for both kinds, says 'merge request' and links the MR?"""
    assert REGISTRY["gitlab"] is GitLab and REGISTRY["gitlab_self_managed"] is GitLab
    provider = gitlab()
    assert provider.pr_noun == "merge request"
    assert provider.label == "GitLab"
    assert provider.web_url_for_pull_request(REPO, "12") == f"{WEB}/acme/api/-/merge_requests/12"
    assert provider.web_url_for_branch(REPO, "a/b") == f"{WEB}/acme/api/-/tree/a/b"
