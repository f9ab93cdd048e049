"""The development Jira host's Forge mode (only when GITINT_DEV is on): the Forge platform on one
machine, so gitint's Forge path can be tried and tested without Atlassian (docs/forge.md).

- ``/dev/jira?mode=forge`` opens the real Custom UI resource (``forge/static/gitint/``) in a
  sandboxed iframe, served here under the Custom UI CSP with a bridge script injected first
  (``static/dev/forge-bridge.js``: ``window.__bridge.callBridge``, which ``@forge/bridge``
  needs); the parent page (``static/dev/forge-host.js``) answers the bridge's calls.
- ``POST /dev/forge/invoke`` is the platform's side of ``invokeRemote``: it mints a Forge
  Invocation Token (RS256, Forge's claims, signed by a local key whose JWKS is
  ``/dev/forge/jwks.json``) and app user/system tokens, calls the remote (GITINT_BASE_URL) and
  applies Forge's rules: JSON object bodies only, 25 s, no redirects, JSON answers only, 401
  reserved for token failures.
- ``/dev/forge/jira/rest/api/3/…`` is a fake Jira REST API (``mypermissions``, ``issue``,
  ``myself``, ``permissions/check``) accepting only those app tokens.

Nothing here is trusted by an app that does not point GITINT_FORGE_JWKS_URL at this host's JWKS:
``flask gitint demo`` and the browser tests do (``settings_for``).
"""

import json
import os
import re
import secrets
import time
from pathlib import Path

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    g,
    jsonify,
    render_template,
    request,
    send_from_directory,
    url_for,
)
from werkzeug.security import safe_join

from ..crypto import keyring
from ..extensions import db
from ..views.common import json_body
from .devhost import ISSUE, TARGETS, USERS, DevUser, theme

bp = Blueprint("devforge", __name__, url_prefix="/dev/forge")

# Fixed identifiers of the emulated Forge app, environment, installation and site.
APP_UUID = "6a1f3c52-0d6e-4b8a-9c27-5e0b7d4f1a01"
ENVIRONMENT_UUID = "0e9d8c7b-6a5f-4e3d-8c2b-1a0f9e8d7c02"
INSTALLATION_UUID = "3c4d5e6f-7a8b-4c9d-8e0f-1a2b3c4d5e03"
CLOUD_ID = "d1e2f3a4-b5c6-4d7e-8f90-a1b2c3d4e504"
APP_ID = f"ari:cloud:ecosystem::app/{APP_UUID}"
ENVIRONMENT_ID = f"ari:cloud:ecosystem::environment/{APP_UUID}/{ENVIRONMENT_UUID}"
INSTALLATION_ID = f"ari:cloud:ecosystem::installation/{INSTALLATION_UUID}"
ENVIRONMENT_TYPE = "DEVELOPMENT"
APP_VERSION = "1.0.0"
KID = "gitint-dev-forge-1"
KEY_FILE = "dev-forge-key.pem"
TENANT_NAME = "Development Jira (Forge)"

FIT_ISSUER = "forge/invocation-token"
FIT_TTL = 60  # Forge's own are ~25 s; a little slack for a slow dev machine
TIMEOUT = 25  # seconds: invokeRemote from a UI module (Forge Remote essentials)
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}
USER_TOKEN_TTL = 15 * 60
SYSTEM_TOKEN_TTL = 60 * 60  # Forge's system tokens last at least 55 minutes
OAUTH_ISSUER = "gitint-dev-forge"
OAUTH_LABEL = "gitint dev forge oauth"
RESERVED_HEADERS = re.compile(r"^(authorization|x-forge-.*|x-b3-.*|host|content-length)$", re.I)
ISSUE_ID = "10001"
ISSUE_TYPE_ID = "10004"

# devhost target -> (Forge module key, module type) as forge/manifest.yml declares them
MODULES = {
    "create-branch": ("gitint-create-branch", "jira:issueAction"),
    "create-pull-request": ("gitint-create-pull-request", "jira:issueAction"),
    "pats": ("gitint-pats", "jira:personalSettingsPage"),
    "admin": ("gitint-admin", "jira:adminPage"),
}
MODULE_TYPES = dict(MODULES.values())


# ------------------------------------------------------------------ configuration and tenant


def settings_for(base_url: str, environ=os.environ) -> dict:
    """The Forge settings an app trusting this dev host needs (the environment's win)."""
    base_url = base_url.rstrip("/")
    return {
        "GITINT_FORGE_APP_ID": environ.get("GITINT_FORGE_APP_ID") or APP_ID,
        "GITINT_FORGE_JWKS_URL": environ.get("GITINT_FORGE_JWKS_URL")
        or f"{base_url}/dev/forge/jwks.json",
        "GITINT_FORGE_ENVIRONMENT_ID": environ.get("GITINT_FORGE_ENVIRONMENT_ID") or ENVIRONMENT_ID,
    }


def site_url(base_url: str) -> str:
    return base_url.rstrip("/") + "/dev/jira"


def api_base_url(base_url: str) -> str:
    return base_url.rstrip("/") + "/dev/forge/jira"


def ensure_tenant(base_url: str):
    """The Forge dev tenant (installation INSTALLATION_ID), created or updated; not committed."""
    from ..jira import forge

    tenant = forge.upsert_tenant(
        INSTALLATION_ID,
        cloud_id=CLOUD_ID,
        site_url=site_url(base_url),
        api_base_url=api_base_url(base_url),
    )
    if tenant.name != TENANT_NAME:
        tenant.name = TENANT_NAME
    return tenant


def forge_ready() -> str | None:
    """Why the Forge mode cannot work in this app, or None."""
    if not current_app.config.get("GITINT_FORGE_APP_ID"):
        return (
            "GITINT_FORGE_APP_ID is not set, so gitint does not answer Forge calls. "
            "`flask --app app gitint demo` sets it (and the JWKS URL) to this dev host's."
        )
    if not (resource_dir() / "index.html").is_file():
        return f"The Forge resource is missing: {resource_dir() / 'index.html'}."
    return None


# ------------------------------------------------------------------ the dev signing key


def _key_path() -> Path:
    return Path(current_app.instance_path) / KEY_FILE


def signing_key() -> rsa.RSAPrivateKey:
    """The dev RSA key, generated once into the instance folder (mode 0600)."""
    cached = current_app.extensions.get("gitint.devforge.key")
    if cached is not None:
        return cached
    path = _key_path()
    if not path.exists():
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another process wrote it first: use theirs
        else:
            with os.fdopen(fd, "wb") as handle:
                handle.write(pem)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    current_app.extensions["gitint.devforge.key"] = key
    return key


def public_jwks() -> dict:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(signing_key().public_key()))
    jwk.update(kid=KID, alg="RS256", use="sig")
    return {"keys": [jwk]}


# ------------------------------------------------------------------ contexts and tokens


def extension(target: str) -> dict:
    """``context.extension`` of a module, as Jira gives it to the frontend and the FIT."""
    module_type = MODULES[target][1]
    if module_type != "jira:issueAction":
        return {"type": module_type}
    return {
        "type": module_type,
        "issue": {
            "id": ISSUE_ID,
            "key": ISSUE["key"],
            "type": ISSUE["type"],
            "typeId": ISSUE_TYPE_ID,
        },
        "project": {"id": ISSUE["project_id"], "key": ISSUE["project_key"], "type": "software"},
    }


def local_id(target: str) -> str:
    module_key = MODULES[target][0]
    return f"ari:cloud:ecosystem::extension/{APP_UUID}/{ENVIRONMENT_UUID}/static/{module_key}"


def environment_id() -> str:
    return current_app.config.get("GITINT_FORGE_ENVIRONMENT_ID") or ENVIRONMENT_ID


def frontend_context(target: str, user: DevUser) -> dict:
    """What ``view.getContext()`` answers in the module's frame."""
    base_url = current_app.config["GITINT_BASE_URL"]
    return {
        "accountId": user.account_id,
        "cloudId": CLOUD_ID,
        "siteUrl": site_url(base_url),
        "moduleKey": MODULES[target][0],
        "localId": local_id(target),
        "environmentId": environment_id().rsplit("/", 1)[-1],
        "environmentType": ENVIRONMENT_TYPE,
        "appVersion": APP_VERSION,
        "locale": "en-US",
        "timezone": "UTC",
        "extension": extension(target),
    }


def fit_claims(target: str, user: DevUser, now: int | None = None) -> dict:
    """The claims of a Forge Invocation Token for a UI call of the module by the user."""
    now = int(time.time()) if now is None else now
    base_url = current_app.config["GITINT_BASE_URL"]
    app_id = current_app.config.get("GITINT_FORGE_APP_ID")
    module_key, module_type = MODULES[target]
    return {
        "app": {
            "id": app_id,
            "appVersion": APP_VERSION,
            "installationId": INSTALLATION_ID,
            "apiBaseUrl": api_base_url(base_url),
            "environment": {"type": ENVIRONMENT_TYPE, "id": environment_id()},
            "module": {"type": module_type, "key": module_key},
            "installation": {
                "id": INSTALLATION_ID,
                "contexts": [
                    {
                        "name": f"ari:cloud:jira::site/{CLOUD_ID}",
                        "apiBaseUrl": api_base_url(base_url),
                    }
                ],
            },
        },
        "context": {
            "localId": local_id(target),
            "cloudId": CLOUD_ID,
            "moduleKey": module_key,
            "siteUrl": site_url(base_url),
            "extension": extension(target),
        },
        "principal": user.account_id,
        "aud": app_id,
        "iss": FIT_ISSUER,
        "iat": now,
        "nbf": now,
        "exp": now + FIT_TTL,
        "jti": secrets.token_hex(20),
    }


def mint_fit(target: str, user: DevUser, now: int | None = None) -> str:
    return jwt.encode(
        fit_claims(target, user, now), signing_key(), algorithm="RS256", headers={"kid": KID}
    )


def mint_oauth_token(kind: str, account_id: str | None = None) -> str:
    """An opaque-looking app token (``user`` for the account, or ``system``) that only this
    dev host's fake Jira accepts."""
    now = int(time.time())
    claims = {
        "iss": OAUTH_ISSUER,
        "aud": CLOUD_ID,
        "sub": account_id if kind == "user" else "system",
        "kind": kind,
        "iat": now,
        "exp": now + (USER_TOKEN_TTL if kind == "user" else SYSTEM_TOKEN_TTL),
        "jti": secrets.token_hex(8),
    }
    return jwt.encode(claims, keyring().derive(OAUTH_LABEL)[0], algorithm="HS256")


def read_oauth_token(token: str) -> dict | None:
    """The claims of a valid app token, or None."""
    for key in keyring().derive(OAUTH_LABEL):
        try:
            return jwt.decode(
                token,
                key,
                algorithms=["HS256"],
                audience=CLOUD_ID,
                issuer=OAUTH_ISSUER,
                options={"require": ["exp", "sub", "kind"]},
            )
        except jwt.PyJWTError:
            continue
    return None


# ------------------------------------------------------------------ the resource


def resource_dir() -> Path:
    configured = current_app.config.get("GITINT_DEV_FORGE_RESOURCE")
    if configured:
        return Path(configured)
    return Path(current_app.root_path).parent / "forge" / "static" / "gitint"


def resource_csp() -> str:
    """The Custom UI CSP (@forge/csp's shape, the Forge CDN's hosts left out), with 'self'
    narrowed to the resource's own folder: on Atlassian's CDN the resource's origin serves only
    the resource, so nothing in the frame may reach gitint (or anything else) around the
    bridge."""
    root = request.url_root.rstrip("/")
    own = f"{root}/dev/forge/resource/"
    bridge = root + "/dev/forge/bridge.js"
    return "; ".join(
        [
            f"default-src {own}",
            "frame-ancestors 'self'",
            f"frame-src {own}",
            f"font-src {own}",
            f"img-src {own} data: blob:",
            f"media-src {own} data: blob:",
            f"connect-src {own}",
            f"script-src {own} {bridge}",
            f"style-src {own}",
            f"form-action {own}",
            "object-src 'none'",
            "base-uri 'self'",
            "sandbox allow-downloads allow-forms allow-modals allow-pointer-lock "
            "allow-same-origin allow-scripts",
        ]
    )


def _apply_resource_csp(response):
    """Runs after gitint's own security headers (registered first, so it runs last)."""
    csp = g.get("devforge_csp")
    if csp:
        response.headers["Content-Security-Policy"] = csp
    return response


@bp.record_once
def _install(state) -> None:
    # app.after_request functions run in reverse order of registration: put this one first so
    # that it runs after gitint.jira.context.security_headers and replaces its CSP.
    state.app.after_request_funcs.setdefault(None, []).insert(0, _apply_resource_csp)


HEAD = re.compile(r"<head\b[^>]*>", re.IGNORECASE)


@bp.get("/resource/<path:filename>")
def resource(filename: str):
    """A file of the Custom UI resource; index.html gets the bridge script first in <head>."""
    g.devforge_csp = resource_csp()
    folder = resource_dir()
    if filename != "index.html":
        return _small_file(folder, filename)
    path = safe_join(str(folder), filename)
    if path is None or not os.path.isfile(path):
        abort(404)
    page = Path(path).read_text(encoding="utf-8")
    head = HEAD.search(page)
    if head is None:
        abort(500, description="forge/static/gitint/index.html has no <head> element")
    script = f'<script src="{url_for("devforge.bridge_js")}"></script>'
    page = page[: head.end()] + script + page[head.end() :]
    response = Response(page, mimetype="text/html")
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/bridge.js")
def bridge_js():
    """The bridge script the host injects into the resource frame."""
    g.devforge_csp = resource_csp()
    return _small_file(Path(current_app.static_folder) / "dev", "forge-bridge.js")


def _small_file(folder: Path, filename: str) -> Response:
    """A file read whole (compressed like any answer, see gitint/assets.py), never cached."""
    response = send_from_directory(folder, filename, max_age=0)
    response.direct_passthrough = False
    response.make_sequence()
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/jwks.json")
def jwks():
    return jsonify(public_jwks())


# ------------------------------------------------------------------ invokeRemote


class InvokeError(Exception):
    """invokeRemote rejects: a bad request, or an answer Forge does not pass on."""


def _dev_user(key) -> DevUser:
    return USERS[key] if key in USERS else USERS["developer"]


def _target_of(module_key) -> str:
    for target, (key, _type) in MODULES.items():
        if key == module_key:
            return target
    raise InvokeError(f"unknown module {module_key!r}")


def _request_of(payload) -> tuple[str, str, dict, dict | None]:
    """Check invokeRemote's input as Forge does: path, method, headers, body (JSON object)."""
    if not isinstance(payload, dict):
        raise InvokeError("invokeRemote needs {path, method, headers, body}")
    path, method = payload.get("path"), payload.get("method", "GET")
    if not isinstance(path, str) or not path.startswith("/") or path.startswith("//"):
        raise InvokeError("path must be a path of the remote, starting with /")
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise InvokeError(f"method must be one of {', '.join(sorted(METHODS))}")
    method = method.upper()
    headers = payload.get("headers") or {}
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise InvokeError("headers must map names to strings")
    body = payload.get("body")
    if body is not None and not isinstance(body, dict):
        raise InvokeError("body must be a JSON object")
    if body is not None and method == "GET":
        raise InvokeError("a GET carries no body")
    headers = {k: v for k, v in headers.items() if not RESERVED_HEADERS.match(k)}
    return path, method, headers, body


def call_remote(target: str, user: DevUser, payload) -> dict:
    """Send the call to the remote like Forge does; {status, headers, body} or InvokeError."""
    path, method, headers, body = _request_of(payload)
    if not current_app.config.get("GITINT_FORGE_APP_ID"):
        raise InvokeError("GITINT_FORGE_APP_ID is not set: this app takes no Forge calls")
    headers.update(
        {
            "Authorization": f"Bearer {mint_fit(target, user)}",
            "x-forge-oauth-user": mint_oauth_token("user", user.account_id),
            "x-forge-oauth-system": mint_oauth_token("system"),
            "x-b3-traceid": secrets.token_hex(16),
            "x-b3-spanid": secrets.token_hex(8),
            "Accept": "application/json",
        }
    )
    url = current_app.config["GITINT_BASE_URL"].rstrip("/") + path
    with requests.Session() as session:
        session.trust_env = False  # the remote is this machine: no proxies
        try:
            response = session.request(
                method, url, json=body, headers=headers, timeout=TIMEOUT, allow_redirects=False
            )
        except requests.Timeout:
            raise InvokeError(f"the remote did not answer within {TIMEOUT} s") from None
        except requests.RequestException as error:
            raise InvokeError(f"the remote could not be reached: {type(error).__name__}") from None
    if 300 <= response.status_code < 400:
        raise InvokeError(f"the remote answered a redirect (HTTP {response.status_code})")
    if response.status_code == 401:
        raise InvokeError("the remote refused the invocation token (HTTP 401)")
    content_type = response.headers.get("Content-Type", "")
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if "json" not in content_type.lower() or answer is None:
        raise InvokeError(f"the remote's answer is not JSON (HTTP {response.status_code})")
    names = {name.lower() for name in response.raw.headers}
    return {
        "status": response.status_code,
        "headers": {name: response.raw.headers.getlist(name) for name in sorted(names)},
        "body": answer,
    }


@bp.post("/invoke")
def invoke():
    """The dev host page's ``invoke`` bridge call: ``{module, user, payload}``; answers
    ``{success: true, payload}`` or ``{success: false, error: {message}}``."""
    data = json_body()
    if not isinstance(data, dict):
        return jsonify(success=False, error={"message": "expected {module, user, payload}"}), 400
    try:
        target = _target_of(data.get("module"))
        payload = call_remote(target, _dev_user(data.get("user")), data.get("payload"))
    except InvokeError as error:
        return jsonify(success=False, error={"message": str(error)})
    return jsonify(success=True, payload=payload)


# ------------------------------------------------------------------ the fake Jira REST API


def _jira_calls() -> list:
    return current_app.extensions.setdefault("gitint.devforge.jira_calls", [])


def _jira_caller() -> dict:
    """The app token's claims, or a 401 the way Jira answers it."""
    header = request.headers.get("Authorization", "")
    claims = read_oauth_token(header[7:]) if header.startswith("Bearer ") else None
    _jira_calls().append(
        {
            "method": request.method,
            "path": request.path.removeprefix(bp.url_prefix + "/jira"),
            "query": request.query_string.decode(),
            "kind": claims.get("kind") if claims else None,
        }
    )
    if claims is None:
        abort(_jira_error(401, "Unauthorized; scope does not match"))
    return claims


def _jira_error(status: int, message: str) -> Response:
    response = jsonify(errorMessages=[message], errors={})
    response.status_code = status
    return response


def _user_of(claims: dict) -> DevUser | None:
    if claims.get("kind") != "user":
        return None
    return next((u for u in USERS.values() if u.account_id == claims.get("sub")), None)


PERMISSION_INFO = {
    "VIEW_DEV_TOOLS": ("29", "View Development Tools", "PROJECT"),
    "ADMINISTER": ("0", "Administer Jira", "GLOBAL"),
    "BROWSE_PROJECTS": ("10", "Browse Projects", "PROJECT"),
}


def _granted(user: DevUser | None, permission: str) -> bool:
    if user is None:  # the app itself (system token): what gitint's scopes allow, no admin
        return permission in {"BROWSE_PROJECTS", "VIEW_DEV_TOOLS"}
    return permission == "BROWSE_PROJECTS" or permission in user.permissions


@bp.get("/jira/rest/api/3/mypermissions")
def jira_mypermissions():
    user = _user_of(_jira_caller())
    wanted = [p for p in request.args.get("permissions", "").split(",") if p]
    if not wanted:
        return _jira_error(400, "The 'permissions' query parameter is required.")
    for param, known in (("projectId", ISSUE["project_id"]), ("projectKey", ISSUE["project_key"])):
        if request.args.get(param) not in (None, known):
            return _jira_error(404, "No project could be found with the given id or key.")
    issue = request.args.get("issueKey") or request.args.get("issueId")
    if issue not in (None, ISSUE["key"], ISSUE_ID):
        return _jira_error(404, "Issue does not exist or you do not have permission to see it.")
    permissions = {}
    for name in wanted:
        if name not in PERMISSION_INFO:
            return _jira_error(404, f"No permission with the key {name!r}.")
        pid, title, kind = PERMISSION_INFO[name]
        permissions[name] = {
            "id": pid,
            "key": name,
            "name": title,
            "type": kind,
            "description": title,
            "havePermission": _granted(user, name),
        }
    return jsonify(permissions=permissions)


@bp.post("/jira/rest/api/3/permissions/check")
def jira_permissions_check():
    """Bulk permission check (system token, for another user's permissions)."""
    _jira_caller()
    body = request.get_json(silent=True) or {}
    user = next((u for u in USERS.values() if u.account_id == body.get("accountId")), None)
    globals_ = [p for p in body.get("globalPermissions") or [] if _granted(user, p)]
    projects = []
    for entry in body.get("projectPermissions") or []:
        for permission in entry.get("permissions") or []:
            ids = [p for p in entry.get("projects") or [] if str(p) == ISSUE["project_id"]]
            granted = ids if user is not None and _granted(user, permission) else []
            projects.append({"permission": permission, "issues": [], "projects": granted})
    return jsonify(globalPermissions=globals_, projectPermissions=projects)


@bp.get("/jira/rest/api/3/issue/<key>")
def jira_issue(key: str):
    _jira_caller()
    if key not in (ISSUE["key"], ISSUE_ID):
        return _jira_error(404, "Issue does not exist or you do not have permission to see it.")
    base = request.url_root.rstrip("/")
    fields = {
        "summary": ISSUE["summary"],
        "issuetype": {"id": ISSUE_TYPE_ID, "name": ISSUE["type"], "subtask": False},
        "project": {"id": ISSUE["project_id"], "key": ISSUE["project_key"]},
    }
    wanted = request.args.get("fields")
    if wanted:
        fields = {k: v for k, v in fields.items() if k in wanted.split(",")}
    return jsonify(
        {
            "id": ISSUE_ID,
            "key": ISSUE["key"],
            "self": f"{base}{request.path.rsplit('/', 1)[0]}/{ISSUE_ID}",
            "fields": fields,
        }
    )


@bp.get("/jira/rest/api/3/myself")
def jira_myself():
    claims = _jira_caller()
    user = _user_of(claims)
    if user is None:
        return _jira_error(404, "The app user has no profile here.")
    return jsonify(accountId=user.account_id, displayName=user.display_name, active=True)


# ------------------------------------------------------------------ the dev host page


def jira_page(user_key: str):
    """/dev/jira?mode=forge: the issue page, its modules opened as Forge would open them."""
    user = USERS[user_key]
    problem = forge_ready()
    if problem is None:
        ensure_tenant(current_app.config["GITINT_BASE_URL"])
        db.session.commit()
    frame = None
    open_key = request.args.get("open", "")
    if open_key in TARGETS and open_key in MODULES and problem is None:
        title, _path, kind = TARGETS[open_key]
        frame = {
            "title": title,
            "kind": kind,
            "module": MODULES[open_key][0],
            "context": frontend_context(open_key, user),
            "url": url_for("devforge.resource", filename="index.html"),
        }
    return render_template(
        "devhost/jira.html",
        mode="forge",
        issue=ISSUE,
        users=USERS,
        user_key=user_key,
        user=user,
        frame=frame,
        problem=problem,
        open_key=open_key if frame else None,
        close_url=url_for("devhost.jira", mode="forge", user=user_key, theme=theme()),
    )
