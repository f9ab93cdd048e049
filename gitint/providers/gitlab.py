"""GitLab.com and self-managed GitLab, through the REST API v4.

API reference: https://docs.gitlab.com/api/rest/ — branches https://docs.gitlab.com/api/branches/,
merge requests https://docs.gitlab.com/api/merge_requests/, projects
https://docs.gitlab.com/api/projects/, token self-information
https://docs.gitlab.com/api/personal_access_tokens/ (``self`` since GitLab 15.5).
"""

import re
from datetime import datetime
from typing import ClassVar
from urllib.parse import quote, urlsplit

import requests

from . import register
from .base import (
    AuthExpired,
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
    ReadOnly,
    Repo,
    branch_missing,
    parse_time,
)
from .http import Transport, check_base_url, next_link, path_segment

WRITE_SCOPE = "api"  # creating branches and merge requests needs the full API scope
DRAFT_PREFIXES = ("draft:", "[draft]", "(draft)")


def message_of(response: requests.Response) -> str:
    """GitLab's ``message`` (a string, a list, or a dict of field → list) as one line."""
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:200]
    if not isinstance(body, dict):
        return ""
    message = body.get("message") or body.get("error_description") or body.get("error") or ""
    if isinstance(message, list):
        return " ".join(str(item) for item in message)
    if isinstance(message, dict):
        return "; ".join(
            f"{field} {' '.join(map(str, errors))}" for field, errors in message.items()
        )
    return str(message)


def classify(response: requests.Response) -> ProviderError | None:
    """GitLab-specific failed answers; None falls back to ``http.generic_error``."""
    status = response.status_code
    try:
        body = response.json()
    except ValueError:
        body = {}
    body = body if isinstance(body, dict) else {}
    if status == 401:
        description = str(body.get("error_description") or "").lower()
        if "expired" in description:
            return AuthExpired(
                "Your GitLab access token has expired. Add a new one to continue.", expired=True
            )
        if "revoked" in description:
            return AuthExpired(
                "Your GitLab access token has been revoked. Add a new one to continue.",
                revoked=True,
            )
        return AuthExpired(
            "GitLab did not accept the access token: it is wrong, expired or "
            "revoked. Add a new one to continue."
        )
    if status == 403 and body.get("error") == "insufficient_scope":
        scopes = str(body.get("scope") or WRITE_SCOPE).split()
        return MissingScope(scope=WRITE_SCOPE if WRITE_SCOPE in scopes else scopes[0])
    if status == 404 and "project" in message_of(response).lower():
        return NoAccess(status=404)
    if status in (400, 409, 422):
        text = message_of(response)
        if text:
            return ProviderError(f"GitLab refused the request: {text}", status=status)
    return None


def header(headers: dict, name: str) -> str | None:
    return next((value for key, value in headers.items() if key.lower() == name.lower()), None)


@register("gitlab", "gitlab_self_managed")
class GitLab(Provider):
    kind = "gitlab"
    label = "GitLab"
    pr_noun = "merge request"
    cloud_url: ClassVar[str] = "https://gitlab.com"

    def __init__(self, settings, secret, *, allow_private=False):
        super().__init__(settings, secret, allow_private=allow_private)
        if settings.kind == "gitlab_self_managed":
            base = (settings.base_url or "").strip().rstrip("/")
            self.web_base = base.removesuffix("/api/v4")
        else:
            self.web_base = self.cloud_url
        self._http: Transport | None = None

    @property
    def http(self) -> Transport:
        """The transport, made on first use (the SSRF check resolves the host name)."""
        if self._http is None:
            if self.settings.kind == "gitlab_self_managed":
                check_base_url(self.web_base, self.allow_private)
            self._http = Transport(
                f"{self.web_base}/api/v4",
                {"Authorization": f"Bearer {self.secret}"},
                classify=classify,
                allow_private=self.allow_private,
            )
        return self._http

    # ------------------------------------------------------------ verbs

    def validate(self) -> Identity:
        try:
            try:
                token = self.http.get_json("/personal_access_tokens/self")
            except NotFound:  # GitLab < 15.5 has no "self": identity only, scopes unknown
                token = None
            user = self.http.get_json("/user")
        except MissingScope:  # a token that cannot even read itself surely lacks "api"
            raise MissingScope(scope=WRITE_SCOPE) from None
        login, name = user["username"], user.get("name")
        if token is None:
            return Identity(login=login, display_name=name)
        if token.get("revoked") or token.get("active") is False:
            raise AuthExpired(
                "Your GitLab access token has been revoked or has expired. "
                "Add a new one to continue.",
                revoked=bool(token.get("revoked")),
            )
        scopes = tuple(token.get("scopes") or ())
        can_write = WRITE_SCOPE in scopes
        expires_at = None
        if token.get("expires_at"):
            # a token stops working at 00:00 UTC on its expiry date (GitLab docs)
            expires_at = datetime.fromisoformat(token["expires_at"][:10])
        return Identity(
            login=login,
            display_name=name,
            scopes=scopes,
            expires_at=expires_at,
            can_create_branch=can_write,
            can_create_pull_request=can_write,
            missing_scopes=() if can_write else (WRITE_SCOPE,),
        )

    def list_repositories(self):
        path: str | None = "/projects"
        params = {
            "membership": "true",
            "simple": "true",
            "archived": "false",
            "pagination": "keyset",
            "order_by": "id",
            "sort": "asc",
            "per_page": "100",
        }
        while path:
            body, headers = self.http.get_page(path, params)
            for project in body:
                yield Repo(
                    host_id=str(project["id"]),
                    full_name=project["path_with_namespace"],
                    default_branch=project.get("default_branch"),
                    web_url=project.get("web_url"),
                )
            path, params = next_link(headers), None  # the next link carries the cursor

    def list_branches(self, repo: Repo, search: str | None = None) -> list[Branch]:
        path: str | None = f"{self._project(repo)}/repository/branches"
        params = {"per_page": "100"}
        if search:
            params["search"] = search
        branches = []
        while path:
            body, headers = self.http.get_page(path, params, cached=True)
            branches += [self._branch(repo, item) for item in body]
            link, page = next_link(headers), header(headers, "X-Next-Page")
            if link:
                path, params = link, None
            elif page:
                params = {**(params or {}), "page": page}
            else:
                path = None
        if search:  # GitLab filters already; keep the contract's case-insensitive substring
            branches = [b for b in branches if search.lower() in b.name.lower()]
        return branches

    def get_branch(self, repo: Repo, name: str) -> Branch:
        try:
            body = self.http.get_json(
                f"{self._project(repo)}/repository/branches/{path_segment(name)}"
            )
        except NotFound:
            raise NotFound(
                f"The branch “{name}” does not exist in {repo.full_name}.", status=404
            ) from None
        return self._branch(repo, body)

    def create_branch(self, repo: Repo, name: str, base: str) -> Branch:
        response = self._write(
            f"{self._project(repo)}/repository/branches",
            {"branch": name, "ref": base},
            ok_statuses=(400,),
        )
        if response.status_code == 400:
            text = message_of(response)
            lowered = text.lower()
            if "already exists" in lowered:
                raise BranchExists(
                    f"A branch named “{name}” already exists.",
                    status=400,
                    url=self.web_url_for_branch(repo, name),
                )
            if "invalid reference name" in lowered:
                raise NotFound(
                    f"The base branch “{base}” does not exist in {repo.full_name}.", status=400
                )
            if "branch name" in lowered:  # "is invalid", "conflicts with existing branch…"
                raise InvalidName(f"GitLab refused the branch name: {text}", status=400)
            raise ProviderError(f"GitLab refused to create the branch: {text}", status=400)
        return self._branch(repo, response.json())

    def create_pull_request(self, repo, source, target, title, description, draft):
        if draft and not title.lower().startswith(DRAFT_PREFIXES):
            title = f"Draft: {title}"
        response = self._write(
            f"{self._project(repo)}/merge_requests",
            {
                "source_branch": source,
                "target_branch": target,
                "title": title,
                "description": description,
            },
            ok_statuses=(400, 409, 422),
        )
        if response.status_code >= 400:
            raise self._refused_merge_request(repo, source, target, response)
        return self._merge_request(response.json())

    def _refused_merge_request(self, repo, source, target, response) -> ProviderError:
        """409 (or a 400/422 saying so): one is open already; 400/422 naming a branch: it is
        missing (``{"message": {"target_branch": ["does not exist"]}}`` or ``Target branch
        "x" does not exist``); anything else in GitLab's words."""
        status, text = response.status_code, message_of(response)
        lowered = text.lower()
        if status == 409 or "already exists" in lowered:
            # {"message": ["Another open merge request already exists for this source branch: !12"]}
            found = re.search(r"!(\d+)", text)
            url = self.web_url_for_pull_request(repo, found.group(1)) if found else None
            existing = None
            if url is None:
                existing = self.find_open_pull_request(repo, source, target)
                url = existing.web_url if existing else None
            return PullRequestExists(
                "A merge request for these branches is already open.",
                status=status,
                url=url,
                found=existing,
            )
        for which, name in (("target", target), ("source", source)):
            if re.search(rf"{which}[ _]branch", lowered) and re.search("exist|invalid", lowered):
                return branch_missing(which, name, repo.full_name, status)
        return ProviderError(f"GitLab refused the merge request: {text}", status=status)

    def _write(self, path: str, body: dict, ok_statuses=()) -> requests.Response:
        """POST to the project; a 403 that is not about the token's scope means the user's
        role may read the project but not push (Guest or Reporter)."""
        try:
            return self.http.request("POST", path, json=body, ok_statuses=ok_statuses)
        except NoAccess as error:
            if error.status != 403:
                raise
            raise ReadOnly(status=403, role="GitLab Developer") from None

    def find_open_pull_request(self, repo, source, target):
        body = self.http.get_json(
            f"{self._project(repo)}/merge_requests",
            {"state": "opened", "source_branch": source, "target_branch": target},
        )
        return self._merge_request(body[0]) if body else None

    def new_token_url(self) -> str:
        return f"{self.web_base}/-/user_settings/personal_access_tokens?name=gitint&scopes=api"

    def web_host(self) -> str:
        return urlsplit(self.web_base).netloc

    def web_url_for_branch(self, repo: Repo, name: str) -> str:
        return f"{self._web(repo)}/-/tree/{quote(name, safe='/')}"

    def web_url_for_pull_request(self, repo: Repo, pr_id: str) -> str:
        return f"{self._web(repo)}/-/merge_requests/{pr_id}"

    # ------------------------------------------------------------ helpers

    def _project(self, repo: Repo) -> str:
        return f"/projects/{path_segment(repo.host_id)}"

    def _web(self, repo: Repo) -> str:
        return (repo.web_url or f"{self.web_base}/{repo.full_name}").rstrip("/")

    def _branch(self, repo: Repo, item: dict) -> Branch:
        commit = item.get("commit") or {}
        return Branch(
            name=item["name"],
            sha=commit.get("id", ""),
            committed_at=parse_time(commit.get("committed_date")),
            web_url=item.get("web_url") or self.web_url_for_branch(repo, item["name"]),
        )

    def _merge_request(self, item: dict) -> PullRequest:
        return PullRequest(
            id=str(item["iid"]),
            title=item["title"],
            web_url=item["web_url"],
            source=item["source_branch"],
            target=item["target_branch"],
            draft=bool(item.get("draft", item.get("work_in_progress", False))),
            author=(item.get("author") or {}).get("username"),
            created_at=parse_time(item.get("created_at")),
        )
