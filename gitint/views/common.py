"""Helpers every blueprint shares: tenant-scoped loading and htmx-aware rendering."""

from flask import abort, current_app, g, jsonify, render_template, request
from jinja2_fragments.flask import render_block
from sqlalchemy import bindparam, exists, select
from sqlalchemy.orm import aliased

from ..extensions import db
from ..models import Credential, Integration, as_id


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def render(template: str, block: str | None = None, status: int = 200, **context):
    """The whole page, or only ``block`` of it for an htmx request (STYLE: named swap targets)."""
    if block and is_htmx():
        return render_block(template, block, **context), status
    return render_template(template, **context), status


def too_large(error):
    """413 for a body over MAX_CONTENT_LENGTH, raised before it is read or parsed: JSON for
    machine callers (Atlassian's /forge/ and /lifecycle/, git hosts' /webhooks/), a short page
    otherwise."""
    limit = current_app.config["MAX_CONTENT_LENGTH"] // 1024
    if request.path.startswith(("/forge/", "/lifecycle/", "/webhooks/")):
        return jsonify(error=f"The request body is larger than {limit} kB."), 413
    return render_template("errors/413.html", limit=limit), 413


def json_body():
    """The request's JSON body, or None when it is not JSON: malformed, not declared as JSON,
    or nested too deeply for the parser (RecursionError) — a 400 for the caller, never a 500.
    A body over MAX_CONTENT_LENGTH raises RequestEntityTooLarge (413) before it is read."""
    try:
        return request.get_json(silent=True)
    except RecursionError:
        return None


def integrations_query():
    """The current tenant's integrations (every query is tenant-scoped)."""
    return select(Integration).where(Integration.tenant_id == g.ctx.tenant_id)


# The statements a dialog runs on every call, built once: SQLAlchemy keeps a statement's cache
# key on the statement, so a prebuilt one skips building and keying it (half of a simple
# query's cost). Tenant-scoped through their bound parameters.
_INTEGRATION = select(Integration).where(
    Integration.tenant_id == bindparam("tenant"), Integration.id == bindparam("id")
)
_OTHER = aliased(Integration)
_ONLY_INTEGRATION = select(Integration).where(
    Integration.tenant_id == bindparam("tenant"),
    ~exists().where(_OTHER.tenant_id == Integration.tenant_id, _OTHER.id != Integration.id),
)
_OWN_CREDENTIAL = select(Credential).where(
    Credential.tenant_id == bindparam("tenant"),
    Credential.account_id == bindparam("account"),
    Credential.integration_id == bindparam("integration"),
)


def only_integration() -> Integration | None:
    """The current tenant's integration when it has exactly one, else None (a tenant with
    several loads none of them)."""
    return db.session.scalar(_ONLY_INTEGRATION, {"tenant": g.ctx.tenant_id})


def get_integration_or_404(integration_id) -> Integration:
    """The current tenant's integration, or 404 (another tenant's id is a 404 too, and so is
    an id past the database's integer range, which the database would refuse with an error)."""
    integration_id = as_id(integration_id)
    if integration_id is None:
        abort(404)
    integration = db.session.scalar(_INTEGRATION, {"tenant": g.ctx.tenant_id, "id": integration_id})
    if integration is None:
        abort(404)
    return integration


def own_credential(integration_id: int) -> Credential | None:
    """The current user's own credential for an integration of the current tenant, if any."""
    integration_id = as_id(integration_id)
    if integration_id is None:
        return None
    parameters = {"tenant": g.ctx.tenant_id, "account": g.ctx.account_id}
    return db.session.scalar(_OWN_CREDENTIAL, parameters | {"integration": integration_id})
