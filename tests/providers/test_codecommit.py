"""AWS CodeCommit provider against botocore's Stubber (parameters checked by the real model)."""

import datetime as dt

import pytest
from botocore.exceptions import (
    ConnectionClosedError,
    ConnectTimeoutError,
    NoCredentialsError,
    ReadTimeoutError,
)
from botocore.parsers import ResponseParserError
from botocore.stub import Stubber

from gitint.providers import codecommit as cc
from gitint.providers.base import (
    AuthExpired,
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
    Repo,
    Unavailable,
)

REGION = "eu-west-1"
KEY_ID = "AKIAIOSFODNN7EXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
SETTINGS = HostSettings(kind="codecommit", region=REGION)
REPO = Repo(host_id="f7579e13-b83e-4027-aaef-650c0EXAMPLE", full_name="web-app")
CONSOLE = f"https://{REGION}.console.aws.amazon.com/codesuite/codecommit/repositories"
ARN = "arn:aws:iam::123456789012:user/jira-bot"
COMMIT = "317f8570EXAMPLE" + "0" * 25


class Host:
    """A provider whose two clients are stubbed; ``calls`` counts the host calls made."""

    def __init__(self):
        self.provider = cc.CodeCommit(SETTINGS, f"{KEY_ID}:{SECRET_KEY}")
        self.calls = 0
        self.stubs = {}
        for service in ("codecommit", "sts"):
            client = cc._new_client(service, REGION, KEY_ID, SECRET_KEY)
            client.meta.events.register("before-parameter-build", self._count)
            setattr(self.provider, service, client)
            self.stubs[service] = Stubber(client)
            self.stubs[service].activate()
        self.cc = self.stubs["codecommit"]
        self.sts = self.stubs["sts"]

    def _count(self, **kwargs):
        self.calls += 1

    def done(self):
        for stub in self.stubs.values():
            stub.assert_no_pending_responses()
            stub.deactivate()


@pytest.fixture
def host():
    host = Host()
    yield host
    host.done()


def no_secret(exc: Exception) -> None:
    assert SECRET_KEY not in str(exc) and SECRET_KEY not in repr(exc)


def metadata(name: str, default_branch: str = "main") -> dict:
    return {
        "repositoryId": f"id-{name}",
        "repositoryName": name,
        "defaultBranch": default_branch,
        "Arn": f"arn:aws:codecommit:{REGION}:123456789012:{name}",
        "cloneUrlHttp": f"https://git-codecommit.{REGION}.amazonaws.com/v1/repos/{name}",
        "lastModifiedDate": dt.datetime(2026, 1, 1),
    }


def pr_body(pr_id: str, source: str, target: str, status: str = "OPEN") -> dict:
    return {
        "pullRequest": {
            "pullRequestId": pr_id,
            "title": "PROJ-1 Fix login",
            "pullRequestStatus": status,
            "pullRequestTargets": [
                {
                    "repositoryName": REPO.full_name,
                    "sourceReference": f"refs/heads/{source}",
                    "destinationReference": f"refs/heads/{target}",
                }
            ],
        }
    }


# ---------------------------------------------------------------- validate


def test_validate_names_the_iam_user_and_checks_the_repository(host):
    """Are the keys' owner and repository reach checked, with scopes stated as unknown?"""
    host.sts.add_response(
        "get_caller_identity",
        {"UserId": "AIDAEXAMPLE", "Account": "123456789012", "Arn": ARN},
        {},
    )
    host.cc.add_response(
        "get_repository", {"repositoryMetadata": metadata("web-app")}, {"repositoryName": "web-app"}
    )
    me = host.provider.validate("web-app")
    assert me.login == "jira-bot"
    assert me.display_name == ARN
    assert me.scopes is None and me.expires_at is None
    assert me.can_create_branch is None and me.can_create_pull_request is None
    assert host.calls == 2


def test_validate_without_a_repository_lists_repositories(host):
    """Without a repository name, does one list_repositories page prove CodeCommit access?"""
    host.sts.add_response("get_caller_identity", {"Arn": ARN}, {})
    host.cc.add_response("list_repositories", {"repositories": []}, {})
    assert host.provider.validate().login == "jira-bot"


def test_validate_with_unknown_keys_is_auth_expired(host):
    """Does an unrecognised access key read as an expired/revoked credential?"""
    host.sts.add_client_error(
        "get_caller_identity",
        "InvalidClientTokenId",
        "The security token included in the request is invalid.",
        403,
    )
    with pytest.raises(AuthExpired) as caught:
        host.provider.validate("web-app")
    no_secret(caught.value)


def test_validate_with_a_missing_repository_says_no_access(host):
    """Does a repository the keys cannot reach fail validation with a sentence naming it?"""
    host.sts.add_response("get_caller_identity", {"Arn": ARN}, {})
    host.cc.add_client_error(
        "get_repository", "RepositoryDoesNotExistException", "web-app does not exist", 400
    )
    with pytest.raises(NoAccess, match="web-app"):
        host.provider.validate("web-app")


def test_validate_without_codecommit_permission_names_the_action(host):
    """Is a missing IAM permission named as the action (codecommit:GetRepository)?"""
    host.sts.add_response("get_caller_identity", {"Arn": ARN}, {})
    host.cc.add_client_error("get_repository", "AccessDeniedException", "not authorized", 400)
    with pytest.raises(MissingScope) as caught:
        host.provider.validate("web-app")
    assert caught.value.scope == "codecommit:GetRepository"
    assert "codecommit:GetRepository" in str(caught.value)


# ---------------------------------------------------------------- listing


def test_list_repositories_follows_every_page_and_batches_details(host):
    """Are all three pages read, with batch_get_repositories in groups of at most 25 names?"""
    pages = [[f"repo-{i:02d}" for i in range(30)], ["repo-30"], ["repo-31", "repo-32"]]
    tokens = ["t1", "t2", None]
    previous = None
    for names, token in zip(pages, tokens, strict=True):
        body = {"repositories": [{"repositoryName": n, "repositoryId": f"id-{n}"} for n in names]}
        if token:
            body["nextToken"] = token
        host.cc.add_response("list_repositories", body, {"nextToken": previous} if previous else {})
        for start in range(0, len(names), 25):
            batch = names[start : start + 25]
            host.cc.add_response(
                "batch_get_repositories",
                {"repositories": [metadata(n) for n in batch], "repositoriesNotFound": []},
                {"repositoryNames": batch},
            )
        previous = token
    repos = list(host.provider.list_repositories())
    assert [r.full_name for r in repos] == [f"repo-{i:02d}" for i in range(33)]
    assert repos[0].host_id == "id-repo-00"
    assert repos[0].default_branch == "main"
    assert repos[0].web_url == f"{CONSOLE}/repo-00/browse?region={REGION}"
    assert host.calls == 3 + 4


def test_list_branches_reads_all_pages_and_filters(host):
    """Are all branch pages read and filtered by a case-insensitive substring?"""
    host.cc.add_response(
        "list_branches",
        {"branches": ["main", "PROJ-1-login"], "nextToken": "a"},
        {"repositoryName": "web-app"},
    )
    host.cc.add_response(
        "list_branches",
        {"branches": ["develop"], "nextToken": "b"},
        {"repositoryName": "web-app", "nextToken": "a"},
    )
    host.cc.add_response(
        "list_branches",
        {"branches": ["proj-1-signup"]},
        {"repositoryName": "web-app", "nextToken": "b"},
    )
    branches = host.provider.list_branches(REPO, "Proj-1")
    assert [b.name for b in branches] == ["PROJ-1-login", "proj-1-signup"]
    assert all(b.sha == "" for b in branches)
    assert host.calls == 3


def test_get_branch_returns_the_head_commit(host):
    """Does get_branch give the branch's commitId?"""
    host.cc.add_response(
        "get_branch",
        {"branch": {"branchName": "main", "commitId": COMMIT}},
        {"repositoryName": "web-app", "branchName": "main"},
    )
    branch = host.provider.get_branch(REPO, "main")
    assert (branch.name, branch.sha) == ("main", COMMIT)


def test_get_branch_missing_is_not_found(host):
    """Is a missing branch NotFound, naming it?"""
    host.cc.add_client_error("get_branch", "BranchDoesNotExistException", "nope", 400)
    with pytest.raises(NotFound, match="gone"):
        host.provider.get_branch(REPO, "gone")


# ---------------------------------------------------------------- create branch


def add_base(host, base="main"):
    host.cc.add_response(
        "get_branch",
        {"branch": {"branchName": base, "commitId": COMMIT}},
        {"repositoryName": "web-app", "branchName": base},
    )


def test_create_branch_takes_two_calls(host):
    """Is a branch created with exactly two host calls, at the base's head commit?"""
    add_base(host)
    host.cc.add_response(
        "create_branch",
        {},
        {"repositoryName": "web-app", "branchName": "PROJ-1-fix-login", "commitId": COMMIT},
    )
    branch = host.provider.create_branch(REPO, "PROJ-1-fix-login", "main")
    assert (branch.name, branch.sha) == ("PROJ-1-fix-login", COMMIT)
    assert branch.web_url == (
        f"{CONSOLE}/web-app/browse/refs/heads/PROJ-1-fix-login?region={REGION}"
    )
    assert host.calls == 2


def test_create_branch_that_exists_links_to_it(host):
    """Does an existing branch name raise BranchExists with a link to that branch?"""
    add_base(host)
    host.cc.add_client_error("create_branch", "BranchNameExistsException", "exists", 400)
    with pytest.raises(BranchExists) as caught:
        host.provider.create_branch(REPO, "PROJ-1", "main")
    assert caught.value.url == f"{CONSOLE}/web-app/browse/refs/heads/PROJ-1?region={REGION}"
    no_secret(caught.value)


def test_create_branch_with_a_missing_base_names_it(host):
    """Is a missing base branch NotFound naming the base, without trying to create?"""
    host.cc.add_client_error("get_branch", "BranchDoesNotExistException", "nope", 400)
    with pytest.raises(NotFound, match="base branch “release”"):
        host.provider.create_branch(REPO, "PROJ-1", "release")
    assert host.calls == 1


def test_create_branch_without_permission_names_create_branch(host):
    """Does AccessDeniedException on create name codecommit:CreateBranch?"""
    add_base(host)
    host.cc.add_client_error("create_branch", "AccessDeniedException", "denied", 400)
    with pytest.raises(MissingScope, match="codecommit:CreateBranch") as caught:
        host.provider.create_branch(REPO, "PROJ-1", "main")
    assert caught.value.scope == "codecommit:CreateBranch"


def test_create_branch_with_an_invalid_name(host):
    """Is a refused branch name InvalidName?"""
    add_base(host)
    host.cc.add_client_error("create_branch", "InvalidBranchNameException", "bad", 400)
    with pytest.raises(InvalidName):
        host.provider.create_branch(REPO, "bad..name", "main")


# ---------------------------------------------------------------- pull requests


def pr_params(title="PROJ-1 Fix login", *after):
    return {
        "title": title,
        "description": "From PROJ-1",
        "targets": [
            {
                "repositoryName": "web-app",
                "sourceReference": "PROJ-1-fix-login",
                "destinationReference": "main",
            }
        ],
        "clientRequestToken": cc.request_token(REPO, "PROJ-1-fix-login", "main", title, *after),
    }


def create_pr(provider, title="PROJ-1 Fix login", draft=False):
    return provider.create_pull_request(
        REPO, "PROJ-1-fix-login", "main", title, "From PROJ-1", draft
    )


def test_create_pull_request_takes_one_call(host):
    """Is a PR created with one call, draft ignored, linking to the console page?"""
    host.cc.add_response(
        "create_pull_request", pr_body("42", "PROJ-1-fix-login", "main"), pr_params()
    )
    pr = create_pr(host.provider, draft=True)
    assert (pr.id, pr.source, pr.target, pr.draft) == ("42", "PROJ-1-fix-login", "main", False)
    assert pr.web_url == f"{CONSOLE}/web-app/pull-requests/42/details?region={REGION}"
    assert host.calls == 1
    assert host.provider.supports_draft is False


def test_request_token_is_deterministic():
    """Does a retry send the same clientRequestToken, and another title a different one?"""
    one = cc.request_token(REPO, "a", "main", "T")
    assert one == cc.request_token(REPO, "a", "main", "T")
    assert one != cc.request_token(REPO, "a", "main", "T2")
    assert one != cc.request_token(REPO, "b", "main", "T")
    assert len(one) == 64


def test_retry_sends_the_same_token(host):
    """Do two identical creates (a double-click) send the same token so AWS returns one PR?"""
    body = pr_body("42", "PROJ-1-fix-login", "main")
    host.cc.add_response("create_pull_request", body, pr_params())
    host.cc.add_response("create_pull_request", body, pr_params())
    assert create_pr(host.provider).id == create_pr(host.provider).id == "42"


def test_replayed_closed_pull_request_opens_a_new_one(host):
    """When AWS replays an earlier, now closed PR for the token, is a new one opened?"""
    host.cc.add_response(
        "create_pull_request", pr_body("7", "PROJ-1-fix-login", "main", "CLOSED"), pr_params()
    )
    host.cc.add_response(
        "create_pull_request",
        pr_body("43", "PROJ-1-fix-login", "main"),
        pr_params("PROJ-1 Fix login", "7"),
    )
    assert create_pr(host.provider).id == "43"


def test_idempotency_mismatch_is_pull_request_exists(host):
    """Does a token reused with another description report the existing PR with its link?"""
    host.cc.add_client_error(
        "create_pull_request", "IdempotencyParameterMismatchException", "mismatch", 400
    )
    host.cc.add_response(
        "list_pull_requests",
        {"pullRequestIds": ["42"]},
        {"repositoryName": "web-app", "pullRequestStatus": "OPEN"},
    )
    host.cc.add_response(
        "get_pull_request", pr_body("42", "PROJ-1-fix-login", "main"), {"pullRequestId": "42"}
    )
    with pytest.raises(PullRequestExists) as caught:
        create_pr(host.provider)
    assert caught.value.url == f"{CONSOLE}/web-app/pull-requests/42/details?region={REGION}"


def test_create_pull_request_in_a_missing_repository_names_it(host):
    """Does a vanished repository name itself when creating a PR?"""
    host.cc.add_client_error("create_pull_request", "RepositoryDoesNotExistException", "gone", 400)
    with pytest.raises(NoAccess, match="“web-app”"):
        create_pr(host.provider)


def test_create_pull_request_without_permission(host):
    """Does AccessDeniedException name codecommit:CreatePullRequest?"""
    host.cc.add_client_error("create_pull_request", "AccessDeniedException", "denied", 400)
    with pytest.raises(MissingScope, match="codecommit:CreatePullRequest"):
        create_pr(host.provider)


def test_find_open_pull_request_matches_source_and_target(host):
    """Is the open PR from source into target found across pages, skipping others?"""
    host.cc.add_response(
        "list_pull_requests",
        {"pullRequestIds": ["1"], "nextToken": "n"},
        {"repositoryName": "web-app", "pullRequestStatus": "OPEN"},
    )
    host.cc.add_response("get_pull_request", pr_body("1", "other", "main"), {"pullRequestId": "1"})
    host.cc.add_response(
        "list_pull_requests",
        {"pullRequestIds": ["2"]},
        {"repositoryName": "web-app", "pullRequestStatus": "OPEN", "nextToken": "n"},
    )
    host.cc.add_response(
        "get_pull_request", pr_body("2", "PROJ-1-fix-login", "main"), {"pullRequestId": "2"}
    )
    pr = host.provider.find_open_pull_request(REPO, "PROJ-1-fix-login", "main")
    assert pr is not None and pr.id == "2"


def test_find_open_pull_request_none(host):
    """Is None returned when no open PR matches?"""
    host.cc.add_response(
        "list_pull_requests",
        {"pullRequestIds": []},
        {"repositoryName": "web-app", "pullRequestStatus": "OPEN"},
    )
    assert host.provider.find_open_pull_request(REPO, "x", "main") is None


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("UnrecognizedClientException", AuthExpired),
        ("InvalidSignatureException", AuthExpired),
        ("ExpiredToken", AuthExpired),
        ("ExpiredTokenException", AuthExpired),
        ("RepositoryDoesNotExistException", NoAccess),
        ("ThrottlingException", RateLimited),
        ("Throttling", RateLimited),
        ("TooManyRequestsException", RateLimited),
        ("RequestLimitExceeded", RateLimited),
        ("SomethingNewException", ProviderError),
    ],
)
def test_error_codes_map_to_sentences(host, code, error):
    """Does each AWS error code become its typed error, a sentence without the secret?"""
    host.cc.add_client_error("list_branches", code, f"message for {code}", 400)
    with pytest.raises(error) as caught:
        host.provider.list_branches(REPO)
    assert type(caught.value) is error
    assert str(caught.value).endswith(".")
    no_secret(caught.value)


def test_expired_token_is_marked_expired(host):
    """Is ExpiredToken flagged as expired (not just invalid)?"""
    host.cc.add_client_error("get_branch", "ExpiredToken", "expired", 400)
    with pytest.raises(AuthExpired) as caught:
        host.provider.get_branch(REPO, "main")
    assert caught.value.expired


def test_unknown_error_shows_the_code_not_the_message(host):
    """Does an unexpected error name its code but not AWS's raw message?"""
    host.cc.add_client_error("get_branch", "WeirdException", "raw detail " + SECRET_KEY, 400)
    host.cc.add_client_error("get_branch", "WeirdException", "raw detail " + SECRET_KEY, 500)
    with pytest.raises(ProviderError) as caught:
        host.provider.get_branch(REPO, "main")
    assert "WeirdException" in str(caught.value)
    assert "raw detail" not in str(caught.value)
    no_secret(caught.value)
    with pytest.raises(Unavailable) as caught:  # a 5xx is the host's fault: try again
        host.provider.get_branch(REPO, "main")
    assert str(caught.value) == (
        "AWS CodeCommit had an internal error (HTTP 500, WeirdException); try again."
    )


def test_throttling_says_when_to_retry(host):
    """Does a throttled call (or a bare 429) say when to retry, from Retry-After?"""
    host.cc.add_client_error(
        "get_branch",
        "ThrottlingException",
        "Rate exceeded",
        400,
        response_meta={"HTTPHeaders": {"retry-after": "12"}},
    )
    host.cc.add_client_error("get_branch", "429", "", 429)
    with pytest.raises(RateLimited, match="try again in 12 s"):
        host.provider.get_branch(REPO, "main")
    with pytest.raises(RateLimited, match="in a minute"):
        host.provider.get_branch(REPO, "main")


def test_a_dropped_connection_and_an_unreadable_answer_are_said(monkeypatch):
    """Is a connection closed mid-answer "broke before it answered" and an answer botocore
    cannot parse Malformed (not a 500)?"""
    provider = cc.CodeCommit(SETTINGS, f"{KEY_ID}:{SECRET_KEY}")
    client = cc._new_client("codecommit", REGION, KEY_ID, SECRET_KEY)
    raised = []

    def down(**params):
        raise raised.pop()

    monkeypatch.setattr(client, "get_branch", down)
    provider.codecommit = client
    raised.append(ConnectionClosedError(endpoint_url="https://codecommit.eu-west-1.amazonaws.com"))
    with pytest.raises(Unavailable, match="broke before it answered"):
        provider.get_branch(REPO, "main")
    raised.append(ResponseParserError("Unable to parse response"))
    with pytest.raises(Malformed):
        provider.get_branch(REPO, "main")


@pytest.mark.parametrize(
    "raised",
    [
        ConnectTimeoutError(endpoint_url=f"https://codecommit.{REGION}.amazonaws.com"),
        ReadTimeoutError(endpoint_url=f"https://codecommit.{REGION}.amazonaws.com"),
    ],
)
def test_timeouts_are_unavailable(raised, monkeypatch):
    """Is a connect or read timeout Unavailable, naming the region?"""
    provider = cc.CodeCommit(SETTINGS, f"{KEY_ID}:{SECRET_KEY}")
    client = cc._new_client("codecommit", REGION, KEY_ID, SECRET_KEY)

    def down(**params):
        raise raised

    monkeypatch.setattr(client, "get_branch", down)
    provider.codecommit = client
    with pytest.raises(Unavailable, match=REGION) as caught:
        provider.create_branch(REPO, "PROJ-1", "main")
    no_secret(caught.value)


# ---------------------------------------------------------------- credentials and links


def test_clients_use_only_the_given_keys_and_region(monkeypatch, tmp_path):
    """Do environment keys, AWS_PROFILE, a config file or AWS_ENDPOINT_URL never leak in?"""
    config = tmp_path / "config"
    config.write_text("[default]\nregion = us-east-1\n[profile other]\nregion = ap-south-1\n")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAOTHERKEY")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "other-secret")
    monkeypatch.setenv("AWS_PROFILE", "other")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "https://elsewhere.example")
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    cc._isolated_session.cache_clear()  # build the session under this environment
    monkeypatch.setattr(cc, "_client", cc._new_client)  # and the clients, uncached
    key_id = "AKIAENVTESTKEY000001"
    provider = cc.CodeCommit(SETTINGS, f"{key_id}:{SECRET_KEY}")
    for client, host in ((provider.codecommit, "codecommit"), (provider.sts, "sts")):
        creds = client._request_signer._credentials.get_frozen_credentials()
        assert (creds.access_key, creds.secret_key, creds.token) == (key_id, SECRET_KEY, None)
        assert client.meta.region_name == REGION
        assert client.meta.endpoint_url == f"https://{host}.{REGION}.amazonaws.com"
        assert client.meta.config.connect_timeout == 3
        assert client.meta.config.read_timeout == 15
        assert client.meta.config.retries["total_max_attempts"] == 1
        assert client.meta.config.proxies == {}
    assert provider.codecommit is provider.codecommit  # created once, kept
    bare = cc._isolated_session().client("codecommit", region_name=REGION)
    with pytest.raises(NoCredentialsError):  # environment keys are never picked up
        bare.list_repositories()
    cc._isolated_session.cache_clear()


def test_secret_never_shows_in_repr():
    """Does the provider's repr leave out the secret access key?"""
    provider = cc.CodeCommit(SETTINGS, f"{KEY_ID}:{SECRET_KEY}")
    assert SECRET_KEY not in repr(provider)
    assert KEY_ID not in repr(provider)


@pytest.mark.parametrize("secret", ["no-colon", ":only-secret", f"{KEY_ID}:"])
def test_malformed_credential_is_refused(secret):
    """Is a credential without both halves refused with a sentence, before any call?"""
    with pytest.raises(ProviderError, match="access key ID and the secret"):
        cc.CodeCommit(SETTINGS, secret).validate()


def test_region_must_look_like_one():
    """Is a missing or odd region refused (it goes into host names and links)?"""
    bad = cc.CodeCommit(HostSettings(kind="codecommit", region="evil.example/x"), "a:b")
    with pytest.raises(ProviderError, match="region"):
        bad.validate()


def test_links_and_registry():
    """Are the IAM key page, branch link and registry entry right?"""
    from gitint.providers import REGISTRY

    provider = REGISTRY["codecommit"](SETTINGS, f"{KEY_ID}:{SECRET_KEY}")
    assert type(provider) is cc.CodeCommit
    assert provider.credential_kind == "iam_key"
    assert provider.label == "AWS CodeCommit"
    assert provider.new_token_url() == (
        "https://console.aws.amazon.com/iam/home#/security_credentials"
    )
    assert provider.web_url_for_branch(REPO, "feature/x y") == (
        f"{CONSOLE}/web-app/browse/refs/heads/feature/x%20y?region={REGION}"
    )
