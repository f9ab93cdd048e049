"""Who is asking: the verified Jira entry, the app-signed context token, permission checks,
and the security headers every response carries (SPEC §4).

An iframe entry (GET with ``?jwt=``) is verified once; the page then carries a short-lived
context token that htmx sends back in the ``X-Gitint-Context`` header on every call. There
are no cookie sessions. Views use ``@requires("VIEW_DEV_TOOLS")`` and read ``g.ctx``.
"""

import functools
import time
from dataclasses import dataclass, field, fields, replace
from urllib.parse import urlsplit

import jwt
from flask import abort, current_app, g, render_template, request
from sqlalchemy import bindparam, select

from ..crypto import keyring
from ..extensions import db
from ..models import Tenant
from . import forge, rest
from .jwt import JWTRejected, sign, unverified, verify_entry
from .rest import JiraUnavailable

CONTEXT_HEADER = "X-Gitint-Context"
CONTEXT_TTL = 15 * 60
CONTEXT_AUDIENCE = "gitint-context"
VIEW_DEV_TOOLS = "VIEW_DEV_TOOLS"
ADMINISTER = "ADMINISTER"
PERMISSION_NAMES = {VIEW_DEV_TOOLS: "View Development Tools", ADMINISTER: "Jira administrator"}
STATE_CHANGING = {"POST", "PUT", "DELETE"}
BOUND_PARAMS = ("issueKey", "projectKey", "projectId")  # the Jira context a page is bound to
DEV_ISSUER = "gitint-dev"  # the development host's tenant (gitint/dev/devhost.py)


@dataclass(frozen=True)
class Context:
    """The verified caller: tenant, Jira user, and the issue/project the page was opened on."""

    tenant_id: int
    tenant_kind: str
    account_id: str
    display_name: str = ""
    permissions: tuple[str, ...] = ()  # vouched by an embedded host; Connect asks Jira each time
    project_key: str | None = None
    project_id: str | None = None
    issue_key: str | None = None
    issue_summary: str | None = None
    issue_type: str | None = None
    token: str = field(default="", compare=False)

    @property
    def tenant(self) -> Tenant:
        return db.session.get(Tenant, self.tenant_id)


def _signing_keys() -> list[bytes]:
    return keyring().derive("gitint context token")


def mint_context_token(ctx: Context, ttl: int = CONTEXT_TTL) -> str:
    """An app-signed token (≤ 15 min) bound to tenant, user, project and issue."""
    now = int(time.time())
    values = ((f.name, getattr(ctx, f.name)) for f in fields(ctx) if f.name != "token")
    claims = {name: value for name, value in values if value is not None}
    claims.update(iss="gitint", aud=CONTEXT_AUDIENCE, iat=now, exp=now + min(ttl, CONTEXT_TTL))
    return sign(claims, _signing_keys()[0])


def read_context_token(token: str) -> Context:
    """Verify a context token (any current key); JWTRejected when invalid or expired."""
    for key in _signing_keys():
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=["HS256"],
                audience=CONTEXT_AUDIENCE,
                issuer="gitint",
                options={"require": ["exp", "iat"]},
            )
        except jwt.ExpiredSignatureError:
            raise JWTRejected("context expired; reopen the dialog") from None
        except jwt.PyJWTError:
            continue
        fields = {k: claims[k] for k in Context.__dataclass_fields__ if k in claims}
        fields["permissions"] = tuple(fields.get("permissions", ()))
        return Context(**fields, token=token)
    raise JWTRejected("invalid context")


def context_from_entry(tenant: Tenant, claims: dict) -> Context:
    """Build the Context of a verified iframe entry from its claims and the Jira query params."""
    vouched = claims.get("context") if isinstance(claims.get("context"), dict) else {}
    user = vouched.get("user") if isinstance(vouched.get("user"), dict) else {}
    issue = vouched.get("issue") if isinstance(vouched.get("issue"), dict) else {}
    vouched_permissions = vouched.get("permissions")
    if tenant.kind != "embedded" or not isinstance(vouched_permissions, list):
        vouched_permissions = []  # Connect tenants: Jira REST is asked on every request
    args = request.args
    ctx = Context(
        tenant_id=tenant.id,
        tenant_kind=tenant.kind,
        account_id=str(claims.get("sub") or ""),
        display_name=str(user.get("displayName") or ""),
        permissions=tuple(p for p in vouched_permissions if isinstance(p, str)),
        project_key=args.get("projectKey") or None,
        project_id=args.get("projectId") or None,
        issue_key=args.get("issueKey") or None,
        issue_summary=issue.get("summary"),
        issue_type=issue.get("type"),
    )
    if tenant.kind == "connect" and ctx.issue_key:
        summary, issue_type = rest.issue_details(tenant, ctx.issue_key)
        ctx = replace(ctx, issue_summary=summary, issue_type=issue_type)
    return ctx


def context_from_forge(invocation: forge.Invocation) -> Context:
    """The Context of a verified Forge call (views/forge.py puts it on the inner request)."""
    if not invocation.account_id:
        raise JWTRejected("no user in token")
    g.tenant = tenant = forge.tenant_of(invocation)  # held for the request (identity map: weak)
    summary = issue_type = None
    if invocation.issue_key:
        summary, issue_type = rest.forge_issue_details(
            tenant, invocation.user_token, invocation.account_id, invocation.issue_key
        )
    return Context(
        tenant_id=tenant.id,
        tenant_kind=tenant.kind,
        account_id=invocation.account_id,
        project_key=invocation.project_key,
        project_id=invocation.project_id,
        issue_key=invocation.issue_key,
        issue_summary=summary,
        issue_type=issue_type,
    )


def _authenticate() -> Context:
    """The verified caller of this request: a Forge call (verified by views/forge.py), the
    ``?jwt=`` of an iframe entry (GET), or the context header of a later call."""
    invocation = request.environ.get(forge.ENVIRON_KEY)
    if invocation is not None:
        return context_from_forge(invocation)
    token = request.args.get("jwt")
    if token is not None:
        if request.method != "GET":
            raise JWTRejected("a Jira token is accepted only when a page is opened")
        base_path = urlsplit(current_app.config["GITINT_BASE_URL"]).path
        query = list(request.args.items(multi=True))
        tenant, claims = verify_entry(token, request.method, request.path, query, base_path)
        if not _accepted(tenant):
            raise JWTRejected("unknown issuer")
        g.frame_tenant_id = tenant.id  # its Jira may frame whatever page follows, errors included
        g.tenant = tenant  # held for the request: the session's identity map keeps only weak refs
        for param in BOUND_PARAMS:  # the qsh sorts repeated values; the context would take one
            if len(request.args.getlist(param)) > 1:
                raise JWTRejected(f"{param} appears more than once", tenant.id)
        ctx = context_from_entry(tenant, claims)
        if not ctx.account_id:
            raise JWTRejected("no user in token")
        return replace(ctx, token=mint_context_token(ctx))
    header = request.headers.get(CONTEXT_HEADER)
    if not header:
        raise JWTRejected("missing context; open this page from Jira")
    try:
        ctx = read_context_token(header)
    except JWTRejected as rejected:
        rejected.tenant_id = _unverified_tenant_id(header)
        raise
    bound = {"issueKey": ctx.issue_key, "projectKey": ctx.project_key, "projectId": ctx.project_id}
    for param, value in bound.items():
        if any(sent and sent != value for sent in request.values.getlist(param)):
            raise JWTRejected("context was issued for another issue", ctx.tenant_id)
    # held for the request, as above; a statement built once (Session.get builds its own look-up
    # on each call when the row is not loaded yet, as here on every htmx call)
    g.tenant = tenant = db.session.scalar(_TENANT_BY_ID, {"id": ctx.tenant_id})
    if tenant is None or not tenant.installed or not _accepted(tenant):
        raise JWTRejected("unknown or uninstalled tenant")
    return ctx


_TENANT_BY_ID = select(Tenant).where(Tenant.id == bindparam("id"))


def _accepted(tenant: Tenant) -> bool:
    """The dev host's tenant signs tokens for anyone who asks: only a GITINT_DEV app trusts it."""
    return tenant.issuer != DEV_ISSUER or bool(current_app.config["GITINT_DEV"])


def _unverified_tenant_id(token: str) -> int | None:
    """The tenant a rejected context token names (only to let its Jira frame the 401 page)."""
    try:
        tenant_id = unverified(token)[1].get("tenant_id")
    except JWTRejected:
        return None
    return tenant_id if isinstance(tenant_id, int) else None


def has_permission(ctx: Context, permission: str) -> bool:
    """Embedded tenants: the vouched claim. Connect and Forge tenants: Jira REST (positive
    answers cached); Forge asks with the user's token of this very call."""
    if ctx.tenant_kind == "embedded":
        return permission in ctx.permissions
    if ctx.tenant_kind == "forge":
        invocation = request.environ.get(forge.ENVIRON_KEY)
        if invocation is None:
            return False
        return rest.forge_has_permission(
            ctx.tenant, invocation.user_token, ctx.account_id, ctx.project_id, permission
        )
    return rest.has_permission(ctx.tenant, ctx.account_id, ctx.project_id, permission)


def display_name(ctx: Context) -> str | None:
    """The caller's display name for the audit log: vouched by an embedded host's token, else
    asked of Jira (cached; None when Jira does not say)."""
    if ctx.display_name or ctx.tenant_kind == "embedded":
        return ctx.display_name or None
    invocation = request.environ.get(forge.ENVIRON_KEY)
    token = invocation.user_token if invocation is not None else None
    return rest.display_name(ctx.tenant, ctx.account_id, token)


def requires(permission: str):
    """Decorator: authenticate the request and check ``permission`` on every call."""

    def decorate(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if request.method not in STATE_CHANGING | {"GET"}:
                abort(405)
            g.authenticating = True  # every answer from here on is private: no-store
            try:
                g.ctx = _authenticate()
                g.frame_ancestors = frame_ancestors()  # while the tenant row is still loaded
            except JWTRejected as reason:
                g.frame_tenant_id = reason.tenant_id
                return render_template("errors/401.html", reason=str(reason)), 401
            if not has_permission(g.ctx, permission):
                name = PERMISSION_NAMES.get(permission, permission)
                return render_template("errors/403.html", permission=name), 403
            return view(*args, **kwargs)

        return wrapped

    return decorate


def frame_ancestors() -> str:
    """The origins of the tenant's Jira (base and display URL); nobody when there is no tenant."""
    ctx = g.get("ctx")
    tenant_id = ctx.tenant_id if ctx else g.get("frame_tenant_id")
    tenant = db.session.get(Tenant, tenant_id) if tenant_id else None
    if tenant is None:
        return "'none'"
    origins = {
        f"{p.scheme}://{p.netloc}"
        for p in (urlsplit(u) for u in (tenant.base_url, tenant.display_url) if u)
    }
    return " ".join(sorted(origins))


CONNECT_JS = "https://connect-cdn.atl-paas.net/all.js"  # Atlassian's Connect JavaScript client


def connect_js_url() -> str | None:
    """The Connect JavaScript client a page loads first (base.html), decided here only:
    Atlassian's all.js for a Connect tenant's pages (its 401/403 pages too), the local stand-in
    (static/dev/connect-all.js) for the dev host's tenant when GITINT_DEV is on, else none."""
    ctx, dev = g.get("ctx"), current_app.config["GITINT_DEV"]
    kind, tenant = (ctx.tenant_kind if ctx else None), None
    if kind is None or (kind == "embedded" and dev):  # without GITINT_DEV a caller's kind is enough
        tenant_id = ctx.tenant_id if ctx else g.get("frame_tenant_id")
        tenant = db.session.get(Tenant, tenant_id) if tenant_id else None
        kind = tenant.kind if tenant else None
    if kind == "connect":
        return CONNECT_JS
    if kind == "embedded" and dev and tenant.issuer == DEV_ISSUER:
        return current_app.url_for("static", filename="dev/connect-all.js")
    return None


def security_headers(response):
    """CSP framed only by the tenant's Jira, no inline script, no referrer, no caching; a
    Connect tenant's pages may load Atlassian's all.js from its CDN."""
    connect_js = urlsplit(connect_js_url() or "")  # the stand-in is ours: 'self' covers it
    cdn = f" {connect_js.scheme}://{connect_js.netloc}" if connect_js.netloc else ""
    response.headers["Content-Security-Policy"] = (
        f"default-src 'self'; script-src 'self'{cdn}; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self'; form-action 'self'; base-uri 'none'; object-src 'none'; "
        f"frame-ancestors {g.get('frame_ancestors') or frame_ancestors()}"
    )
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Content-Type-Options"] = "nosniff"
    if g.get("ctx") is not None or g.get("authenticating"):
        response.headers["Cache-Control"] = "no-store"
    return response


def jira_unavailable(error: JiraUnavailable):
    """Jira did not answer a call we needed: a clear page (or a 502 htmx shows a message for)."""
    return render_template("errors/jira-unavailable.html", reason=str(error)), 502


def init_app(app) -> None:
    app.after_request(security_headers)
    app.add_template_global(connect_js_url)
    app.register_error_handler(JiraUnavailable, jira_unavailable)
