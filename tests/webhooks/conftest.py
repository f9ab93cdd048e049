"""Fixtures for the webhook tests: an integration per host kind with its webhook, payloads shaped
like each host's documented ones, and signing the way each host signs."""

import base64
import hashlib
import hmac
import json
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from gitint import webhooks
from gitint.dev.fakehost import FakeRepo, repository_event
from gitint.extensions import db
from tests.admin.conftest import admin, fake_host, tenant  # noqa: F401 - fixtures

DATA = Path(__file__).parents[1] / "data"


def canned(host: str, name: str) -> dict:
    return json.loads((DATA / host / name).read_text())


@dataclass(frozen=True)
class Host:
    """How one kind of host shapes and signs its repository events."""

    kind: str
    created: dict  # the created event of repository ``host_id``, named ``full_name``
    deleted: dict
    host_id: str
    full_name: str

    def headers(self, secret: str, body: bytes, delivery: str | None = None) -> dict:
        delivery = delivery or str(uuid.uuid4())
        if self.kind == "github":
            digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            return {
                "X-GitHub-Event": "repository",
                "X-GitHub-Delivery": delivery,
                "X-Hub-Signature-256": f"sha256={digest}",
            }
        if self.kind == "gitlab":
            return {
                "X-Gitlab-Event": "System Hook",
                "X-Gitlab-Token": secret,
                "X-Gitlab-Event-UUID": delivery,
            }
        credentials = base64.b64encode(f"{webhooks.BASIC_USER}:{secret}".encode()).decode()
        return {"Authorization": f"Basic {credentials}"}


def github_event(action: str, repo_id: int = 4242, full_name: str = "acme/billing") -> dict:
    return repository_event(action, FakeRepo(repo_id, full_name), "https://ghe.example.com")


HOSTS = {
    "github": Host(
        "github", github_event("created"), github_event("deleted"), "4242", "acme/billing"
    ),
    "gitlab": Host(
        "gitlab",
        canned("gitlab", "hook_project_create.json"),
        canned("gitlab", "hook_project_destroy.json"),
        "742",
        "acme/billing",
    ),
    "azure_devops": Host(
        "azure_devops",
        canned("azure", "hook_git_repo_created.json"),
        canned("azure", "hook_git_repo_deleted.json"),
        "c7d2e1f0-3b4a-4c5d-8e9f-0a1b2c3d4e5f",
        "Payments/checkout",
    ),
}


@pytest.fixture(params=sorted(HOSTS))
def host(request) -> Host:
    return HOSTS[request.param]


def hooked(make_integration, owner, kind: str, **fields):
    """An integration of ``kind`` for tenant ``owner`` with its webhook; (integration,
    webhook, secret)."""
    if kind == "azure_devops":
        fields.setdefault("organization", "acme")
    integration = make_integration(owner, kind=kind, **fields)
    webhook, secret = webhooks.set_up(integration)
    db.session.commit()
    return integration, webhook, secret


def deliver(client, webhook, host: Host, payload: dict, secret: str, delivery=None, **headers):
    """POST ``payload`` to the webhook, signed with ``secret`` the host's way."""
    body = json.dumps(payload).encode()
    signed = {**host.headers(secret, body, delivery), **headers}
    signed = {name: value for name, value in signed.items() if value is not None}
    return client.post(
        f"/webhooks/{webhook.public_id}",
        data=body,
        headers=signed,
        content_type="application/json",
    )
