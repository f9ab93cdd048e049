"""What each git host's repository events say, as repository changes: payload → ``Change``.

Shaped after the hosts' documented payloads: GitHub's ``repository`` event
(https://docs.github.com/en/webhooks/webhook-events-and-payloads#repository), GitLab's system
hook and group webhook project events (https://docs.gitlab.com/administration/system_hooks/),
Azure DevOps service hook events (https://learn.microsoft.com/azure/devops/service-hooks/events).
Verification is gitint/webhooks.py's; nothing here trusts a payload that did not pass it.
"""

import hashlib
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

from .models import Integration

SCHEMES = {
    "github": "github",
    "github_enterprise": "github",
    "gitlab": "gitlab",
    "gitlab_self_managed": "gitlab",
    "azure_devops": "azure",
    "vsts": "azure",
    "tfs": "azure",
}  # CodeCommit has no webhooks (its events go to EventBridge); its schedule keeps it fresh


@dataclass(frozen=True)
class Change:
    """One repository change a delivery announces."""

    action: str  # upsert | delete
    host_id: str
    full_name: str | None = None
    default_branch: str | None = None
    web_url: str | None = None
    project: str | None = None


def delivery_key(scheme: str, headers, body: bytes, payload: dict) -> str:
    """The host's id of this delivery (the same when the host retries or someone replays it),
    else the body's hash."""
    if scheme == "github":
        key = headers.get("X-GitHub-Delivery")
    elif scheme == "gitlab":
        key = headers.get("Idempotency-Key") or headers.get("X-Gitlab-Event-UUID")
    else:
        event_id, notification = payload.get("id"), payload.get("notificationId")
        key = f"{event_id}:{notification}" if event_id else None
    if key and len(key) <= 200:
        return f"{scheme}:{key}"
    return "sha256:" + hashlib.sha256(body).hexdigest()


def parse(scheme: str, integration: Integration, headers, payload: dict):
    """(event name, changes) of a verified payload; events that change no repository list
    give no changes."""
    return {"github": _github, "gitlab": _gitlab, "azure": _azure}[scheme](
        integration, headers, payload
    )


def _github(integration, headers, payload):
    kind = headers.get("X-GitHub-Event", "")
    action = payload.get("action", "") if kind == "repository" else ""
    event = f"{kind}.{action}" if action else kind or "unknown"
    if kind != "repository":
        return event, []  # ping and anything else
    repo = payload["repository"]
    host_id = str(int(repo["id"]))
    if action == "deleted":
        return event, [Change("delete", host_id)]
    if action == "edited" and "default_branch" not in (payload.get("changes") or {}):
        return event, []
    if action not in ("created", "renamed", "transferred", "edited"):
        return event, []  # archived, privatized, ...: still listed by a sync
    return event, [
        Change(
            "upsert",
            host_id,
            full_name=str(repo["full_name"]),
            default_branch=repo.get("default_branch"),
            web_url=repo.get("html_url"),
        )
    ]


def _gitlab(integration, headers, payload):
    name = payload.get("event_name", "")
    event = name or headers.get("X-Gitlab-Event", "unknown")
    if name not in ("project_create", "project_destroy", "project_rename", "project_transfer"):
        return event, []
    host_id = str(int(payload["project_id"]))
    if name == "project_destroy":
        return event, [Change("delete", host_id)]
    path = str(payload["path_with_namespace"])
    web = (integration.base_url or "https://gitlab.com").rstrip("/")
    return event, [
        Change(
            "upsert",
            host_id,
            full_name=path,
            web_url=f"{web}/{path}",
        )
    ]


def _azure(integration, headers, payload):
    event = str(payload.get("eventType") or "unknown")
    resource = payload.get("resource") or {}
    if event == "git.repo.deleted":
        return event, [Change("delete", str(resource["repositoryId"]))]
    if event not in ("git.repo.created", "git.repo.renamed"):
        return event, []
    repo = resource["repository"]
    project = (repo.get("project") or {}).get("name")
    name = str(repo["name"])
    branch = repo.get("defaultBranch")
    return event, [
        Change(
            "upsert",
            str(repo["id"]),
            full_name=f"{project}/{name}" if project else name,
            default_branch=branch.removeprefix("refs/heads/") if branch else None,
            web_url=repo.get("webUrl") or _without_userinfo(repo.get("remoteUrl")),
            project=project,
        )
    ]


def _without_userinfo(url: str | None) -> str | None:
    if not url:
        return None
    parts = urlsplit(url)
    return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
