"""The Repository type-ahead: ranking, paging, escaping and tenant scoping."""

import re

from gitint.search import PAGE_SIZE, search_repositories

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
    # several integrations: each option says which, under its name
    assert '<span class="muted"><span class="sr-only">in </span>GitHub</span>' in body
    assert "data-more" in body and "page=1" in body
    empty = get(client, tenant, "/dialogs/repositories?repository_name=zzz").get_data(as_text=True)
    assert "No repository matches “zzz”." in empty
