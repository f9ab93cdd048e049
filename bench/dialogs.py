"""Dialog open time, repository type-ahead time, host calls on open, and first-load size (SPEC §5).

Builds temporary SQLite databases — 5 integrations × 20,000 repositories with 10,000 stored
credentials, and one tenant with 100,000 repositories — then measures with the Flask test client
(server time in process, no network): dialog open p50/p95/p99, type-ahead p50/p95/p99 per kind
of query, host calls while opening (0), and the gzip size of the first load (HTML + app.css +
app.js + htmx) against 30 KB.

    python bench/dialogs.py [--requests 300] [--queries 300]
"""

import argparse
import base64
import gzip
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

import responses

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

WORDS = [
    *[
        "api",
        "web",
        "service",
        "core",
        "lib",
        "tools",
        "infra",
        "data",
        "mobile",
        "app",
        "ui",
        "auth",
        "billing",
        "search",
        "docs",
    ],
    *[
        "gateway",
        "worker",
        "payments",
        "ledger",
        "orders",
        "catalog",
        "inventory",
        "notify",
        "mail",
        "chat",
    ],
]
PARAMS = {"issueKey": "DEV-1", "projectKey": "DEV", "projectId": "10000"}


def build(path: str, keys: str, integrations: int, per_integration: int, users: int):
    """A database with one tenant, its integrations, repositories and users' credentials."""
    from sqlalchemy import insert

    from gitint import create_app
    from gitint.crypto import seal
    from gitint.extensions import db
    from gitint.models import Credential, Integration, Repository, Tenant, utcnow

    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}",
            "GITINT_SECRET_KEYS": keys,
            "GITINT_BASE_URL": "http://gitint.bench",
        }
    )
    rng = random.Random(7)
    names = []
    with app.app_context():
        db.create_all()
        tenant = Tenant(kind="embedded", issuer="bench", base_url="https://jira.example.com")
        seal(tenant, "bench-shared-secret")
        db.session.add(tenant)
        db.session.flush()
        for n in range(integrations):
            integration = Integration(tenant_id=tenant.id, kind="github", name=f"GitHub {n}")
            db.session.add(integration)
            db.session.flush()
            seal(integration, "ghp_bench_integration_token")
            integration.credential_login, integration.credential_status = "bot", "valid"
            # as a finished sync leaves it
            integration.sync_state, integration.sync_done = "done", per_integration
            integration.synced_at = utcnow()
            rows = []
            for i in range(per_integration):
                owner = f"{rng.choice(WORDS)}-org{rng.randrange(40)}"
                name = f"{owner}/{'-'.join(rng.sample(WORDS, 2))}-{n}{i:05d}"
                names.append(name)
                rows.append(
                    {
                        "tenant_id": tenant.id,
                        "integration_id": integration.id,
                        "host_id": f"{n}-{i}",
                        "full_name": name,
                        "search_name": name.lower(),
                        "default_branch": "main",
                        "web_url": f"https://github.com/{name}",
                    }
                )
            db.session.execute(insert(Repository), rows)
            credentials = []
            for u in range(users // integrations if users else 0):
                row = Credential(
                    tenant_id=tenant.id,
                    account_id=f"user-{u}",
                    integration_id=integration.id,
                    kind="pat",
                    last4="0000",
                    login=f"login{u}",
                    status="valid",
                )
                seal(row, f"ghp_user_{u}_token")
                credentials.append(
                    {c: getattr(row, c) for c in ("tenant_id", "account_id", "integration_id")}
                    | {"kind": "pat", "ciphertext": row.ciphertext, "last4": "0000"}
                    | {"login": row.login, "status": "valid"}
                )
            if credentials:
                db.session.execute(insert(Credential), credentials)
        db.session.commit()
        db.session.remove()
    return app, names


def entry(path: str, account: str) -> str:
    from gitint.jira.jwt import query_hash, sign

    now = int(time.time())
    claims = {
        "iss": "bench",
        "sub": account,
        "iat": now,
        "exp": now + 3600,
        "qsh": query_hash("GET", path, list(PARAMS.items())),
        "context": {
            "user": {"displayName": "Bench"},
            "permissions": ["VIEW_DEV_TOOLS"],
            "issue": {"summary": "Speed up the dialog", "type": "Story"},
        },
    }
    return f"{path}?{urlencode({**PARAMS, 'jwt': sign(claims, 'bench-shared-secret')})}"


def percentiles(samples: list[tuple[float, float]]) -> tuple[float, float, float, float]:
    """p50, p95, p99 of the wall-clock times and p99 of the CPU times, in ms."""
    wall = statistics.quantiles([w for w, _ in samples], n=100, method="inclusive")
    cpu = statistics.quantiles([c for _, c in samples], n=100, method="inclusive")
    return wall[49] * 1000, wall[94] * 1000, wall[98] * 1000, cpu[98] * 1000


def time_requests(client, urls, headers=None) -> list[tuple[float, float]]:
    """(wall, CPU) seconds per request. On a busy machine the CPU time shows the server's own
    cost; the wall time also holds the time other processes had the core."""
    samples = []
    for url in urls:
        wall, cpu = time.perf_counter(), time.thread_time()
        response = client.get(url, headers=headers)
        samples.append((time.perf_counter() - wall, time.thread_time() - cpu))
        assert response.status_code == 200, (url, response.status_code)
    return samples


def queries(names: list[str], count: int) -> dict[str, list[str]]:
    """Type-ahead inputs of four kinds, as people type them."""
    rng = random.Random(11)
    picks = [rng.choice(names).lower() for _ in range(count)]
    return {
        "prefix (owner)": [p[: rng.randint(1, 8)] for p in picks],
        "prefix after /": [p.split("/")[1][: rng.randint(2, 8)] for p in picks],
        "substring": [p[len(p) // 2 : len(p) // 2 + rng.randint(3, 6)] for p in picks],
        "no match": [f"zq{rng.randrange(10**6)}" for _ in picks],
    }


def first_load_size(html: str) -> tuple[int, int]:
    """(raw, gzip) bytes of the dialog's HTML and every asset it loads."""
    files = [html.encode()]
    for name in ("app.css", "app.js", "vendor/htmx-2.0.11.min.js"):
        files.append((ROOT / "static" / name).read_bytes())
    return sum(map(len, files)), sum(len(gzip.compress(f, 6)) for f in files)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--queries", type=int, default=300)
    args = parser.parse_args()
    keys = "b1:" + base64.b64encode(os.urandom(32)).decode()
    scratch = tempfile.TemporaryDirectory(prefix="gitint-bench-dialogs-")
    workdir = Path(scratch.name)
    from gitint.jira.context import CONTEXT_HEADER, Context, mint_context_token

    print("building 5 × 20,000 repositories + 10,000 credentials ...", flush=True)
    app, _ = build(str(workdir / "a.sqlite"), keys, 5, 20_000, 10_000)
    client = app.test_client()
    rows = []
    with responses.RequestsMock(assert_all_requests_are_fired=False) as host:
        for title, path in (
            ("open Create branch", "/dialogs/create-branch"),
            ("open Create pull request", "/dialogs/create-pull-request"),
        ):
            accounts = [f"user-{i % 2000}" for i in range(args.requests)]  # users with PATs
            urls = [entry(path, a) for a in accounts]
            time_requests(client, urls[:30])  # warm up
            rows.append((title, *percentiles(time_requests(client, urls)), 15.0))
        html = client.get(entry("/dialogs/create-branch", "user-1")).get_data(as_text=True)
        calls_on_open = len(host.calls)
    raw, packed = first_load_size(html)

    print("building 100,000 repositories ...", flush=True)
    app, names = build(str(workdir / "b.sqlite"), keys, 1, 100_000, 0)
    client = app.test_client()
    with app.test_request_context():
        ctx = Context(
            tenant_id=1,
            tenant_kind="embedded",
            account_id="user-1",
            permissions=("VIEW_DEV_TOOLS",),
            issue_key="DEV-1",
            project_key="DEV",
        )
        headers = {CONTEXT_HEADER: mint_context_token(ctx), "HX-Request": "true"}
    started = time.perf_counter()
    client.get("/dialogs/repositories?repository_name=api", headers=headers)
    cold = (time.perf_counter() - started) * 1000  # builds this worker's name index
    everything = []
    for kind, inputs in queries(names, args.queries).items():
        urls = ["/dialogs/repositories?" + urlencode({"repository_name": q}) for q in inputs]
        time_requests(client, urls[:20], headers)  # warm up
        samples = time_requests(client, urls, headers)
        everything += samples
        rows.append((f"type-ahead: {kind}", *percentiles(samples), 10.0))
    rows.append(("type-ahead: all kinds", *percentiles(everything), 10.0))

    print()
    header = ("p50", "p95", "p99")
    print(f"{'server time, Flask test client (ms)':38}", *(f"{h:>6}" for h in header), " cpu p99")
    for title, p50, p95, p99, cpu99, target in rows:
        verdict = "ok" if p99 <= target else "MISSED"
        print(
            f"{title:38} {p50:6.2f} {p95:6.2f} {p99:6.2f} {cpu99:8.2f}  p99 ≤ {target:g}: {verdict}"
        )
    print(f"{'type-ahead: first request of a worker':38} {cold:6.1f} ms (builds the name index)")
    print(f"{'host calls while opening the dialogs':38} {calls_on_open:>6}   target 0")
    print(
        f"{'first load (HTML+css+js+htmx), gzip':38} {packed / 1024:6.1f} KB"
        f" (raw {raw / 1024:.1f} KB)   target ≤ 30 KB  {'ok' if packed <= 30 * 1024 else 'MISSED'}"
    )
    scratch.cleanup()


if __name__ == "__main__":
    main()
