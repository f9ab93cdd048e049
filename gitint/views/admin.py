"""Admin pages (Jira administrators only): integrations and their feature settings, repository
sync with progress, the host webhook, and the audit log.

Every page is reached from the iframe entry ``GET /admin/integrations?jwt=...``; links and forms
are htmx requests that swap one named block of the page (the block is picked by HX-Target).
"""

from datetime import datetime, time, timedelta

from flask import Blueprint, abort, g, request
from sqlalchemy import delete, func, select

from .. import audit, queue, sync, webhooks
from ..credentials import host_display
from ..extensions import db
from ..forms import AuditFilterForm, IntegrationForm, SettingsForm, options
from ..jira.context import ADMINISTER, display_name, requires
from ..models import AuditEvent, Credential, Integration, Repository, Webhook
from ..providers.base import BlockedHost, Identity, Malformed, ProviderError, Unavailable
from ..settings import (
    KIND_FIELDS,
    KIND_LABELS,
    SYNC_EVERY,
    check_credential,
    host_changed,
    store_credential,
    tfs_without_pats,
)
from .common import get_integration_or_404, integrations_query, render

bp = Blueprint("admin", __name__, url_prefix="/admin")
PAGE_SIZE = 50
SAMPLE_ISSUE = ("DEV-123", "DEV", "Fix the login redirect on Safari", "Bug")


@bp.context_processor
def labels():
    return {"kind_labels": KIND_LABELS, "kind_fields": KIND_FIELDS, "host_display": host_display}


def block(*names: str, default: str = "content") -> str:
    """The block an htmx request asked for (its HX-Target), else the page content."""
    target = request.headers.get("HX-Target")
    return target if target in names else default


# ---------------------------------------------------------------- integrations


@bp.get("/integrations")
@requires(ADMINISTER)
def integrations():
    """The tenant's integrations: host, account, repository count, settings, sync, credential."""
    return list_page()


def list_page(message: str | None = None):
    rows = db.session.scalars(integrations_query().order_by(Integration.name)).all()
    counts = dict(
        db.session.execute(
            select(Repository.integration_id, func.count())
            .where(Repository.tenant_id == g.ctx.tenant_id)
            .group_by(Repository.integration_id)
        ).all()
    )
    return render(
        "admin/integrations.html", "content", integrations=rows, counts=counts, message=message
    )


@bp.route("/integrations/new", methods=["GET", "POST"])
@requires(ADMINISTER)
def new_integration():
    """Add an integration: the host, and its account's credential checked with the host."""
    if request.method == "GET":
        form = IntegrationForm(formdata=request.args if request.args.get("kind") else None)
        return render("admin/integration.html", block("fields"), **page(None, form))
    form = IntegrationForm()
    integration = Integration(tenant_id=g.ctx.tenant_id)
    if form.validate_for(editing=False) and name_is_free(form, None):
        integration.name = form.name.data
        for name, value in form.host_values().items():
            setattr(integration, name, value)
        identity = checked(form, integration, form.secret())
        if identity is not None:
            db.session.add(integration)
            db.session.flush()  # the credential is sealed to the row's id
            store_credential(integration, form.secret(), identity)
            audit.record(
                "integration.add",
                "success",
                integration=integration,
                acting="integration",
                acting_login=identity.login,
            )
            message = saved_message(integration, identity)
            return render("admin/integration.html", "content", **page(integration, message=message))
    return render("admin/integration.html", "content", 422, **page(None, form))


@bp.route("/integrations/<int:integration_id>", methods=["GET", "POST"])
@requires(ADMINISTER)
def integration(integration_id: int):
    """Edit an integration's host and credential; an empty credential keeps the stored one."""
    integration = get_integration_or_404(integration_id)
    if request.method == "GET":
        formdata = request.args if request.args.get("kind") else None
        form = IntegrationForm(formdata=formdata, obj=integration)
        return render("admin/integration.html", block("fields"), **page(integration, form))
    form = IntegrationForm(obj=integration)
    if not (form.validate_for(editing=True) and name_is_free(form, integration)):
        return render("admin/integration.html", "content", 422, **page(integration, form))
    values, secret = form.host_values(), form.secret()
    moved = host_changed(integration, values)
    if moved and not secret:
        form.credential_field().errors.append(
            "The host changed: enter the credential again, so it is checked with the new host."
        )
        return render("admin/integration.html", "content", 422, **page(integration, form))
    identity = None
    if secret:
        identity = checked(form, Integration(tenant_id=integration.tenant_id, **values), secret)
        if identity is None:
            return render("admin/integration.html", "content", 422, **page(integration, form))
    integration.name = form.name.data
    notes = []
    if moved:
        for name, value in values.items():
            setattr(integration, name, value)
        notes.append(forget_host(integration))
    if identity is not None:
        store_credential(integration, secret, identity)
    audit.record(
        "integration.update",
        "success",
        integration=integration,
        acting="integration",
        acting_login=integration.credential_login,
        detail=" ".join(notes) or None,
    )
    message = saved_message(integration, identity) + "".join(" " + note for note in notes)
    return render("admin/integration.html", "content", **page(integration, message=message))


@bp.post("/integrations/<int:integration_id>/settings")
@requires(ADMINISTER)
def update_settings(integration_id: int):
    """Save the feature settings (the Update button)."""
    integration = get_integration_or_404(integration_id)
    form = SettingsForm()
    if not form.validate():
        return render(
            "admin/integration.html", "settings", 422, **page(integration, settings_form=form)
        )
    for name, value in form.values().items():
        setattr(integration, name, value)
    state = "on" if integration.require_user_pat else "off"
    audit.record(
        "settings.update",
        "success",
        integration=integration,
        detail=f"Require User PAT {state}.",
    )
    return render(
        "admin/integration.html",
        "settings",
        **page(integration, settings_form=form, settings_saved=True),
    )


@bp.get("/integrations/<int:integration_id>/preview")
@requires(ADMINISTER)
def preview(integration_id: int):
    """The branch name the settings being typed would give for a sample issue."""
    integration = get_integration_or_404(integration_id)
    form = SettingsForm(formdata=request.args)
    return render("admin/integration.html", "preview", **page(integration, settings_form=form))


@bp.route("/integrations/<int:integration_id>/sync", methods=["GET", "POST"])
@requires(ADMINISTER)
def repository_sync(integration_id: int):
    """POST queues a sync (or joins the one under way); GET is the progress component, which
    polls itself while a sync is queued or running."""
    integration = get_integration_or_404(integration_id)
    notice = None
    if request.method == "POST":
        name = display_name(g.ctx)  # for the audit row written when the sync ends
        _, queued = queue.request_sync(integration.id, "manual", g.ctx.account_id, name)
        if not queued:
            notice = "A sync is already queued or running; your request joins it."
        db.session.refresh(integration)
    return render("admin/integration.html", "sync", **page(integration, sync_notice=notice))


@bp.post("/integrations/<int:integration_id>/webhook")
@requires(ADMINISTER)
def webhook(integration_id: int):
    """Set up the integration's webhook, or give it a new secret; the secret is shown once."""
    integration = get_integration_or_404(integration_id)
    if not webhooks.supports(integration):
        abort(404)
    hook = webhooks.webhook_of(integration)
    _, secret = webhooks.set_up(integration)
    audit.record(
        "webhook.secret" if hook else "webhook.add",
        "success",
        integration=integration,
        detail="A new webhook secret was made." if hook else "The webhook was set up.",
    )
    return render("admin/integration.html", "webhook", **page(integration, webhook_secret=secret))


@bp.route("/integrations/<int:integration_id>/delete", methods=["GET", "POST"])
@requires(ADMINISTER)
def delete_integration(integration_id: int):
    """Confirm, then delete the integration with its repositories and every user's credential."""
    integration = get_integration_or_404(integration_id)
    repositories, credentials = usage(integration)
    if request.method == "GET":
        return render(
            "admin/delete.html",
            "content",
            integration=integration,
            repositories=repositories,
            credentials=credentials,
        )
    name = integration.name
    db.session.delete(integration)  # the foreign keys cascade to repositories and credentials
    audit.record(
        "integration.delete",
        "success",
        integration=integration,
        detail=f"{repositories} repositories and {credentials} user credentials removed.",
    )
    return list_page(message=f"The integration {name} was deleted.")


# ---------------------------------------------------------------- audit log


@bp.get("/audit")
@requires(ADMINISTER)
def audit_log():
    """The tenant's audit log, filtered by user, integration, action, result and date."""
    form = AuditFilterForm(formdata=request.args)
    tenant_events = select(AuditEvent).where(AuditEvent.tenant_id == g.ctx.tenant_id)
    known = db.session.execute(
        select(AuditEvent.integration_id, func.max(AuditEvent.integration_name))
        .where(AuditEvent.tenant_id == g.ctx.tenant_id, AuditEvent.integration_id.is_not(None))
        .group_by(AuditEvent.integration_id)
    ).all()
    form.integration.choices = options([("", "Any")] + [(str(i), n or f"#{i}") for i, n in known])
    actions = db.session.scalars(
        select(AuditEvent.action).where(AuditEvent.tenant_id == g.ctx.tenant_id).distinct()
    ).all()
    words = {a: audit.action_words(a) for a in actions}
    form.action.choices = options([("", "Any")] + sorted(words.items(), key=lambda aw: aw[1]))
    form.validate()
    query = tenant_events
    if form.user.data and not form.user.errors:
        who = form.user.data  # the account id, or the display name stored with the event
        query = query.where((AuditEvent.account_id == who) | (AuditEvent.display_name == who))
    if form.integration.data and not form.integration.errors:
        query = query.where(AuditEvent.integration_id == int(form.integration.data))
    if form.action.data and not form.action.errors:
        query = query.where(AuditEvent.action == form.action.data)
    if form.result.data and not form.result.errors:
        query = query.where(AuditEvent.result == form.result.data)
    if form.since.data and not form.since.errors:
        query = query.where(AuditEvent.created_at >= datetime.combine(form.since.data, time()))
    if form.until.data and not form.until.errors:
        end = datetime.combine(form.until.data + timedelta(days=1), time())
        query = query.where(AuditEvent.created_at < end)
    total = db.session.scalar(select(func.count()).select_from(query.subquery()))
    pages = max(1, -(-total // PAGE_SIZE))
    current = min(form.page.data or 1, pages) if not form.page.errors else 1
    events = db.session.scalars(
        query.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc())
        .offset((current - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    ).all()
    filters = {
        name: request.args[name]
        for name in ("user", "integration", "action", "result", "since", "until")
        if request.args.get(name)
    }
    integrations = {i.id: i for i in db.session.scalars(integrations_query())}
    return render(
        "admin/audit.html",
        block("results"),
        form=form,
        events=events,
        integrations=integrations,
        total=total,
        page=current,
        pages=pages,
        filters=filters,
        action_words=audit.action_words,
        who=audit.who,
    )


# ---------------------------------------------------------------- helpers


def page(
    integration: Integration | None,
    form: IntegrationForm | None = None,
    settings_form: SettingsForm | None = None,
    **extra,
) -> dict:
    """Everything admin/integration.html needs (every block of it), for add or edit."""
    if form is None:
        form = IntegrationForm(formdata=None, obj=integration)
    context = {"integration": integration, "form": form, **extra}
    if integration is None:
        return context
    if settings_form is None:
        settings_form = SettingsForm.of(integration)
    context.update(
        settings_form=settings_form,
        preview=branch_preview(settings_form),
        tfs_without_pats=tfs_without_pats(integration),
        running=sync.is_running(integration),
        pending=sync.is_pending(integration),
        sync_every_label=SYNC_EVERY.get(integration.sync_every_hours, "few hours"),
        repository_count=sync.repository_count(integration.id),
        webhooks_supported=webhooks.supports(integration),
        webhook=webhooks.webhook_of(integration),
        webhook_url=webhooks.url_of,
        webhook_user=webhooks.BASIC_USER,
    )
    return context


def branch_preview(form: SettingsForm) -> dict:
    """{"name": ...} for the sample issue, or {"problem": ...} while the settings are invalid."""
    fields = (form.branch_template, form.separator, form.max_length, form.type_prefixes)
    if not all(field_is_valid(form, field) for field in fields):
        return {"problem": "Fix the settings above to see a preview."}
    from ..branchnames import branch_name

    issue_key, project_key, summary, issue_type = SAMPLE_ISSUE
    values = form.values()
    name = branch_name(
        values["branch_template"],
        values["separator"],
        values["max_length"],
        values["type_prefixes"],
        issue_key,
        project_key,
        summary,
        issue_type,
    )
    return {"name": name, "issue": f"{issue_key} “{summary}” ({issue_type})"}


def field_is_valid(form, field) -> bool:
    """Validate one field, with the form's inline ``validate_<name>`` rule."""
    inline = getattr(type(form), f"validate_{field.name}", None)
    return field.validate(form, [inline] if inline else ())


def name_is_free(form: IntegrationForm, integration: Integration | None) -> bool:
    query = integrations_query().where(Integration.name == form.name.data)
    if integration is not None:
        query = query.where(Integration.id != integration.id)
    if db.session.scalar(query) is None:
        return True
    form.name.errors.append("Another integration already has this name.")
    return False


def checked(form: IntegrationForm, integration: Integration, secret: str) -> Identity | None:
    """Validate the credential with the host; on failure put the reason under the right field."""
    try:
        return check_credential(integration, secret)
    except ProviderError as error:
        address_problem = isinstance(error, BlockedHost | Unavailable | Malformed)
        if address_problem and "base_url" in KIND_FIELDS.get(integration.kind, ()):
            hint = " Check the base URL." if isinstance(error, Malformed) else ""
            form.base_url.errors.append(str(error) + hint)
        else:
            form.credential_field().errors.append(str(error))
        return None


def forget_host(integration: Integration) -> str:
    """The host changed: its repositories and the users' credentials for the old host go."""
    db.session.execute(delete(Repository).where(Repository.integration_id == integration.id))
    removed = db.session.execute(
        delete(Credential).where(Credential.integration_id == integration.id)
    ).rowcount
    db.session.execute(delete(Webhook).where(Webhook.integration_id == integration.id))
    integration.sync_state, integration.sync_done, integration.synced_at = "never", 0, None
    integration.sync_error = integration.sync_owner = integration.sync_lease_until = None
    return (
        f"The host changed: its repositories, its webhook and {removed} user credentials were "
        "removed; sync the repositories again."
    )


def saved_message(integration: Integration, identity: Identity | None) -> str:
    if identity is None:
        return f"{integration.name} was saved."
    scopes = (
        "scopes unknown"
        if identity.scopes is None
        else "scopes: " + (", ".join(identity.scopes) or "none")
    )
    return f"{integration.name} was saved; its account is @{identity.login} ({scopes})."


def usage(integration: Integration) -> tuple[int, int]:
    """How many repositories and user credentials belong to the integration."""
    credentials = db.session.scalar(
        select(func.count()).where(Credential.integration_id == integration.id)
    )
    return sync.repository_count(integration.id), credentials
