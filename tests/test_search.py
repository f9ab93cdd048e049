"""Repository search in the database (gitint/search.py): the same answers as a plain reading of
the ordering rule on every path (prefix range, window walk, trigram index, common substrings),
the index kept in step by the writes themselves, a bounded number of statements whatever the
repository count, and on PostgreSQL plans that use the indexes."""

import random
import re

import pytest
from sqlalchemy import delete, text, update
from sqlalchemy.dialects import postgresql, sqlite

from gitint import search
from gitint.extensions import db
from gitint.models import Repository
from gitint.search import PAGE_SIZE, search_repositories
from tests.conftest import statements_of

WORDS = ("api", "web", "app", "core", "data", "ui", "led", "tools", "infra", "payments")


def expected(names: list[str], query: str) -> list[str]:
    """The ordering rule read plainly: names starting with the query (exact first, as it sorts
    first), then holding "/query", then holding it anywhere else; code-point order in each."""
    q = query.strip().lower()
    starts = sorted(n for n in names if n.startswith(q))
    after = sorted(n for n in names if not n.startswith(q) and "/" + q in n)
    inside = sorted(n for n in names if not n.startswith(q) and "/" + q not in n and q in n)
    return starts + after + inside


def all_pages(tenant_id: int, query: str) -> list[str]:
    found, page, more = [], 0, True
    while more:
        rows, more = search_repositories(tenant_id, query, page)
        assert len(rows) <= PAGE_SIZE
        found += [r.search_name for r in rows]
        page += 1
    return found


def add_names(integration, names):
    db.session.add_all(
        Repository(
            tenant_id=integration.tenant_id,
            integration_id=integration.id,
            host_id=name,
            full_name=name,
            search_name=name,
            default_branch="main",
            web_url=f"https://github.com/{name}",
        )
        for name in names
    )
    db.session.commit()


def random_names(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    names = set()
    while len(names) < count:
        owner = rng.choice(WORDS) + rng.choice(("", "-co", "_x", "2"))
        repo = "-".join(rng.sample(WORDS, rng.randint(1, 3)))
        names.add(f"{owner}/{repo}{rng.choice(('', '.js', '-v2'))}")
    return sorted(names)


@pytest.fixture
def small_limits(monkeypatch):
    """A window and a 'few' small enough that a test's hundreds of names take every path."""
    monkeypatch.setattr(search, "WINDOW", 40)
    monkeypatch.setattr(search, "FIRST_WINDOW", 10)
    monkeypatch.setattr(search, "FEW", 15)


QUERIES = ("api", "API", "web-", "/ui", "led", "app/", "ools", "payments", "a-co/", "zzz", "d", "")


@pytest.mark.parametrize("limits", ["default", "small"])
def test_every_path_gives_the_plain_answer(
    request, limits, make_tenant, make_integration, make_repo
):
    """Does every query, over every page, list exactly the names the ordering rule gives — with
    the real limits and with limits so small that the window walk, the trigram index's 'few'
    answer and the common-substring candidates all run?"""
    if limits == "small":
        request.getfixturevalue("small_limits")
    tenant, other = make_tenant(), make_tenant()
    names = random_names(300, seed=11)
    add_names(make_integration(tenant), names)
    add_names(make_integration(other), [n + "-other" for n in names[:50]])  # another tenant's
    for query in QUERIES:
        got = all_pages(tenant.id, query)
        if not query:
            assert got == sorted(names)  # no query: everyone, in order, a page at a time
            continue
        want = expected(names, query)
        if limits == "small" and not search.indexed(query.lower(), _is_postgresql()):
            # too short for the trigram index: every prefix match first, then substrings found
            # in the window only — still in order, and nothing that does not match
            starts = [n for n in want if n.startswith(query.lower())]
            assert got[: len(starts)] == starts, query
            assert got == [n for n in want if n in set(got)], query
            continue
        assert got == want, query


def nested_names(count: int, seed: int) -> list[str]:
    """GitLab-like paths of 1 to 5 segments (groups and subgroups), words repeating."""
    rng = random.Random(seed)
    names = set()
    while len(names) < count:
        segments = [
            rng.choice(WORDS) + rng.choice(("", "-x", "2")) for _ in range(rng.randint(1, 5))
        ]
        names.add("/".join(segments))
    return sorted(names)


NESTED_QUERIES = ("core", "ui-x/", "led/api", "web2", "tools", "data/", "api-x/led", "x/w")


@pytest.mark.parametrize("limits", ["default", "small"])
def test_names_with_subgroups_are_found_after_every_slash(
    request, limits, make_tenant, make_integration
):
    """With names of up to five segments (GitLab subgroups), does a query match after the
    first, second, third or fourth "/" alike (PostgreSQL looks the first two up in its segment
    indexes, deeper ones in the deep names' trigram index), on every path?"""
    if limits == "small":
        request.getfixturevalue("small_limits")
    tenant, other = make_tenant(), make_tenant()
    names = nested_names(400, seed=3)
    add_names(make_integration(tenant), names)
    add_names(make_integration(other), ["zz/" + n for n in names[:80]])  # another tenant's
    assert {n.count("/") for n in names} == {0, 1, 2, 3, 4}
    for query in NESTED_QUERIES:
        assert all_pages(tenant.id, query) == expected(names, query), query
    slashes = {n: [i for i, c in enumerate(n) if c == "/"] for n in names}
    for needle in ("/core", "/led/api"):  # the data matches past a name's second "/"
        assert any(needle in n and n.index(needle) > slashes[n][1] for n in names), needle


def _is_postgresql() -> bool:
    return db.engine.dialect.name == "postgresql"


def test_the_index_follows_inserts_renames_upserts_and_deletes(
    app, make_tenant, make_integration, make_repo
):
    """Is the search index kept in step by the writes themselves (no code in the sync): a new
    name found, a renamed one found by its new name only, an upsert (the sync's statement)
    re-indexed, a deleted one gone?"""
    tenant = make_tenant()
    integration = make_integration(tenant)
    add_names(integration, [f"filler/repo-{n:03d}" for n in range(30)])
    repo = make_repo(integration, "acme/quokka-service")
    assert all_pages(tenant.id, "okka") == ["acme/quokka-service"]

    db.session.execute(
        update(Repository).where(Repository.id == repo.id).values(search_name="acme/wombat-api")
    )
    db.session.commit()
    assert all_pages(tenant.id, "okka") == []
    assert all_pages(tenant.id, "mbat") == ["acme/wombat-api"]

    dialect = postgresql if _is_postgresql() else sqlite
    row = {
        "tenant_id": tenant.id,
        "integration_id": integration.id,
        "host_id": repo.host_id,
        "full_name": "acme/numbat-api",
        "search_name": "acme/numbat-api",
        "default_branch": "main",
        "web_url": "https://github.com/acme/numbat-api",
    }
    statement = dialect.insert(Repository.__table__).values(**row)
    statement = statement.on_conflict_do_update(
        index_elements=["integration_id", "host_id"],
        set_={"full_name": row["full_name"], "search_name": row["search_name"]},
    )
    db.session.execute(statement)
    db.session.commit()
    assert all_pages(tenant.id, "mbat") == ["acme/numbat-api"]

    db.session.execute(delete(Repository).where(Repository.id == repo.id))
    db.session.commit()
    assert all_pages(tenant.id, "mbat") == []


def count_statements(run) -> int:
    return len(statements_of(run))


def test_a_search_is_a_bounded_number_of_statements(
    small_limits, client, make_tenant, make_integration
):
    """Is a search at most search.MAX_STATEMENTS statements whatever the repository count, on
    every path (with small limits, so every path runs), and a type-ahead request a fixed number
    of statements more: the tenant (read on every call, loaded or not), and the integrations'
    names when there is an option to show them beside?"""
    from tests.dialogs.conftest import get

    queries = ("api", "/ui", "ools", "zzz", "ata", "ments", "pi", "o/", "d", "")
    for size in (60, 600, 3000):
        tenant = make_tenant()
        add_names(make_integration(tenant), random_names(size, seed=size))
        counts, overhead = {}, set()
        for q in queries:
            counts[q] = count_statements(lambda q=q, t=tenant.id: search_repositories(t, q))
            found = bool(search_repositories(tenant.id, q)[0])
            path = f"/dialogs/repositories?repository_name={q}"
            request = count_statements(lambda p=path, t=tenant: get(client, t, p))
            overhead.add((found, request - counts[q]))
        assert max(counts.values()) <= search.MAX_STATEMENTS, (size, counts)
        assert overhead == {(True, 2), (False, 1)}, overhead


# ---------------------------------------------------------------- PostgreSQL's plans


def plan(statement, parameters: dict) -> str:
    """The database's plan for ``statement``: PostgreSQL's EXPLAIN (an index wherever one can
    serve), SQLite's EXPLAIN QUERY PLAN."""
    state = statement.compile(dialect=db.engine.dialect).construct_expanded_state(parameters)
    with db.engine.connect() as connection:
        if _is_postgresql():
            connection.exec_driver_sql("SET enable_seqscan = off")
            rows = connection.exec_driver_sql("EXPLAIN " + state.statement, state.parameters)
            return "\n".join(row[0] for row in rows)
        rows = connection.exec_driver_sql(
            "EXPLAIN QUERY PLAN " + state.statement, state.positional_parameters
        )
        return "\n".join(row[-1] for row in rows)


def test_postgresql_plans_use_the_indexes(app, make_tenant, make_integration):
    """On PostgreSQL, does the prefix range read ix_repositories_tenant_search_c (its collation
    is the query's), the substring look-up the pg_trgm index (each candidate's row once), and
    the look-up after "/" the segment indexes?"""
    if not _is_postgresql():
        pytest.skip("PostgreSQL only: SQLite's plans are checked by its FTS5 table")
    tenant = make_tenant()
    add_names(make_integration(tenant), random_names(2000, seed=5))
    db.session.execute(text("ANALYZE repositories"))
    db.session.commit()
    base = {"tenant": tenant.id, "limit": 21}
    prefix = plan(
        search._statement("postgresql", "prefix", False), {**base, "q": "api", "upper": "apj"}
    )
    assert "ix_repositories_tenant_search_c" in prefix, prefix
    assert "Sort" not in prefix, prefix  # read in the index's order
    anywhere = {"needle": "ools", "prefix": "ools", "prefix_length": 4, "also_not": "/ools"}
    few = plan(
        search._statement("postgresql", "few", True),
        {**base, **anywhere, "upper": "oolt", "pattern": "%ools%", "few": 1000},
    )
    assert "ix_repositories_search_trgm" in few, few
    # each candidate's row is read once, by the trigram index's recheck, which keeps its name
    # and tenant for the check and the order: no second look-up of the row by its id
    assert "pk_repositories" not in few, few
    assert few.count("on repositories") == 1, few
    # after "/": ranges on the text after a name's first and second "/", the deep names' own
    # trigram index, and not the trigram index of every name (it would recheck each "ools")
    after = {**anywhere, "needle": "/ools", "also_not": None, "upper": "oolt"}
    for kind in ("few", "candidates"):
        found = plan(
            search._statement("postgresql", kind, False),
            {**base, **after, "pattern": "%qools%", "few": 1000},
        )
        assert re.search(r"ix_repositories_after_slash\b", found), found
        assert "ix_repositories_after_slash_2" in found, found
        assert "ix_repositories_deep_search_trgm" in found, found
        assert "ix_repositories_search_trgm" not in found, found


def test_sqlite_plans_read_the_segment_indexes(app, make_tenant, make_integration):
    """On SQLite, does the look-up after "/" read ranges of ix_repositories_after_slash and
    ix_repositories_after_slash_2, and learn from ix_repositories_deep (not by reading every
    name of the tenant) whether to ask FTS5 for names with three or more "/"?"""
    if _is_postgresql():
        pytest.skip("SQLite only: PostgreSQL's plans have their own test")
    tenant = make_tenant()
    names = random_names(500, seed=5) + nested_names(50, seed=5)
    add_names(make_integration(tenant), names)
    after = {"tenant": tenant.id, "limit": 21, "few": 1000, "needle": "/ools", "prefix": "ools"}
    after |= {"prefix_length": 4, "also_not": None, "upper": "oolt", "pattern": '"/ools"'}
    for kind in ("few", "candidates"):
        found = plan(search._statement("sqlite", kind, False), after)
        assert re.search(r"INDEX ix_repositories_after_slash \(tenant_id=\? AND <expr>>\?", found)
        assert "INDEX ix_repositories_after_slash_2 (tenant_id=? AND <expr>>?" in found, found
        assert "INDEX ix_repositories_deep (tenant_id=?)" in found, found
    assert all_pages(tenant.id, "ools") == expected(names, "ools")  # and the answer is right


def test_the_page_rows_are_read_by_id_and_only_the_tenants(app, make_tenant, make_integration):
    """The page's rows come by primary key (not a walk of the tenant's index, which SQLite's
    planner would pick for "tenant_id = ?"), and an id of another tenant's row finds nothing."""
    mine, theirs = make_tenant(), make_tenant()
    add_names(make_integration(mine), random_names(300, seed=3))
    add_names(make_integration(theirs), ["other/secret"])
    other = db.session.scalar(text("SELECT id FROM repositories WHERE full_name = 'other/secret'"))
    rows, _ = search_repositories(mine.id, "")
    ids = [r.id for r in rows]
    found = db.session.scalars(search._ROWS, {"tenant": mine.id, "ids": [*ids, other]}).all()
    assert sorted(r.id for r in found) == sorted(ids)  # not the other tenant's
    found = plan(search._ROWS, {"tenant": mine.id, "ids": ids})  # a page
    key = "pk_repositories" if _is_postgresql() else "USING INTEGER PRIMARY KEY (rowid=?)"
    assert key in found, found
    assert "ix_repositories_tenant" not in found, found
