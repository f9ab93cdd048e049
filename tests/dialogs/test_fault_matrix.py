"""The fault matrix: each provider against a real HTTP server on 127.0.0.1 (not `responses`),
for both create verbs, with each way a host call can fail — a stall past the read timeout, a
reset connection, 500/502/503, 429 with Retry-After, malformed JSON, a missing key, and the
answer lost after the host acted. Each row checks the sentence, the kept input, the audit rows,
that a retry succeeds, and that the server holds exactly one branch or pull request.

CodeCommit runs against the same server speaking AWS's JSON protocol (boto3 with a local
``endpoint_url``), so its rows go through botocore's real HTTP stack too."""

import contextlib
import json
import socket
import struct
import threading
import time
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from botocore.config import Config
from sqlalchemy import select

from gitint.creating import RECOVERED
from gitint.extensions import db
from gitint.models import AuditEvent
from gitint.providers import codecommit, http

from .conftest import branch_form, post, pr_form

READ_TIMEOUT = 0.5  # seconds; the server stalls longer than this
STALL = READ_TIMEOUT + 0.4
NAME = "DEV-1-fix-the-login-page"
BASE_SHA = "aa218f56b14c9653891f9e74264a383fa43fefbd"
LOGIN = "integration-bot"  # the integration account's login (tests/conftest.make_integration)
LOST = ("lost-stall", "lost-reset", "malformed", "missing")  # the host acted, the answer is lost
FAULTS = ("stall", "reset", 500, 502, 503, 429, *LOST)


# ---------------------------------------------------------------- the local host


class Host:
    """Branches and pull requests of one repository, and the fault the next create meets."""

    def __init__(self):
        self.branches = {"main": BASE_SHA, NAME: "bb218f56b14c9653891f9e74264a383fa43fefbd"}
        self.pulls: list[dict] = []
        self.tokens: dict[str, dict] = {}  # CodeCommit clientRequestToken → PR
        self.fault = None
        self.targeted = 0  # requests of the verb under test received (a create, or a listing)
        self.lock = threading.Lock()

    def create_branch(self, name: str, sha: str) -> bool:
        with self.lock:
            if name in self.branches:
                return False
            self.branches[name] = sha
            return True

    def open_pull(self, source: str, target: str, title: str) -> dict | None:
        with self.lock:
            if any(p["source"] == source and p["target"] == target for p in self.pulls):
                return None
            pull = {"id": len(self.pulls) + 1, "source": source, "target": target, "title": title}
            pull["created"] = datetime.now(UTC)
            self.pulls.append(pull)
            return pull

    def find_pull(self, source: str, target: str) -> dict | None:
        return next((p for p in self.pulls if (p["source"], p["target"]) == (source, target)), None)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    dialect = None  # set per server: a function (handler, method, path, query, body) → answer

    def log_message(self, *args):
        pass

    def finish(self):
        with contextlib.suppress(OSError):  # the connection was reset on purpose
            super().finish()

    def do_GET(self):  # noqa: N802
        self.serve("GET")

    def do_POST(self):  # noqa: N802
        self.serve("POST")

    def serve(self, method: str) -> None:
        host: Host = self.server.host
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else {}
        target = self.headers.get("X-Amz-Target", "").rpartition(".")[2]
        query = parse_qs(parts.query)
        fault = None
        if self.server.is_target(method, unquote(parts.path), query, target):
            with host.lock:
                host.targeted += 1
                fault, host.fault = host.fault, None
        if fault == "stall":
            return self.stall()
        if fault == "reset":
            return self.reset()
        if fault in (500, 502, 503):
            return self.answer(fault, b"<html><h1>Server error</h1></html>", "text/html")
        if fault == 429:
            data = json.dumps({"__type": "ThrottlingException", "message": "Slow down"}).encode()
            return self.answer(429, data, headers={"Retry-After": "7"})
        origin = f"http://{self.headers['Host']}"
        status, answer = self.server.dialect(
            host, method, unquote(parts.path), query, body, target, origin
        )
        if fault == "lost-stall":
            return self.stall()
        if fault == "lost-reset":
            return self.reset()
        if fault == "malformed":
            return self.answer(status, b'{"ref": "refs/heads/x", "obj')
        if fault == "missing":
            return self.answer(status, json.dumps(without_names(method, answer)).encode())
        self.answer(status, json.dumps(answer).encode())

    def answer(self, status: int, data: bytes, kind="application/json", headers=None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def stall(self) -> None:
        time.sleep(STALL)
        self.close_connection = True

    def reset(self) -> None:
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.connection.close()
        self.close_connection = True


def without_names(method: str, answer):
    """A "missing key" answer: a created object with nothing in it, or a list whose items lack
    their names."""
    if method == "POST":
        return {}
    if isinstance(answer, list):
        return [{k: v for k, v in item.items() if k != "name"} for item in answer]
    if isinstance(answer.get("value"), list):
        return {**answer, "value": without_names(method, answer["value"])}
    return {}


def serve(dialect, is_target):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.host, server.dialect, server.is_target = Host(), dialect, is_target
    server.handle_error = lambda request, address: None  # a client that hung up is no news
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    return server


# ---------------------------------------------------------------- dialects


def github(host: Host, method, path, query, body, target, origin):
    """GitHub Enterprise under /api/v3, as much as the create verbs use."""
    web = f"{origin}/acme/api"
    rest = path.removeprefix("/api/v3/repos/acme/api")
    if method == "GET" and rest == "/branches":
        return 200, [{"name": n, "commit": {"sha": s}} for n, s in host.branches.items()]
    if method == "GET" and rest.startswith("/git/ref/heads/"):
        name = rest.removeprefix("/git/ref/heads/")
        if name not in host.branches:
            return 404, {"message": "Not Found"}
        return 200, {"ref": f"refs/heads/{name}", "object": {"sha": host.branches[name]}}
    if method == "POST" and rest == "/git/refs":
        name = body["ref"].removeprefix("refs/heads/")
        if not host.create_branch(name, body["sha"]):
            return 422, {"message": "Reference already exists"}
        return 201, {"ref": body["ref"], "object": {"sha": body["sha"]}}

    def shaped(pull):
        return {
            "number": pull["id"],
            "title": pull["title"],
            "html_url": f"{web}/pull/{pull['id']}",
            "head": {"ref": pull["source"]},
            "base": {"ref": pull["target"]},
            "user": {"login": LOGIN},
            "created_at": pull["created"].strftime("%Y-%m-%dT%H:%M:%SZ"),
        }

    if method == "POST" and rest == "/pulls":
        pull = host.open_pull(body["head"], body["base"], body["title"])
        if pull is None:
            message = f"A pull request already exists for acme:{body['head']}."
            errors = [{"resource": "PullRequest", "code": "custom", "message": message}]
            return 422, {"message": "Validation Failed", "errors": errors}
        return 201, shaped(pull)
    if method == "GET" and rest == "/pulls":
        found = host.find_pull(query["head"][0].split(":")[-1], query["base"][0])
        return 200, [shaped(found)] if found else []
    return 404, {"message": "Not Found"}


def gitlab(host: Host, method, path, query, body, target, origin):
    """Self-managed GitLab under /api/v4, project 3."""
    web = f"{origin}/acme/api"
    rest = path.removeprefix("/api/v4/projects/3")
    if method == "GET" and rest == "/repository/branches":
        return 200, [{"name": n, "commit": {"id": s}} for n, s in host.branches.items()]
    if method == "GET" and rest.startswith("/repository/branches/"):
        name = rest.removeprefix("/repository/branches/")
        if name not in host.branches:
            return 404, {"message": "404 Branch Not Found"}
        return 200, {"name": name, "commit": {"id": host.branches[name]}}
    if method == "POST" and rest == "/repository/branches":
        sha = host.branches.get(body["ref"])
        if sha is None:
            return 400, {"message": "Invalid reference name: " + body["ref"]}
        if not host.create_branch(body["branch"], sha):
            return 400, {"message": "Branch already exists"}
        return 201, {"name": body["branch"], "commit": {"id": sha}, "web_url": f"{web}/-/tree/x"}

    def shaped(pull):
        return {
            "iid": pull["id"],
            "title": pull["title"],
            "web_url": f"{web}/-/merge_requests/{pull['id']}",
            "source_branch": pull["source"],
            "target_branch": pull["target"],
            "author": {"username": LOGIN},
            "created_at": pull["created"].isoformat(),
        }

    if method == "POST" and rest == "/merge_requests":
        pull = host.open_pull(body["source_branch"], body["target_branch"], body["title"])
        if pull is None:
            found = host.find_pull(body["source_branch"], body["target_branch"])
            message = (
                f"Another open merge request already exists for this source branch: !{found['id']}"
            )
            return 409, {"message": [message]}
        return 201, shaped(pull)
    if method == "GET" and rest == "/merge_requests":
        found = host.find_pull(query["source_branch"][0], query["target_branch"][0])
        return 200, [shaped(found)] if found else []
    return 404, {"message": "404 Not Found"}


def azure(host: Host, method, path, query, body, target, origin):
    """Azure DevOps Server 2022 under /tfs/DefaultCollection, project P, repository r-1."""
    rest = path.removeprefix("/tfs/DefaultCollection/P/_apis/git/repositories/r-1")
    if method == "GET" and rest == "/refs":
        prefix = query["filter"][0].removeprefix("heads/")
        refs = [
            {"name": f"refs/heads/{n}", "objectId": s}
            for n, s in host.branches.items()
            if n.startswith(prefix)
        ]
        return 200, {"value": refs, "count": len(refs)}
    if method == "POST" and rest == "/refs":
        update = body[0]
        name = update["name"].removeprefix("refs/heads/")
        made = host.create_branch(name, update["newObjectId"])
        result = {
            "name": update["name"],
            "newObjectId": update["newObjectId"],
            "success": made,
            "updateStatus": "succeeded" if made else "staleOldObjectId",
        }
        return 200, {"value": [result], "count": 1}

    def shaped(pull):
        return {
            "pullRequestId": pull["id"],
            "title": pull["title"],
            "sourceRefName": f"refs/heads/{pull['source']}",
            "targetRefName": f"refs/heads/{pull['target']}",
            "createdBy": {"uniqueName": LOGIN, "displayName": "Integration Bot"},
            "creationDate": pull["created"].isoformat(),
        }

    def short(ref):
        return ref.removeprefix("refs/heads/")

    if method == "POST" and rest == "/pullrequests":
        pull = host.open_pull(
            short(body["sourceRefName"]), short(body["targetRefName"]), body["title"]
        )
        if pull is None:
            message = (
                "TF401179: An active pull request for the source and target branch already exists."
            )
            return 409, {"message": message, "typeKey": "GitPullRequestExistsException"}
        return 201, shaped(pull)
    if method == "GET" and rest == "/pullrequests":
        source = short(query["searchCriteria.sourceRefName"][0])
        found = host.find_pull(source, short(query["searchCriteria.targetRefName"][0]))
        return 200, {"value": [shaped(found)] if found else [], "count": int(bool(found))}
    return 404, {"message": "TF200016: not found"}


def aws(host: Host, method, path, query, body, target, origin):
    """AWS CodeCommit's JSON protocol (X-Amz-Target), repository "api"."""
    if target == "GetBranch":
        name = body["branchName"]
        if name not in host.branches:
            return 400, {"__type": "BranchDoesNotExistException", "message": "no such branch"}
        return 200, {"branch": {"branchName": name, "commitId": host.branches[name]}}
    if target == "ListBranches":
        return 200, {"branches": list(host.branches)}
    if target == "CreateBranch":
        if not host.create_branch(body["branchName"], body["commitId"]):
            return 400, {"__type": "BranchNameExistsException", "message": "exists"}
        return 200, {}
    if target == "CreatePullRequest":
        token, spot = body["clientRequestToken"], body["targets"][0]
        with host.lock:
            pull = host.tokens.get(token)
        if pull is None:  # AWS answers a repeated token with the PR it made for it
            pull = {"id": len(host.pulls) + 1, "title": body["title"], "created": datetime.now(UTC)}
            pull.update(source=spot["sourceReference"], target=spot["destinationReference"])
            with host.lock:
                host.pulls.append(pull)
                host.tokens[token] = pull
        return 200, {
            "pullRequest": {
                "pullRequestId": str(pull["id"]),
                "title": pull["title"],
                "pullRequestStatus": "OPEN",
                "authorArn": f"arn:aws:iam::123456789012:user/{LOGIN}",
                "creationDate": pull["created"].timestamp(),
                "pullRequestTargets": [
                    {
                        "repositoryName": "api",
                        "sourceReference": f"refs/heads/{pull['source']}",
                        "destinationReference": f"refs/heads/{pull['target']}",
                    }
                ],
            }
        }
    return 400, {"__type": "InvalidOperationException", "message": target}


def creating(method, path, query, target):
    """A create request, on any of the hosts."""
    creates = ("/git/refs", "/pulls", "/repository/branches", "/merge_requests")
    return method == "POST" and (
        path.endswith((*creates, "/refs", "/pullrequests"))
        or target in ("CreateBranch", "CreatePullRequest")
    )


def listing(method, path, query, target):
    """The branch listing, on any of the hosts (Azure's refs filtered by the bare prefix)."""
    if method == "POST":
        return target == "ListBranches"
    if path.endswith("/refs"):
        return query.get("filter") == ["heads/"]
    return path.endswith("/branches")


PROVIDERS = {"github": github, "gitlab": gitlab, "azure": azure, "codecommit": aws}


# ---------------------------------------------------------------- the dialogs against it


@pytest.fixture
def short_timeouts(monkeypatch):
    """Read timeouts short enough for a stall to cost half a second."""
    monkeypatch.setattr(http, "TIMEOUT", (2, READ_TIMEOUT))


def integration_for(kind, base, make_integration, make_repo, tenant, monkeypatch):
    """An integration of ``kind`` whose host is the local server, and its repository."""
    if kind == "github":
        integration = make_integration(tenant, kind="github_enterprise", base_url=base)
        repo = make_repo(integration, "acme/api", host_id="101", web_url=f"{base}/acme/api")
    elif kind == "gitlab":
        integration = make_integration(tenant, kind="gitlab_self_managed", base_url=base)
        repo = make_repo(integration, "acme/api", host_id="3", web_url=f"{base}/acme/api")
    elif kind == "azure":
        integration = make_integration(
            tenant, kind="tfs", base_url=f"{base}/tfs/DefaultCollection", server_version="2022"
        )
        web = f"{base}/tfs/DefaultCollection/P/_git/api"
        repo = make_repo(integration, "P/api", host_id="r-1", project="P", web_url=web)
    else:
        integration = make_integration(
            tenant, kind="codecommit", region="us-east-1", secret="AKIAEXAMPLE0000:s3cr3t"
        )
        repo = make_repo(integration, "api", host_id="cc-1", web_url=None)
        config = codecommit.CONFIG.merge(Config(read_timeout=READ_TIMEOUT, connect_timeout=2))

        def local_client(service, region, key_id, secret):
            with codecommit._session_lock:
                return codecommit._isolated_session().client(
                    service,
                    region_name=region,
                    aws_access_key_id=key_id,
                    aws_secret_access_key=secret,
                    endpoint_url=base,
                    config=config,
                )

        monkeypatch.setattr(codecommit, "_client", local_client)
    return integration, repo


def sentence(kind, fault) -> str:
    """What the dialog must say for ``fault``."""
    if kind == "codecommit":
        where = "AWS CodeCommit in us-east-1"
        said = {
            "stall": f"{where} did not answer in time; try again.",
            "reset": f"The connection to {where} broke before it answered; try again.",
        }
        internal = "AWS CodeCommit had an internal error (HTTP {}); try again."
    else:
        said = {
            "stall": "The git host did not answer in time; try again.",
            "reset": "The connection to the git host broke before it answered; try again.",
        }
        internal = "The git host had an internal error (HTTP {}); try again."
    said["lost-stall"], said["lost-reset"] = said["stall"], said["reset"]
    said[429] = "The git host is rate limiting requests; try again in 7 s."
    said["malformed"] = said["missing"] = (
        "The git host sent an answer gitint could not read; try again."
    )
    return said.get(fault) or internal.format(fault)


def audit_rows():
    return db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()


def attempt(client, tenant, verb, repo, n):
    """POST the create form of fault row ``n`` (its own branch name or source branch, so the
    rows share one app and host) → (response, body, the value that must be kept)."""
    if verb == "branch":
        path, form, kept = "/dialogs/create-branch", branch_form(repo, name=f"DEV-1-new-{n}"), None
        kept = form["name"]
    else:
        source = f"DEV-1-src-{n}"
        form = pr_form(repo, source=source, source_default=source, title=f"DEV-1 row {n}")
        path, kept = "/dialogs/create-pull-request", form["title"]
    response = post(client, tenant, path, form)
    return response, response.get_data(as_text=True), kept


@pytest.mark.parametrize("verb", ["branch", "pull_request"])
@pytest.mark.parametrize("kind", list(PROVIDERS))
def test_fault_matrix(
    app, client, make_tenant, make_integration, make_repo, monkeypatch, short_timeouts, kind, verb
):
    """For each fault: does the create end in its sentence with the input kept and an error
    audited, and does the retry succeed (recognising a create whose answer was lost) with one
    create request per attempt and exactly one branch or pull request on the host?"""
    app.config["GITINT_ALLOW_PRIVATE_HOSTS"] = True
    server = serve(PROVIDERS[kind], creating)
    host = server.host
    host.branches.update({f"DEV-1-src-{n}": BASE_SHA[::-1] for n in range(len(FAULTS))})
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        tenant = make_tenant()
        _, repo = integration_for(kind, base, make_integration, make_repo, tenant, monkeypatch)
        for n, fault in enumerate(FAULTS):
            row = f"{kind} {verb} {fault}"
            host.fault, host.targeted, audited = fault, 0, len(audit_rows())
            first, body, kept = attempt(client, tenant, verb, repo, n)
            if kind == "codecommit" and verb == "branch" and fault in ("malformed", "missing"):
                # CreateBranch answers nothing that is read: the create simply succeeded
                assert first.status_code == 200 and "Branch created" in body, row
                assert host.targeted == 1 and f"DEV-1-new-{n}" in host.branches, row
                continue
            assert first.status_code == 422, (row, body)
            expected = sentence(kind, fault)
            assert expected in body, (row, body)
            assert f'value="{kept}"' in body, row  # the input is kept
            (failed,) = audit_rows()[audited:]
            assert (failed.result, failed.detail, failed.acting_login) == (
                "error",
                expected,
                LOGIN,
            ), row

            again, body, _ = attempt(client, tenant, verb, repo, n)
            assert again.status_code == 200, (row, body)
            assert "created" in body, row
            succeeded = audit_rows()[-1]
            assert succeeded.result == "success" and succeeded.link, row
            aws_replays = kind == "codecommit" and verb == "pull_request"  # its token: same PR
            if fault in LOST and not aws_replays:
                assert succeeded.detail.endswith(RECOVERED), row
                assert "already created by your earlier request" in body, row
            assert host.targeted == 2, row  # one create request per attempt, never a hidden retry
            if verb == "branch":
                assert host.branches[f"DEV-1-new-{n}"] == BASE_SHA, row
            else:
                mine = [p for p in host.pulls if p["source"] == f"DEV-1-src-{n}"]
                assert len(mine) == 1, row
        assert len(host.pulls) == (0 if verb == "branch" else len(FAULTS))
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("kind", list(PROVIDERS))
def test_fault_matrix_branch_list(
    app, client, make_tenant, make_integration, make_repo, monkeypatch, short_timeouts, kind
):
    """For each fault on the branch listing (choosing a repository): is it the sentence, with
    the input kept and no list, and does choosing again list the branches (one listing request
    per attempt)?"""
    app.config["GITINT_ALLOW_PRIVATE_HOSTS"] = True
    server = serve(PROVIDERS[kind], listing)
    host = server.host
    try:
        base = f"http://127.0.0.1:{server.server_address[1]}"
        tenant = make_tenant()
        _, repo = integration_for(kind, base, make_integration, make_repo, tenant, monkeypatch)
        form = branch_form(repo, name="DEV-1-typed")
        for fault in FAULTS:
            if fault in ("lost-stall", "lost-reset"):
                continue  # a listing changes nothing: these are "stall" and "reset" again
            row = f"{kind} list {fault}"
            host.fault, host.targeted = fault, 0
            first = post(client, tenant, "/dialogs/create-branch/refresh", form)
            body = first.get_data(as_text=True)
            assert first.status_code == 200, (row, body)
            assert 'value="DEV-1-typed"' in body, row
            if kind == "codecommit" and fault in ("malformed", "missing"):
                # botocore parses an unreadable success body as {}, and "branches" is optional in
                # the service model: both read as a repository without branches
                assert "notice error" not in body, (row, body)
            else:
                assert sentence(kind, fault) in body, (row, body)
                assert '<option value="main">' not in body, row
            again = post(client, tenant, "/dialogs/create-branch/refresh", form)
            assert '<option value="main"></option>' in again.get_data(as_text=True), row
            assert host.targeted == 2, row
        assert audit_rows() == []  # listing is not a create: nothing to audit
    finally:
        server.shutdown()
        server.server_close()
