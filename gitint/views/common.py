"""Helpers every blueprint shares: tenant-scoped loading and htmx-aware rendering."""

from flask import abort, g, render_template, request
from jinja2_fragments.flask import render_block
from sqlalchemy import select

from ..extensions import db
from ..models import Credential, Integration


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def render(template: str, block: str | None = None, status: int = 200, **context):
    """The whole page, or only ``block`` of it for an htmx request (STYLE: named swap targets)."""
    if block and is_htmx():
        return render_block(template, block, **context), status
    return render_template(template, **context), status


def integrations_query():
    """The current tenant's integrations (every query is tenant-scoped)."""
    return select(Integration).where(Integration.tenant_id == g.ctx.tenant_id)


def get_integration_or_404(integration_id: int) -> Integration:
    """The current tenant's integration, or 404 (another tenant's id is a 404 too)."""
    integration = db.session.scalar(integrations_query().where(Integration.id == integration_id))
    if integration is None:
        abort(404)
    return integration


def own_credential(integration_id: int) -> Credential | None:
    """The current user's own credential for an integration of the current tenant, if any."""
    return db.session.scalar(
        select(Credential).where(
            Credential.tenant_id == g.ctx.tenant_id,
            Credential.account_id == g.ctx.account_id,
            Credential.integration_id == integration_id,
        )
    )
