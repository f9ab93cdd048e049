"""Users' personal access tokens: the "Git: personal access tokens" page (repository browser)
and the PAT setup fragment the dialogs include inline (templates/pats/_setup.html).

Events sent with ``HX-Trigger``: ``patSaved`` and ``patDeleted``, each ``{"integration": id}``.
The fragment's Cancel button dispatches ``patCancelled`` (same detail) on document.body.
"""

import json
import math

from flask import Blueprint, abort, g, make_response, render_template, request
from jinja2_fragments.flask import render_block
from sqlalchemy import func, select

from .. import audit
from ..credentials import (
    days_left,
    delete_credential,
    host_display,
    new_token_url,
    save_credential,
    setup_provider,
    status_of,
)
from ..extensions import db
from ..jira.context import requires
from ..models import Credential, Integration, Repository
from ..providers.base import ProviderError
from ..search import WINDOW, search_repositories
from ..settings import KIND_LABELS
from .common import get_integration_or_404, integrations_query, own_credential, render

bp = Blueprint("pats", __name__, url_prefix="/pats")
PAGE_SIZE = 50
MAX_SEARCH_PAGES = WINDOW // PAGE_SIZE  # search results are paged through this far
COUNT_UP_TO = 10_000  # the browser counts this far ("of more than 10,000"): a count of every
# row read the whole index on each page (23–40 ms at 500,000); Next needs only one row more
SECRET_FIELDS = ("token", "access_key_id", "secret_access_key")

# for templates/pats/*.html, also when a dialog includes the setup fragment itself
bp.add_app_template_global(status_of, "pat_status")
bp.add_app_template_global(days_left, "pat_days_left")
bp.add_app_template_global(new_token_url, "pat_new_token_url")
bp.add_app_template_global(host_display, "pat_host")


@bp.app_template_global("pat_kind")
def kind_name(integration: Integration) -> str:
    """The kind of host in words ("GitHub Enterprise Server"), its address left to pat_host."""
    return KIND_LABELS.get(integration.kind, integration.kind).split(" (")[0]


# ---------------------------------------------------------------- helpers others may use


def setup_context(integration: Integration, target: str = "dialog", error=None, hidden=None):
    """Every variable templates/pats/_setup.html needs, for ``render_template`` or include."""
    provider, problem = setup_provider(integration)
    credential = own_credential(integration.id)
    return {
        "integration": integration,
        "provider": provider,
        "problem": problem,
        "new_token_url": new_token_url(provider),
        "host": host_display(integration),
        "credential": credential,
        "target": "page" if target == "page" else "dialog",
        "error": error,
        "hidden": hidden or {},
    }


def _target() -> str:
    return "page" if request.values.get("target") == "page" else "dialog"


def _page_state() -> dict:
    """The PAT page's search and page number, carried through the editor's requests."""
    state = {"q": request.values.get("q", "").strip()[:200], "page": _page_number()}
    return {k: v for k, v in state.items() if v and v != 1}


def _page_number() -> int:
    try:
        return max(1, int(request.values.get("page", 1)))
    except ValueError:
        return 1


def table_context(q: str = "", page: int = 1) -> dict:
    """The integrations, one page of repositories, and the user's own credentials."""
    integrations = db.session.scalars(integrations_query().order_by(Integration.name)).all()
    credentials = {
        c.integration_id: c
        for c in db.session.scalars(
            select(Credential).where(
                Credential.tenant_id == g.ctx.tenant_id,
                Credential.account_id == g.ctx.account_id,
            )
        )
    }
    if q:  # the type-ahead's search (gitint/search.py), best first; no count of all matches
        page = min(page, MAX_SEARCH_PAGES)
        rows, more = search_repositories(g.ctx.tenant_id, q, page - 1, PAGE_SIZE)
        if not rows and page > 1:  # fewer matches than the page asked for: the first page
            page = 1
            rows, more = search_repositories(g.ctx.tenant_id, q, 0, PAGE_SIZE)
        total, pages = None, page + more
    else:  # every repository in name order, on the (tenant_id, search_name) index
        tenant = Repository.tenant_id == g.ctx.tenant_id
        counted = select(Repository.id).where(tenant).limit(COUNT_UP_TO + 1).subquery()
        total = db.session.scalar(select(func.count()).select_from(counted))
        if total <= COUNT_UP_TO:
            page = min(page, max(1, math.ceil(total / PAGE_SIZE)))
        rows = _browse(tenant, page)
        if not rows and page > 1:  # past the end (a count "more than"): the first page
            page = 1
            rows = _browse(tenant, page)
        more = len(rows) > PAGE_SIZE
        rows = rows[:PAGE_SIZE]
        pages = page + more
    return {
        "integrations": integrations,
        "by_id": {i.id: i for i in integrations},
        "credentials": credentials,
        "providers": {i.id: setup_provider(i)[0] for i in integrations},
        "repositories": rows,
        "q": q,
        "page": page,
        "pages": pages,
        "total": total,  # None for a search; above COUNT_UP_TO: "more than COUNT_UP_TO"
        "count_up_to": COUNT_UP_TO,
        "first": (page - 1) * PAGE_SIZE + 1,
    }


def _browse(tenant, page: int) -> list[Repository]:
    """The ``page``-th PAGE_SIZE repositories in name order, and one more if there is a next."""
    statement = select(Repository).where(tenant).order_by(Repository.search_name, Repository.id)
    offset = (page - 1) * PAGE_SIZE
    return db.session.scalars(statement.limit(PAGE_SIZE + 1).offset(offset)).all()


def _with_table(body: str, target: str, state: dict) -> str:
    """On the PAT page, also send the refreshed table (every row of the integration changes)."""
    if target != "page":
        return body
    context = table_context(state.get("q", ""), state.get("page", 1))
    return body + render_block("pats/index.html", "pat_table", oob=True, **context)


def _respond(body: str, status: int = 200, event: dict | None = None):
    response = make_response(body, status)
    if event:
        response.headers["HX-Trigger"] = json.dumps(event)
    return response


# ---------------------------------------------------------------- routes


@bp.get("")
@requires("VIEW_DEV_TOOLS")
def index():
    """The repository browser with the user's token per integration (search, pages)."""
    state = _page_state()
    context = table_context(state.get("q", ""), state.get("page", 1))
    return render("pats/index.html", block="repositories", **context)


@bp.get("/setup/<int:integration_id>")
@requires("VIEW_DEV_TOOLS")
def setup(integration_id: int):
    """The PAT setup fragment (for a dialog or for the PAT page)."""
    integration = get_integration_or_404(integration_id)
    target = _target()
    hidden = _page_state() if target == "page" else {}
    return render_template("pats/_setup.html", **setup_context(integration, target, None, hidden))


@bp.post("/<int:integration_id>")
@requires("VIEW_DEV_TOOLS")
def save(integration_id: int):
    """Validate the entered token with the host and store it; 422 with the reason otherwise."""
    integration = get_integration_or_404(integration_id)
    target = _target()
    state = _page_state() if target == "page" else {}
    fields = {name: request.form.get(name, "") for name in SECRET_FIELDS}
    try:
        credential = save_credential(integration, g.ctx.account_id, fields)
    except ProviderError as error:
        audit.record(  # a refused token is recorded too (the reason, never the token)
            "pat_saved", "error", integration=integration, acting="user_pat", detail=str(error)
        )
        context = setup_context(integration, target, str(error), state)
        return _respond(render_template("pats/_setup.html", **context), 422)
    audit.record(
        "pat_saved",
        "success",
        integration=integration,
        acting="user_pat",
        acting_login=credential.login,
        detail=f"Saved a personal access token of @{credential.login}.",
    )
    body = render_template(
        "pats/_saved.html",
        integration=integration,
        credential=credential,
        target=target,
    )
    return _respond(
        _with_table(body, target, state), event={"patSaved": {"integration": integration.id}}
    )


@bp.get("/<int:integration_id>/delete-confirm")
@requires("VIEW_DEV_TOOLS")
def delete_confirm(integration_id: int):
    """Ask before deleting the user's own token."""
    integration = get_integration_or_404(integration_id)
    credential = own_credential(integration.id) or abort(404)
    target = _target()
    return render_template(
        "pats/_delete.html",
        integration=integration,
        credential=credential,
        target=target,
        hidden=_page_state() if target == "page" else {},
    )


@bp.post("/<int:integration_id>/delete")
@requires("VIEW_DEV_TOOLS")
def delete(integration_id: int):
    """Delete the user's own token for the integration."""
    integration = get_integration_or_404(integration_id)
    credential = own_credential(integration.id) or abort(404)
    target = _target()
    state = _page_state() if target == "page" else {}
    login = credential.login
    delete_credential(credential)
    audit.record(
        "pat_deleted",
        "success",
        integration=integration,
        acting="user_pat",
        acting_login=login,
        detail=f"Deleted the personal access token of @{login}.",
    )
    body = render_template("pats/_deleted.html", integration=integration, target=target)
    return _respond(
        _with_table(body, target, state), event={"patDeleted": {"integration": integration.id}}
    )
