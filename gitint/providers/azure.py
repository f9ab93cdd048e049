"""Azure DevOps Services, VSTS and Azure DevOps Server / TFS, through the Git REST API.

API reference: https://learn.microsoft.com/en-us/rest/api/azure/devops/git/ (versions:
https://learn.microsoft.com/en-us/azure/devops/integrate/concepts/rest-api-versioning).
One class answers for all three kinds; only the API root and the ``api-version`` differ.
"""

import base64
import re
from urllib.parse import quote, urlsplit, urlunsplit

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
    Unsupported,
    branch_missing,
    parse_time,
)
from .http import (
    Transport,
    check_base_url,
    is_rate_limited,
    path_segment,
    retry_after_seconds,
)

CLOUD_API_VERSION = "7.1"
# TFS / Azure DevOps Server release → the newest api-version it serves.
SERVER_API_VERSIONS = {
    "2013": "1.0",
    "2015": "2.0",
    "2017": "3.0",
    "2018": "4.1",
    "2019": "5.0",
    "2020": "6.0",
    "2022": "7.0",
}
NO_PAT_VERSIONS = {"2013", "2015"}  # PATs arrived with TFS 2017
LABELS = {
    "azure_devops": "Azure DevOps",
    "vsts": "Azure DevOps",
    "tfs": "Azure DevOps Server / TFS",
}
HEADERS = {"Accept": "application/json", "X-TFS-FedAuthRedirect": "Suppress"}
ZERO_SHA = "0" * 40
HEADS = "refs/heads/"
# Friendly names of the Git repository permissions the host names in its messages.
PERMISSIONS = {
    "CreateBranch": "Create branch",
    "GenericContribute": "Contribute",
    "PullRequestContribute": "Contribute to pull requests",
    "GenericRead": "Read",
}
# Lacking one of these, the account can read but not push: the access to ask for.
WRITE_ROLES = {
    "Contribute": "Azure Contribute",
    "Create branch": "Azure Contribute and Create branch",
    "Contribute to pull requests": "Azure Contribute to pull requests",
}


def _body(response: requests.Response) -> dict:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _missing_permission(message: str) -> str | None:
    """``TF401027: You need the Git 'CreateBranch' permission…`` → ``Create branch``."""
    found = re.search(r"need the (?:Git )?'([^']+)' permission", message)
    return found and PERMISSIONS.get(found.group(1), found.group(1))


def _permission_error(permission: str, status: int | None = None) -> ProviderError:
    """The Git permission the account lacks; lacking a write permission means a Reader."""
    if permission in WRITE_ROLES:
        return ReadOnly(status=status, role=WRITE_ROLES[permission])
    return MissingScope(
        f"Your account lacks the Git “{permission}” permission on this repository; "
        "ask a project administrator to grant it.",
        status=status,
        scope=permission,
    )


def classify(response: requests.Response) -> ProviderError | None:
    """Azure DevOps meaning of a failed answer; None falls back to the generic mapping."""
    status = response.status_code
    message = str(_body(response).get("message") or "")
    if is_rate_limited(response) or "TF400733" in message:
        return RateLimited(retry_after=retry_after_seconds(response), status=status)
    if status == 401:
        return AuthExpired(
            "Azure DevOps refused the credential: the token is expired, revoked or wrong."
        )
    if status == 403:
        permission = _missing_permission(message)
        return _permission_error(permission, 403) if permission else NoAccess(status=403)
    if status == 409 and "TF401179" in message:
        return PullRequestExists(status=409)
    if "TF401398" in message:  # the source and/or the target branch no longer exists
        return NotFound(
            "The source or target branch does not exist.", status=status, which="source/target"
        )
    if 400 <= status < 500 and status != 404 and message:
        return ProviderError(f"Azure DevOps refused the request: {message[:200]}", status=status)
    return None


class AzureTransport(Transport):
    """The shared transport, plus Azure's way of saying "sign in": 203 with an HTML page."""

    def request(self, method, path, **kwargs):
        response = super().request(method, path, **kwargs)
        if response.status_code == 203:
            raise AuthExpired(
                "Azure DevOps answered with a sign-in page: the credential is expired or wrong.",
                status=203,
            )
        return response


def _strip_userinfo(url: str | None) -> str | None:
    """``https://org@dev.azure.com/…`` (a clone URL) → ``https://dev.azure.com/…``."""
    if not url:
        return url
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


@register("azure_devops", "vsts", "tfs")
class AzureDevOps(Provider):
    """One class for the three kinds. ``api_root`` (the organization or collection URL) is a
    plain attribute, so a test or bench can point it at a local server (with allow_private)."""

    kind = "azure_devops"
    label = "Azure DevOps"

    def __init__(self, settings, secret, *, allow_private=False):
        super().__init__(settings, secret, allow_private=allow_private)
        self.kind = settings.kind
        self.label = LABELS.get(settings.kind, self.label)
        organization = quote(settings.organization or "", safe="")
        if settings.kind == "tfs":
            if not settings.base_url:
                raise BlockedHost(
                    "Azure DevOps Server needs the collection URL, like "
                    "https://tfs.example.com/tfs/DefaultCollection."
                )
            self.api_root = settings.base_url.rstrip("/")
            if organization and self.api_root.rsplit("/", 1)[-1].lower() != organization.lower():
                self.api_root += "/" + organization  # base URL given without the collection
            self.api_version = SERVER_API_VERSIONS.get(settings.server_version or "")
            cloud_root = None
        else:
            if not organization:
                raise ProviderError("Azure DevOps needs the organization name.")
            if settings.kind == "vsts":
                self.api_root = f"https://{organization}.visualstudio.com"
            else:
                self.api_root = f"https://dev.azure.com/{organization}"
            self.api_version = CLOUD_API_VERSION
            cloud_root = self.api_root
        self._cloud_root = cloud_root
        self._http: AzureTransport | None = None

    @property
    def http(self) -> AzureTransport:
        """The transport for the current ``api_root``; self-hosted roots pass the SSRF guard."""
        if self._http is None or self._http.base_url != self.api_root.rstrip("/"):
            if self.api_root != self._cloud_root:
                check_base_url(self.api_root, self.allow_private)
            self._http = AzureTransport(
                self.api_root,
                self._auth(),
                classify=classify,
                headers=HEADERS,
                allow_private=self.allow_private,
            )
        return self._http

    def _auth(self) -> dict[str, str]:
        """Basic auth: ``:PAT`` (empty user name), or ``user:password`` on TFS 2013/2015."""
        pair = self.secret if not self.supports_pats else ":" + self.secret
        return {"Authorization": "Basic " + base64.b64encode(pair.encode()).decode()}

    @property
    def supports_pats(self) -> bool:
        return not (self.kind == "tfs" and self.settings.server_version in NO_PAT_VERSIONS)

    @property
    def supports_draft(self) -> bool:
        return bool(self.api_version) and self._version() >= (5, 0)

    def _version(self) -> tuple[int, ...]:
        if not self.api_version:
            raise ProviderError("Choose the server version of this Azure DevOps Server / TFS.")
        return tuple(int(part) for part in self.api_version.split("."))

    def _params(self, **params) -> dict:
        self._version()  # a TFS without a known version cannot be called
        return {**params, "api-version": self.api_version}

    @staticmethod
    def _repo_path(repo: Repo) -> str:
        """``/{project}/_apis/git/repositories/{id}`` (the project is optional for an id).
        Branch names never enter the path: they go in the query or the body."""
        project = "/" + path_segment(repo.project) if repo.project else ""
        return f"{project}/_apis/git/repositories/{path_segment(repo.host_id)}"

    # ------------------------------------------------------------ verbs

    def validate(self) -> Identity:
        # connectionData is a preview resource outside the public specs; every client asks
        # for it with "-preview".
        params = {"api-version": self._params()["api-version"] + "-preview"}
        body = self.http.get_json("/_apis/connectionData", params)
        user = body.get("authenticatedUser") or {}
        if _is_anonymous(user):
            raise AuthExpired(
                "Azure DevOps did not recognise the credential: it is expired, revoked or wrong."
            )
        account = ((user.get("properties") or {}).get("Account") or {}).get("$value")
        name = user.get("providerDisplayName") or user.get("customDisplayName")
        return Identity(login=account or name or user["id"], display_name=name)

    def list_repositories(self):
        body = self.http.get_json("/_apis/git/repositories", self._params())
        for item in body.get("value") or ():
            if item.get("isDisabled"):
                continue
            project = (item.get("project") or {}).get("name")
            yield Repo(
                host_id=item["id"],
                full_name=f"{project}/{item['name']}" if project else item["name"],
                project=project,
                default_branch=_short(item.get("defaultBranch")),
                web_url=item.get("webUrl") or _strip_userinfo(item.get("remoteUrl")),
            )

    def list_branches(self, repo, search=None):
        needle = (search or "").lower()
        paged = self._version() >= (5, 0)  # $top, continuationToken, filterContains
        params = self._params(filter="heads/")
        if paged:
            params["$top"] = 1000
            if search:
                params["filterContains"] = search
        branches, seen = [], set()
        while True:
            body, headers = self.http.get_page(self._repo_path(repo) + "/refs", params, cached=True)
            for item in body.get("value") or ():
                name = _short(item["name"])
                if needle in name.lower():
                    branches.append(self._branch(repo, name, item["objectId"]))
            token = _header(headers, "x-ms-continuationtoken")
            if not paged or not token or token in seen:
                return branches
            seen.add(token)
            params = {**params, "continuationToken": token}

    def _find_branch(self, repo: Repo, name: str) -> Branch | None:
        params = self._params(filter=f"heads/{name}")
        body = self.http.get_json(self._repo_path(repo) + "/refs", params)
        for item in body.get("value") or ():
            if item["name"] == HEADS + name:  # the filter is a prefix
                return self._branch(repo, name, item["objectId"])
        return None

    def get_branch(self, repo, name):
        branch = self._find_branch(repo, name)
        if branch is None:
            raise NotFound(f"The branch {name} does not exist.", status=404)
        return branch

    def create_branch(self, repo, name, base):
        base_branch = self._find_branch(repo, base)
        if base_branch is None:
            raise NotFound(f"The base branch {base} does not exist.", status=404)
        sha = base_branch.sha
        update = {"name": HEADS + name, "oldObjectId": ZERO_SHA, "newObjectId": sha}
        response = self.http.request(
            "POST", self._repo_path(repo) + "/refs", params=self._params(), json=[update]
        )
        result = response.json()["value"][0]  # a GitRefUpdateResult per update
        if result.get("success"):
            return self._branch(repo, name, result.get("newObjectId") or sha)
        raise self._ref_error(repo, name, result)

    def _ref_error(self, repo: Repo, name: str, result: dict) -> ProviderError:
        """The error for a ``GitRefUpdateResult`` with ``success: false``."""
        status, message = result.get("updateStatus"), result.get("customMessage")
        if status in ("staleOldObjectId", "refNameConflict"):
            return BranchExists(
                f"The branch {name} already exists.", url=self.web_url_for_branch(repo, name)
            )
        if status == "createBranchPermissionRequired":
            return _permission_error("Create branch")
        if status == "writePermissionRequired":
            return _permission_error("Contribute")
        if status == "invalidRefName":
            return InvalidName(f"Azure DevOps refused the branch name {name} as invalid.")
        if message:
            return ProviderError(f"Azure DevOps refused the branch: {message[:200]}")
        return ProviderError(f"Azure DevOps refused the branch ({status or 'no reason given'}).")

    def create_pull_request(self, repo, source, target, title, description, draft):
        body = {
            "sourceRefName": HEADS + source,
            "targetRefName": HEADS + target,
            "title": title,
            "description": description,
        }
        if self.supports_draft:
            body["isDraft"] = bool(draft)
        try:
            response = self.http.request(
                "POST", self._repo_path(repo) + "/pullrequests", params=self._params(), json=body
            )
        except PullRequestExists:
            try:
                existing = self.find_open_pull_request(repo, source, target)
            except ProviderError:
                existing = None
            raise PullRequestExists(
                f"A pull request from {source} into {target} already exists.",
                status=409,
                url=existing.web_url if existing else None,
                found=existing,
            ) from None
        except NotFound as error:
            if error.which != "source/target":
                raise
            # TF401398 does not say which: look at the target
            target_gone = self._find_branch(repo, target) is None
            which, name = ("target", target) if target_gone else ("source", source)
            raise branch_missing(which, name, repo.full_name, error.status) from None
        return self._pull_request(repo, response.json())

    def find_open_pull_request(self, repo, source, target):
        params = self._params(
            **{
                "searchCriteria.sourceRefName": HEADS + source,
                "searchCriteria.targetRefName": HEADS + target,
                "searchCriteria.status": "active",
            }
        )
        body = self.http.get_json(self._repo_path(repo) + "/pullrequests", params)
        items = body.get("value") or ()
        return self._pull_request(repo, items[0]) if items else None

    def new_token_url(self):
        if not self.supports_pats:
            raise Unsupported(
                "TFS 2013 and 2015 have no personal access tokens; use TFS 2017 or newer."
            )
        if self.kind == "tfs" and self._version() < (5, 0):
            return f"{self.api_root}/_details/security/tokens"  # TFS 2017/2018 profile page
        return f"{self.api_root}/_usersSettings/tokens"

    def web_host(self):
        return urlsplit(self.api_root).netloc

    def web_url_for_branch(self, repo, name):
        return f"{repo.web_url}?version=GB{quote(name, safe='/')}"

    def web_url_for_pull_request(self, repo, pr_id):
        return f"{repo.web_url}/pullrequest/{pr_id}"

    # ------------------------------------------------------------ results

    def _branch(self, repo: Repo, name: str, sha: str) -> Branch:
        web_url = self.web_url_for_branch(repo, name) if repo.web_url else None
        return Branch(name=name, sha=sha, web_url=web_url)

    def _pull_request(self, repo: Repo, item: dict) -> PullRequest:
        pr_id = str(item["pullRequestId"])
        return PullRequest(
            id=pr_id,
            title=item.get("title") or "",
            web_url=self.web_url_for_pull_request(repo, pr_id),
            source=_short(item.get("sourceRefName")) or "",
            target=_short(item.get("targetRefName")) or "",
            draft=bool(item.get("isDraft")),
            author=(item.get("createdBy") or {}).get("uniqueName"),
            created_at=parse_time(item.get("creationDate")),
        )


def _short(ref: str | None) -> str | None:
    """``refs/heads/main`` → ``main``."""
    return ref[len(HEADS) :] if ref and ref.startswith(HEADS) else ref


def _header(headers: dict, name: str) -> str | None:
    return next((value for key, value in headers.items() if key.lower() == name), None)


def _is_anonymous(user: dict) -> bool:
    """The identity Azure DevOps reports for a request it did not authenticate."""
    properties = user.get("properties") or {}
    account = (properties.get("Account") or {}).get("$value")
    domain = (properties.get("Domain") or {}).get("$value")
    descriptor = str(user.get("descriptor") or "")
    return (
        not user.get("id")
        or descriptor.startswith("Microsoft.TeamFoundation.UnauthenticatedIdentity")
        or (account == "Anonymous" and domain == "TEAM FOUNDATION")
    )
