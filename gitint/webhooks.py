"""Host webhooks keep an integration's repositories fresh between syncs.

Each integration may have one webhook: ``POST /webhooks/<public id>`` with a per-integration
secret, verified the host's way in constant time before anything is read or written:

- GitHub / GHES ``repository`` events (created, deleted, renamed, transferred, edited default
  branch): ``X-Hub-Signature-256: sha256=HMAC-SHA256(secret, body)``, delivery id in
  ``X-GitHub-Delivery``. https://docs.github.com/en/webhooks/webhook-events-and-payloads#repository
  https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
- GitLab system hooks and group webhooks' project events (``project_create``,
  ``project_destroy``, ``project_rename``, ``project_transfer``): ``X-Gitlab-Token`` = the
  secret, delivery id in ``Idempotency-Key`` / ``X-Gitlab-Event-UUID``.
  https://docs.gitlab.com/administration/system_hooks/
  https://docs.gitlab.com/user/project/integrations/webhook_events/#project-events
- Azure DevOps / Server service hooks (``git.repo.created``, ``git.repo.deleted``,
  ``git.repo.renamed``) with basic authentication set on the subscription: user ``gitint``,
  the secret as password; the event's ``id`` and ``notificationId`` identify the delivery.
  https://learn.microsoft.com/azure/devops/service-hooks/events#code

A delivery that fails verification is a 401 and changes nothing (at most one audit record a
minute per webhook, without any secret). A verified one is recorded by its delivery id — a
replayed delivery finds its row and changes nothing twice — and its repository changes are
enqueued (``apply`` runs on the queue). A repository that may be new to the integration
(created, transferred, or renamed while unknown here) is listed only after one host call shows
the integration account can reach it: a system hook announces every project of the instance.
"""

import base64
import binascii
import hashlib
import hmac
import json
import secrets
from dataclasses import asdict, dataclass
from datetime import timedelta
from urllib.parse import parse_qs

from flask import current_app
from sqlalchemy import delete, or_, select, update
from sqlalchemy.exc import IntegrityError

from . import audit, hosts, sync
from .crypto import SecretError, seal, unseal
from .extensions import db
from .models import Integration, Repository, Webhook, WebhookDelivery, utcnow
from .providers.base import (
    AuthExpired,
    MissingScope,
    NoAccess,
    NotFound,
    ProviderError,
    RateLimited,
    Repo,
    Unavailable,
)
from .webhook_events import SCHEMES, Change, delivery_key, parse

BASIC_USER = "gitint"
REJECTION_AUDIT_EVERY = timedelta(minutes=1)  # a flood of bad deliveries: one audit a minute


class Rejected(Exception):
    """The delivery failed verification; ``str()`` says why, never with a secret."""


@dataclass(frozen=True)
class Receipt:
    """What the handler answers: an HTTP status and a short sentence."""

    status: int
    message: str


# ---------------------------------------------------------------- setting up


def supports(integration: Integration) -> bool:
    return integration.kind in SCHEMES


def webhook_of(integration: Integration) -> Webhook | None:
    return db.session.scalar(select(Webhook).where(Webhook.integration_id == integration.id))


def set_up(integration: Integration) -> tuple[Webhook, str]:
    """Create the integration's webhook, or give it a new secret (its address stays); the
    secret is returned to show once and is stored sealed. The caller commits."""
    secret = secrets.token_urlsafe(32)
    webhook = webhook_of(integration)
    if webhook is None:
        webhook = Webhook(
            tenant_id=integration.tenant_id,
            integration_id=integration.id,
            public_id=secrets.token_urlsafe(18),
            created_at=utcnow(),
        )
        db.session.add(webhook)
    seal(webhook, secret)
    return webhook, secret


def url_of(webhook: Webhook) -> str:
    return f"{current_app.config['GITINT_BASE_URL']}/webhooks/{webhook.public_id}"


# ---------------------------------------------------------------- receiving


def receive(public_id: str, headers, body: bytes, content_type: str = "") -> Receipt:
    """Verify a delivery, record it once and enqueue its changes (the handler's one call)."""
    from .queue import apply_webhook

    webhook = db.session.scalar(select(Webhook).where(Webhook.public_id == public_id[:64]))
    if webhook is None or not supports(webhook.integration):
        return Receipt(404, "No webhook has this address.")
    scheme = SCHEMES[webhook.integration.kind]
    try:
        verify(webhook, scheme, headers, body)
    except Rejected as reason:
        rejected(webhook, str(reason))
        return Receipt(401, str(reason))
    payload = _payload(body, content_type)
    if not isinstance(payload, dict):
        return Receipt(400, "The body is not a JSON object.")
    try:
        event, changes = parse(scheme, webhook.integration, headers, payload)
    except (KeyError, TypeError, ValueError, AttributeError):
        return Receipt(400, "The payload is not shaped like the host's repository events.")
    now = utcnow()
    delivery = WebhookDelivery(
        webhook_id=webhook.id,
        key=delivery_key(scheme, headers, body, payload),
        received_at=now,
        event=event[:64],
        state="queued" if changes else "ignored",
    )
    db.session.add(delivery)
    webhook.last_delivery_at, webhook.last_delivery_event = now, event[:64]
    try:
        db.session.commit()
    except IntegrityError:
        db.session.rollback()
        return Receipt(200, "Already received; nothing changes.")
    if not changes:
        return Receipt(200, f"Received {event}; nothing to change.")
    apply_webhook(delivery.id, [asdict(change) for change in changes])
    return Receipt(202, f"Received {event}; the repository list is being updated.")


def verify(webhook: Webhook, scheme: str, headers, body: bytes) -> None:
    """Raise Rejected unless the delivery carries this webhook's secret the host's way."""
    try:
        secret = unseal(webhook).encode()
    except SecretError:
        raise Rejected("The webhook secret cannot be opened; regenerate it.") from None
    if scheme == "github":
        given = headers.get("X-Hub-Signature-256", "")
        if not given:
            raise Rejected("The X-Hub-Signature-256 header is missing.")
        expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(given.strip().encode(), expected.encode()):
            raise Rejected("The X-Hub-Signature-256 signature does not match.")
    elif scheme == "gitlab":
        given = headers.get("X-Gitlab-Token", "")
        if not given:
            raise Rejected("The X-Gitlab-Token header is missing.")
        if not hmac.compare_digest(given.encode(), secret):
            raise Rejected("The X-Gitlab-Token does not match.")
    else:
        kind, _, encoded = headers.get("Authorization", "").partition(" ")
        if kind.lower() != "basic" or not encoded:
            raise Rejected("The basic authentication credentials are missing.")
        try:
            given = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise Rejected("The basic authentication credentials are malformed.") from None
        if not hmac.compare_digest(given, BASIC_USER.encode() + b":" + secret):
            raise Rejected("The basic authentication credentials do not match.")


def rejected(webhook: Webhook, reason: str) -> None:
    """Audit a rejected delivery, at most once a minute per webhook."""
    now = utcnow()
    due = db.session.execute(
        update(Webhook)
        .where(
            Webhook.id == webhook.id,
            or_(
                Webhook.last_rejected_at.is_(None),
                Webhook.last_rejected_at < now - REJECTION_AUDIT_EVERY,
            ),
        )
        .values(last_rejected_at=now),
        execution_options={"synchronize_session": False},
    ).rowcount
    if due:
        audit.add(
            webhook.tenant_id,
            "webhook",
            "webhook.rejected",
            "error",
            integration=webhook.integration,
            detail=reason,
        )
    db.session.commit()


def _payload(body: bytes, content_type: str):
    """The JSON payload; GitHub may also send it form-encoded as ``payload=…``."""
    try:
        if content_type.startswith("application/x-www-form-urlencoded"):
            return json.loads(parse_qs(body.decode())["payload"][0])
        return json.loads(body)
    except (ValueError, KeyError, UnicodeDecodeError, RecursionError):
        return None


# ---------------------------------------------------------------- applying (on the queue)


def apply(delivery_id: int, changes: list[dict]) -> None:
    """Apply a delivery's changes to the integration's repositories, once; audited."""
    delivery = db.session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.state != "queued":
        return  # cleaned up, or already applied by an earlier run of this job
    webhook = db.session.get(Webhook, delivery.webhook_id)
    integration = webhook.integration
    notes, changed = [], False
    for change in (Change(**values) for values in changes):
        if change.action == "delete":
            gone = db.session.execute(
                delete(Repository).where(
                    Repository.integration_id == integration.id,
                    Repository.host_id == change.host_id,
                ),
                execution_options={"synchronize_session": False},
            ).rowcount
            notes.append(f"removed {change.host_id}" if gone else f"{change.host_id} was unknown")
            changed = changed or bool(gone)
            continue
        known = db.session.scalar(
            select(Repository.id).where(
                Repository.integration_id == integration.id,
                Repository.host_id == change.host_id,
            )
        )
        if known is None and not _reachable(integration, change):
            notes.append(f"{change.full_name} is not visible to the integration account")
            continue
        _store(integration, change)
        notes.append(f"{'updated' if known else 'added'} {change.full_name}")
        changed = True
    delivery.state = "applied" if changed else "ignored"
    delivery.detail = "; ".join(notes)[:1000]
    if changed:
        integration.repositories_changed_at = utcnow()
    audit.add(
        integration.tenant_id,
        "webhook",
        "sync.webhook",
        "success",
        integration=integration,
        detail=f"{delivery.event}: {delivery.detail}."[:1000],
    )
    db.session.commit()


def _reachable(integration: Integration, change: Change) -> bool:
    """Whether the integration account can reach the repository (one host call); a host that
    cannot answer now raises, so the queue tries again later."""
    repo = Repo(change.host_id, change.full_name or "", change.default_branch, None, change.project)
    try:
        hosts.integration_provider(integration).list_branches(repo)
    except (NotFound, NoAccess, MissingScope):
        return False
    except AuthExpired as error:
        hosts.mark_rejected(integration, error)
        return False
    except (Unavailable, RateLimited):
        raise
    except (ProviderError, SecretError):
        return False
    return True


def _store(integration: Integration, change: Change) -> None:
    repo = Repo(change.host_id, change.full_name, change.default_branch, change.web_url)
    row = sync.row_of(repo, integration.tenant_id, integration.id, utcnow())
    row["project"] = change.project and change.project[:255]
    known = ("default_branch", "web_url", "project")
    fields = ("full_name", "search_name", "synced_at") + tuple(f for f in known if row[f])
    sync.upsert([row], fields)
