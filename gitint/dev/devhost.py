"""The development Jira host (only when GITINT_DEV is on): a page shaped like a Jira issue that
opens the real dialogs and pages in an iframe with properly signed tokens (SPEC §1).

It signs exactly what an embedded Jira would: HS256 with the dev tenant's shared secret,
``iss`` = the dev tenant, ``sub`` = the chosen user, ``qsh`` of the iframe URL, and the
``context`` claim of SPEC §4. Tokens last 3 minutes; opening a dialog re-renders the page, so
every open gets a fresh one.
"""

import secrets
import time
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from sqlalchemy import select

from ..crypto import seal, unseal
from ..extensions import db
from ..jira.context import DEV_ISSUER
from ..jira.jwt import query_hash, sign
from ..models import Integration, Tenant

bp = Blueprint("devhost", __name__, url_prefix="/dev")

TOKEN_TTL = 180
ISSUE = {
    "key": "DEV-1",
    "summary": "Login page rejects passwords with spaces",
    "type": "Bug",
    "status": "To Do",
    "project_key": "DEV",
    "project_id": "10000",
    "project_name": "Development",
}


@dataclass(frozen=True)
class DevUser:
    account_id: str
    display_name: str
    permissions: tuple[str, ...]
    role: str


USERS = {
    "admin": DevUser(
        "dev-admin", "Ada Admin", ("VIEW_DEV_TOOLS", "ADMINISTER"), "Jira administrator"
    ),
    "developer": DevUser("dev-developer", "Dev Developer", ("VIEW_DEV_TOOLS",), "developer"),
    "viewer": DevUser("dev-viewer", "Vic Viewer", (), "developer without View Development Tools"),
}
# what the page can open: title, app path, shown as a dialog (on the issue) or a page
TARGETS = {
    "create-branch": ("Create branch", "/dialogs/create-branch", "dialog"),
    "create-pull-request": ("Create pull request", "/dialogs/create-pull-request", "dialog"),
    "pats": ("Git: personal access tokens", "/pats", "page"),
    "admin": ("Manage Git repositories", "/admin/integrations", "page"),
}


# Jira's themes by their @atlaskit/tokens names (static/dev/tokens-<name>.css), as the switch
# names them; light is Jira's default, so it has no ?theme=.
THEMES = {
    "light": "Light",
    "dark": "Dark",
    "light-increased-contrast": "Light, increased contrast",
    "dark-increased-contrast": "Dark, increased contrast",
}


@bp.app_template_global("dev_theme")
def theme() -> str | None:
    """The theme chosen on the page (``?theme=dark``, ``?theme=light-increased-contrast``…),
    or None for light (Jira's default)."""
    chosen = request.args.get("theme")
    return chosen if chosen in THEMES and chosen != "light" else None


@bp.app_template_global("dev_themes")
def themes() -> dict[str, str]:
    return THEMES


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def ensure_dev_tenant(base_url: str, display_url: str | None = None) -> Tenant:
    """The dev embedded tenant, created once with a random sealed secret (not committed)."""
    tenant = db.session.scalar(select(Tenant).where(Tenant.issuer == DEV_ISSUER))
    if tenant is None:
        tenant = Tenant(kind="embedded", issuer=DEV_ISSUER, name="Development Jira")
        seal(tenant, secrets.token_urlsafe(32))
        db.session.add(tenant)
    elif tenant.kind != "embedded":
        raise RuntimeError(f"tenant {DEV_ISSUER!r} exists and is not an embedded tenant")
    base_url = base_url.rstrip("/")
    display_url = display_url.rstrip("/") if display_url else None
    tenant.base_url = base_url
    other_origin = display_url and origin(display_url) != origin(base_url)
    tenant.display_url = display_url if other_origin else None
    tenant.installed = True
    return tenant


DEMO_INTEGRATIONS = {
    # name: Require User PAT
    "Demo GitHub (bot acts)": False,
    "Demo GitHub (Require User PAT)": True,
}
DEMO_BOT_TOKEN = "ghp_demo_integration_token"  # noqa: S105 - the local fake host's


def ensure_demo_integrations(tenant: Tenant, githost_url: str) -> list[Integration]:
    """Integrations on the demo's local fake git host (gitint/dev/fakehost.py), created once and
    pointed at wherever the fake host listens this time."""
    integrations = []
    for name, require_pat in DEMO_INTEGRATIONS.items():
        integration = db.session.scalar(
            select(Integration).where(Integration.tenant_id == tenant.id, Integration.name == name)
        )
        if integration is None:
            integration = Integration(tenant_id=tenant.id, kind="github_enterprise", name=name)
            integration.require_user_pat = require_pat
            integration.type_prefixes = {"Bug": "bugfix", "Story": "feature"}
            db.session.add(integration)
            db.session.flush()
        integration.base_url = githost_url
        seal(integration, DEMO_BOT_TOKEN)
        integration.credential_last4 = DEMO_BOT_TOKEN[-4:]
        integration.credential_login = "gitint-bot"
        integration.credential_status = "valid"
        integrations.append(integration)
    db.session.commit()
    return integrations


def demo_githost_port() -> int:
    """The port the demo's fake git host had last time (0: any), so that links to it in
    branches, pull requests and the audit log keep working after the demo starts again."""
    urls = db.session.scalars(
        select(Integration.base_url).where(Integration.name.in_(DEMO_INTEGRATIONS))
    )
    for url in urls:
        parts = urlsplit(url or "")
        if parts.hostname == "127.0.0.1" and parts.port:
            return parts.port
    return 0


def signed_path(tenant: Tenant, user: DevUser, path: str, params: dict) -> str:
    """The iframe URL an embedded Jira would open: path?params&jwt=<HS256 token>."""
    now = int(time.time())
    claims = {
        "iss": tenant.issuer,
        "sub": user.account_id,
        "iat": now,
        "exp": now + TOKEN_TTL,
        "qsh": query_hash("GET", path, list(params.items())),
        "context": {
            "user": {"displayName": user.display_name},
            "permissions": list(user.permissions),
            "issue": {"summary": ISSUE["summary"], "type": ISSUE["type"]},
        },
    }
    token = sign(claims, unseal(tenant))
    return f"{request.script_root}{path}?{urlencode({**params, 'jwt': token})}"


def browse(key: str):
    """The issue link Jira would have (BASE/browse/KEY, e.g. in a pull request's description)."""
    mode = "forge" if request.path.startswith("/dev/") else None
    return redirect(url_for("devhost.jira", mode=mode))


@bp.record_once
def _browse_routes(state) -> None:
    # the dev tenants' Jira base URLs: the app's own (Connect) and /dev/jira (Forge's site URL)
    state.app.add_url_rule("/browse/<key>", "devhost_browse", browse)
    state.app.add_url_rule("/dev/jira/browse/<key>", "devhost_forge_browse", browse)


@bp.get("/jira")
def jira():
    """A Jira-like issue page; ``?user=`` picks who is signed in, ``?open=`` what is opened,
    ``?mode=forge`` opens it as Jira Cloud runs a Forge app (gitint/dev/forge.py)."""
    user_key = request.args.get("user") if request.args.get("user") in USERS else "developer"
    user = USERS[user_key]
    if request.args.get("mode") == "forge":  # the same page as a Forge app sees it
        from .forge import jira_page

        return jira_page(user_key)
    tenant = ensure_dev_tenant(current_app.config["GITINT_BASE_URL"])  # never the Host header
    db.session.commit()
    frame = None
    target = TARGETS.get(request.args.get("open", ""))
    if target:
        title, path, kind = target
        params = {}
        if kind == "dialog":
            params = {
                "issueKey": ISSUE["key"],
                "projectKey": ISSUE["project_key"],
                "projectId": ISSUE["project_id"],
            }
        frame = {"title": title, "kind": kind, "url": signed_path(tenant, user, path, params)}
    return render_template(
        "devhost/jira.html",
        mode=None,
        issue=ISSUE,
        users=USERS,
        user_key=user_key,
        user=user,
        frame=frame,
        open_key=request.args.get("open") if frame else None,
        close_url=url_for("devhost.jira", user=user_key, theme=theme()),
    )
