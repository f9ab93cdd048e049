"""POST /webhooks/<id>: each host's verification (valid, wrong, missing, replayed, another
integration's secret), what a delivery changes, and that a refused one changes nothing."""

import json

import pytest
from sqlalchemy import func, select

from gitint.extensions import db
from gitint.models import AuditEvent, Repository, WebhookDelivery

from .conftest import DATA, HOSTS, canned, deliver, github_event, hooked


def repositories(integration) -> dict:
    rows = db.session.execute(
        select(Repository.host_id, Repository.full_name).where(
            Repository.integration_id == integration.id
        )
    ).all()
    return dict(rows)


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def test_a_valid_delivery_adds_then_removes_the_repository(
    client, tenant, make_integration, host, fake_host
):
    """Does a correctly signed "created" event add the repository (after one call shows the
    account reaches it) and a "deleted" one remove it, both audited without the secret?"""
    integration, webhook, secret = hooked(make_integration, tenant, host.kind)
    response = deliver(client, webhook, host, host.created, secret)
    assert response.status_code == 202, response.get_data(as_text=True)
    assert repositories(integration) == {host.host_id: host.full_name}
    assert fake_host.branch_calls == [host.host_id]
    row = db.session.scalar(select(Repository))
    assert row.search_name == host.full_name.lower() and row.tenant_id == tenant.id
    assert row.web_url and row.web_url.startswith("https://")
    response = deliver(client, webhook, host, host.deleted, secret)
    assert response.status_code == 202
    assert repositories(integration) == {}
    events = db.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
    assert [(e.action, e.account_id, e.result) for e in events] == [
        ("sync.webhook", "webhook", "success"),
        ("sync.webhook", "webhook", "success"),
    ]
    assert host.full_name in events[0].detail and "removed" in events[1].detail
    for event in events:
        assert secret not in " ".join(str(v) for v in vars(event).values())
    db.session.expire_all()
    assert webhook.last_delivery_at is not None and webhook.last_delivery_event


@pytest.mark.parametrize("how", ["wrong", "missing", "other integration's"])
def test_a_refused_delivery_is_401_and_changes_nothing(
    client, tenant, make_tenant, make_integration, host, fake_host, how
):
    """Is a delivery with a wrong or missing signature, or signed with another integration's
    secret, a 401 that stores nothing, audited once without any secret?"""
    integration, webhook, secret = hooked(make_integration, tenant, host.kind)
    _, _, other_secret = hooked(make_integration, make_tenant(), host.kind)
    signing = {"wrong": secret[:-2] + "xy", "other integration's": other_secret}.get(how, secret)
    strip = {}
    if how == "missing":
        strip = {"X-Hub-Signature-256": None, "X-Gitlab-Token": None, "Authorization": None}
    for _ in range(2):
        response = deliver(client, webhook, host, host.created, signing, **strip)
        assert response.status_code == 401
        assert secret not in response.get_data(as_text=True)
    assert repositories(integration) == {} and count(WebhookDelivery) == 0
    assert fake_host.branch_calls == []
    (event,) = db.session.scalars(select(AuditEvent)).all()  # a second one within the minute: no
    assert (event.action, event.result, event.account_id) == (
        "webhook.rejected",
        "error",
        "webhook",
    )
    assert event.integration_id == integration.id
    assert secret not in event.detail and other_secret not in event.detail
    db.session.expire_all()
    assert webhook.last_delivery_at is None


def test_a_replayed_delivery_changes_nothing_twice(
    client, tenant, make_integration, make_repo, host, fake_host
):
    """When a delivery is sent again (the host retries, or someone replays it), is it accepted
    once only — the repository the replay would delete again stays?"""
    integration, webhook, secret = hooked(make_integration, tenant, host.kind)
    make_repo(integration, host.full_name, host_id=host.host_id)
    first = deliver(client, webhook, host, host.deleted, secret, delivery="delivery-1")
    assert first.status_code == 202 and repositories(integration) == {}
    make_repo(integration, host.full_name, host_id=host.host_id)  # it came back (a sync)
    again = deliver(client, webhook, host, host.deleted, secret, delivery="delivery-1")
    assert again.status_code == 200 and "Already received" in again.get_json()["message"]
    assert repositories(integration) == {host.host_id: host.full_name}
    assert count(WebhookDelivery) == 1


def test_a_repository_the_account_cannot_reach_is_not_listed(
    client, tenant, make_integration, host, fake_host
):
    """Is a created repository the integration account cannot reach (a system hook announces
    every project of an instance) left out?"""
    integration, webhook, secret = hooked(make_integration, tenant, host.kind)
    fake_host.hidden.add(host.host_id)
    assert deliver(client, webhook, host, host.created, secret).status_code == 202
    assert repositories(integration) == {}
    delivery = db.session.scalar(select(WebhookDelivery))
    assert delivery.state == "ignored" and "not visible" in delivery.detail


def test_rename_and_transfer_update_in_place(
    client, tenant, make_integration, make_repo, fake_host
):
    """Do renamed/transferred/default-branch events update the known row without a host call?"""
    github = HOSTS["github"]
    integration, webhook, secret = hooked(make_integration, tenant, "github")
    make_repo(integration, "acme/billing", host_id="4242", default_branch="main")
    renamed = github_event("renamed", full_name="acme/invoicing")
    renamed["changes"] = {"repository": {"name": {"from": "billing"}}}
    assert deliver(client, webhook, github, renamed, secret).status_code == 202
    edited = github_event("edited", full_name="acme/invoicing")
    edited["repository"]["default_branch"] = "trunk"
    edited["changes"] = {"default_branch": {"from": "main"}}
    assert deliver(client, webhook, github, edited, secret).status_code == 202
    row = db.session.scalar(select(Repository))
    assert (row.full_name, row.search_name, row.default_branch) == (
        "acme/invoicing",
        "acme/invoicing",
        "trunk",
    )
    assert fake_host.branch_calls == []
    gitlab = HOSTS["gitlab"]
    integration, webhook, secret = hooked(make_integration, tenant, "gitlab")
    make_repo(integration, "acme/billing", host_id="742", default_branch="develop")
    moved = canned("gitlab", "hook_project_transfer.json")
    assert deliver(client, webhook, gitlab, moved, secret).status_code == 202
    row = db.session.scalar(select(Repository).where(Repository.integration_id == integration.id))
    assert (row.full_name, row.default_branch) == ("finance/billing", "develop")
    assert row.web_url == "https://gitlab.com/finance/billing"
    azure = HOSTS["azure_devops"]
    integration, webhook, secret = hooked(make_integration, tenant, "azure_devops")
    make_repo(integration, "Payments/checkout", host_id=azure.host_id)
    renamed = canned("azure", "hook_git_repo_renamed.json")
    assert deliver(client, webhook, azure, renamed, secret).status_code == 202
    row = db.session.scalar(select(Repository).where(Repository.integration_id == integration.id))
    assert (row.full_name, row.project) == ("Payments/checkout-web", "Payments")
    assert row.web_url == "https://dev.azure.com/acme/Payments/_git/checkout-web"


@pytest.mark.parametrize(
    ("kind", "payload", "headers"),
    [
        ("github", github_event("archived"), {}),
        ("github", {"zen": "Keep it simple.", "hook_id": 1}, {"X-GitHub-Event": "ping"}),
        ("gitlab", canned("gitlab", "hook_user_create.json"), {}),
        ("azure_devops", canned("azure", "hook_git_push.json"), {}),
    ],
)
def test_other_events_are_received_and_change_nothing(
    client, tenant, make_integration, fake_host, kind, payload, headers
):
    """Are verified events that change no repository list (ping, archived, user events,
    pushes) a 200 that records the delivery (so the page shows it arrived) and nothing else?"""
    integration, webhook, secret = hooked(make_integration, tenant, kind)
    response = deliver(client, webhook, HOSTS[kind], payload, secret, **headers)
    assert response.status_code == 200 and "nothing to change" in response.get_json()["message"]
    assert repositories(integration) == {}
    db.session.expire_all()
    assert webhook.last_delivery_at is not None
    assert db.session.scalar(select(WebhookDelivery)).state == "ignored"


def test_bad_addresses_and_bodies(client, tenant, make_integration, fake_host):
    """Is an unknown address a 404, a CodeCommit integration's too, a verified body that is
    not JSON (or not shaped like the host's events) a 400, and a form-encoded GitHub payload
    accepted?"""
    github = HOSTS["github"]
    integration, webhook, secret = hooked(make_integration, tenant, "github")
    assert client.post("/webhooks/nope", data=b"{}").status_code == 404
    aws, aws_hook, aws_secret = hooked(make_integration, tenant, "codecommit", region="eu-west-1")
    assert deliver(client, aws_hook, github, github.created, aws_secret).status_code == 404
    body = b"not json"
    response = client.post(
        f"/webhooks/{webhook.public_id}", data=body, headers=github.headers(secret, body)
    )
    assert response.status_code == 400
    response = deliver(client, webhook, github, {"action": "created", "repository": {}}, secret)
    assert response.status_code == 400
    assert repositories(integration) == {} and count(WebhookDelivery) == 0
    from urllib.parse import urlencode

    form = urlencode({"payload": json.dumps(github.created)}).encode()
    response = client.post(
        f"/webhooks/{webhook.public_id}",
        data=form,
        headers=github.headers(secret, form),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 202 and repositories(integration) == {"4242": "acme/billing"}
    assert client.get(f"/webhooks/{webhook.public_id}").status_code == 405
    assert DATA.exists()


def test_a_delivery_over_the_body_limit_is_413(client, tenant, make_integration, fake_host):
    """Is a body over MAX_CONTENT_LENGTH refused unread?"""
    integration, webhook, secret = hooked(make_integration, tenant, "github")
    body = b"x" * (1024 * 1024 + 1)
    response = client.post(
        f"/webhooks/{webhook.public_id}", data=body, headers=HOSTS["github"].headers(secret, body)
    )
    assert response.status_code == 413 and "larger than" in response.get_json()["error"]
