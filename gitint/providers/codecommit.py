"""AWS CodeCommit through boto3, with an IAM access key instead of a PAT.

API reference: https://docs.aws.amazon.com/codecommit/latest/APIReference/Welcome.html
(service model: shared/contracts/codecommit/). boto3 does the HTTP; the clients are built from
the given keys and region only — no environment variables, profiles or config files — with
timeouts and no retries, so every host call is counted.
"""

import hashlib
import os
import re
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import cached_property, lru_cache
from urllib.parse import quote

import boto3.session
import botocore.session
from botocore.config import Config
from botocore.credentials import CredentialResolver
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    HTTPClientError,
    ParamValidationError,
    ReadTimeoutError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError
from botocore.parsers import ResponseParserError

from . import register
from .base import (
    AuthExpired,
    Branch,
    BranchExists,
    Identity,
    InvalidName,
    Malformed,
    MissingScope,
    NoAccess,
    NotFound,
    Provider,
    ProviderError,
    PullRequest,
    PullRequestExists,
    RateLimited,
    Repo,
    Unavailable,
)

CONFIG = Config(
    connect_timeout=3,
    read_timeout=15,
    retries={"total_max_attempts": 1},  # one attempt: host-call counts are exact
    user_agent_extra="gitint",
    proxies={},  # like trust_env=False: no proxies from the environment
)
REGION_RE = re.compile(r"^[a-z]{2}(-[a-z]+)+-\d{1,2}$")
BATCH = 25  # BatchGetRepositories takes at most 25 names

AUTH_CODES = {
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "ExpiredTokenException",
}
DENIED_CODES = {"AccessDeniedException", "AccessDenied"}
THROTTLE_CODES = {
    "Throttling",
    "ThrottlingException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
}


@lru_cache(maxsize=1)
def _isolated_session() -> boto3.session.Session:
    """One boto3 session per process that reads nothing from the environment or ~/.aws."""
    core = botocore.session.Session()
    # Drop every environment variable and config-file lookup (AWS_PROFILE, AWS_CONFIG_FILE,
    # AWS_ENDPOINT_URL, ...): only the defaults and what we set here remain.
    for name, (_, _, default, convert) in list(core.session_var_map.items()):
        core.session_var_map[name] = (None, None, default, convert)
    core.set_config_variable("config_file", os.devnull)
    core.set_config_variable("credentials_file", os.devnull)
    core.set_config_variable("ignore_configured_endpoint_urls", True)
    # No credential chain at all: a client without explicit keys cannot sign anything.
    core.register_component("credential_provider", CredentialResolver(providers=[]))
    return boto3.session.Session(botocore_session=core)


_session_lock = threading.Lock()  # boto3 sessions are not thread-safe


def _new_client(service: str, region: str, key_id: str, secret: str):
    """A boto3 client that knows only these keys and this region."""
    with _session_lock:
        return _isolated_session().client(
            service,
            region_name=region,
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
            config=CONFIG,
        )


# One client per credential and process: kept-alive connections, no client set-up per request.
_client = lru_cache(maxsize=64)(_new_client)


def request_token(repo: Repo, source: str, target: str, title: str, *after: str) -> str:
    """The idempotency token for a PR: a retry or double-click gets the same PR back from AWS."""
    parts = ("gitint-pr", repo.host_id, repo.full_name, source, target, title, *after)
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()


class _Replayed(ProviderError):
    """AWS saw this PR token before with other parameters."""


def _short(ref: str) -> str:
    return ref.removeprefix("refs/heads/")


@register("codecommit")
class CodeCommit(Provider):
    kind = "codecommit"
    label = "AWS CodeCommit"
    credential_kind = "iam_key"

    @property
    def supports_draft(self) -> bool:
        return False

    # ------------------------------------------------------------ clients

    @property
    def region(self) -> str:
        region = (self.settings.region or "").strip()
        if not REGION_RE.match(region):
            raise ProviderError("Set the AWS region of the repositories, e.g. eu-west-1.")
        return region

    def _keys(self) -> tuple[str, str]:
        key_id, _, secret = (self.secret or "").partition(":")
        if not key_id.strip() or not secret.strip():
            raise ProviderError("Enter both the access key ID and the secret access key.")
        return key_id.strip(), secret.strip()

    @cached_property
    def codecommit(self):
        """The CodeCommit client (tests assign a stubbed one)."""
        return _client("codecommit", self.region, *self._keys())

    @cached_property
    def sts(self):
        """The STS client, for whoami (tests assign a stubbed one)."""
        return _client("sts", self.region, *self._keys())

    def _call(self, client, operation: str, known: dict | None = None, **params) -> dict:
        """One host call; AWS errors become the provider error hierarchy."""
        try:
            return getattr(client, operation)(**params)
        except ClientError as e:
            raise self._error(client, operation, e, known or {}, params) from e
        except ParamValidationError as e:
            raise InvalidName("AWS CodeCommit refused a name or title as empty or too long.") from e
        except ReadTimeoutError as e:
            raise Unavailable(
                f"AWS CodeCommit in {self.region} did not answer in time; try again."
            ) from e
        except ConnectionClosedError as e:  # reached, then dropped
            raise Unavailable(
                f"The connection to AWS CodeCommit in {self.region} broke before it answered; "
                "try again."
            ) from e
        except (BotoConnectionError, HTTPClientError) as e:
            raise Unavailable(
                f"AWS CodeCommit in {self.region} could not be reached or did not answer in time; "
                "try again."
            ) from e
        except ResponseParserError as e:
            raise Malformed() from e
        except BotoCoreError as e:
            raise ProviderError("AWS CodeCommit could not be called; try again.") from e

    def _error(self, client, operation, e: ClientError, known: dict, params) -> ProviderError:
        code = re.sub(r"[^A-Za-z0-9.]", "", str(e.response.get("Error", {}).get("Code", "")))[:64]
        status = e.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        headers = e.response.get("ResponseMetadata", {}).get("HTTPHeaders") or {}
        if code in known:
            return known[code]
        if code in AUTH_CODES:
            return AuthExpired(
                "The AWS access key is invalid, inactive or deleted. Add a new one to continue.",
                expired=code.startswith("Expired"),
            )
        if code in DENIED_CODES:
            prefix = client.meta.service_model.endpoint_prefix
            action = f"{prefix}:{client.meta.method_to_api_mapping.get(operation, operation)}"
            return MissingScope(
                f"The IAM user lacks the “{action}” permission this action needs.", scope=action
            )
        if code == "EncryptionKeyAccessDeniedException":
            return MissingScope(
                "The IAM user cannot use the repository's KMS key (“kms:Decrypt”).",
                scope="kms:Decrypt",
            )
        if code == "RepositoryDoesNotExistException":
            targets = params.get("targets") or [{}]
            name = params.get("repositoryName") or targets[0].get("repositoryName") or "?"
            return NoAccess(
                f"No repository “{name}” exists in {self.region}, or these keys cannot see it."
            )
        if code == "BranchDoesNotExistException":
            return NotFound("The branch was not found in the repository.")
        if code == "InvalidBranchNameException":
            return InvalidName("AWS CodeCommit refused the branch name as invalid.")
        if code in THROTTLE_CODES or status == 429:
            retry_after = str(headers.get("retry-after") or "")
            return RateLimited(retry_after=int(retry_after) if retry_after.isdigit() else None)
        if status and status >= 500:
            named = f", {code}" if code and not code.isdigit() else ""
            return Unavailable(
                f"AWS CodeCommit had an internal error (HTTP {status}{named}); try again.",
                status=status,
            )
        return ProviderError(
            f"AWS CodeCommit answered with an unexpected error ({code or 'no code'}).",
            status=status,
        )

    def _pages(self, operation: str, key: str, **params) -> Iterator[list]:
        """Each page's ``key`` list, following ``nextToken``."""
        token = None
        while True:
            page = self._call(
                self.codecommit, operation, **params, **({"nextToken": token} if token else {})
            )
            yield page.get(key, [])
            token = page.get("nextToken")
            if not token:
                return

    # ------------------------------------------------------------ verbs

    def validate(self, repository_name: str | None = None) -> Identity:
        """Whose keys these are (STS), and that they reach CodeCommit (or the named repository)."""
        arn = self._call(self.sts, "get_caller_identity")["Arn"]
        login = arn.rsplit(":", 1)[-1].rsplit("/", 1)[-1]
        if repository_name:
            self._call(self.codecommit, "get_repository", repositoryName=repository_name)
        else:
            self._call(self.codecommit, "list_repositories")
        return Identity(login=login, display_name=arn)

    def list_repositories(self) -> Iterator[Repo]:
        for pairs in self._pages("list_repositories", "repositories"):
            names = [pair["repositoryName"] for pair in pairs]
            for start in range(0, len(names), BATCH):
                found = self._call(
                    self.codecommit,
                    "batch_get_repositories",
                    repositoryNames=names[start : start + BATCH],
                )
                for meta in found.get("repositories", []):
                    name = meta["repositoryName"]
                    yield Repo(
                        host_id=meta["repositoryId"],
                        full_name=name,
                        default_branch=meta.get("defaultBranch"),
                        web_url=self._console(f"repositories/{quote(name)}/browse"),
                    )

    def list_branches(self, repo: Repo, search: str | None = None) -> list[Branch]:
        needle = (search or "").casefold()
        return [
            Branch(name=name, sha="", web_url=self.web_url_for_branch(repo, name))
            for page in self._pages("list_branches", "branches", repositoryName=repo.full_name)
            for name in page
            if needle in name.casefold()
        ]

    def get_branch(self, repo: Repo, name: str) -> Branch:
        missing = NotFound(f"The branch “{name}” does not exist in {repo.full_name}.")
        info = self._call(
            self.codecommit,
            "get_branch",
            {"BranchDoesNotExistException": missing},
            repositoryName=repo.full_name,
            branchName=name,
        )["branch"]
        return Branch(
            name=info.get("branchName", name),
            sha=info.get("commitId", ""),
            web_url=self.web_url_for_branch(repo, name),
        )

    def create_branch(self, repo: Repo, name: str, base: str) -> Branch:
        """Two calls: the base head, then the new branch at that commit."""
        try:
            head = self.get_branch(repo, base).sha
        except NotFound as e:
            raise NotFound(f"The base branch “{base}” does not exist in {repo.full_name}.") from e
        url = self.web_url_for_branch(repo, name)
        self._call(
            self.codecommit,
            "create_branch",
            {
                "BranchNameExistsException": BranchExists(
                    f"A branch named “{name}” already exists.", url=url
                ),
                "InvalidBranchNameException": InvalidName(
                    f"AWS CodeCommit refused “{name}” as a branch name."
                ),
            },
            repositoryName=repo.full_name,
            branchName=name,
            commitId=head,
        )
        return Branch(name=name, sha=head, web_url=url)

    def create_pull_request(
        self, repo: Repo, source: str, target: str, title: str, description: str, draft: bool
    ) -> PullRequest:
        """One call. CodeCommit has no drafts; the deterministic token makes retries safe."""
        known = {
            "ReferenceDoesNotExistException": NotFound(
                f"The branch “{source}” or “{target}” does not exist in {repo.full_name}."
            ),
            "SourceAndDestinationAreSameException": ProviderError(
                "The source and target branch must differ."
            ),
            "TitleRequiredException": InvalidName("Enter a title."),
            "InvalidTitleException": InvalidName("The title may have at most 150 characters."),
            "MaximumOpenPullRequestsExceededException": ProviderError(
                "The repository has too many open pull requests (1,000); close some first."
            ),
            # Same token, other description: an earlier attempt created the PR.
            "IdempotencyParameterMismatchException": _Replayed(),
        }
        replayed: list[str] = []
        for _ in range(3):
            try:
                pr = self._call(
                    self.codecommit,
                    "create_pull_request",
                    known,
                    title=title,
                    description=description,
                    targets=[
                        {
                            "repositoryName": repo.full_name,
                            "sourceReference": source,
                            "destinationReference": target,
                        }
                    ],
                    clientRequestToken=request_token(repo, source, target, title, *replayed),
                )["pullRequest"]
            except _Replayed as e:
                raise PullRequestExists(url=self._open_pr_url(repo, source, target)) from e
            if pr.get("pullRequestStatus", "OPEN") == "OPEN":
                return self._pull_request(repo, pr)
            # AWS replayed an earlier PR with this token that is closed by now: open a new one.
            replayed.append(pr["pullRequestId"])
        raise ProviderError("AWS CodeCommit kept returning closed pull requests; try again.")

    def _open_pr_url(self, repo: Repo, source: str, target: str) -> str | None:
        try:
            found = self.find_open_pull_request(repo, source, target)
        except ProviderError:
            return None
        return found.web_url if found else None

    def find_open_pull_request(self, repo: Repo, source: str, target: str) -> PullRequest | None:
        for ids in self._pages(
            "list_pull_requests",
            "pullRequestIds",
            repositoryName=repo.full_name,
            pullRequestStatus="OPEN",
        ):
            for pr_id in ids:
                pr = self._call(self.codecommit, "get_pull_request", pullRequestId=pr_id)
                pr = pr["pullRequest"]
                for t in pr.get("pullRequestTargets", []):
                    if (
                        t.get("repositoryName") == repo.full_name
                        and _short(t.get("sourceReference", "")) == _short(source)
                        and _short(t.get("destinationReference", "")) == _short(target)
                    ):
                        return self._pull_request(repo, pr)
        return None

    def _pull_request(self, repo: Repo, pr: dict) -> PullRequest:
        target = (pr.get("pullRequestTargets") or [{}])[0]
        pr_id = str(pr["pullRequestId"])
        created = pr.get("creationDate")
        return PullRequest(
            id=pr_id,
            title=pr.get("title", ""),
            web_url=self.web_url_for_pull_request(repo, pr_id),
            source=_short(target.get("sourceReference", "")),
            target=_short(target.get("destinationReference", "")),
            author=str(pr.get("authorArn") or "").rsplit("/", 1)[-1] or None,
            created_at=created.astimezone(UTC).replace(tzinfo=None)
            if isinstance(created, datetime)
            else None,
        )

    # ------------------------------------------------------------ links

    def _console(self, path: str) -> str:
        region = self.region
        return (
            f"https://{region}.console.aws.amazon.com/codesuite/codecommit/{path}?region={region}"
        )

    def new_token_url(self) -> str:
        return "https://console.aws.amazon.com/iam/home#/security_credentials"

    def web_host(self) -> str:
        return f"{self.region}.console.aws.amazon.com"

    def web_url_for_branch(self, repo: Repo, name: str) -> str:
        return self._console(
            f"repositories/{quote(repo.full_name)}/browse/refs/heads/{quote(name)}"
        )

    def web_url_for_pull_request(self, repo: Repo, pr_id: str) -> str:
        return self._console(
            f"repositories/{quote(repo.full_name)}/pull-requests/{quote(str(pr_id))}/details"
        )
