"""The task queue end to end: a sync of N repositories through it, and webhook delivery →
searchable (SPEC §2, §6).

Run: ``python bench/task_queue.py [N]`` (default 100,000). A real consumer process
(``flask --app app gitint worker``) syncs from the fake GitHub host (gitint/dev/fakehost.py,
pages of 100 over HTTP) into a temporary SQLite database, and again into PostgreSQL when
``DATABASE_URL`` is set (a throwaway database created beside it and dropped after). The
queue is SQLite (``--queue-url redis://…`` for Redis).

1. The sync through the queue (request → worker → done), next to the same sync run in the
   foreground (``sync-repos --now``'s path) in this process: time and repositories/s of each.
2. Webhook → searchable: the app serves on a local port; 100 times, a repository is created on
   the fake host, which delivers a signed ``repository`` event; the time from the delivery
   being sent to the repository being found by the type-ahead's search is measured (p50/p99),
   and the handler's answer time (validate, record, enqueue).
"""

import argparse
import base64
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import requests
from sqlalchemy import select
from throughput import Database  # bench/throughput.py
from werkzeug.serving import make_server

from gitint import create_app, queue, sync, webhooks
from gitint.config import database_uri
from gitint.crypto import seal
from gitint.dev.fakehost import FakeGitHost, FakeState
from gitint.extensions import db
from gitint.models import Integration, Tenant, WebhookDelivery
from gitint.search import search_repositories

ROOT = Path(__file__).parents[1]

KEYS = "b1:" + base64.b64encode(b"b" * 32).decode()
TOKEN = "ghp_bench_integration_token"
DELIVERIES = 100


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def wait(predicate, timeout: float, poll: float = 0.002):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        db.session.rollback()
        db.session.expire_all()
        value = predicate()
        if value:
            return value
        time.sleep(poll)
    raise TimeoutError


def bench(database_url: str, queue_url: str, count: int, tmp: Path) -> None:
    name = f"bench-{uuid.uuid4().hex[:8]}"
    settings = {
        "SQLALCHEMY_DATABASE_URI": database_uri(database_url),
        "GITINT_SECRET_KEYS": KEYS,
        "GITINT_QUEUE_URL": queue_url,
        "GITINT_QUEUE_NAME": name,
        "GITINT_QUEUE_IMMEDIATE": False,
        "GITINT_ALLOW_PRIVATE_HOSTS": True,
    }
    app = create_app(settings)
    state = FakeState()
    state.add_token(TOKEN, "bench-bot")
    for n in range(count):
        state.add_repo(f"org-{n % 97}/repository-{n}")
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "GITINT_SECRET_KEYS": KEYS,
        "GITINT_QUEUE_URL": queue_url,
        "GITINT_QUEUE_NAME": name,
        "GITINT_ALLOW_PRIVATE_HOSTS": "1",
    }
    log = (tmp / f"{name}.log").open("wb")
    with FakeGitHost(state) as host, app.app_context():
        db.drop_all()
        db.create_all()
        iid = add_integration(host, "bench")
        worker = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "app", "gitint", "worker", "-w", "2"],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            time.sleep(1.5)  # the consumer's start (imports), not part of any figure
            started = time.perf_counter()
            assert queue.request_sync(iid, "cli", "bench")[1]
            wait(lambda: db.session.get(Integration, iid).sync_state == "done", 3600, 0.05)
            queued = time.perf_counter() - started
            done = db.session.get(Integration, iid).sync_done
            print(
                f"  sync through the queue   {done:>9,} repositories {queued:7.2f} s "
                f"{done / queued:>9,.0f} /s"
            )
            started = time.perf_counter()
            sync.request(iid, "cli", "bench")
            outcome = sync.perform(iid)
            foreground = time.perf_counter() - started
            assert outcome.state == "done", outcome
            print(
                f"  the same in the foreground {outcome.done:>7,} repositories "
                f"{foreground:7.2f} s {outcome.done / foreground:>9,.0f} /s "
                f"(queue/foreground {queued / foreground:.2f})"
            )
            print(f"  a tenant of {count:,} repositories:")
            webhook_latency(app, host, state, iid)
            with FakeGitHost(small_state()) as small_host:
                small = add_integration(small_host, "bench-small")
                assert queue.request_sync(small, "cli", "bench")[1]
                wait(lambda: db.session.get(Integration, small).sync_state == "done", 600, 0.05)
                print("  a tenant of 1,000 repositories:")
                webhook_latency(app, small_host, small_host.state, small)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
            if os.environ.get("BENCH_LOG"):
                print((tmp / f"{name}.log").read_text())
            queue.huey.flush()
            db.session.remove()
            db.drop_all()


def add_integration(host: FakeGitHost, issuer: str) -> int:
    """A tenant with one integration on ``host`` (no schedule: only the syncs asked for)."""
    tenant = Tenant(kind="embedded", issuer=issuer, base_url="https://jira.example.com")
    seal(tenant, "s" * 32)
    db.session.add(tenant)
    db.session.flush()
    integration = Integration(
        tenant_id=tenant.id,
        kind="github_enterprise",
        name="Bench",
        base_url=host.base_url,
        sync_every_hours=0,
    )
    db.session.add(integration)
    db.session.flush()
    seal(integration, TOKEN)
    db.session.commit()
    return integration.id


def small_state() -> FakeState:
    state = FakeState()
    state.add_token(TOKEN, "bench-bot")
    for n in range(1000):
        state.add_repo(f"small/repository-{n}")
    return state


def webhook_latency(app, host, state: FakeState, iid: int) -> None:
    """Create DELIVERIES repositories on ``host``; print delivery → searchable percentiles."""
    integration = db.session.get(Integration, iid)
    tenant_id = integration.tenant_id
    webhook, secret = webhooks.set_up(integration)
    db.session.commit()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.hooks.append(
        (f"http://127.0.0.1:{server.server_port}/webhooks/{webhook.public_id}", secret)
    )
    session = requests.Session()
    latencies, answers = [], []
    try:
        for n in range(DELIVERIES):
            name = f"hooked-{n:03d}-{uuid.uuid4().hex[:6]}"
            answer = session.post(
                f"{host.base_url}/api/v3/orgs/acme/repos",
                json={"name": name},
                headers={"Authorization": f"Bearer {TOKEN}"},
                timeout=30,
            )
            assert answer.status_code == 201, answer.text
            delivery = state.deliveries[-1]
            assert delivery["status"] == 202, delivery
            wait(lambda name=name: search_repositories(tenant_id, name)[0], 20)
            key = f"github:{delivery['id']}"
            applied = select(WebhookDelivery.state).where(WebhookDelivery.key == key)
            assert db.session.scalar(applied) == "applied"
            latencies.append(time.monotonic() - delivery["sent_at"])
            answers.append(delivery["answered_at"] - delivery["sent_at"])
    finally:
        server.shutdown()
    ms = [1000 * x for x in latencies]
    handler = [1000 * x for x in answers]
    print(
        f"    webhook → searchable over {DELIVERIES}: p50 {percentile(ms, 50):6.1f} ms, "
        f"p99 {percentile(ms, 99):6.1f} ms, mean {statistics.mean(ms):6.1f} ms"
    )
    print(
        f"    webhook handler answer:        p50 {percentile(handler, 50):6.1f} ms, "
        f"p99 {percentile(handler, 99):6.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", nargs="?", type=int, default=100_000)
    parser.add_argument("--queue-url", help="redis://… (default: a temporary SQLite queue)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        queue_url = args.queue_url or f"sqlite:///{tmp / 'queue.sqlite'}"
        print(f"SQLite database, queue on {queue_url.split(':')[0]}:")
        bench(f"sqlite:///{tmp / 'bench.sqlite'}", queue_url, args.count, tmp)
        if os.environ.get("DATABASE_URL", "").startswith("postgres"):
            database = Database(str(tmp))  # a throwaway database beside DATABASE_URL's
            try:
                print(f"PostgreSQL database, queue on {queue_url.split(':')[0]}:")
                bench(database.url, queue_url, args.count, tmp)
            finally:
                database.drop()


if __name__ == "__main__":
    main()
