"""GitHub.com and GitHub Enterprise Server, through the REST API (v3, version 2022-11-28).

API reference: https://docs.github.com/en/rest (GHES: https://docs.github.com/en/enterprise-server@3.19/rest).
GHES is the same API under ``{base_url}/api/v3``.
"""

from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

import requests

from . import register
from .base import (
    AuthExpired,
    BlockedHost,
    Branch,
    BranchExists,
    Identity,
    InvalidName,
    MissingScope,
    NoAccess,
    NotFound,
    Provider,
    ProviderError,
    PullRequest,
    PullRequestExists,
    RateLimited,
    ReadOnly,
    Repo,
    branch_missing,
    parse_time,
)
from .http import (
    Transport,
    check_base_url,
    is_rate_limited,
    next_link,
    parse_json,
    path_segment,
    path_segments,
    retry_after_seconds,
)

CLOUD_API = "https://api.github.com"
CLOUD_WEB = "https://github.com"
API_VERSION = "2022-11-28"
NEEDED_SCOPE = "repo"  # classic PATs: branches and pull requests in private and public repos
# Classic scopes that include others (https://docs.github.com/en/apps/oauth-apps/building-oauth-apps/scopes-for-oauth-apps)
IMPLIED_SCOPES = {
    "repo": {"public_repo", "repo:status", "repo_deployment", "repo:invite", "security_events"},
    "user": {"read:user", "user:email", "user:follow"},
}


def parse_scopes(value: str | None) -> tuple[str, ...] | None:
    """``"repo, user"`` → ``("repo", "user")``; None when the header is absent."""
    if value is None:
        return None
    return tuple(scope.strip() for scope in value.split(",") if scope.strip())


def covers(granted: tuple[str, ...], wanted: str) -> bool:
    """Whether the granted classic scopes include ``wanted``, directly or by implication."""
    return any(scope == wanted or wanted in IMPLIED_SCOPES.get(scope, ()) for scope in granted)


def parse_expiry(value: str | None) -> datetime | None:
    """``2021-10-07 19:07:53 UTC`` (or ``+0000``) → naive UTC datetime."""
    if not value:
        return None
    value = value.strip()
    if value.endswith(" UTC"):
        value = value[:-4] + " +0000"
    try:
        moment = datetime.strptime(value, "%Y-%m-%d %H:%M:%S %z")
    except ValueError:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None)


def describe_permissions(value: str) -> str:
    """``pull_requests=write,contents=read`` → ``Pull requests: write, Contents: read``."""
    options = []
    for option in value.split(";"):
        parts = []
        for item in option.split(","):
            name, _, level = item.strip().partition("=")
            if name:
                parts.append(f"{name.replace('_', ' ').capitalize()}: {level or 'read'}")
        if parts:
            options.append(", ".join(parts))
    return " or ".join(options)


def _body(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _messages(body: dict) -> str:
    """The top message and every ``errors[].message`` of a GitHub error body, joined."""
    texts = [str(body.get("message") or "")]
    for error in body.get("errors") or ():
        if isinstance(error, dict):
            texts.append(
                str(error.get("message") or f"{error.get('field', '')} {error.get('code')}")
            )
        else:
            texts.append(str(error))
    return " ".join(text for text in texts if text)


def classify(response: requests.Response) -> ProviderError | None:
    """GitHub-specific meaning of a failed answer; None falls back to the generic mapping."""
    status, headers = response.status_code, response.headers
    body = _body(response)
    message = _messages(body)
    if status == 401:
        return AuthExpired("GitHub refused the access token: it is expired or has been revoked.")
    if status in (403, 429) and (is_rate_limited(response) or "rate limit" in message.lower()):
        return RateLimited(retry_after=retry_after_seconds(response), status=status)
    if status in (403, 404) and headers.get("X-GitHub-SSO"):
        sso = headers["X-GitHub-SSO"]
        link = sso.split("url=", 1)[1].strip() if "url=" in sso else None
        where = f"open {link} and authorize it" if link else "authorize it in the token settings"
        return MissingScope(
            f"The access token must be authorized for the organization's single sign-on: {where}.",
            status=status,
        )
    if status == 403 and headers.get("X-Accepted-GitHub-Permissions"):
        needed = headers["X-Accepted-GitHub-Permissions"]
        return MissingScope(
            f"The access token lacks the GitHub permission {describe_permissions(needed)}.",
            status=status,
            scope=needed,
        )
    granted = parse_scopes(headers.get("X-OAuth-Scopes"))
    accepted = parse_scopes(headers.get("X-Accepted-OAuth-Scopes")) or ()
    lacking = (
        bool(accepted) and granted is not None and not any(covers(granted, s) for s in accepted)
    )
    if status in (403, 404) and lacking:
        scope = NEEDED_SCOPE if NEEDED_SCOPE in accepted else accepted[0]
        return MissingScope(status=status, scope=scope)
    if status == 403 and "not accessible by" in message:  # fine-grained token, older GHES
        return MissingScope(status=status)
    if status == 404:
        return NoAccess(status=status)
    if status == 409 and "empty" in message.lower():
        return ProviderError(
            "The repository is empty: push a first commit before creating branches.", status=status
        )
    if status == 422:
        if "Reference already exists" in message:
            return BranchExists(status=status)
        if "pull request already exists" in message:
            return PullRequestExists(status=status)
        if "No commits between" in message:
            return ProviderError(
                "There is nothing to merge: the source branch has no commits that the target "
                "branch lacks.",
                status=status,
            )
        fields = {e.get("field") for e in body.get("errors") or () if isinstance(e, dict)}
        if "invalid" in message and fields & {"head", "base"}:  # the branch does not exist
            which = "source" if "head" in fields else "target"
            return NotFound(
                f"The {which} branch does not exist on GitHub.", status=status, which=which
            )
        if "not a valid ref name" in message or "Reference name is invalid" in message:
            return InvalidName("GitHub refused the branch name as invalid.", status=status)
        if message:
            return ProviderError(f"GitHub refused the request: {message[:200]}", status=status)
    return None


@register("github", "github_enterprise")
class GitHub(Provider):
    kind = "github"
    label = "GitHub"

    def __init__(self, settings, secret, *, allow_private=False):
        super().__init__(settings, secret, allow_private=allow_private)
        if settings.kind == "github_enterprise":
            if not settings.base_url:
                raise BlockedHost(
                    "GitHub Enterprise needs a base URL like https://ghe.example.com."
                )
            self.web = settings.base_url.rstrip("/")
            self.api = self.web + "/api/v3"
        else:
            self.web, self.api = CLOUD_WEB, CLOUD_API
        self._checked = settings.kind != "github_enterprise"  # the SSRF guard runs once, lazily
        self.http = Transport(
            self.api,
            {"Authorization": f"Bearer {secret}"},
            classify=classify,
            headers={"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION},
            allow_private=allow_private,
        )

    def _transport(self) -> Transport:
        if not self._checked:
            check_base_url(self.web, self.allow_private)
            self._checked = True
        return self.http

    @staticmethod
    def _repo_path(repo: Repo) -> str:
        """``/repos/{owner}/{repo}``, each part one path segment."""
        owner, _, name = repo.full_name.partition("/")
        return f"/repos/{path_segment(owner)}/{path_segment(name)}"

    # ------------------------------------------------------------ verbs

    def validate(self) -> Identity:
        response = self._transport().request("GET", "/user")
        body = parse_json(response)
        scopes = parse_scopes(response.headers.get("X-OAuth-Scopes"))
        if scopes is None:  # fine-grained token: its permissions cannot be read back
            can, missing = None, ()
        else:
            can = covers(scopes, NEEDED_SCOPE)
            missing = () if can else (NEEDED_SCOPE,)
        return Identity(
            login=body["login"],
            display_name=body.get("name"),
            scopes=scopes,
            expires_at=parse_expiry(response.headers.get("GitHub-Authentication-Token-Expiration")),
            can_create_branch=can,
            can_create_pull_request=can,
            missing_scopes=missing,
        )

    def list_repositories(self):
        path, params = "/user/repos", {"per_page": 100}
        while path:
            items, headers = self._transport().get_page(path, params)
            for item in items:
                yield Repo(
                    host_id=str(item["id"]),
                    full_name=item["full_name"],
                    default_branch=item.get("default_branch"),
                    web_url=item.get("html_url"),
                )
            path, params = next_link(headers), None

    def list_branches(self, repo, search=None):
        needle = (search or "").lower()
        branches = []
        path, params = self._repo_path(repo) + "/branches", {"per_page": 100}
        while path:
            items, headers = self._transport().get_page(path, params, cached=True)
            for item in items:
                if needle in item["name"].lower():
                    branches.append(self._branch(repo, item["name"], item["commit"]["sha"]))
            path, params = next_link(headers), None
        return branches

    def get_branch(self, repo, name):
        # the ref parameter takes slashes (x-multi-segment in GitHub's OpenAPI description)
        path = f"{self._repo_path(repo)}/git/ref/heads/{path_segments(name)}"
        try:
            body = self._transport().get_json(path)
        except NoAccess as error:
            if error.status != 404:
                raise
            raise NotFound(f"The branch {name} does not exist.", status=404) from None
        return self._branch(repo, name, body["object"]["sha"])

    def create_branch(self, repo, name, base):
        try:
            sha = self.get_branch(repo, base).sha
        except NotFound:
            raise NotFound(f"The base branch {base} does not exist.", status=404) from None
        try:
            response = self._write(repo, "/git/refs", {"ref": f"refs/heads/{name}", "sha": sha})
        except BranchExists:
            raise BranchExists(
                f"The branch {name} already exists.",
                status=422,
                url=self.web_url_for_branch(repo, name),
            ) from None
        return self._branch(repo, name, response.json()["object"]["sha"])

    def create_pull_request(self, repo, source, target, title, description, draft):
        body = {"title": title, "head": source, "base": target, "body": description, "draft": draft}
        try:
            response = self._write(repo, "/pulls", body)
        except PullRequestExists:
            try:
                existing = self.find_open_pull_request(repo, source, target)
            except ProviderError:
                existing = None
            raise PullRequestExists(
                f"A pull request from {source} into {target} already exists.",
                status=422,
                url=existing.web_url if existing else None,
                found=existing,
            ) from None
        except NotFound as error:
            if error.which is None:
                raise
            name = source if error.which == "source" else target
            raise branch_missing(error.which, name, repo.full_name, error.status) from None
        return self._pull_request(repo, response.json())

    def _write(self, repo: Repo, path: str, body: dict) -> requests.Response:
        """POST to the repository; a refusal for a token whose user may only read the
        repository (its ``permissions.push`` is false) is ReadOnly, not "no access"."""
        try:
            return self._transport().request("POST", self._repo_path(repo) + path, json=body)
        except (NoAccess, MissingScope) as error:
            if getattr(error, "scope", None) or self._can_push(repo) is not False:
                raise
            raise ReadOnly(status=error.status, role="GitHub Write") from None

    def _can_push(self, repo: Repo) -> bool | None:
        """The acting user's ``push`` permission on the repository (None when unknown)."""
        try:
            body = self._transport().get_json(self._repo_path(repo))
        except ProviderError:
            return None
        permissions = body.get("permissions") if isinstance(body, dict) else None
        return permissions.get("push") if isinstance(permissions, dict) else None

    def find_open_pull_request(self, repo, source, target):
        owner = repo.full_name.split("/")[0]
        params = {"head": f"{owner}:{source}", "base": target, "state": "open"}
        items = self._transport().get_json(self._repo_path(repo) + "/pulls", params)
        return self._pull_request(repo, items[0]) if items else None

    def new_token_url(self):
        return f"{self.web}/settings/tokens/new?scopes=repo&description=gitint"

    def web_host(self):
        return urlsplit(self.web).netloc

    def web_url_for_branch(self, repo, name):
        return f"{self.web}/{repo.full_name}/tree/{quote(name, safe='/')}"

    def web_url_for_pull_request(self, repo, pr_id):
        return f"{self.web}/{repo.full_name}/pull/{pr_id}"

    # ------------------------------------------------------------ results

    def _branch(self, repo: Repo, name: str, sha: str) -> Branch:
        return Branch(name=name, sha=sha, web_url=self.web_url_for_branch(repo, name))

    def _pull_request(self, repo: Repo, item: dict) -> PullRequest:
        number = str(item["number"])
        return PullRequest(
            id=number,
            title=item.get("title") or "",
            web_url=item.get("html_url") or self.web_url_for_pull_request(repo, number),
            source=item["head"]["ref"],
            target=item["base"]["ref"],
            draft=bool(item.get("draft")),
            author=(item.get("user") or {}).get("login"),
            created_at=parse_time(item.get("created_at")),
        )
