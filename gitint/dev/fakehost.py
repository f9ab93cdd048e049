"""A tiny GitHub-Enterprise-shaped git host on 127.0.0.1, for the demo and the browser tests.

It keeps repositories, branches and pull requests in memory and answers the REST calls gitint
makes (``/api/v3/...``) the way GitHub does: Bearer tokens, Link pagination, ETags and 304s,
422 for an existing branch or pull request, 401 for a revoked token. Never used in production.
"""

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit


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

    def add_repo(self, full_name: str, branches=("main",)) -> FakeRepo:
        repo = FakeRepo(id=len(self.repos) + 1, full_name=full_name, default_branch=branches[0])
        for name in branches:
            repo.branches[name] = sha_of(full_name, name)
        self.repos[full_name] = repo
        return repo

    def add_token(self, token: str, login: str, scopes: str = "repo") -> None:
        self.tokens[token] = {"login": login, "scopes": scopes, "valid": True}


def sha_of(*parts: str) -> str:
    return hashlib.sha1("/".join(parts).encode()).hexdigest()  # noqa: S324 - fake commit ids


class Handler(BaseHTTPRequestHandler):
    server_version = "FakeGitHub/1.0"
    protocol_version = "HTTP/1.1"

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

    def html(self, text: str) -> None:
        data = f"<!doctype html><title>{text}</title><h1>{text}</h1>".encode()
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

    def page(self, items: list, query: dict, path: str) -> None:
        per_page = int(query.get("per_page", ["30"])[0])
        number = int(query.get("page", ["1"])[0])
        chunk = items[(number - 1) * per_page : number * per_page]
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

    def route(self, method: str) -> None:
        parts = urlsplit(self.path)
        path, query = unquote(parts.path), parse_qs(parts.query)
        with self.state.lock:
            self.state.calls.append(f"{method} {path}")
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
            items = [self.repo_json(r) for r in self.state.repos.values()]
            return self.page(items, query, parts.path)
        match = re.match(r"^/repos/([^/]+/[^/]+)(/.*)$", rest)
        repo = self.state.repos.get(match.group(1)) if match else None
        if repo is None:
            return self.reply(404, {"message": "Not Found"})
        return self.repo_route(method, repo, match.group(2), query, parts.path)

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


class FakeGitHost:
    """Serve a FakeState on 127.0.0.1 in a background thread (``with FakeGitHost() as host``)."""

    def __init__(self, state: FakeState | None = None, port: int = 0):
        self.state = state or FakeState()
        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.server.state = self.state
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

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


def demo_state() -> FakeState:
    """Repositories and tokens for the demo: a bot account and one developer token."""
    state = FakeState()
    state.add_token("ghp_demo_integration_token", "gitint-bot")
    state.add_token("ghp_demo_developer_token", "dev-user")
    state.add_repo("acme/web-app", ("main", "develop", "DEV-1-old-attempt"))
    state.add_repo("acme/api", ("main", "release/2.0"))
    state.add_repo("acme/mobile", ("master",))
    for n in range(1, 41):
        state.add_repo(f"acme/service-{n:02d}", ("main",))
    return state
