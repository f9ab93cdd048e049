"""A tiny GitHub-Enterprise-shaped git host on 127.0.0.1, for the demo and the browser tests.

It keeps repositories, branches and pull requests in memory and answers the REST calls gitint
makes (``/api/v3/...``) the way GitHub does: Bearer tokens, Link pagination, ETags and 304s,
422 for an existing branch or pull request, 401 for a revoked token. Repositories created
(``POST /orgs/{org}/repos``) or deleted through its API are announced to its webhooks the way
GitHub signs and shapes ``repository`` events. Tests can hold the repository listing at a page
(``hold_from_page``) until they let it go. Never used in production.
"""

import hashlib
import hmac
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit
from urllib.request import Request, urlopen


@dataclass
class FakeRepo:
    id: int
    full_name: str
    default_branch: str = "main"
    branches: dict[str, str] = field(default_factory=dict)
    pulls: list[dict] = field(default_factory=list)


@dataclass
class FakeState:
    repos: dict[str, FakeRepo] = field(default_factory=dict)
    tokens: dict[str, dict] = field(default_factory=dict)  # token → {"login", "scopes", "valid"}
    calls: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    hooks: list[tuple[str, str]] = field(default_factory=list)  # (payload URL, secret)
    deliveries: list[dict] = field(default_factory=list)  # what was sent: id, sent_at, status
    listings: int = 0  # repository listings started (first pages served)
    hold_from_page: int | None = None  # listing pages from this one wait until released
    released: threading.Event = field(default_factory=threading.Event)
    next_id: int = 1

    def add_repo(self, full_name: str, branches=("main",)) -> FakeRepo:
        repo = FakeRepo(id=self.next_id, full_name=full_name, default_branch=branches[0])
        self.next_id += 1
        for name in branches:
            repo.branches[name] = sha_of(full_name, name)
        self.repos[full_name] = repo
        return repo

    def add_token(self, token: str, login: str, scopes: str = "repo") -> None:
        self.tokens[token] = {"login": login, "scopes": scopes, "valid": True}

    def create_repo(self, full_name: str, host: str, branches=("main",)) -> FakeRepo:
        """Create a repository as the API would, and announce it to the webhooks."""
        with self.lock:
            repo = self.add_repo(full_name, branches)
        self.announce("created", repo, host)
        return repo

    def delete_repo(self, full_name: str, host: str) -> None:
        with self.lock:
            repo = self.repos.pop(full_name)
        self.announce("deleted", repo, host)

    def announce(self, action: str, repo: FakeRepo, host: str) -> None:
        """POST a signed ``repository`` event to every webhook, as GitHub does."""
        body = json.dumps(repository_event(action, repo, f"http://{host}")).encode()
        for url, secret in list(self.hooks):
            delivery = str(uuid.uuid4())
            signature = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            headers = {
                "Content-Type": "application/json",
                "User-Agent": "GitHub-Hookshot/fake",
                "X-GitHub-Event": "repository",
                "X-GitHub-Delivery": delivery,
                "X-GitHub-Hook-Installation-Target-Type": "organization",
                "X-Hub-Signature-256": f"sha256={signature}",
            }
            record = {"id": delivery, "sent_at": time.monotonic(), "status": None}
            try:
                with urlopen(Request(url, body, headers, method="POST"), timeout=10) as answer:  # noqa: S310 - a local URL
                    record["status"] = answer.status
            except OSError as error:
                record["status"] = getattr(error, "code", None) or str(error)
            record["answered_at"] = time.monotonic()
            with self.lock:
                self.deliveries.append(record)


def sha_of(*parts: str) -> str:
    return hashlib.sha1("/".join(parts).encode()).hexdigest()  # noqa: S324 - fake commit ids


class Handler(BaseHTTPRequestHandler):
    server_version = "FakeGitHub/1.0"
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms stalls

    @property
    def state(self) -> FakeState:
        return self.server.state

    def log_message(self, *args):  # keep test output quiet
        pass

    # -------------------------------------------------------------- plumbing

    def reply(self, status: int, body=None, headers: dict | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        if body is not None:
            self.send_header("Content-Type", "application/json; charset=utf-8")
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def html(self, text: str, body: str = "") -> None:
        page = f"<!doctype html><title>{escape(text)}</title><h1>{escape(text)}</h1>{body}"
        data = page.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def user(self) -> dict | None:
        header = self.headers.get("Authorization", "")
        token = header.removeprefix("Bearer ").strip()
        user = self.state.tokens.get(token)
        return user if user and user["valid"] else None

    def body(self) -> dict:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}")

    def page(self, items: list, query: dict, path: str, listing: bool = False, shape=None) -> None:
        """One page of ``items`` (each made JSON by ``shape`` only when on this page)."""
        per_page = int(query.get("per_page", ["30"])[0])
        number = int(query.get("page", ["1"])[0])
        if listing:
            with self.state.lock:
                self.state.listings += number == 1
            held = self.state.hold_from_page
            if held is not None and number >= held:
                self.state.released.wait(timeout=60)
        chunk = items[(number - 1) * per_page : number * per_page]
        if shape:
            chunk = [shape(item) for item in chunk]
        headers = {}
        if number * per_page < len(items):
            base = f"http://{self.headers['Host']}{path}"
            headers["Link"] = f'<{base}?per_page={per_page}&page={number + 1}>; rel="next"'
        etag = '"' + hashlib.sha256(json.dumps(chunk).encode()).hexdigest()[:20] + '"'
        headers["ETag"] = etag
        if self.headers.get("If-None-Match") == etag:
            self.reply(304, None, {"ETag": etag})
        else:
            self.reply(200, chunk, headers)

    # -------------------------------------------------------------- routes

    def do_GET(self):  # noqa: N802
        self.route("GET")

    def do_POST(self):  # noqa: N802
        self.route("POST")

    def do_DELETE(self):  # noqa: N802
        self.route("DELETE")

    def route(self, method: str) -> None:
        parts = urlsplit(self.path)
        path, query = unquote(parts.path), parse_qs(parts.query)
        with self.state.lock:
            self.state.calls.append(f"{method} {path}")
        if path == "/settings/tokens/new":  # the New token link of the PAT setup
            return self.html("Fake git host: new personal access token", TOKEN_PAGE)
        if not path.startswith("/api/v3/"):
            return self.html(f"Fake git host: {path}")
        user = self.user()
        if user is None:
            return self.reply(401, {"message": "Bad credentials", "status": "401"})
        scope_headers = {"X-OAuth-Scopes": user["scopes"]}
        rest = path.removeprefix("/api/v3")
        if method == "GET" and rest == "/user":
            return self.reply(
                200, {"login": user["login"], "name": user["login"].title()}, scope_headers
            )
        if method == "GET" and rest == "/user/repos":
            with self.state.lock:
                items = list(self.state.repos.values())
            return self.page(items, query, parts.path, listing=True, shape=self.repo_json)
        created = re.match(r"^/orgs/([^/]+)/repos$", rest)
        if method == "POST" and created:
            name = f"{created.group(1)}/{self.body()['name']}"
            if name in self.state.repos:
                return self.reply(422, {"message": "Repository creation failed."})
            repo = self.state.create_repo(name, self.headers["Host"])
            return self.reply(201, self.repo_json(repo))
        match = re.match(r"^/repos/([^/]+/[^/]+)(/.*)?$", rest)
        if method == "DELETE" and match and not match.group(2):
            if match.group(1) not in self.state.repos:
                return self.reply(404, {"message": "Not Found"})
            self.state.delete_repo(match.group(1), self.headers["Host"])
            return self.reply(204)
        repo = self.state.repos.get(match.group(1)) if match else None
        if repo is None:
            return self.reply(404, {"message": "Not Found"})
        return self.repo_route(method, repo, match.group(2) or "", query, parts.path)

    def repo_json(self, repo: FakeRepo) -> dict:
        host = self.headers["Host"]
        return {
            "id": repo.id,
            "full_name": repo.full_name,
            "default_branch": repo.default_branch,
            "html_url": f"http://{host}/{repo.full_name}",
            "private": True,
        }

    def repo_route(self, method, repo: FakeRepo, rest: str, query: dict, raw_path: str):
        host = self.headers["Host"]
        web = f"http://{host}/{repo.full_name}"
        if method == "GET" and rest == "/branches":
            items = [
                {"name": n, "commit": {"sha": s}, "protected": False}
                for n, s in repo.branches.items()
            ]
            return self.page(items, query, raw_path)
        if method == "GET" and rest.startswith("/git/ref/heads/"):
            name = rest.removeprefix("/git/ref/heads/")
            if name not in repo.branches:
                return self.reply(404, {"message": "Not Found"})
            return self.reply(
                200,
                {
                    "ref": f"refs/heads/{name}",
                    "object": {"sha": repo.branches[name], "type": "commit"},
                },
            )
        if method == "POST" and rest == "/git/refs":
            data = self.body()
            name = data["ref"].removeprefix("refs/heads/")
            with self.state.lock:
                if name in repo.branches:
                    return self.reply(422, {"message": "Reference already exists"})
                repo.branches[name] = data["sha"]
            return self.reply(201, {"ref": data["ref"], "object": {"sha": data["sha"]}})
        if rest == "/pulls":
            if method == "GET":
                head = query.get("head", [""])[0].split(":")[-1]
                base = query.get("base", [""])[0]
                found = [
                    p
                    for p in repo.pulls
                    if p["head"]["ref"] == head and (not base or p["base"]["ref"] == base)
                ]
                return self.reply(200, found)
            data = self.body()
            with self.state.lock:
                if any(
                    p["head"]["ref"] == data["head"] and p["base"]["ref"] == data["base"]
                    for p in repo.pulls
                ):
                    message = f"A pull request already exists for {data['head']}."
                    return self.reply(
                        422,
                        {
                            "message": "Validation Failed",
                            "errors": [
                                {"resource": "PullRequest", "code": "custom", "message": message}
                            ],
                        },
                    )
                number = len(repo.pulls) + 1
                pull = {
                    "number": number,
                    "title": data["title"],
                    "body": data.get("body"),
                    "draft": bool(data.get("draft")),
                    "state": "open",
                    "html_url": f"{web}/pull/{number}",
                    "head": {"ref": data["head"]},
                    "base": {"ref": data["base"]},
                }
                repo.pulls.append(pull)
            return self.reply(201, pull)
        return self.reply(404, {"message": "Not Found"})


DEMO_DEVELOPER_TOKEN = "ghp_demo_developer_token"  # noqa: S105 - valid only on this fake host
TOKEN_PAGE = (
    "<p>This fake git host makes no tokens. The token that works here is "
    f"<code>{DEMO_DEVELOPER_TOKEN}</code> (user <code>dev-user</code>, scope <code>repo</code>): "
    "copy it, go back to the gitint tab and paste it into <em>Personal access token</em>.</p>"
)


class FakeGitHost:
    """Serve a FakeState on 127.0.0.1 in a background thread (``with FakeGitHost() as host``)."""

    def __init__(self, state: FakeState | None = None, port: int = 0):
        self.state = state or FakeState()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.server.state = self.state
        self.server.handle_error = self.quiet  # a client that hung up is no news
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    @staticmethod
    def quiet(request, client_address) -> None:
        import sys
        import traceback

        if not isinstance(sys.exc_info()[1], ConnectionError):
            traceback.print_exc()

    def start(self) -> "FakeGitHost":
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def repository_event(action: str, repo: FakeRepo, origin: str) -> dict:
    """A ``repository`` webhook payload shaped like GitHub's (every property its description
    requires, https://docs.github.com/en/webhooks/webhook-events-and-payloads#repository)."""
    owner_login = repo.full_name.split("/", 1)[0]
    api, web = f"{origin}/api/v3", origin
    return {
        "action": action,
        "repository": repository_webhooks(repo.id, repo.full_name, repo.default_branch, api, web),
        "organization": {
            "login": owner_login,
            "id": 1,
            "node_id": "O_fake",
            "url": f"{api}/orgs/{owner_login}",
            "repos_url": f"{api}/orgs/{owner_login}/repos",
            "events_url": f"{api}/orgs/{owner_login}/events",
            "hooks_url": f"{api}/orgs/{owner_login}/hooks",
            "issues_url": f"{api}/orgs/{owner_login}/issues",
            "members_url": f"{api}/orgs/{owner_login}/members{{/member}}",
            "public_members_url": f"{api}/orgs/{owner_login}/public_members{{/member}}",
            "avatar_url": f"{web}/avatars/{owner_login}",
            "description": None,
        },
        "sender": account(2, "gitint-bot", "User", api, web),
    }


def account(account_id: int, login: str, kind: str, api: str, web: str) -> dict:
    """A GitHub simple-user object."""
    user = f"{api}/users/{login}"
    return {
        "login": login,
        "id": account_id,
        "node_id": f"U_{account_id}",
        "avatar_url": f"{web}/avatars/{login}",
        "gravatar_id": "",
        "url": user,
        "html_url": f"{web}/{login}",
        "followers_url": f"{user}/followers",
        "following_url": f"{user}/following{{/other_user}}",
        "gists_url": f"{user}/gists{{/gist_id}}",
        "starred_url": f"{user}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{user}/subscriptions",
        "organizations_url": f"{user}/orgs",
        "repos_url": f"{user}/repos",
        "events_url": f"{user}/events{{/privacy}}",
        "received_events_url": f"{user}/received_events",
        "type": kind,
        "site_admin": False,
    }


def repository_webhooks(
    repo_id: int, full_name: str, default_branch: str, api: str, web: str
) -> dict:
    """GitHub's ``repository-webhooks`` object for a new private repository."""
    owner_login, name = full_name.split("/", 1)
    url = f"{api}/repos/{full_name}"
    templates = {
        "archive_url": "/{archive_format}{/ref}",
        "assignees_url": "/assignees{/user}",
        "blobs_url": "/git/blobs{/sha}",
        "branches_url": "/branches{/branch}",
        "collaborators_url": "/collaborators{/collaborator}",
        "comments_url": "/comments{/number}",
        "commits_url": "/commits{/sha}",
        "compare_url": "/compare/{base}...{head}",
        "contents_url": "/contents/{+path}",
        "contributors_url": "/contributors",
        "deployments_url": "/deployments",
        "downloads_url": "/downloads",
        "events_url": "/events",
        "forks_url": "/forks",
        "git_commits_url": "/git/commits{/sha}",
        "git_refs_url": "/git/refs{/sha}",
        "git_tags_url": "/git/tags{/sha}",
        "hooks_url": "/hooks",
        "issue_comment_url": "/issues/comments{/number}",
        "issue_events_url": "/issues/events{/number}",
        "issues_url": "/issues{/number}",
        "keys_url": "/keys{/key_id}",
        "labels_url": "/labels{/name}",
        "languages_url": "/languages",
        "merges_url": "/merges",
        "milestones_url": "/milestones{/number}",
        "notifications_url": "/notifications{?since,all,participating}",
        "pulls_url": "/pulls{/number}",
        "releases_url": "/releases{/id}",
        "stargazers_url": "/stargazers",
        "statuses_url": "/statuses/{sha}",
        "subscribers_url": "/subscribers",
        "subscription_url": "/subscription",
        "tags_url": "/tags",
        "teams_url": "/teams",
        "trees_url": "/git/trees{/sha}",
    }
    stamp = "2026-12-02T10:00:00Z"
    return {
        "id": repo_id,
        "node_id": f"R_{repo_id}",
        "name": name,
        "full_name": full_name,
        "private": True,
        "owner": account(1, owner_login, "Organization", api, web),
        "html_url": f"{web}/{full_name}",
        "description": None,
        "fork": False,
        "url": url,
        **{key: url + suffix for key, suffix in templates.items()},
        "created_at": stamp,
        "updated_at": stamp,
        "pushed_at": stamp,
        "git_url": f"git://{urlsplit(web).netloc}/{full_name}.git",
        "ssh_url": f"git@{urlsplit(web).netloc}:{full_name}.git",
        "clone_url": f"{web}/{full_name}.git",
        "svn_url": f"{web}/{full_name}",
        "homepage": None,
        "size": 0,
        "stargazers_count": 0,
        "watchers_count": 0,
        "language": None,
        "has_issues": True,
        "has_projects": True,
        "has_downloads": True,
        "has_wiki": True,
        "has_pages": False,
        "forks_count": 0,
        "mirror_url": None,
        "archived": False,
        "disabled": False,
        "open_issues_count": 0,
        "license": None,
        "forks": 0,
        "open_issues": 0,
        "watchers": 0,
        "default_branch": default_branch,
    }


def demo_state() -> FakeState:
    """Repositories and tokens for the demo: a bot account and one developer token."""
    state = FakeState()
    state.add_token("ghp_demo_integration_token", "gitint-bot")
    state.add_token(DEMO_DEVELOPER_TOKEN, "dev-user")
    state.add_repo("acme/web-app", ("main", "develop", "DEV-1-old-attempt"))
    state.add_repo("acme/api", ("main", "release/2.0"))
    state.add_repo("acme/mobile", ("master",))
    for n in range(1, 41):
        state.add_repo(f"acme/service-{n:02d}", ("main",))
    return state
