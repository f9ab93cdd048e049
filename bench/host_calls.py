"""Host calls and TCP connections per provider kind for one full flow (SPEC §5).

Run: ``python bench/host_calls.py``. Each HTTP kind talks to its own real HTTP server on
127.0.0.1 (canned JSON, ETags on every GET, keep-alive), so the calls are counted where they
arrive and the connections where they are opened. The flow: validate, list branches twice (the
second revalidates with If-None-Match → 304), create a branch, create a pull request.
CodeCommit goes through boto3: its calls are counted with botocore's ``before-call`` event
against a ``Stubber``, so it opens no connection.
"""

import hashlib
import importlib
import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from gitint.providers import REGISTRY, http
from gitint.providers.base import HostSettings, Repo

SHA = "7b5c3cc8be40ee161ae89a06bba6229da1032a0c"
NEW = "PROJ-7-search"
STEPS = ("validate", "list #1", "list #2", "branch", "PR")
MINIMUM = {  # SPEC §5: host calls per create (branch, pull request)
    "github": (2, 1),
    "github_enterprise": (2, 1),
    "gitlab": (1, 1),
    "gitlab_self_managed": (1, 1),
    "azure_devops": (2, 1),
    "vsts": (2, 1),
    "tfs": (2, 1),
    "codecommit": (2, 1),
}


# ---------------------------------------------------------------- a canned host


class Host(BaseHTTPRequestHandler):
    """Answers from ``server.routes``: (method, path regex, status, JSON body, headers)."""

    protocol_version = "HTTP/1.1"  # keep-alive

    def do_GET(self):
        self.answer()

    def do_POST(self):
        self.answer()

    def answer(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        server = self.server
        server.calls += 1
        path = urlsplit(self.path).path
        for method, pattern, *answer in server.routes:
            if method == self.command and re.search(pattern + "$", path):
                status, body, headers = answer
                break
        else:
            status, body, headers = 404, {"message": f"no canned answer for {path}"}, {}
        data = json.dumps(body).encode()
        etag = f'W/"{hashlib.sha256(data).hexdigest()[:16]}"'
        if self.command == "GET" and status == 200 and self.headers.get("If-None-Match") == etag:
            server.not_modified += 1
            status, data = 304, b""
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        if self.command == "GET":
            self.send_header("ETag", etag)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def serve(routes) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Host)
    server.routes, server.calls, server.not_modified = routes, 0, 0
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


# ---------------------------------------------------------------- canned answers per host


def github_routes(prefix: str, web: str):
    branch = {"name": "main", "commit": {"sha": SHA}, "protected": False}
    pull = {
        "number": 1,
        "title": "PROJ-7 Search",
        "html_url": f"{web}/acme/api/pull/1",
        "head": {"ref": NEW},
        "base": {"ref": "main"},
        "draft": False,
    }
    repo = f"{prefix}/repos/acme/api"
    return [
        (
            "GET",
            f"{prefix}/user",
            200,
            {"login": "octocat", "name": "Mona"},
            {"X-OAuth-Scopes": "repo"},
        ),
        ("GET", f"{repo}/branches", 200, [branch, {**branch, "name": "PROJ-1"}], {}),
        (
            "GET",
            f"{repo}/git/ref/heads/main",
            200,
            {"ref": "refs/heads/main", "object": {"sha": SHA, "type": "commit"}},
            {},
        ),
        (
            "POST",
            f"{repo}/git/refs",
            201,
            {"ref": f"refs/heads/{NEW}", "object": {"sha": SHA, "type": "commit"}},
            {},
        ),
        ("POST", f"{repo}/pulls", 201, pull, {}),
    ]


def gitlab_routes(web: str):
    commit = {"id": SHA, "committed_date": "2026-11-20T03:44:20.000Z"}
    branch = {"name": "main", "commit": commit, "web_url": f"{web}/acme/api/-/tree/main"}
    token = {
        "id": 4,
        "name": "gitint",
        "scopes": ["api"],
        "active": True,
        "revoked": False,
        "expires_at": "2027-01-31",
    }
    mr = {
        "iid": 12,
        "title": "PROJ-7 Search",
        "web_url": f"{web}/acme/api/-/merge_requests/12",
        "source_branch": NEW,
        "target_branch": "main",
        "draft": False,
    }
    project = "/api/v4/projects/3"
    return [
        ("GET", "/api/v4/personal_access_tokens/self", 200, token, {}),
        ("GET", "/api/v4/user", 200, {"id": 24, "username": "jsmith", "name": "John Smith"}, {}),
        ("GET", f"{project}/repository/branches", 200, [branch, {**branch, "name": "PROJ-1"}], {}),
        ("POST", f"{project}/repository/branches", 201, {**branch, "name": NEW}, {}),
        ("POST", f"{project}/merge_requests", 201, mr, {}),
    ]


def azure_routes():
    repo = "/_apis/git/repositories/5febef5a-833d-4e14-b9c0-14cb638f91e6"
    user = {
        "id": "6f8c1b2a-0000-4000-8000-000000000001",
        "providerDisplayName": "Jane Doe",
        "properties": {"Account": {"$type": "System.String", "$value": "jane@example.com"}},
    }
    refs = {
        "count": 2,
        "value": [
            {"name": "refs/heads/main", "objectId": SHA},
            {"name": "refs/heads/PROJ-1", "objectId": SHA},
        ],
    }
    update = {
        "name": f"refs/heads/{NEW}",
        "oldObjectId": "0" * 40,
        "newObjectId": SHA,
        "success": True,
        "updateStatus": "succeeded",
    }
    pull = {
        "pullRequestId": 1,
        "title": "PROJ-7 Search",
        "sourceRefName": f"refs/heads/{NEW}",
        "targetRefName": "refs/heads/main",
        "isDraft": False,
        "status": "active",
    }
    return [
        ("GET", "/_apis/connectionData", 200, {"authenticatedUser": user}, {}),
        ("GET", f"{repo}/refs", 200, refs, {}),
        ("POST", f"{repo}/refs", 200, {"count": 1, "value": [update]}, {}),
        ("POST", f"{repo}/pullrequests", 201, pull, {}),
    ]


# ---------------------------------------------------------------- one flow per kind


def flow(provider, repo: Repo, counter) -> list[int]:
    """Calls per step, ``counter()`` being the running total of host calls."""
    counts, before = [], counter()
    steps = (
        provider.validate,
        lambda: provider.list_branches(repo),
        lambda: provider.list_branches(repo),
        lambda: provider.create_branch(repo, NEW, "main"),
        lambda: provider.create_pull_request(repo, NEW, "main", "PROJ-7 Search", "Jira", False),
    )
    for step in steps:
        step()
        now = counter()
        counts.append(now - before)
        before = now
    return counts


def provider_class(kind: str, module: str):
    importlib.import_module(f"gitint.providers.{module}")  # registers its kinds
    return REGISTRY[kind]


def run_http(kind: str) -> tuple[list[int], int, int]:
    """(calls per step, 304 answers, TCP connections) for one HTTP kind."""
    if kind.startswith("github"):
        module = importlib.import_module("gitint.providers.github")
        cls = provider_class(kind, "github")
    elif kind.startswith("gitlab"):
        cls = provider_class(kind, "gitlab")
    else:
        cls = provider_class(kind, "azure")
    server = serve([])
    local = f"http://127.0.0.1:{server.server_address[1]}"
    settings = HostSettings(kind=kind)
    repo = Repo(
        host_id="3", full_name="acme/api", default_branch="main", web_url=f"{local}/acme/api"
    )
    if kind == "github":  # the cloud API root is a module constant
        module.CLOUD_API, module.CLOUD_WEB = local, local
        server.routes = github_routes("", local)
    elif kind == "github_enterprise":
        settings = HostSettings(kind=kind, base_url=local)
        server.routes = github_routes("/api/v3", local)
    elif kind == "gitlab":
        server.routes = gitlab_routes(local)
    elif kind == "gitlab_self_managed":
        settings = HostSettings(kind=kind, base_url=local)
        server.routes = gitlab_routes(local)
    elif kind == "tfs":
        settings = HostSettings(
            kind=kind, base_url=f"{local}/tfs/DefaultCollection", server_version="2022"
        )
        server.routes = azure_routes()
    else:  # azure_devops, vsts: the cloud API root is a plain attribute
        settings = HostSettings(kind=kind, organization="acme")
        server.routes = azure_routes()
    if kind in ("azure_devops", "vsts", "tfs"):
        repo = Repo(
            host_id="5febef5a-833d-4e14-b9c0-14cb638f91e6",
            full_name="Fabrikam/api",
            project="Fabrikam",
            web_url=f"{local}/Fabrikam/_git/api",
        )
    provider = cls(settings, "bench-token", allow_private=True)
    if kind == "gitlab":
        provider.web_base = local  # the cloud URL is an instance attribute (class: cloud_url)
    elif kind in ("azure_devops", "vsts"):
        provider.api_root = f"{local}/acme"
    opened = http.connections_opened()
    try:
        counts = flow(provider, repo, lambda: server.calls)
    finally:
        server.shutdown()
        server.server_close()
    return counts, server.not_modified, http.connections_opened() - opened


def run_codecommit() -> tuple[list[int], int, None]:
    import botocore.session
    from botocore.stub import Stubber

    cls = provider_class("codecommit", "codecommit")
    provider = cls(HostSettings(kind="codecommit", region="eu-west-1"), "AKIAEXAMPLE:secret")
    session = botocore.session.Session()
    calls = {"n": 0}

    def count(**kwargs):
        calls["n"] += 1

    clients = {}
    for service in ("sts", "codecommit"):
        client = session.create_client(
            service,
            region_name="eu-west-1",
            aws_access_key_id="AKIAEXAMPLE",
            aws_secret_access_key="bench-secret",
        )
        # first, so the Stubber's own before-call handler does not end the event before us
        client.meta.events.register_first("before-call.*.*", count)
        clients[service] = client
    sts, cc = Stubber(clients["sts"]), Stubber(clients["codecommit"])
    arn = "arn:aws:iam::123456789012:user/gitint-bot"
    sts.add_response(
        "get_caller_identity", {"UserId": "AIDAEXAMPLE", "Account": "123456789012", "Arn": arn}
    )
    cc.add_response(
        "list_repositories",
        {
            "repositories": [
                {"repositoryName": "api", "repositoryId": "f7579e13-b83e-4027-aaef-650c0EXAMPLE"}
            ]
        },
    )
    for _ in range(2):
        cc.add_response("list_branches", {"branches": ["main", "PROJ-1"]})
    cc.add_response("get_branch", {"branch": {"branchName": "main", "commitId": SHA}})
    cc.add_response("create_branch", {})
    target = {
        "repositoryName": "api",
        "sourceReference": f"refs/heads/{NEW}",
        "destinationReference": "refs/heads/main",
    }
    cc.add_response(
        "create_pull_request",
        {
            "pullRequest": {
                "pullRequestId": "42",
                "title": "PROJ-7 Search",
                "pullRequestStatus": "OPEN",
                "pullRequestTargets": [target],
            }
        },
    )
    provider.sts, provider.codecommit = clients["sts"], clients["codecommit"]
    repo = Repo(host_id="f7579e13-b83e-4027-aaef-650c0EXAMPLE", full_name="api")
    with sts, cc:
        counts = flow(provider, repo, lambda: calls["n"])
    return counts, 0, None


def main() -> None:
    header = (
        f"{'kind':<20} {'validate':>8} {'list#1':>6} {'list#2 (304)':>12} {'branch':>6} "
        f"{'PR':>3} {'total':>5}  {'SPEC min br/PR':>14}  {'TCP conns':>9}"
    )
    print(header)
    print("-" * len(header))
    notes = []
    for kind in MINIMUM:
        try:
            counts, not_modified, tcp = run_codecommit() if kind == "codecommit" else run_http(kind)
        except ImportError as error:
            print(f"{kind:<20} skipped: provider module missing ({error})")
            continue
        except Exception as error:  # one broken provider must not hide the others
            print(f"{kind:<20} failed: {type(error).__name__}: {error}")
            continue
        v, l1, l2, branch, pr = counts
        low_branch, low_pr = MINIMUM[kind]
        mark = "" if (branch, pr) == (low_branch, low_pr) else "  ← above minimum"
        conns = "stub" if tcp is None else str(tcp)
        second = f"{l2} ({not_modified})"
        print(
            f"{kind:<20} {v:>8} {l1:>6} {second:>12} {branch:>6} {pr:>3} {sum(counts):>5}  "
            f"{f'{low_branch}/{low_pr}':>14}  {conns:>9}{mark}"
        )
        if kind == "codecommit":
            notes.append(
                "codecommit: counted with botocore before-call against a Stubber (no "
                "TCP); CodeCommit has no ETags, so list #2 is a full call."
            )
    print()
    print("list#2 (304): calls of the second branch listing, and how many were answered 304.")
    print(
        "TCP conns: connections opened during the flow (gitint.providers.http"
        ".connections_opened()); 1 = one kept-alive connection for the whole flow."
    )
    for note in notes:
        print(note)


if __name__ == "__main__":
    main()
