"""Azure DevOps, VSTS and Azure DevOps Server / TFS against canned answers shaped like the
official spec examples (tests/data/azure)."""

import base64
import json
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from gitint.providers import REGISTRY, http, make_provider
from gitint.providers.azure import AzureDevOps
from gitint.providers.base import (
    AuthExpired,
    BlockedHost,
    BranchExists,
    HostSettings,
    InvalidName,
    NoAccess,
    NotFound,
    ProviderError,
    PullRequestExists,
    RateLimited,
    ReadOnly,
    Repo,
    Unavailable,
    Unsupported,
)

from .conftest import canned

PAT = "azpat7q3secretvalue0000000000000000000000000000wxyz"
CLOUD = "https://dev.azure.com/fabrikam"
VSTS = "https://fabrikam.visualstudio.com"
TFS = "https://tfs.example.com/tfs/DefaultCollection"
REPO_ID = "3411ebc1-d5aa-464f-9615-0b527bc66719"
WEB = "https://dev.azure.com/fabrikam/Fabrikam%20Fiber/_git/2016_10_31"
REPO = Repo(
    host_id=REPO_ID,
    full_name="Fabrikam Fiber/2016_10_31",
    project="Fabrikam Fiber",
    default_branch="main",
    web_url=WEB,
)
GIT = f"/Fabrikam%20Fiber/_apis/git/repositories/{REPO_ID}"
# (kind, server version, API root, api-version)
KINDS = [
    ("azure_devops", None, CLOUD, "7.1"),
    ("vsts", None, VSTS, "7.1"),
    ("tfs", "2019", TFS, "5.0"),
]


def make(kind="azure_devops", version=None, secret=PAT, **kwargs):
    settings = HostSettings(
        kind=kind,
        organization=None if kind == "tfs" else "fabrikam",
        base_url=TFS if kind == "tfs" else None,
        server_version=version,
    )
    return make_provider(settings, secret, **kwargs)


@pytest.fixture(params=KINDS, ids=[kind[0] for kind in KINDS])
def host(request):
    """One provider per kind, with its API root and api-version (TFS names resolve publicly)."""
    kind, version, root, api_version = request.param
    if kind == "tfs":
        request.getfixturevalue("public_dns")
    return make(kind, version), root, api_version


def query(call) -> dict[str, str]:
    return {key: values[0] for key, values in parse_qs(urlsplit(call.request.url).query).items()}


def sent_json(call):
    return json.loads(call.request.body)


# ------------------------------------------------------------------ success, all kinds


def test_validate_reads_identity_and_leaves_scopes_unknown(mocked, host):
    """validate() names the owner from connectionData and never guesses scopes or rights."""
    provider, root, api_version = host
    mocked.get(root + "/_apis/connectionData", json=canned("azure", "connection_data"))
    identity = provider.validate()
    assert identity.login == "fabrikamfiber16@hotmail.com"
    assert identity.display_name == "Normal Paulk"
    assert identity.scopes is None
    assert identity.can_create_branch is None and identity.can_create_pull_request is None
    request = mocked.calls[0].request
    assert query(mocked.calls[0])["api-version"] == f"{api_version}-preview"
    assert request.headers["X-TFS-FedAuthRedirect"] == "Suppress"


def test_list_repositories(mocked, host):
    """Repositories come from one org/collection-wide call; disabled ones are left out."""
    provider, root, api_version = host
    mocked.get(root + "/_apis/git/repositories", json=canned("azure", "repositories"))
    repos = list(provider.list_repositories())
    assert [repo.full_name for repo in repos] == [
        "Fabrikam Fiber/2016_10_31",
        "Fabrikam Fiber/Legacy",
    ]
    assert repos[0] == REPO
    assert repos[1].default_branch is None
    assert repos[1].web_url == "https://dev.azure.com/fabrikam/Fabrikam%20Fiber/_git/Legacy"
    assert query(mocked.calls[0]) == {"api-version": api_version}


def test_list_branches(mocked, host):
    """Branches are the heads/ refs without the refs/heads/ prefix, with their head commit."""
    provider, root, api_version = host
    mocked.get(root + GIT + "/refs", json=canned("azure", "refs_heads"))
    branches = provider.list_branches(REPO)
    assert [(b.name, b.sha[:7]) for b in branches] == [
        ("develop", "67cae2b"),
        ("master", "23d0bc5"),
        ("npaulk/feature", "23d0bc5"),
    ]
    assert branches[2].web_url == WEB + "?version=GBnpaulk/feature"
    assert query(mocked.calls[0]) == {
        "filter": "heads/",
        "$top": "1000",
        "api-version": api_version,
    }


def test_get_branch_picks_the_exact_name(mocked, host):
    """The refs filter is a prefix: get_branch keeps only the exact name."""
    provider, root, _ = host
    mocked.get(root + GIT + "/refs", json=canned("azure", "refs_main_prefix"))
    branch = provider.get_branch(REPO, "main")
    assert (branch.name, branch.sha) == ("main", "ffe9cba521f00d7f60e322845072238635edb451")
    assert query(mocked.calls[0])["filter"] == "heads/main"


def test_get_branch_missing_names_it(mocked, host):
    """An absent branch is NotFound and the message names it."""
    provider, root, _ = host
    mocked.get(root + GIT + "/refs", json=canned("azure", "refs_main_prefix"))
    with pytest.raises(NotFound, match="ma"):
        provider.get_branch(REPO, "ma")


def test_create_branch_takes_two_calls(mocked, host):
    """create_branch reads the base head and posts one ref update: exactly 2 host calls."""
    provider, root, api_version = host
    mocked.get(root + GIT + "/refs", json=canned("azure", "refs_main_prefix"))
    mocked.post(root + GIT + "/refs", json=canned("azure", "ref_update_succeeded"))
    branch = provider.create_branch(REPO, "ABC-1-login", "main")
    assert branch.name == "ABC-1-login"
    assert branch.sha == "ffe9cba521f00d7f60e322845072238635edb451"
    assert branch.web_url == WEB + "?version=GBABC-1-login"
    assert provider.http.calls == 2 and len(mocked.calls) == 2
    assert sent_json(mocked.calls[1]) == [
        {
            "name": "refs/heads/ABC-1-login",
            "oldObjectId": "0" * 40,
            "newObjectId": "ffe9cba521f00d7f60e322845072238635edb451",
        }
    ]
    assert query(mocked.calls[1]) == {"api-version": api_version}


def test_create_pull_request_takes_one_call(mocked, host):
    """create_pull_request is one POST with full ref names and isDraft (5.0 and newer)."""
    provider, root, api_version = host
    mocked.post(root + GIT + "/pullrequests", json=canned("azure", "pull_request"), status=201)
    pr = provider.create_pull_request(
        REPO,
        "ABC-1-login",
        "main",
        "ABC-1 Login page",
        "https://jira.example.com/browse/ABC-1",
        True,
    )
    assert (pr.id, pr.source, pr.target) == ("22", "ABC-1-login", "main")
    assert pr.web_url == WEB + "/pullrequest/22"
    assert provider.http.calls == 1
    assert sent_json(mocked.calls[0]) == {
        "sourceRefName": "refs/heads/ABC-1-login",
        "targetRefName": "refs/heads/main",
        "title": "ABC-1 Login page",
        "description": "https://jira.example.com/browse/ABC-1",
        "isDraft": True,
    }
    assert query(mocked.calls[0]) == {"api-version": api_version}


def test_find_open_pull_request(mocked, host):
    """The open PR is searched by full source/target ref names and status active."""
    provider, root, _ = host
    mocked.get(root + GIT + "/pullrequests", json=canned("azure", "pull_requests"))
    pr = provider.find_open_pull_request(REPO, "ABC-1-login", "main")
    assert pr.id == "21" and pr.web_url == WEB + "/pullrequest/21"
    params = query(mocked.calls[0])
    assert params["searchCriteria.sourceRefName"] == "refs/heads/ABC-1-login"
    assert params["searchCriteria.targetRefName"] == "refs/heads/main"
    assert params["searchCriteria.status"] == "active"


def test_pat_is_basic_auth_with_empty_user(mocked, host):
    """The PAT travels only as Basic auth with an empty user name."""
    provider, root, _ = host
    mocked.get(root + "/_apis/git/repositories", json=canned("azure", "repositories"))
    list(provider.list_repositories())
    request = mocked.calls[0].request
    assert (
        request.headers["Authorization"] == "Basic " + base64.b64encode(f":{PAT}".encode()).decode()
    )
    assert PAT not in request.url


# ------------------------------------------------------------------ pagination and search


def test_list_branches_follows_continuation_tokens(mocked):
    """Three pages are joined by following x-ms-continuationtoken into continuationToken."""
    provider = make()
    url = CLOUD + GIT + "/refs"
    mocked.get(url, json=canned("azure", "refs_page_1"), headers={"x-ms-continuationtoken": "t2"})
    mocked.get(url, json=canned("azure", "refs_page_2"), headers={"x-ms-continuationtoken": "t3"})
    mocked.get(url, json=canned("azure", "refs_page_3"))
    names = [branch.name for branch in provider.list_branches(REPO)]
    assert names == ["ABC-1-login", "develop", "feature/abc-2-search", "main", "release/1.0"]
    assert [query(call).get("continuationToken") for call in mocked.calls] == [None, "t2", "t3"]
    assert all(query(call)["$top"] == "1000" for call in mocked.calls)


def test_list_branches_search_uses_filter_contains(mocked):
    """From 5.0 the search goes to the host as filterContains (and is checked again here)."""
    provider = make()
    mocked.get(CLOUD + GIT + "/refs", json=canned("azure", "refs_page_1"))
    assert [b.name for b in provider.list_branches(REPO, "abc")] == ["ABC-1-login"]
    assert query(mocked.calls[0])["filterContains"] == "abc"


def test_tfs_2018_filters_client_side_and_does_not_page(mocked, public_dns):
    """api-version 4.1 knows no $top/continuationToken/filterContains: filter locally."""
    provider = make("tfs", "2018")
    url = TFS + GIT + "/refs"
    mocked.get(url, json=canned("azure", "refs_page_2"), headers={"x-ms-continuationtoken": "x"})
    assert [b.name for b in provider.list_branches(REPO, "ABC")] == ["feature/abc-2-search"]
    assert query(mocked.calls[0]) == {"filter": "heads/", "api-version": "4.1"}
    assert len(mocked.calls) == 1


# ------------------------------------------------------------------ errors


def test_401_is_auth_expired(mocked):
    """401 TF400813 means the token is expired, revoked or wrong."""
    mocked.get(
        CLOUD + "/_apis/connectionData",
        json=canned("azure", "unauthorized"),
        status=401,
        headers={"WWW-Authenticate": 'Basic realm="https://dev.azure.com/"'},
    )
    with pytest.raises(AuthExpired):
        make().validate()


def test_203_sign_in_page_is_auth_expired(mocked):
    """A 203 with an HTML sign-in page is an expired credential, not a success."""
    mocked.get(
        CLOUD + "/_apis/git/repositories",
        body="<html><head><title>Azure DevOps Services | Sign In</title></head></html>",
        status=203,
        content_type="text/html",
    )
    with pytest.raises(AuthExpired) as caught:
        list(make().list_repositories())
    assert caught.value.status == 203


def test_anonymous_identity_is_auth_expired(mocked):
    """connectionData answering for the anonymous identity means the token was not accepted."""
    mocked.get(CLOUD + "/_apis/connectionData", json=canned("azure", "connection_data_anonymous"))
    with pytest.raises(AuthExpired):
        make().validate()


def test_create_branch_without_permission_names_it(mocked):
    """Is createBranchPermissionRequired (a Reader) "can read but cannot push", naming the
    Git "Create branch" permission to ask for?"""
    mocked.get(CLOUD + GIT + "/refs", json=canned("azure", "refs_main_prefix"))
    mocked.post(CLOUD + GIT + "/refs", json=canned("azure", "ref_update_create_permission"))
    with pytest.raises(ReadOnly) as caught:
        make().create_branch(REPO, "ABC-1-login", "main")
    assert caught.value.said("alice", "P/r") == (
        "@alice can read P/r but cannot push to it; "
        "ask for write access (Azure Contribute and Create branch)."
    )


def test_403_naming_a_permission_is_read_only(mocked):
    """A 403 whose message names a Git write permission is ReadOnly naming it; a bare 403 is
    NoAccess."""
    mocked.post(CLOUD + GIT + "/pullrequests", json=canned("azure", "needs_permission"), status=403)
    with pytest.raises(ReadOnly, match="Contribute"):
        make().create_pull_request(REPO, "a", "main", "t", "d", False)
    mocked.get(CLOUD + "/_apis/git/repositories", body="", status=403)
    with pytest.raises(NoAccess):
        list(make().list_repositories())


def test_404_is_not_found(mocked):
    """404 TF401019 (repository gone or hidden) is NotFound."""
    mocked.get(CLOUD + GIT + "/refs", json=canned("azure", "repository_not_found"), status=404)
    with pytest.raises(NotFound):
        make().list_branches(REPO)


def test_create_branch_with_missing_base_is_not_found(mocked):
    """A missing base branch is NotFound naming it, and nothing is posted."""
    mocked.get(CLOUD + GIT + "/refs", json=canned("azure", "refs_empty"))
    with pytest.raises(NotFound, match="base branch develop"):
        make().create_branch(REPO, "ABC-1-login", "develop")
    assert len(mocked.calls) == 1


def test_branch_exists_links_to_it(mocked):
    """success:false with staleOldObjectId means the branch exists; the error links to it."""
    mocked.get(CLOUD + GIT + "/refs", json=canned("azure", "refs_main_prefix"))
    mocked.post(CLOUD + GIT + "/refs", json=canned("azure", "ref_update_stale"))
    with pytest.raises(BranchExists) as caught:
        make().create_branch(REPO, "ABC-1-login", "main")
    assert caught.value.url == WEB + "?version=GBABC-1-login"


@pytest.mark.parametrize(
    ("name", "error", "text"),
    [
        ("ref_update_invalid", InvalidName, "invalid"),
        ("ref_update_policy", ProviderError, "TF402455"),
    ],
)
def test_other_ref_refusals(mocked, name, error, text):
    """invalidRefName is InvalidName; other refusals carry the host's customMessage."""
    mocked.get(CLOUD + GIT + "/refs", json=canned("azure", "refs_main_prefix"))
    mocked.post(CLOUD + GIT + "/refs", json=canned("azure", name))
    with pytest.raises(error, match=text):
        make().create_branch(REPO, "ABC-1-login", "main")


def test_pull_request_exists_links_to_it(mocked):
    """409 TF401179 looks up the open PR (one extra call) and links to it."""
    mocked.post(
        CLOUD + GIT + "/pullrequests", json=canned("azure", "pull_request_exists"), status=409
    )
    mocked.get(CLOUD + GIT + "/pullrequests", json=canned("azure", "pull_requests"))
    provider = make()
    with pytest.raises(PullRequestExists) as caught:
        provider.create_pull_request(REPO, "ABC-1-login", "main", "t", "d", False)
    assert caught.value.url == WEB + "/pullrequest/21"
    assert provider.http.calls == 2


def test_429_says_when_to_retry(mocked):
    """429 TF400733 with Retry-After is RateLimited with the seconds to wait."""
    mocked.get(
        CLOUD + "/_apis/git/repositories",
        json=canned("azure", "rate_limited"),
        status=429,
        headers={"Retry-After": "30", "X-RateLimit-Resource": "Core"},
    )
    with pytest.raises(RateLimited, match="30 s") as caught:
        list(make().list_repositories())
    assert caught.value.retry_after == 30


@pytest.mark.parametrize("failure", [requests.ConnectTimeout(), requests.ReadTimeout()])
def test_timeout_is_unavailable(mocked, failure):
    """A connect or read timeout is Unavailable."""
    mocked.get(CLOUD + GIT + "/refs", body=failure)
    with pytest.raises(Unavailable):
        make().list_branches(REPO)


def test_5xx_is_unavailable(mocked):
    """A host error (5xx) is Unavailable."""
    mocked.get(CLOUD + GIT + "/refs", body="", status=503)
    with pytest.raises(Unavailable):
        make().list_branches(REPO)


def test_redirect_is_not_followed_with_credentials(mocked):
    """A redirect ends the call: the credential is never sent to the new location."""
    mocked.get(
        CLOUD + "/_apis/git/repositories",
        status=302,
        headers={"Location": "https://login.example.net/steal"},
    )
    with pytest.raises(ProviderError, match="redirect"):
        list(make().list_repositories())
    assert len(mocked.calls) == 1


def test_pat_never_appears_in_errors(mocked):
    """No error (str or repr) and no provider repr carries the PAT or its Basic encoding."""
    encoded = base64.b64encode(f":{PAT}".encode()).decode()
    provider = make()
    answers = [
        (401, canned("azure", "unauthorized")),
        (403, canned("azure", "needs_permission")),
        (404, canned("azure", "repository_not_found")),
        (409, canned("azure", "pull_request_exists")),
        (429, canned("azure", "rate_limited")),
        (500, {"message": "boom"}),
    ]
    errors = []
    for status, body in answers:
        mocked.get(CLOUD + "/_apis/git/repositories", json=body, status=status)
        with pytest.raises(ProviderError) as caught:
            list(provider.list_repositories())
        errors.append(caught.value)
    for error in errors:
        for text in (str(error), repr(error), repr(error.args)):
            assert PAT not in text and encoded not in text
    assert PAT not in repr(provider) and PAT not in repr(provider.http)


# ------------------------------------------------------------------ versions and kinds


@pytest.mark.parametrize(
    ("version", "api_version", "draft", "pats"),
    [
        ("2013", "1.0", False, False),
        ("2015", "2.0", False, False),
        ("2017", "3.0", False, True),
        ("2018", "4.1", False, True),
        ("2019", "5.0", True, True),
        ("2020", "6.0", True, True),
        ("2022", "7.0", True, True),
    ],
)
def test_server_versions(mocked, public_dns, version, api_version, draft, pats):
    """Each server version sends its api-version; Draft from 2019, PATs from 2017."""
    provider = make("tfs", version)
    assert (provider.supports_draft, provider.supports_pats) == (draft, pats)
    mocked.get(TFS + "/_apis/git/repositories", json=canned("azure", "repositories"))
    list(provider.list_repositories())
    assert query(mocked.calls[0])["api-version"] == api_version


@pytest.mark.parametrize(("version", "draft_sent"), [("2018", False), ("2019", True)])
def test_is_draft_sent_only_from_2019(mocked, public_dns, version, draft_sent):
    """isDraft is absent from the 4.1 API, so TFS 2018 never sends it."""
    mocked.post(TFS + GIT + "/pullrequests", json=canned("azure", "pull_request"), status=201)
    make("tfs", version).create_pull_request(REPO, "ABC-1-login", "main", "t", "d", True)
    assert ("isDraft" in sent_json(mocked.calls[0])) is draft_sent


@pytest.mark.parametrize("version", ["2013", "2015"])
def test_tfs_without_pats_uses_user_and_password(mocked, public_dns, version):
    """TFS 2013/2015 have no PATs: no token page, and the credential is user:password."""
    provider = make("tfs", version, secret="FABRIKAM\\jamal:pa55word")
    assert provider.supports_pats is False
    with pytest.raises(Unsupported):
        provider.new_token_url()
    mocked.get(TFS + "/_apis/connectionData", json=canned("azure", "connection_data_onprem"))
    assert provider.validate().login == "FABRIKAM\\jamal"
    sent = mocked.calls[0].request.headers["Authorization"]
    assert base64.b64decode(sent.split()[1]).decode() == "FABRIKAM\\jamal:pa55word"


def test_new_token_urls(public_dns):
    """The New token link opens the host's personal access token page."""
    assert make().new_token_url() == CLOUD + "/_usersSettings/tokens"
    assert make("vsts").new_token_url() == VSTS + "/_usersSettings/tokens"
    assert make("tfs", "2019").new_token_url() == TFS + "/_usersSettings/tokens"
    assert make("tfs", "2018").new_token_url() == TFS + "/_details/security/tokens"  # old UI


def test_tfs_without_a_version_cannot_call(public_dns):
    """A TFS integration with no server version says so instead of guessing an api-version."""
    provider = make("tfs", None)
    assert provider.supports_draft is False
    with pytest.raises(ProviderError, match="server version"):
        list(provider.list_repositories())


def test_kinds_labels_and_web_urls():
    """One class answers for all three kinds, with a label per kind."""
    assert REGISTRY["azure_devops"] is REGISTRY["vsts"] is REGISTRY["tfs"] is AzureDevOps
    assert make().label == "Azure DevOps"
    assert make("tfs", "2019").label == "Azure DevOps Server / TFS"
    assert make("vsts").kind == "vsts"
    assert make().web_url_for_branch(REPO, "feature/a b") == WEB + "?version=GBfeature/a%20b"
    assert make().web_url_for_pull_request(REPO, "7") == WEB + "/pullrequest/7"


def test_tfs_private_address_is_refused(monkeypatch, sockets):
    """A TFS URL resolving to a private address is refused before any connection is opened."""
    monkeypatch.setattr(
        http, "resolve", lambda host, port, **kw: [(2, 1, 6, "", ("10.1.2.3", port))]
    )
    with pytest.raises(BlockedHost):
        list(make("tfs", "2019").list_repositories())
    assert sockets == []


def test_api_root_can_point_at_a_local_server(mocked):
    """api_root is a plain attribute: with allow_private a bench can aim it at 127.0.0.1."""
    provider = make(allow_private=True)
    provider.api_root = "http://127.0.0.1:8765/fabrikam"
    mocked.get("http://127.0.0.1:8765/fabrikam/_apis/git/repositories", json={"value": []})
    assert list(provider.list_repositories()) == []
    blocked = make()
    blocked.api_root = "http://127.0.0.1:8765/fabrikam"
    with pytest.raises(BlockedHost):
        list(blocked.list_repositories())


def test_missing_target_branch_is_named(mocked):
    """Is TF401398 (source and/or target gone) told apart by one look at the target branch?"""
    body = {
        "message": "TF401398: The pull request cannot be activated because the source and/or "
        "the target branch no longer exists, or the requested refs are not branches",
        "typeKey": "GitPullRequestCreationFailedException",
    }
    mocked.post(CLOUD + GIT + "/pullrequests", json=body, status=400)
    mocked.get(CLOUD + GIT + "/refs", json={"value": [], "count": 0})
    with pytest.raises(NotFound) as caught:
        make().create_pull_request(REPO, "ABC-1-x", "gone", "t", "d", False)
    assert (
        str(caught.value) == "The target branch gone does not exist in Fabrikam Fiber/2016_10_31."
    )
    assert len(mocked.calls) == 2
