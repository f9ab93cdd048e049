"""Dialog renders per second under gunicorn (SPEC §5: ≥ 400/s, p99 ≤ 50 ms at 32 concurrent).

Seeds a temporary SQLite database (5 integrations × 2,000 repositories by default), starts
gunicorn on 127.0.0.1 with 2 workers, and sends a bounded number of signed dialog-open
requests from 32 client threads over kept-alive connections. Prints requests/s and latency
percentiles. The client runs on the same 2 cores as the server, so the figure is a floor.

    python bench/throughput.py [--requests 4000] [--concurrency 32] [--workers 2]
"""

import argparse
import base64
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def seed(database: str, keys: str, repos_per_integration: int) -> None:
    from sqlalchemy import insert

    from gitint import create_app
    from gitint.crypto import seal
    from gitint.extensions import db
    from gitint.models import Integration, Repository, Tenant

    app = create_app({"SQLALCHEMY_DATABASE_URI": database, "GITINT_SECRET_KEYS": keys})
    with app.app_context():
        db.create_all()
        tenant = Tenant(kind="embedded", issuer="bench", base_url="https://jira.example.com")
        seal(tenant, "bench-shared-secret")
        db.session.add(tenant)
        db.session.flush()
        for n in range(5):
            integration = Integration(tenant_id=tenant.id, kind="github", name=f"GitHub {n}")
            db.session.add(integration)
            db.session.flush()
            seal(integration, "ghp_bench_integration_token")
            integration.credential_login = "bot"
            rows = [
                {
                    "tenant_id": tenant.id,
                    "integration_id": integration.id,
                    "host_id": f"{n}-{i}",
                    "full_name": f"org{n}/repo-{i:05d}",
                    "search_name": f"org{n}/repo-{i:05d}",
                    "default_branch": "main",
                    "web_url": f"https://github.com/org{n}/repo-{i:05d}",
                }
                for i in range(repos_per_integration)
            ]
            db.session.execute(insert(Repository), rows)
        db.session.commit()


def signed_path(path: str, params: dict) -> str:
    from gitint.jira.jwt import query_hash, sign

    now = int(time.time())
    claims = {
        "iss": "bench",
        "sub": "user-1",
        "iat": now,
        "exp": now + 3600,
        "qsh": query_hash("GET", path, list(params.items())),
        "context": {
            "user": {"displayName": "Bench"},
            "permissions": ["VIEW_DEV_TOOLS"],
            "issue": {"summary": "Speed up the dialog", "type": "Story"},
        },
    }
    return f"{path}?{urlencode({**params, 'jwt': sign(claims, 'bench-shared-secret')})}"


def hammer(port: int, path: str, count: int, concurrency: int) -> tuple[list[float], int]:
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    per_thread = count // concurrency

    def worker():
        nonlocal errors
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        for _ in range(per_thread):
            started = time.perf_counter()
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            mine.append(time.perf_counter() - started)
            if response.status != 200:
                with lock:
                    errors += 1
        connection.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors


def wait_for(port: int, seconds: float = 30) -> None:
    """Block until gunicorn accepts connections and answers /healthz."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                connection.close()
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("gunicorn did not start")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repos", type=int, default=2000, help="per integration (5 of them)")
    parser.add_argument("--port", type=int, default=18931)
    parser.add_argument("--worker-class", default="gthread", help="gthread keeps connections alive")
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="gitint-bench-")
    database = f"sqlite:///{workdir}/bench.sqlite"
    keys = "b1:" + base64.b64encode(os.urandom(32)).decode()
    seed(database, keys, args.repos)
    env = {
        **os.environ,
        "DATABASE_URL": database,
        "GITINT_SECRET_KEYS": keys,
        "GITINT_BASE_URL": f"http://127.0.0.1:{args.port}",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--workers",
            str(args.workers),
            "--bind",
            f"127.0.0.1:{args.port}",
            "--log-level",
            "warning",
            "--keep-alive",
            "30",
            "app:app",
        ],
        cwd=ROOT,
        env=env,
    )
    try:
        path = signed_path(
            "/dialogs/create-branch",
            {"issueKey": "DEV-1", "projectKey": "DEV", "projectId": "10000"},
        )
        wait_for(args.port)
        hammer(args.port, path, 200, 8)  # warm up
        started = time.perf_counter()
        latencies, errors = hammer(args.port, path, args.requests, args.concurrency)
        elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=10)
    latencies.sort()
    q = statistics.quantiles(latencies, n=100)
    print(
        f"dialog renders under gunicorn ({args.workers} {args.worker_class} workers,"
        f" {args.concurrency} concurrent,"
        f" {5 * args.repos:,} repositories)"
    )
    print(f"  requests  {len(latencies):>8}   non-200 {errors}")
    print(f"  rate      {len(latencies) / elapsed:>8.0f} /s   (target ≥ 400 /s)")
    print(f"  p50       {q[49] * 1000:>8.1f} ms")
    print(f"  p95       {q[94] * 1000:>8.1f} ms")
    print(f"  p99       {q[98] * 1000:>8.1f} ms   (target ≤ 50 ms)")


if __name__ == "__main__":
    main()
