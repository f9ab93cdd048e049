"""Forge Remote routes (docs/forge.md): the lifecycle trigger and the one route that serves every
UI call of the Forge resource by running the app's own views.

``POST /forge/ui`` takes ``{"path", "method", "query", "form", "headers"}`` from
``invokeRemote``, verifies the Forge Invocation Token, runs the view the path names as an inner
request marked with the verified call, and answers ``200 {"status", "headers", "html"}`` — so a
view's 404 or 422 reaches htmx inside the envelope, and ``invokeRemote`` never sees a raw 4xx.
401 is for token failures only; nothing here redirects.
"""

import re
from dataclasses import dataclass
from urllib.parse import urlencode

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import HTTPException
from werkzeug.test import EnvironBuilder, run_wsgi_app

from ..extensions import db
from ..jira import forge
from ..jira.jwt import JWTRejected
from .common import json_body

bp = Blueprint("forge", __name__, url_prefix="/forge")

UI_BLUEPRINTS = {"dialogs", "pats", "admin"}  # what the Forge resource may open
METHODS = {"GET", "POST", "PUT", "DELETE"}
PATH = re.compile(r"/[A-Za-z0-9._~%/-]*")
MAX_PAIRS = 200
LIFECYCLE_EVENTS = {"avi:forge:installed:app", "avi:forge:upgraded:app"}
PASSED_HEADERS = {"content-type", "location", "retry-after"}  # plus every HX-* answer header


@dataclass(frozen=True)
class Call:
    """One UI call of the resource, as the envelope describes it."""

    path: str
    method: str
    query: list[tuple[str, str]]
    form: list[tuple[str, str]]
    headers: dict[str, str]


class BadCall(Exception):
    """The envelope cannot be read; ``str()`` says what is wrong."""


def _answer(http_status: int, **body):
    response = jsonify(body)
    response.status_code = http_status
    response.headers["Cache-Control"] = "no-store"
    return response


def _pairs(value, name: str) -> list[tuple[str, str]]:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_PAIRS:
        raise BadCall(f"{name} must be a list of [name, value] pairs")
    pairs = []
    for pair in value:
        if (
            not isinstance(pair, list | tuple)
            or len(pair) != 2
            or not all(isinstance(part, str) for part in pair)
        ):
            raise BadCall(f"{name} must be a list of [name, value] pairs")
        pairs.append((pair[0], pair[1]))
    return pairs


def read_call(body) -> Call:
    """The UI call an ``invokeRemote`` body describes (BadCall when it is not one)."""
    if not isinstance(body, dict):
        raise BadCall("the body must be a JSON object")
    path, method = body.get("path"), body.get("method", "GET")
    if not isinstance(path, str) or not PATH.fullmatch(path) or len(path) > 1000:
        raise BadCall("path must be an app path such as /dialogs/create-branch")
    if "/../" in path + "/" or "//" in path:
        raise BadCall("path must be an app path such as /dialogs/create-branch")
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise BadCall("method must be GET, POST, PUT or DELETE")
    headers = body.get("headers") or {}
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise BadCall("headers must be an object of strings")
    return Call(
        path=path,
        method=method.upper(),
        query=_pairs(body.get("query"), "query"),
        form=_pairs(body.get("form"), "form"),
        headers={k: v for k, v in headers.items() if k.lower().startswith("hx-")},
    )


def _verified() -> forge.Invocation:
    return forge.verify(request.headers.get("Authorization"), request.headers)


def _disagreement(call: Call, invocation: forge.Invocation) -> str | None:
    """A Jira context value in the request that is not the token's (the token wins: refuse)."""
    bound = invocation.bound_values()
    for name, value in call.query + call.form:
        if name in bound and value != bound[name]:
            return f"{name} is not the one Jira sent with this call"
    return None


def _inner_environ(call: Call, invocation: forge.Invocation) -> dict:
    path = call.path
    root = request.script_root
    if root and (path == root or path.startswith(root + "/")):
        path = path[len(root) :] or "/"
    builder = EnvironBuilder(
        path=path,
        base_url=request.host_url.rstrip("/") + root,
        method=call.method,
        query_string=urlencode(call.query),
        headers=call.headers,
        data=urlencode(call.form) if call.form else None,
        content_type="application/x-www-form-urlencoded" if call.form else None,
    )
    try:
        environ = builder.get_environ()
    finally:
        builder.close()
    environ[forge.ENVIRON_KEY] = invocation
    return environ


def _ui_view(environ: dict) -> bool:
    """Only the dialogs, the PAT page and the admin pages are reachable through Forge."""
    try:
        endpoint, _args = current_app.url_map.bind_to_environ(environ).match()
    except HTTPException:
        return False
    return endpoint.partition(".")[0] in UI_BLUEPRINTS


def run_view(call: Call, invocation: forge.Invocation) -> tuple[int, dict, str]:
    """Run the app's view for ``call`` in an app context of its own; its status, htmx-relevant
    headers and body."""
    environ = _inner_environ(call, invocation)
    if not _ui_view(environ):
        return 404, {"Content-Type": "text/plain; charset=utf-8"}, "Not found."
    with current_app.app_context():  # a fresh `g` and database session for the inner request
        app_iter, status, headers = run_wsgi_app(current_app.wsgi_app, environ, buffered=True)
        try:
            body = b"".join(app_iter).decode("utf-8", "replace")
        finally:
            if hasattr(app_iter, "close"):
                app_iter.close()
    passed = {
        name: value
        for name, value in headers.items()
        if name.lower() in PASSED_HEADERS or name.lower().startswith("hx-")
    }
    return int(status.split(" ", 1)[0]), passed, body


@bp.post("/ui")
def ui():
    """Every call of the Forge resource: verify, run the named view, wrap its answer."""
    try:
        invocation = _verified()
    except JWTRejected as reason:
        return _answer(401, error=str(reason))
    except forge.KeysUnavailable as reason:
        return _answer(503, error=str(reason))
    if not invocation.account_id:
        return _answer(401, error="no user in token")
    try:
        call = read_call(json_body())  # read only now, once the token is verified
    except BadCall as reason:
        return _answer(400, error=str(reason))
    disagreement = _disagreement(call, invocation)
    if disagreement:
        return _answer(401, error=disagreement)
    status, headers, html = run_view(call, invocation)
    return _answer(200, status=status, headers=headers, html=html)


@bp.post("/lifecycle")
def lifecycle():
    """Forge's installed / upgraded events: register or refresh the installation's tenant."""
    try:
        invocation = _verified()
    except JWTRejected as reason:
        return _answer(401, error=str(reason))
    except forge.KeysUnavailable as reason:
        return _answer(503, error=str(reason))
    event = json_body()
    if not isinstance(event, dict):
        return _answer(400, error="the body must be a JSON object")
    event_type = event.get("eventType")
    if event_type not in LIFECYCLE_EVENTS:
        return _answer(200, ignored=str(event_type)[:100])
    context = event.get("context") if isinstance(event.get("context"), dict) else {}
    cloud_id = invocation.cloud_id or forge.as_text(context.get("cloudId"))
    try:
        tenant = forge.upsert_tenant(
            invocation.installation_id,
            cloud_id=cloud_id,
            site_url=invocation.site_url,
            api_base_url=invocation.api_base_url,
        )
    except JWTRejected as reason:
        return _answer(401, error=str(reason))
    db.session.commit()
    return _answer(200, tenant=tenant.id, event=event_type)
