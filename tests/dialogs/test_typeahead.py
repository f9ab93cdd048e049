"""The Repository type-ahead: ranking, paging, escaping and tenant scoping."""

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from gitint import creating
from gitint.creating import PAGE_SIZE, search_repositories
from gitint.extensions import db
from gitint.models import utcnow

from .conftest import get


def names(rows):
    return [r.full_name for r in rows]


def test_best_matches_first(app, make_tenant, make_integration, make_repo):
    """Is the order exact, prefix of the full name, prefix after "/", then substring?"""
    tenant = make_tenant()
    integration = make_integration(tenant)
    for name in ("zeta/api-old", "acme/rapid", "api", "api-gateway/x", "acme/api", "b/tapir"):
        make_repo(integration, name)
    rows, more = search_repositories(tenant.id, "API")
    assert names(rows) == [
        "api",
        "api-gateway/x",
        "acme/api",
        "zeta/api-old",
        "acme/rapid",
        "b/tapir",
    ]
    assert not more


def test_twenty_at_a_time(app, make_tenant, make_integration, make_repo):
    """Are results paged 20 at a time, with "more" until the last page?"""
    tenant = make_tenant()
    integration = make_integration(tenant)
    for n in range(45):
        make_repo(integration, f"org/repo-{n:02d}")
    first, more = search_repositories(tenant.id, "repo")
    assert len(first) == PAGE_SIZE and more
    third, more = search_repositories(tenant.id, "repo", page=2)
    assert names(third) == [f"org/repo-{n}" for n in range(40, 45)] and not more
    everyone, _ = search_repositories(tenant.id, "")
    assert len(everyone) == PAGE_SIZE


def test_like_wildcards_are_literal(app, make_tenant, make_integration, make_repo):
    """Do "%" and "_" match only themselves?"""
    tenant = make_tenant()
    integration = make_integration(tenant)
    make_repo(integration, "org/a_b")
    make_repo(integration, "org/axb")
    assert names(search_repositories(tenant.id, "a_b")[0]) == ["org/a_b"]
    assert search_repositories(tenant.id, "%")[0] == []


def test_other_tenants_repositories_are_not_listed(
    client, make_tenant, make_integration, make_repo
):
    """Does the type-ahead list only the caller's tenant's repositories?"""
    mine, theirs = make_tenant(), make_tenant()
    make_repo(make_integration(mine), "acme/mine")
    make_repo(make_integration(theirs), "acme/theirs")
    body = get(client, mine, "/dialogs/repositories?repository_name=acme").get_data(as_text=True)
    assert "acme/mine" in body and "acme/theirs" not in body


def test_options_markup(client, make_tenant, make_integration, make_repo):
    """Are results listbox options (with ids for aria-activedescendant) and a "More" option?"""
    tenant = make_tenant()
    github = make_integration(tenant, name="GitHub")
    make_integration(tenant, kind="gitlab", name="GitLab")
    for n in range(21):
        make_repo(github, f"org/r{n:02d}")
    body = get(client, tenant, "/dialogs/repositories?repository_name=org").get_data(as_text=True)
    assert len(re.findall(r'<li role="option" id="repository-option-\d+"', body)) == 20
    assert "· GitHub" in body  # several integrations: each option says which
    assert "data-more" in body and "page=1" in body
    empty = get(client, tenant, "/dialogs/repositories?repository_name=zzz").get_data(as_text=True)
    assert "No repository matches “zzz”." in empty


def synced(integration, count, state="done"):
    """Mark the integration as synced with ``count`` repositories (what the sync records)."""
    integration.sync_state, integration.sync_done, integration.synced_at = state, count, utcnow()
    db.session.commit()


def test_large_tenants_use_the_name_index(app, make_tenant, make_integration, make_repo):
    """For a large tenant, does the in-process index give the same answers as SQL?"""
    tenant = make_tenant()
    integration = make_integration(tenant)
    for name in ("zeta/api-old", "acme/rapid", "api", "api-gateway/x", "acme/api", "b/tapir"):
        make_repo(integration, name)
    for n in range(30):
        make_repo(integration, f"org/api-{n:02d}")
    queries = ("api", "acme/", "a", "pi-0", "zzz", "tap", "org/api-2")
    by_sql = {(q, p): search_repositories(tenant.id, q, p) for q in queries for p in (0, 1)}
    synced(integration, creating.LARGE_TENANT)
    assert creating.name_index(tenant.id) is not None
    for (q, page), expected in by_sql.items():
        rows, more = search_repositories(tenant.id, q, page)
        assert (names(rows), more) == (names(expected[0]), expected[1]), q


def test_name_index_follows_the_sync(app, make_tenant, make_integration, make_repo):
    """Is the index rebuilt after a sync, and skipped while one runs?"""
    tenant = make_tenant()
    integration = make_integration(tenant)
    make_repo(integration, "acme/old")
    synced(integration, creating.LARGE_TENANT)
    assert names(search_repositories(tenant.id, "cme")[0]) == ["acme/old"]
    make_repo(integration, "acme/new")
    synced(integration, creating.LARGE_TENANT, state="running")
    assert creating.name_index(tenant.id) is None
    assert names(search_repositories(tenant.id, "cme")[0]) == ["acme/new", "acme/old"]
    synced(integration, creating.LARGE_TENANT + 1)
    assert names(search_repositories(tenant.id, "cme")[0]) == ["acme/new", "acme/old"]


def test_small_tenants_use_sql(app, make_tenant, make_integration, make_repo):
    """Below the threshold, is no index kept in memory?"""
    tenant = make_tenant()
    integration = make_integration(tenant)
    make_repo(integration, "acme/api")
    synced(integration, 10)
    assert creating.name_index(tenant.id) is None


@settings(max_examples=300, deadline=None)
@given(
    names=st.lists(st.text(alphabet="ab/-c", min_size=1, max_size=8), max_size=30),
    q=st.text(alphabet="ab/-c", min_size=1, max_size=3),
    wanted=st.integers(1, 40),
)
def test_name_index_ranks_like_a_plain_scan(names, q, wanted):
    """Does NameIndex.search rank exactly like a plain scan (prefix, after "/", substring)?"""
    rows = list(enumerate(names))
    ordered = sorted((name, i) for i, name in rows)

    def rank(name):
        return 0 if name.startswith(q) else 1 if "/" + q in name else 2

    expected = sorted((rank(name), name, i) for name, i in ordered if q in name)
    index = creating.NameIndex(rows)
    assert index.search(q, wanted) == [i for *_, i in expected][:wanted]
    index.FEW = 0  # the other way to the matches after a "/": scanning the names
    assert index.search(q, wanted) == [i for *_, i in expected][:wanted]
