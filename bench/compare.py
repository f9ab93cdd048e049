"""The working tree's code against a git revision's, on one machine, in one process, in turn:
server CPU and wall time per type-ahead keystroke and per dialog open, as ratios to the
revision's.

A shared VM's speed drifts by a third from one minute to the next, so two separate runs of
bench/search.py or bench/dialogs.py cannot show a 10 % change. Here the revision's ``gitint``,
``templates`` and ``static`` are extracted (``git archive``) into a temporary folder as the package
``gitint_base``, both apps are built on the same database (the working tree's schema: compare
revisions whose code reads it), and every input is asked of both, in alternating order, three
times; a request's thread CPU and its wall time (which alone holds PostgreSQL's own work) are
each the best of its three. Compared with itself (HEAD, 40 inputs) the ratios stay within
0.95-1.08×: what a change must exceed to show. The database is bench/search.py's
tenant: 5 integrations (the fifth through gitint/sync.py), SQLite in a temporary folder or a
throwaway database on DATABASE_URL's PostgreSQL.

    python bench/compare.py REV [--queries 300] [--per-integration 20000]
    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test python bench/compare.py REV
"""

import argparse
import base64
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
from io import BytesIO
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import dialogs  # noqa: E402  (bench/dialogs.py: the signed dialog entry)
import search  # noqa: E402  (bench/search.py: the tenant, its names and the type-ahead inputs)
from throughput import Database  # noqa: E402  (bench/throughput.py)

TURNS = 3  # each input asked of each version this often; a request's CPU is the best turn's


def git(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603 - git itself, no shell
        [shutil.which("git") or "git", "-C", str(ROOT), *arguments],
        check=True,
        capture_output=True,
    )


def extract(revision: str, into: Path) -> str:
    """The revision's package as ``gitint_base`` under ``into`` (its imports are relative);
    returns the revision's short name."""
    archive = git("archive", revision, "gitint", "templates", "static").stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    (into / "gitint").rename(into / "gitint_base")
    sys.path.insert(0, str(into))
    return git("rev-parse", "--short", revision).stdout.decode().strip()


def timed(client, url: str, headers: dict | None = None) -> tuple[float, float]:
    """(CPU, wall) ms of one request (bench/dialogs.py's timing)."""
    cpu, wall = dialogs.time_one(client, url, headers)
    return cpu * 1000, wall * 1000


def in_turn(clients: dict, inputs: list) -> dict[str, list[tuple[float, float]]]:
    """Each input — a callable (client → (CPU, wall) ms) — asked of every client, alternating
    who goes first, ``TURNS`` times; the best turn of each (CPU and wall apart)."""
    samples = {label: [] for label in clients}
    for n, ask in enumerate(inputs):
        order = list(clients) if n % 2 else list(reversed(clients))
        turns = {label: [] for label in clients}
        for _ in range(TURNS):
            for label in order:
                turns[label].append(ask(clients[label]))
        for label, taken in turns.items():
            samples[label].append((min(c for c, _ in taken), min(w for _, w in taken)))
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("revision", help="a commit, branch or tag, e.g. HEAD~1")
    parser.add_argument("--queries", type=int, default=300, help="type-ahead inputs per kind")
    parser.add_argument("--opens", type=int, default=300, help="opens of each dialog")
    parser.add_argument("--per-integration", type=int, default=20_000, help="× 5 integrations")
    args = parser.parse_args()

    scratch = tempfile.TemporaryDirectory(prefix="gitint-bench-compare-")
    base_name = extract(args.revision, Path(scratch.name))
    import gitint_base

    from gitint.config import database_uri

    database = Database(scratch.name)
    keys = "b1:" + base64.b64encode(os.urandom(32)).decode()
    try:
        app = search.make_app(database.url, keys)
        print(f"{database.label}: 5 × {args.per_integration:,} repositories ...", flush=True)
        names = search.build(app, args.per_integration)
        fifth = search.repository_names(5, args.per_integration)
        search.run_sync(app, 5, fifth)
        names += fifth
        base = gitint_base.create_app(
            {
                "SQLALCHEMY_DATABASE_URI": database_uri(database.url),
                "GITINT_SECRET_KEYS": keys,
                "GITINT_BASE_URL": "http://gitint.bench",
            }
        )
        clients = {base_name: base.test_client(), "working tree": app.test_client()}
        headers = search.headers_for(app, 1)
        rows = []
        for kind, typed in search.queries(names, args.queries).items():
            inputs = [lambda c, q=q: timed(c, search.url_of(q), headers) for q in typed]
            in_turn(clients, inputs[:20])  # warm-up
            rows.append((f"type-ahead: {kind}", in_turn(clients, inputs)))
        for title, path in dialogs.DIALOGS:
            count = (20 + args.opens) * TURNS * len(clients)
            tokens = iter([dialogs.entry(path, f"user-{n}") for n in range(count)])

            def opened(client, tokens=tokens):  # a fresh entry each time, as Jira signs one
                return timed(client, next(tokens))

            in_turn(clients, [opened] * 20)  # warm-up
            rows.append((title, in_turn(clients, [opened] * args.opens)))
    finally:
        database.drop()
        scratch.cleanup()

    for n, measure in enumerate(("server CPU", "wall time")):
        print()
        print(
            f"{database.label}, {measure} per request in ms, best of {TURNS} turns each"
            f" ({base_name} and the working tree asked in turn)"
        )
        print(f"{'':28} {'median':>16} {'p99':>16}   working tree / {base_name}")
        print(f"{'':28} {base_name:>8} {'tree':>7} {base_name:>8} {'tree':>7}   median  p99")
        for title, samples in rows:
            old, new = ([s[n] for s in samples[who]] for who in (base_name, "working tree"))
            p50 = (statistics.median(old), statistics.median(new))
            p99 = tuple(statistics.quantiles(v, n=100, method="inclusive")[98] for v in (old, new))
            print(
                f"{title:28} {p50[0]:8.3f} {p50[1]:7.3f} {p99[0]:8.3f} {p99[1]:7.3f}"
                f"   {p50[1] / p50[0]:5.2f}× {p99[1] / p99[0]:5.2f}×"
            )


if __name__ == "__main__":
    main()
