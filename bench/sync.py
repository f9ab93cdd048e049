"""Repository sync at scale: N fake repositories through gitint/sync.py (SPEC §6).

Run: ``python bench/sync.py [N]`` (default 100,000). A fake provider streams N repositories in
pages of 100 into a temporary SQLite database (or ``--database-url``: its tables are dropped and
re-created, so use a throwaway database). Three runs: the first sync (all inserts), a re-sync
(all updates), and a re-sync where 1% of the repositories vanished from the host (deletes).
Each prints its time and rows/s; a fourth re-sync runs under tracemalloc (which slows it
down, so it is not timed) and prints the peak Python memory, which stays flat as N grows
because the listing is streamed and written a batch (sync.BATCH rows) at a time.
"""

import argparse
import base64
import tempfile
import time
import tracemalloc
from pathlib import Path

from gitint import create_app, sync
from gitint.config import database_uri
from gitint.crypto import seal
from gitint.extensions import db
from gitint.hosts import settings_of
from gitint.models import Integration, Tenant
from gitint.providers.base import Provider, Repo

PAGE = 100


class FakeHost(Provider):
    """Streams ``count`` repositories page by page, skipping every ``skip``-th (0: none)."""

    kind = "github"
    label = "Fake"

    def __init__(self, settings, count: int, skip: int = 0):
        super().__init__(settings, "not-a-secret")
        self.count, self.skip = count, skip

    def validate(self):
        raise NotImplementedError

    def list_repositories(self):
        for start in range(0, self.count, PAGE):
            page = [
                Repo(
                    host_id=str(n),
                    full_name=f"org-{n % 97}/repository-{n}",
                    default_branch="main",
                    web_url=f"https://github.com/org-{n % 97}/repository-{n}",
                )
                for n in range(start, min(start + PAGE, self.count))
                if not (self.skip and n % self.skip == 0)
            ]
            yield from page

    def list_branches(self, repo, search=None):
        raise NotImplementedError

    def get_branch(self, repo, name):
        raise NotImplementedError

    def create_branch(self, repo, name, base):
        raise NotImplementedError

    def create_pull_request(self, repo, source, target, title, description, draft):
        raise NotImplementedError

    def find_open_pull_request(self, repo, source, target):
        raise NotImplementedError

    def new_token_url(self):
        raise NotImplementedError

    def web_url_for_branch(self, repo, name):
        raise NotImplementedError

    def web_url_for_pull_request(self, repo, pr_id):
        raise NotImplementedError


def measure(label: str, integration: Integration, provider: Provider) -> None:
    stamp = sync.claim(integration.id)
    started = time.perf_counter()
    outcome = sync.run(integration.id, stamp, provider=provider)
    elapsed = time.perf_counter() - started
    assert outcome.state == "done", outcome
    print(
        f"{label:<22} {outcome.done:>9,} rows {outcome.removed:>7,} removed "
        f"{elapsed:8.2f} s {outcome.done / elapsed:>10,.0f} rows/s"
    )


def peak_memory(integration: Integration, provider: Provider) -> None:
    stamp = sync.claim(integration.id)
    tracemalloc.start()
    outcome = sync.run(integration.id, stamp, provider=provider)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert outcome.state == "done", outcome
    print(f"peak Python memory of a re-sync of {outcome.done:,}: {peak / 1024 / 1024:.1f} MiB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("count", nargs="?", type=int, default=100_000)
    parser.add_argument("--database-url", help="A throwaway database (default: temporary SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        app = create_app(
            {
                "SQLALCHEMY_DATABASE_URI": database_uri(url),
                "GITINT_SECRET_KEYS": "b1:" + base64.b64encode(b"b" * 32).decode(),
            }
        )
        with app.app_context():
            db.drop_all()
            db.create_all()
            tenant = Tenant(kind="embedded", issuer="bench", base_url="https://jira.example.com")
            seal(tenant, "bench-shared-secret")
            db.session.add(tenant)
            db.session.flush()
            integration = Integration(tenant_id=tenant.id, kind="github", name="bench")
            db.session.add(integration)
            db.session.commit()
            settings = settings_of(integration)
            print(f"sync of {args.count:,} repositories ({db.engine.dialect.name})")
            measure("first sync (insert)", integration, FakeHost(settings, args.count))
            measure("re-sync (update)", integration, FakeHost(settings, args.count))
            measure("1% vanished (delete)", integration, FakeHost(settings, args.count, skip=100))
            peak_memory(integration, FakeHost(settings, args.count))
            db.session.remove()
            if args.database_url:
                db.drop_all()
            db.engine.dispose()


if __name__ == "__main__":
    main()
