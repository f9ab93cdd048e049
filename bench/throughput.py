"""Dialog renders per second under gunicorn next to a bare Flask route of the same body size,
both under the same gunicorn settings in the same run (SPEC §5: ≥ 50 % of bare Flask's rate,
p99 ≤ 50 ms at 32 concurrent).

Seeds a database (SQLite in a temporary folder; a throwaway database on DATABASE_URL's
PostgreSQL when it is set) with 5 integrations × 2,000 repositories, starts gunicorn on
127.0.0.1 with the worker class and threads it prints, and sends a bounded number of signed
dialog-open requests from 32 client threads over kept-alive connections, as a browser asks
(Accept-Encoding); then the same for bench/bare.py; both in turn, ``--rounds`` times, and the
median round's ratio is the verdict (a shared machine's speed drifts during a run). The client
runs on the same 2 cores as the server, so the rates are floors; the ratio is the figure to read.

    python bench/throughput.py [--requests 4000] [--concurrency 32] [--workers 2]
        [--worker-class gthread] [--threads 4] [--rounds 3]
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
    """``count`` GETs from ``concurrency`` threads over kept-alive connections, as a browser
    asks (Accept-Encoding); the latencies and how many answers were not 200."""
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    per_thread = count // concurrency
    headers = {"Accept-Encoding": "gzip, deflate, br, zstd"}

    def worker():
        nonlocal errors
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        mine = []
        for _ in range(per_thread):
            started = time.perf_counter()
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()
            mine.append(time.perf_counter() - started)
            if response.status != 200:
                with lock:
                    errors += 1
            if response.getheader("Connection", "").lower() == "close":
                connection.close()
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        connection.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, errors


def wait_for(port: int, path: str, seconds: float = 30) -> None:
    """Block until gunicorn accepts connections and answers ``path``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            connection.request("GET", path)
            if connection.getresponse().status == 200:
                connection.close()
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit("gunicorn did not start")


def gunicorn(app_spec: str, port: int, args, env: dict) -> subprocess.Popen:
    """gunicorn with exactly the settings this run prints (worker class and threads too)."""
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        str(args.workers),
        "--worker-class",
        args.worker_class,
        "--threads",
        str(args.threads),
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        "--keep-alive",
        "30",
        app_spec,
    ]
    return subprocess.Popen(command, cwd=ROOT, env=env)


def measure(app_spec: str, path: str, port: int, args, env: dict) -> dict:
    server = gunicorn(app_spec, port, args, env)
    try:
        wait_for(port, path)
        hammer(port, path, 200, 8)  # warm up
        started = time.perf_counter()
        latencies, errors = hammer(port, path, args.requests, args.concurrency)
        elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=10)
    q = statistics.quantiles(sorted(latencies), n=100)
    return {
        "count": len(latencies),
        "errors": errors,
        "rate": len(latencies) / elapsed,
        "p50": q[49] * 1000,
        "p99": q[98] * 1000,
    }


def body_size(port: int, path: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.request("GET", path)
    size = len(connection.getresponse().read())
    connection.close()
    return size


class Database:
    """SQLite in a temporary folder, or a throwaway database on DATABASE_URL's PostgreSQL."""

    def __init__(self, workdir: str):
        self.admin_url = os.environ.get("DATABASE_URL")
        self.name = None
        if not self.admin_url:
            self.url, self.label = f"sqlite:///{workdir}/bench.sqlite", "SQLite"
            return
        import psycopg

        self.name = f"gitint_bench_{os.getpid()}"
        with psycopg.connect(self.admin_url, autocommit=True) as connection:
            connection.execute(f"CREATE DATABASE {self.name}")
        self.url = self.admin_url.rsplit("/", 1)[0] + "/" + self.name
        self.label = "PostgreSQL"

    def drop(self) -> None:
        if self.name:
            import psycopg

            with psycopg.connect(self.admin_url, autocommit=True) as connection:
                connection.execute(f"DROP DATABASE IF EXISTS {self.name} WITH (FORCE)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repos", type=int, default=2000, help="per integration (5 of them)")
    parser.add_argument("--port", type=int, default=18931)
    parser.add_argument("--worker-class", default="gthread", help="gthread keeps connections alive")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=3, help="dialog then bare, this often")
    args = parser.parse_args()

    workdir = tempfile.mkdtemp(prefix="gitint-bench-")
    database = Database(workdir)
    keys = "b1:" + base64.b64encode(os.urandom(32)).decode()
    try:
        from gitint.config import database_uri

        seed(database_uri(database.url), keys, args.repos)
        env = {
            **os.environ,
            "DATABASE_URL": database.url,
            "GITINT_SECRET_KEYS": keys,
            "GITINT_BASE_URL": f"http://127.0.0.1:{args.port}",
        }
        path = signed_path(
            "/dialogs/create-branch",
            {"issueKey": "DEV-1", "projectKey": "DEV", "projectId": "10000"},
        )
        server = gunicorn("app:app", args.port, args, env)
        try:
            wait_for(args.port, path)
            size = body_size(args.port, path)
        finally:
            server.terminate()
            server.wait(timeout=10)
        bare_env = {**env, "BENCH_BODY_SIZE": str(size)}
        rounds = []  # in turn, so a shared machine's drift weighs on both alike
        for _ in range(args.rounds):
            dialog = measure("app:app", path, args.port, args, env)
            bare = measure("bench.bare:app", "/bare", args.port + 1, args, bare_env)
            rounds.append((dialog["rate"] / bare["rate"], dialog, bare))
    finally:
        database.drop()
    print(
        f"under gunicorn: {args.workers} {args.worker_class} workers × {args.threads} threads,"
        f" {args.concurrency} concurrent, {database.label}, {5 * args.repos:,} repositories,"
        f" body {size:,} bytes"
    )
    print(f"{'':30} {'requests':>9} {'non-200':>8} {'rate /s':>8} {'p50 ms':>7} {'p99 ms':>7}")
    for n, (_ratio, dialog, bare) in enumerate(rounds, 1):
        for title, figures in (("dialog open", dialog), ("bare Flask, same body", bare)):
            print(
                f"{f'round {n}: {title}':30} {figures['count']:>9} {figures['errors']:>8}"
                f" {figures['rate']:>8.0f} {figures['p50']:>7.1f} {figures['p99']:>7.1f}"
            )
    ratio, dialog, bare = sorted(rounds, key=lambda r: r[0])[len(rounds) // 2]  # the median
    verdict = "ok" if ratio >= 0.5 else "MISSED"
    print(
        f"dialog rate / bare Flask rate, the median round: {ratio:.0%}"
        f" ({dialog['rate']:.0f}/s vs {bare['rate']:.0f}/s)   (target ≥ 50 %: {verdict})"
    )
    verdict = "ok" if dialog["p99"] <= 50 else "MISSED"
    print(f"dialog p99 {dialog['p99']:.1f} ms   (target ≤ 50 ms: {verdict})")


if __name__ == "__main__":
    main()
