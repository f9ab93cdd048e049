"""The Create branch and Create pull request dialogs (Jira iframes) and their htmx calls.

Opening a dialog reads the database only; the host is called when a repository is chosen (its
branches), when a typed branch is checked, and on create. Every form render keeps the user's input.
"""

from flask import Blueprint, abort, current_app, g, render_template, request, url_for
from jinja2_fragments.flask import render_block
from markupsafe import Markup, escape
from sqlalchemy import bindparam, select

from ..acting import BRANCH, PULL_REQUEST, acting_for, host_supports_pats
from ..branchnames import branch_name, validate_branch_name
from ..creating import (
    acting_provider,
    branch_web_url,
    create_once,
    get_repository,
    host_traits,
    newest_branch_with,
    own_branch,
    own_pull_request,
    refused,
    repo_of,
)
from ..extensions import db
from ..hosts import web_link
from ..jira.context import requires
from ..models import Integration
from ..providers.base import UNREADABLE, AuthExpired, Malformed, NotFound, ProviderError
from ..search import search_repositories
from .common import (
    get_integration_or_404,
    is_htmx,
    only_integration,
    own_credential,
    render,
)

bp = Blueprint("dialogs", __name__, url_prefix="/dialogs")
FIELDS = {
    BRANCH: ("repository", "repository_name", "base", "base_default", "name", "name_default"),
    PULL_REQUEST: (
        "repository",
        "repository_name",
        "source",
        "source_default",
        "target",
        "target_default",
        "title",
        "description",
        "draft",
    ),
}
TEMPLATES = {BRANCH: "dialogs/create_branch.html", PULL_REQUEST: "dialogs/create_pull_request.html"}
EXISTING_BRANCHES = ("base", "source", "target")  # fields naming a branch the host should have


# ---------------------------------------------------------------- building the form


def _kept(value, *, present, old_default, new_default):
    """The user's value, unless they never changed the default (then the new default). A field
    the user emptied stays empty: the submit then asks for it."""
    if not present or value == old_default:
        return new_default or ""
    return value or ""


def _text(value: str | None) -> str | None:
    """A form value without NUL characters (PostgreSQL refuses them in text)."""
    return value.replace("\x00", "") if value else value


def branch_errors(values: dict) -> dict[str, str]:
    """The git ref rules each given base, source or target branch breaks, as its field error.
    Every branch name from a form passes here before any host call."""
    errors = {}
    for field in EXISTING_BRANCHES:
        problems = validate_branch_name(values[field], new=False) if values.get(field) else []
        if problems:
            errors[field] = " ".join(problems)
    return errors


def form_state(action: str, values: dict, *, load: bool) -> dict:
    """Everything a dialog template needs for ``values`` (the posted or given input); with
    ``load``, the chosen repository's branches are listed with the acting credential."""
    ctx = g.ctx
    f = {name: _text(values.get(name)) for name in FIELDS[action]}
    for name in ("base", "name", "source", "target"):  # stray spaces from copy and paste
        if f.get(name):
            f[name] = f[name].strip()
    state = {"action": action, "f": f, "errors": {}, "error": None, "error_link": None}
    state.update(repository=None, integration=None, pat_integration=None, credential=None)
    state.update(acting=None, branches=None, show_pat=False, problems=[], warning=None, done=None)
    state.update(pr_noun="pull request", draft_ok=False)
    if action == PULL_REQUEST:
        key = ctx.issue_key or ""
        f["title"] = f["title"] if "title" in values else f"{key} {ctx.issue_summary or ''}".strip()
        if "description" not in values:
            f["description"] = (
                f"Jira issue: {ctx.tenant.base_url.rstrip('/')}/browse/{key}" if key else ""
            )
    repository = get_repository(ctx.tenant_id, f["repository"])
    if repository is None and f["repository"]:
        abort(404)  # another tenant's (or a deleted) repository
    if repository is None:
        _only_integration_acting(state)
        return state
    integration = get_integration_or_404(repository.integration_id)
    credential = own_credential(integration.id)
    pr_noun, draft_ok = host_traits(integration)
    acting = acting_for(integration, credential, action, pr_noun)
    f["repository_name"] = repository.full_name
    state.update(repository=repository, integration=integration, acting=acting)
    state.update(pr_noun=pr_noun, draft_ok=draft_ok, credential=credential)
    if action == BRANCH:
        default = branch_name(
            integration.branch_template,
            integration.separator,
            integration.max_length,
            integration.type_prefixes,
            ctx.issue_key,
            ctx.project_key,
            ctx.issue_summary,
            ctx.issue_type,
        )
        f["name"] = _kept(
            f["name"], present="name" in values, old_default=f["name_default"], new_default=default
        )
        f["name_default"] = default
        f["base"] = _kept(
            f["base"],
            present="base" in values,
            old_default=f["base_default"],
            new_default=repository.default_branch,
        )
        f["base_default"] = repository.default_branch or ""
    else:
        f["target"] = _kept(
            f["target"],
            present="target" in values,
            old_default=f["target_default"],
            new_default=repository.default_branch,
        )
        f["target_default"] = repository.default_branch or ""
        f["draft"] = bool(f["draft"]) and draft_ok
    state["errors"].update(branch_errors(f))
    if load and acting.can_act:
        _load_branches(state, credential)
    return state


def _load_branches(state: dict, credential) -> None:
    """List the repository's branches as whoever acts; errors become the dialog's sentence."""
    integration, acting, f = state["integration"], state["acting"], state["f"]
    try:
        provider = acting_provider(integration, credential, acting)
        branches = provider.list_branches(repo_of(state["repository"]))
    except AuthExpired as error:
        _refused(state, error, credential)
        return
    except ProviderError as error:
        state.update(branches=[], error=str(error))
        return
    except UNREADABLE:
        current_app.logger.warning("unreadable branch list", exc_info=True)
        state.update(branches=[], error=Malformed.default)
        return
    state["branches"] = branches
    if state["action"] == PULL_REQUEST:
        newest = newest_branch_with(branches, g.ctx.issue_key)
        f["source"] = _kept(
            f["source"],
            present=bool(f["source"]),
            old_default=f["source_default"],
            new_default=newest,
        )
        f["source_default"] = newest or ""


def _refused(state: dict, error: AuthExpired, credential) -> None:
    """The acting credential got a 401: mark it, decide again, and ask for a PAT inline."""
    refused(error, state["integration"], credential, state["acting"])
    integration = state["integration"]
    acting = acting_for(
        integration, own_credential(integration.id), state["action"], state["pr_noun"]
    )
    state.update(acting=acting, error=str(error), branches=[])
    state["show_pat"] = host_supports_pats(integration)


def _only_integration_acting(state: dict) -> None:
    """Before a repository is chosen: who acts, when the tenant has a single integration."""
    integration = only_integration()
    if integration is not None:
        pr_noun, draft_ok = host_traits(integration)
        acting = acting_for(integration, own_credential(integration.id), state["action"], pr_noun)
        state.update(acting=acting, pat_integration=integration, pr_noun=pr_noun, draft_ok=draft_ok)


def _pat_fragment(state: dict) -> Markup | None:
    """The PAT setup fragment, rendered inline when the dialog must ask for a token."""
    if not state["show_pat"]:
        return None
    from .pats import setup_context

    html = render_template("pats/_setup.html", **setup_context(state["integration"], "dialog"))
    return Markup(html)  # noqa: S704 - our own rendered template


def show(action: str, state: dict, block: str = "body", status: int = 200, first_load=False):
    """Render the dialog (or one of its blocks for htmx) from ``form_state``'s state; freshly
    listed branches go out of band into the list outside the form."""
    body, status = render(
        TEMPLATES[action],
        block=block,
        status=status,
        pat_html=_pat_fragment(state),
        first_load=first_load,
        **state,
    )
    if block == "body" and is_htmx() and state["branches"] is not None:
        body += render_template("dialogs/_branches.html", oob=True, branches=state["branches"])
    return body, status


# ---------------------------------------------------------------- pages


@bp.get("/create-branch")
@requires("VIEW_DEV_TOOLS")
def create_branch_page():
    """The Create branch dialog (no host call: repositories come from the database)."""
    state = form_state(BRANCH, _given(BRANCH), load=False)
    return show(BRANCH, state, block="dialog", first_load=True)


@bp.get("/create-pull-request")
@requires("VIEW_DEV_TOOLS")
def create_pull_request_page():
    """The Create pull request dialog; also swapped in after a branch is created."""
    state = form_state(PULL_REQUEST, _given(PULL_REQUEST), load=False)
    return show(PULL_REQUEST, state, block="dialog", first_load=True)


def _given(action: str) -> dict:
    """Pre-filled values from the query string (repository, source) — nothing else."""
    wanted = ("repository", "source") if action == PULL_REQUEST else ("repository",)
    return {k: request.args[k] for k in wanted if request.args.get(k)}


# ---------------------------------------------------------------- htmx calls


@bp.post("/create-branch/refresh")
@requires("VIEW_DEV_TOOLS")
def refresh_branch():
    """Re-render the form from the kept input (a repository was chosen, or a PAT was saved)."""
    return show(BRANCH, form_state(BRANCH, request.form.to_dict(), load=True))


@bp.post("/create-pull-request/refresh")
@requires("VIEW_DEV_TOOLS")
def refresh_pull_request():
    """Re-render the form from the kept input (a repository was chosen, or a PAT was saved)."""
    return show(PULL_REQUEST, form_state(PULL_REQUEST, request.form.to_dict(), load=True))


@bp.get("/branches")
@requires("VIEW_DEV_TOOLS")
def branches():
    """The chosen repository's branches, loaded after a page opened with it pre-selected."""
    action = PULL_REQUEST if request.args.get("action") == PULL_REQUEST else BRANCH
    state = form_state(action, {"repository": request.args.get("repository", "")}, load=True)
    listed = render_template("dialogs/_branches.html", oob=True, branches=state["branches"] or [])
    error = state["error"]
    return (f'<p class="notice error" role="alert">{escape(error)}</p>' if error else "") + listed


# the names of the tenant's integrations, shown beside each option when it has several
_NAMES = select(Integration.id, Integration.name).where(
    Integration.tenant_id == bindparam("tenant")
)


@bp.get("/repositories")
@requires("VIEW_DEV_TOOLS")
def repositories():
    """Type-ahead options: the tenant's synced repositories, best matches first, 20 at a time."""
    query = request.args.get("repository_name", "")[:200]
    page = min(max(request.args.get("page", 0, type=int), 0), 500)
    rows, more = search_repositories(g.ctx.tenant_id, query, page)
    names = dict(db.session.execute(_NAMES, {"tenant": g.ctx.tenant_id}).all()) if rows else {}
    return render_template(
        "dialogs/_repositories.html",
        rows=rows,
        more=more,
        page=page,
        query=query,
        names=names if len(names) > 1 else {},
    )


@bp.get("/branch-name")
@requires("VIEW_DEV_TOOLS")
def check_branch_name():
    """The rules a typed branch name breaks (validated as the user types), and whether it is in
    the repository's loaded branch list (static/app.js sends ``listed``; no host call)."""
    repository = get_repository(g.ctx.tenant_id, request.args.get("repository"))
    max_length = repository.integration.max_length if repository else 200
    name = request.args.get("name", "").strip()
    problems = validate_branch_name(name, max_length)
    key = g.ctx.issue_key
    warning = taken = taken_link = None
    if name and key and key.lower() not in name.lower():
        warning = f"The name does not contain {key}, so Jira will not link the branch to the issue."
    if repository and name and not problems and request.args.get("listed") == name:
        taken = f"A branch named {name} already exists in {repository.full_name}."
        url = branch_web_url(repository, name)
        taken_link = web_link(url, repository.integration)
    # a fragment whoever asks (the whole page would need the dialog's form)
    return render_block(
        TEMPLATES[BRANCH],
        "name_messages",
        problems=problems,
        warning=warning,
        taken=taken,
        taken_link=taken_link,
    )


@bp.get("/branch-check")
@requires("VIEW_DEV_TOOLS")
def check_branch():
    """Whether a branch typed by hand exists (one get_branch call as whoever acts)."""
    repository = get_repository(g.ctx.tenant_id, request.args.get("repository"))
    field = next((k for k in ("base", "source", "target") if k in request.args), None)
    name = (request.args.get(field) or "").strip() if field else ""
    if repository is None or not name:
        return ""
    problem = branch_errors({field: name}).get(field)
    if problem:
        return escape(problem)
    integration = get_integration_or_404(repository.integration_id)
    credential = own_credential(integration.id)
    action = BRANCH if field == "base" else PULL_REQUEST
    acting = acting_for(integration, credential, action)
    if not acting.can_act:
        return ""
    try:
        acting_provider(integration, credential, acting).get_branch(repo_of(repository), name)
    except NotFound:
        return escape(f"The branch {name} does not exist in {repository.full_name}.")
    except AuthExpired as error:
        refused(error, integration, credential, acting)
        return escape(str(error))
    except ProviderError as error:
        return escape(str(error))  # the host's own words: text, never markup
    except UNREADABLE:
        return escape(Malformed.default)
    return ""


# ---------------------------------------------------------------- creating


@bp.post("/create-branch")
@requires("VIEW_DEV_TOOLS")
def create_branch():
    """Create the branch as whoever acts; the form comes back with the input on any error."""
    state = form_state(BRANCH, request.form.to_dict(), load=False)
    f, repository, acting = state["f"], state["repository"], state["acting"]
    if repository is None:
        state["errors"]["repository"] = "Choose a repository."
    else:
        if not f["base"]:
            state["errors"]["base"] = "Choose a base branch."
        state["problems"] = validate_branch_name(f["name"], state["integration"].max_length)
    if state["errors"] or state["problems"] or not acting.can_act:
        return show(BRANCH, state, status=422)

    repo = repo_of(repository)

    def call(provider):
        branch = provider.create_branch(repo, f["name"], f["base"])
        return branch.web_url or provider.web_url_for_branch(repo, branch.name), branch.name

    def ours(provider, error):
        branch = own_branch(provider, repo, f["name"], f["base"])
        return branch and (error.url or provider.web_url_for_branch(repo, branch.name), branch.name)

    outcome = create_once(
        BRANCH,
        f["name"],
        integration=state["integration"],
        repository=repository,
        credential=state["credential"],
        acting=acting,
        call=call,
        ours=ours,
    )
    return _finish(BRANCH, state, outcome)


@bp.post("/create-pull-request")
@requires("VIEW_DEV_TOOLS")
def create_pull_request():
    """Open the pull/merge request as whoever acts; the form comes back on any error."""
    state = form_state(PULL_REQUEST, request.form.to_dict(), load=False)
    f, repository, acting = state["f"], state["repository"], state["acting"]
    errors = state["errors"]
    if repository is None:
        errors["repository"] = "Choose a repository."
    else:
        for field, label in (("source", "a source"), ("target", "a target")):
            if not (f[field] or "").strip():
                errors[field] = f"Choose {label} branch."
        if f["source"] and f["source"] == f["target"] and "target" not in errors:
            errors["target"] = "The target branch must differ from the source branch."
        if not (f["title"] or "").strip():
            errors["title"] = "Enter a title."
    if errors or not acting.can_act:
        return show(PULL_REQUEST, state, status=422)

    repo = repo_of(repository)

    def call(provider):
        pr = provider.create_pull_request(
            repo, f["source"], f["target"], f["title"].strip(), f["description"] or "", f["draft"]
        )
        return pr.web_url, pr.title

    def ours(provider, error):
        pr = own_pull_request(
            provider, repo, f["source"], f["target"], acting.login, found=error.found
        )
        return pr and (pr.web_url, pr.title)

    outcome = create_once(
        PULL_REQUEST,
        f"{f['source']}\0{f['target']}",
        integration=state["integration"],
        repository=repository,
        credential=state["credential"],
        acting=acting,
        call=call,
        ours=ours,
    )
    return _finish(PULL_REQUEST, state, outcome)


def _finish(action: str, state: dict, outcome):
    """Success → the success block; failure → the form with the sentence and the input kept."""
    if outcome.ok:
        state.update(done=outcome)
        if action == BRANCH:
            state["next_url"] = url_for(
                "dialogs.create_pull_request_page",
                repository=state["repository"].id,
                source=outcome.name,
            )
        return show(action, state)
    state.update(error=outcome.message, error_link=outcome.url)
    if outcome.needs_pat:
        integration = state["integration"]
        acting = acting_for(integration, own_credential(integration.id), action, state["pr_noun"])
        state.update(acting=acting, show_pat=host_supports_pats(integration))
    return show(action, state, status=422)
