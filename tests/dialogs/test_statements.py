"""A dialog open is a fixed number of SQL statements, whatever the tenant holds (issue 12: count
queries, never time): the tenant is read once per request, and the integrations once."""

import pytest

from gitint.extensions import db
from tests.conftest import context_headers, entry_url, statements_of

from .conftest import JIRA_PARAMS


def tenant_reads(statements) -> int:
    return sum("FROM tenants" in s for s in statements)


def tenant_with(make_tenant, make_integration, make_repo, make_credential, integrations, repos):
    tenant = make_tenant()
    for i in range(integrations):
        integration = make_integration(tenant, name=f"GitHub {i}")
        make_credential(integration, "user-1")
        for n in range(repos):
            make_repo(integration, f"org{i}/repo-{n}")
    return tenant


@pytest.mark.parametrize("integrations", [(1, 1), (2, 5)])
def test_a_dialog_open_is_a_fixed_number_of_statements(
    client, integrations, make_tenant, make_integration, make_repo, make_credential
):
    """Is opening Create branch the same statements for a small and a large tenant (3 and 100
    repositories per integration; one integration — whose acting identity the dialog shows at
    once — or several), with the tenant read once?"""
    factories = (make_tenant, make_integration, make_repo, make_credential)
    tenants = [
        tenant_with(*factories, integrations=count, repos=repos)
        for count, repos in zip(integrations, (3, 100), strict=True)
    ]
    urls = [entry_url(t, "/dialogs/create-branch", JIRA_PARAMS) for t in tenants]
    counts = []
    for url in urls:
        db.session.expunge_all()  # nothing of the test's kept in the session (as in a worker)
        statements = statements_of(lambda u=url: client.get(u))
        assert tenant_reads(statements) == 1, statements
        counts.append(len(statements))
    assert counts[0] == counts[1], counts


def test_a_later_call_reads_the_tenant_once(client, make_tenant, make_integration, make_repo):
    """Does an htmx call with the context header read the tenant once too (its check and the
    frame-ancestors header share the row)?"""
    tenant = make_tenant()
    make_repo(make_integration(tenant), "acme/api")
    headers = context_headers(tenant, "user-1")
    db.session.expunge_all()
    statements = statements_of(
        lambda: client.get("/dialogs/repositories?repository_name=api", headers=headers)
    )
    assert tenant_reads(statements) == 1, statements


def test_a_dialog_open_loads_no_integration_of_several(
    client, make_tenant, make_integration, make_repo, make_credential
):
    """Does opening Create branch for a tenant with several integrations load none of them (it
    shows who acts only for a tenant's single integration)?"""
    from sqlalchemy import event

    from gitint.models import Integration

    tenant = tenant_with(make_tenant, make_integration, make_repo, make_credential, 3, 1)
    url = entry_url(tenant, "/dialogs/create-branch", JIRA_PARAMS)
    db.session.expunge_all()
    loaded = []

    def record(target, _context):
        loaded.append(target.id)

    event.listen(Integration, "load", record)
    try:
        assert client.get(url).status_code == 200
    finally:
        event.remove(Integration, "load", record)
    assert loaded == []
