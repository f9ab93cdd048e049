"""Forge: server time of a warm dialog open through /forge/ui next to the embedded (Connect-style
signed iframe) open measured in the same run, Jira calls cold and warm, and the first-load bytes
of the Forge resource.

Builds a temporary SQLite database (one embedded and one Forge tenant, each with 5 integrations
× 2,000 repositories), serves a JWKS on 127.0.0.1, mocks Jira REST with `responses`, and times
requests with the Flask test client (server time in process, no network). The Forge open
includes verifying the invocation token (RS256) and running the same view as the embedded open.

    python bench/forge.py [--requests 500]
"""

import argparse
import base64
import gzip
import json
import os
import re
import statistics
import sys
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import jwt
import responses
from cryptography.hazmat.primitives.asymmetric import rsa

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

APP_ID = "ari:cloud:ecosystem::app/00000000-0000-4000-8000-00000000bench"
INSTALLATION = "ari:cloud:ecosystem::installation/00000000-0000-4000-8000-0000000bench"
API_BASE = "https://api.atlassian.com/ex/jira/bench-cloud"
PARAMS = {"issueKey": "DEV-1", "projectKey": "DEV", "projectId": "10000"}
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RESOURCE = ROOT / "forge" / "static" / "gitint"


def serve_jwks() -> str:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key()))
    body = json.dumps({"keys": [{**jwk, "kid": "bench", "alg": "RS256", "use": "sig"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_port}/jwks.json"


def fit(account: str) -> str:
    now = int(time.time())
    claims = {
        "iss": "forge/invocation-token",
        "aud": APP_ID,
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "jti": str(uuid.uuid4()),
        "app": {
            "id": APP_ID,
            "installationId": INSTALLATION,
            "apiBaseUrl": API_BASE,
            "environment": {"type": "PRODUCTION", "id": "bench-env"},
            "module": {"type": "jira:issueAction", "key": "gitint-create-branch"},
        },
        "context": {
            "cloudId": "bench-cloud",
            "siteUrl": "https://bench.atlassian.net",
            "moduleKey": "gitint-create-branch",
            "extension": {
                "type": "jira:issueAction",
                "issue": {"id": "10001", "key": "DEV-1", "type": "Story"},
                "project": {"id": "10000", "key": "DEV", "type": "software"},
            },
        },
        "principal": account,
    }
    return jwt.encode(claims, KEY, algorithm="RS256", headers={"kid": "bench"})


def build(path: str, jwks_url: str):
    from sqlalchemy import insert

    from gitint import create_app
    from gitint.crypto import seal
    from gitint.extensions import db
    from gitint.jira.forge import upsert_tenant
    from gitint.models import Integration, Repository, Tenant, utcnow

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
            "GITINT_SECRET_KEYS": "b1:" + base64.b64encode(os.urandom(32)).decode(),
            "GITINT_BASE_URL": "http://gitint.bench",
            "GITINT_FORGE_APP_ID": APP_ID,
            "GITINT_FORGE_JWKS_URL": jwks_url,
        }
    )
    with app.app_context():
        db.create_all()
        embedded = Tenant(kind="embedded", issuer="bench", base_url="https://jira.example.com")
        seal(embedded, "bench-shared-secret")
        db.session.add(embedded)
        forge_tenant = upsert_tenant(
            INSTALLATION,
            cloud_id="bench-cloud",
            site_url="https://bench.atlassian.net",
            api_base_url=API_BASE,
        )
        db.session.flush()
        for tenant in (embedded, forge_tenant):
            for n in range(5):
                integration = Integration(tenant_id=tenant.id, kind="github", name=f"GitHub {n}")
                db.session.add(integration)
                db.session.flush()
                seal(integration, "ghp_bench_integration_token")
                integration.credential_login, integration.credential_status = "bot", "valid"
                integration.sync_state, integration.sync_done = "done", 2000
                integration.synced_at = utcnow()
                rows = [
                    {
                        "tenant_id": tenant.id,
                        "integration_id": integration.id,
                        "host_id": f"{n}-{i}",
                        "full_name": f"acme-{n}/service-{i:05d}",
                        "search_name": f"acme-{n}/service-{i:05d}",
                        "default_branch": "main",
                        "web_url": f"https://github.com/acme-{n}/service-{i:05d}",
                    }
                    for i in range(2000)
                ]
                db.session.execute(insert(Repository), rows)
        db.session.commit()
        db.session.remove()
    return app


def timed(send, count: int) -> list[tuple[float, float]]:
    samples = []
    for n in range(count):
        wall, cpu = time.perf_counter(), time.thread_time()
        send(n)
        samples.append((time.perf_counter() - wall, time.thread_time() - cpu))
    return samples


def summary(samples) -> tuple[float, float, float]:
    wall = statistics.quantiles([w for w, _ in samples], n=100, method="inclusive")
    return wall[49] * 1000, wall[98] * 1000, statistics.median(c for _, c in samples) * 1000


def resource_bytes() -> tuple[int, int, int]:
    """(files, raw, gzip) of the resource's index.html and everything it references."""
    index = (RESOURCE / "index.html").read_text()
    names = ["index.html", *re.findall(r'(?:src|href)="([^":]+)"', index)]
    files = [(RESOURCE / name).read_bytes() for name in names]
    return len(files), sum(map(len, files)), sum(len(gzip.compress(f, 9)) for f in files)


def main() -> None:
    from bench.dialogs import entry  # the same signed embedded entry as bench/dialogs.py

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    scratch = tempfile.TemporaryDirectory(prefix="gitint-bench-forge-")
    app = build(str(Path(scratch.name) / "forge.sqlite"), serve_jwks())
    client = app.test_client()
    body = {"path": "/dialogs/create-branch", "method": "GET", "query": list(PARAMS.items())}
    tokens = [fit(f"user-{n % 50}") for n in range(50)]

    def forge_open(n):
        headers = {"Authorization": "Bearer " + tokens[n % 50], "x-forge-oauth-user": "u-token"}
        response = client.post("/forge/ui", json=body, headers=headers)
        assert response.status_code == 200 and response.get_json()["status"] == 200

    entries = [entry("/dialogs/create-branch", f"user-{n % 50}") for n in range(50)]

    def embedded_open(n):
        assert client.get(entries[n % 50]).status_code == 200

    with responses.RequestsMock(assert_all_requests_are_fired=False) as jira:
        permission = {"permissions": {"VIEW_DEV_TOOLS": {"havePermission": True}}}
        jira.add(responses.GET, f"{API_BASE}/rest/api/3/mypermissions", json=permission)
        issue = {"fields": {"summary": "Speed up the dialog", "issuetype": {"name": "Story"}}}
        jira.add(responses.GET, f"{API_BASE}/rest/api/3/issue/DEV-1", json=issue)
        forge_open(0)
        cold_calls = len(jira.calls)
        forge_open(0)
        warm_calls = len(jira.calls) - cold_calls
        timed(forge_open, 50)  # warm every user's cache entries
        timed(embedded_open, 50)
        rounds = {"embedded open": [], "forge open (warm)": []}
        for _ in range(5):  # interleaved, so both see the same machine
            rounds["embedded open"] += timed(embedded_open, args.requests // 5)
            rounds["forge open (warm)"] += timed(forge_open, args.requests // 5)
        envelope = client.post(
            "/forge/ui",
            json=body,
            headers={"Authorization": "Bearer " + tokens[0], "x-forge-oauth-user": "u"},
        ).data
    figures = {title: summary(samples) for title, samples in rounds.items()}
    print(f"{'server time, Flask test client (ms)':36} {'p50':>7} {'p99':>7} {'cpu p50':>8}")
    for title, (p50, p99, cpu) in figures.items():
        print(f"{title:36} {p50:7.2f} {p99:7.2f} {cpu:8.2f}")
    ratio = figures["forge open (warm)"][2] / figures["embedded open"][2]
    print(f"{'forge / embedded, median CPU':36} {ratio:7.2f}×")
    print(f"{'Jira REST calls: cold open':36} {cold_calls:7}   target ≤ 2")
    print(f"{'Jira REST calls: warm open':36} {warm_calls:7}   target 0")
    files, raw, packed = resource_bytes()
    print(
        f"{'Forge resource first load':36} {packed / 1024:7.1f} KB gzip"
        f" ({files} files, raw {raw / 1024:.1f} KB)"
    )
    print(
        f"{'first page envelope (JSON)':36} {len(gzip.compress(envelope, 6)) / 1024:7.1f} KB gzip"
        f" (raw {len(envelope) / 1024:.1f} KB)"
    )
    scratch.cleanup()


if __name__ == "__main__":
    main()
