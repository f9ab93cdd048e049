"""The one contract every git host implements: frozen results, one error hierarchy, one verb set.

Each error's ``str()`` is a sentence a Jira user can act on; it never contains a credential.
"""

from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import ClassVar

# ---------------------------------------------------------------- results


@dataclass(frozen=True)
class HostSettings:
    """Where the host is: the integration's non-secret settings."""

    kind: str
    base_url: str | None = None  # as the admin sees it in the browser (self-hosted kinds)
    organization: str | None = None  # Azure DevOps / VSTS organization, TFS collection
    region: str | None = None  # CodeCommit
    server_version: str | None = None  # TFS: 2013 2015 2017 2018 2019 2020 2022


@dataclass(frozen=True)
class Identity:
    """Who a credential belongs to and what it may do. ``None`` means the host cannot say."""

    login: str
    display_name: str | None = None
    scopes: tuple[str, ...] | None = None  # granted scopes, when the host tells
    expires_at: datetime | None = None  # naive UTC, when the host tells
    can_create_branch: bool | None = None
    can_create_pull_request: bool | None = None
    missing_scopes: tuple[str, ...] = ()  # named scopes the actions need and the token lacks


@dataclass(frozen=True)
class Repo:
    """A repository as the dialogs need it; ``host_id`` is what the host's API addresses it by."""

    host_id: str
    full_name: str
    default_branch: str | None = None
    web_url: str | None = None
    project: str | None = None  # Azure DevOps project name


@dataclass(frozen=True)
class Branch:
    name: str
    sha: str
    committed_at: datetime | None = None  # when the host lists it; used to find the newest
    web_url: str | None = None


@dataclass(frozen=True)
class PullRequest:
    id: str  # GitHub number, GitLab iid, Azure pullRequestId, CodeCommit pullRequestId
    title: str
    web_url: str
    source: str
    target: str
    draft: bool = False
    author: str | None = None  # the login that opened it, when the host tells
    created_at: datetime | None = None  # naive UTC, when the host tells


def parse_time(value) -> datetime | None:
    """An ISO 8601 time from a host as naive UTC; None when absent or unreadable."""
    if not value or not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(UTC).replace(tzinfo=None)
    return parsed


# ---------------------------------------------------------------- errors


class ProviderError(Exception):
    """A host call failed; ``str()`` is one sentence for the user."""

    default = "The git host answered with an unexpected error."

    def __init__(self, message: str | None = None, *, status: int | None = None):
        super().__init__(message or self.default)
        self.status = status


class AuthExpired(ProviderError):
    """401: the token is expired, revoked or simply wrong. ``revoked`` when the host says so."""

    default = "The access token is expired or has been revoked. Add a new one to continue."

    def __init__(self, message=None, *, status=401, revoked: bool = False, expired: bool = False):
        super().__init__(message, status=status)
        self.revoked = revoked
        self.expired = expired


class MissingScope(ProviderError):
    default = "The access token lacks a permission this action needs."

    def __init__(self, message=None, *, status=403, scope: str | None = None):
        if message is None and scope:
            message = f"The access token lacks the “{scope}” permission this action needs."
        super().__init__(message, status=status)
        self.scope = scope


class NoAccess(ProviderError):
    default = "This account has no access to the repository, or the repository does not exist."


class ReadOnly(ProviderError):
    """The credential can read the repository but not push to it (GitHub Read, GitLab Reporter,
    Azure Readers). ``role`` names the access to ask for, e.g. "GitHub Write"."""

    def __init__(self, message=None, *, status=403, role: str = "write access"):
        self.role = role
        super().__init__(message or self.said(None, "the repository"), status=status)

    def said(self, login: str | None, repository: str) -> str:
        """The sentence naming who acts and where."""
        who = f"@{login}" if login else "This account"
        return (
            f"{who} can read {repository} but cannot push to it; "
            f"ask for write access ({self.role})."
        )


class NotFound(ProviderError):
    """``which`` is "source" or "target" when the host named the missing branch of a PR."""

    default = "The repository or branch was not found on the git host."

    def __init__(self, message=None, *, status=None, which: str | None = None):
        super().__init__(message, status=status)
        self.which = which


def branch_missing(which: str, name: str, repository: str, status: int | None = None) -> NotFound:
    """ "The target branch X does not exist in REPO." (``which``: base, source or target)."""
    return NotFound(
        f"The {which} branch {name} does not exist in {repository}.", status=status, which=which
    )


class InvalidName(ProviderError):
    default = "The git host refused the name as invalid."


class AlreadyExists(ProviderError):
    """The branch or pull request exists; ``url`` links to it when it could be found, and
    ``found`` is the existing pull request when the provider already looked it up."""

    def __init__(self, message=None, *, status=None, url: str | None = None, found=None):
        super().__init__(message, status=status)
        self.url = url
        self.found = found


class BranchExists(AlreadyExists):
    default = "A branch with this name already exists."


class PullRequestExists(AlreadyExists):
    default = "A pull request for these branches already exists."


class RateLimited(ProviderError):
    def __init__(self, message=None, *, status=429, retry_after: int | None = None):
        if message is None:
            message = (
                f"The git host is rate limiting requests; try again in {retry_after} s."
                if retry_after is not None
                else "The git host is rate limiting requests; try again in a minute."
            )
        super().__init__(message, status=status)
        self.retry_after = retry_after


class Unavailable(ProviderError):
    default = "The git host could not be reached or did not answer in time; try again."


class Malformed(ProviderError):
    """The host answered, but not in a shape gitint can read (not JSON, or a key missing)."""

    default = "The git host sent an answer gitint could not read; try again."


# What reading a host's answer raises when it is not the documented shape: each becomes Malformed.
UNREADABLE = (KeyError, IndexError, TypeError, ValueError, AttributeError)


class Unsupported(ProviderError):
    default = "This host version does not support personal access tokens."


class BlockedHost(ProviderError):
    default = "This host address is not allowed: use https and a public address."


# ---------------------------------------------------------------- the contract


class Provider(ABC):
    """One git host reached with one credential (a token, or ``KEY_ID:SECRET`` for CodeCommit)."""

    kind: ClassVar[str]
    label: ClassVar[str]  # "GitHub", "GitLab", "Azure DevOps", "AWS CodeCommit"
    pr_noun: ClassVar[str] = "pull request"  # "merge request" on GitLab
    credential_kind: ClassVar[str] = "pat"  # or "iam_key"

    def __init__(self, settings: HostSettings, secret: str, *, allow_private: bool = False):
        self.settings = settings
        self.secret = secret
        self.allow_private = allow_private

    def __repr__(self) -> str:  # never show the secret
        return f"<{type(self).__name__} {self.settings.kind}>"

    @property
    def supports_pats(self) -> bool:
        return True

    @property
    def supports_draft(self) -> bool:
        return True

    @abstractmethod
    def validate(self) -> Identity:
        """Check the credential: owner, scopes and expiry where the host tells."""

    @abstractmethod
    def list_repositories(self) -> Iterator[Repo]:
        """Every repository the credential can see, page by page, as a stream."""

    @abstractmethod
    def list_branches(self, repo: Repo, search: str | None = None) -> list[Branch]:
        """Every branch (all pages), filtered by a case-insensitive substring when given."""

    @abstractmethod
    def get_branch(self, repo: Repo, name: str) -> Branch:
        """One branch with its head commit; NotFound when absent."""

    @abstractmethod
    def create_branch(self, repo: Repo, name: str, base: str) -> Branch:
        """Create ``name`` at the head of ``base``; BranchExists (with url) when taken."""

    @abstractmethod
    def create_pull_request(
        self, repo: Repo, source: str, target: str, title: str, description: str, draft: bool
    ) -> PullRequest:
        """Open a PR/MR; PullRequestExists (with url) when one is already open."""

    @abstractmethod
    def find_open_pull_request(self, repo: Repo, source: str, target: str) -> PullRequest | None:
        """The open PR/MR from source into target, if any."""

    @abstractmethod
    def new_token_url(self) -> str:
        """The host's page for creating a token, with scopes pre-selected where supported."""

    def web_host(self) -> str | None:
        """``host[:port]`` of the host's web pages: links from the host are shown only there."""
        return None

    @abstractmethod
    def web_url_for_branch(self, repo: Repo, name: str) -> str: ...

    @abstractmethod
    def web_url_for_pull_request(self, repo: Repo, pr_id: str) -> str: ...
