"""Constraints that make wrong states impossible."""

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from gitint.extensions import db
from gitint.models import Credential, Integration, Repository, as_id


def test_second_credential_for_same_user_and_integration_is_rejected(
    make_tenant, make_integration, make_credential
):
    """Does the database refuse two credentials for one tenant+user+integration?"""
    integration = make_integration(make_tenant())
    make_credential(integration, "alice")
    with pytest.raises(IntegrityError):
        make_credential(integration, "alice", secret="ghp_another_one")
    db.session.rollback()


def test_credential_cannot_point_at_another_tenants_integration(
    make_tenant, make_integration, make_credential
):
    """Does the composite key refuse a credential whose tenant differs from its integration's?"""
    a, b = make_tenant(), make_tenant()
    integration = make_integration(a)
    credential = Credential(
        tenant_id=b.id,
        account_id="alice",
        integration_id=integration.id,
        kind="pat",
        ciphertext="x:y",
        last4="0000",
    )
    db.session.add(credential)
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


def test_deleting_an_integration_deletes_its_credentials_and_repositories(
    make_tenant, make_integration, make_credential, make_repo
):
    """Does deleting an integration remove its users' credentials and synced repositories?"""
    tenant = make_tenant()
    integration, kept = make_integration(tenant), make_integration(tenant)
    make_credential(integration, "alice")
    make_credential(kept, "alice")
    make_repo(integration, "acme/api")
    make_repo(kept, "acme/web")
    db.session.execute(Integration.__table__.delete().where(Integration.id == integration.id))
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Credential)) == 1
    assert db.session.scalar(select(func.count()).select_from(Repository)) == 1


def test_unknown_provider_kind_is_rejected(make_tenant):
    """Does the database refuse a provider kind that does not exist?"""
    tenant = make_tenant()
    db.session.add(Integration(tenant_id=tenant.id, kind="bitbucket", name="x"))
    with pytest.raises(IntegrityError):
        db.session.commit()
    db.session.rollback()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1, 1),
        ("42", 42),
        (" 7 ", 7),
        (2**31 - 1, 2**31 - 1),
        (2**31, None),
        ("9223372036854775808", None),
        ("1" * 5000, None),
        (0, None),
        (-1, None),
        ("-1", None),
        ("+1", None),
        ("1_0", None),
        ("١٢", None),
        ("", None),
        (None, None),
        (True, None),
        (1.0, None),
    ],
)
def test_as_id_accepts_only_ids_a_row_can_have(value, expected):
    """Is a value an id only when it is a positive integer within the database's range?"""
    assert as_id(value) == expected
