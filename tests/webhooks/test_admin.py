"""The integration page's Webhook section: address and secret to paste into the host (the secret
once), a new secret on demand, the last delivery, and the secret sealed like every other."""

import pytest
from sqlalchemy import select

from gitint.crypto import SecretError, unseal
from gitint.extensions import db
from gitint.models import AuditEvent, Webhook

from .conftest import HOSTS, deliver

BASE_URL = "http://gitint.test"


def page(client, admin, integration) -> str:
    return client.get(f"/admin/integrations/{integration.id}", headers=admin).get_data(True)


def set_up(client, admin, integration):
    response = client.post(
        f"/admin/integrations/{integration.id}/webhook", headers={**admin, "HX-Target": "webhook"}
    )
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_set_up_shows_the_secret_once(client, admin, tenant, make_integration, fake_host):
    """Does "Set up webhook" show the payload URL and the secret once (never again on the
    page), with the host's instructions, audited without the secret?"""
    integration = make_integration(tenant, kind="github")
    before = page(client, admin, integration)
    assert "Set up webhook" in before and "Payload URL" not in before
    body = set_up(client, admin, integration)
    assert body.lstrip().startswith('<section id="webhook"')
    webhook = db.session.scalar(select(Webhook))
    secret = unseal(webhook)
    assert f"{BASE_URL}/webhooks/{webhook.public_id}" in body
    assert secret in body and "never shown again" in body and "Repositories" in body
    assert secret not in webhook.secret_ct
    later = page(client, admin, integration)
    assert f"/webhooks/{webhook.public_id}" in later and secret not in later
    assert "None yet." in later and "Regenerate secret" in later
    (event,) = db.session.scalars(select(AuditEvent)).all()
    assert event.action == "webhook.add" and secret not in (event.detail or "")


def test_regenerating_keeps_the_address_and_retires_the_old_secret(
    client, admin, tenant, make_integration, fake_host
):
    """Does a new secret keep the URL, make the old secret fail (401) and the new one work, and
    does the page then say when the last delivery arrived?"""
    integration = make_integration(tenant, kind="github")
    set_up(client, admin, integration)
    webhook = db.session.scalar(select(Webhook))
    public_id, old = webhook.public_id, unseal(webhook)
    set_up(client, admin, integration)
    db.session.expire_all()
    webhook = db.session.scalar(select(Webhook))
    new = unseal(webhook)
    assert webhook.public_id == public_id and new != old
    github = HOSTS["github"]
    assert deliver(client, webhook, github, github.created, old).status_code == 401
    assert deliver(client, webhook, github, github.created, new).status_code == 202
    body = page(client, admin, integration)
    assert "repository.created" in body and "None yet." not in body
    actions = [e.action for e in db.session.scalars(select(AuditEvent).order_by(AuditEvent.id))]
    assert actions[:2] == ["webhook.add", "webhook.secret"]


@pytest.mark.parametrize(
    ("kind", "fields", "label"),
    [
        ("gitlab_self_managed", {"base_url": "https://gitlab.example.com"}, "System hooks"),
        ("azure_devops", {"organization": "acme"}, "user name</dt><dd><code>gitint"),
        (
            "tfs",
            {"base_url": "https://tfs.example.com/tfs/C", "server_version": "2019"},
            "Service hooks",
        ),
    ],
)
def test_each_host_gets_its_own_instructions(
    client, admin, tenant, make_integration, fake_host, kind, fields, label
):
    """Does each host's section say where to paste what (Azure: a user name and password)?"""
    integration = make_integration(tenant, kind=kind, **fields)
    assert label in set_up(client, admin, integration)


def test_codecommit_has_no_webhook(client, admin, tenant, make_integration):
    """Is there no webhook for CodeCommit (its events go to EventBridge), and is another
    tenant's integration a 404?"""
    integration = make_integration(tenant, kind="codecommit", region="eu-west-1")
    assert "Set up webhook" not in page(client, admin, integration)
    url = f"/admin/integrations/{integration.id}/webhook"
    assert client.post(url, headers=admin).status_code == 404
    assert client.post("/admin/integrations/999/webhook", headers=admin).status_code == 404


def test_the_secret_is_bound_to_its_row(app, tenant, make_integration):
    """Does a webhook secret copied onto another webhook fail to open (associated data)?"""
    from gitint import webhooks

    one, _ = webhooks.set_up(make_integration(tenant))
    two, _ = webhooks.set_up(make_integration(tenant))
    db.session.commit()
    two.secret_ct = one.secret_ct
    with pytest.raises(SecretError):
        unseal(two)


def test_rotate_keys_reseals_webhook_secrets(app, runner, tenant, make_integration):
    """Does `rotate-keys` re-encrypt webhook secrets too?"""
    import base64

    from gitint import webhooks
    from gitint.crypto import load_keyring

    webhook, secret = webhooks.set_up(make_integration(tenant))
    db.session.commit()
    new_key = "t2:" + base64.b64encode(b"n" * 32).decode()
    app.config["GITINT_SECRET_KEYS"] = new_key + "," + app.config["GITINT_SECRET_KEYS"]
    app.extensions["gitint.keyring"] = load_keyring(app.config["GITINT_SECRET_KEYS"], "")
    result = runner.invoke(args=["gitint", "rotate-keys"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    webhook = db.session.scalar(select(Webhook))
    assert webhook.secret_ct.startswith("t2:") and unseal(webhook) == secret
