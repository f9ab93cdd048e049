"""Jira Cloud's REST API: permissions and issue details.

Connect tenants: each call carries an app-signed HS256 JWT (``iss`` = app key, ``qsh`` of that
exact request, 3-minute expiry). Forge tenants: each call carries the user's OAuth token that
Forge sent with the invocation (``x-forge-oauth-user``), to ``{apiBaseUrl}/rest/api/3/…``;
the token is used for this request only. References:
https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-permissions/#api-rest-api-3-permissions-check-post
https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-issues/#api-rest-api-3-issue-issueidorkey-get
https://developer.atlassian.com/cloud/jira/platform/rest/v3/api-group-permissions/#api-rest-api-3-mypermissions-get
https://developer.atlassian.com/platform/forge/remote/calling-product-apis/
"""

import re
import threading
import time
from collections import OrderedDict
from urllib.parse import parse_qsl, urlencode, urlsplit

import requests
from flask import current_app

from ..crypto import SecretError, unseal
from ..models import Tenant
from ..providers.base import BlockedHost, ProviderError
from ..providers.http import check_base_url, session_for
from .descriptor import APP_KEY
from .jwt import query_hash, sign

TIMEOUT = (3.05, 10)  # connect, read (seconds)
TOKEN_TTL = 180
PERMISSION_TTL = 60  # positive answers only; a revoked permission is honoured within a minute
CACHE_SIZE = 10_000
GLOBAL_PERMISSIONS = {"ADMINISTER", "SYSTEM_ADMIN"}
ISSUE_KEY = re.compile(r"^[A-Za-z][A-Za-z0-9_]*-[0-9]+$")

NAME_TTL = 3600  # a user's display name, for the audit log

clock = time.monotonic  # replaced in tests
_granted: OrderedDict[tuple, float] = OrderedDict()
_answers: OrderedDict[tuple, tuple[float, object]] = OrderedDict()  # issues, user names
_lock = threading.Lock()
_session = requests.Session()
_session.trust_env = False  # no proxies or .netrc credentials from the environment


class JiraUnavailable(Exception):
    """Jira did not answer, or refused the app's call; ``str()`` is a sentence for the user."""


def app_token(tenant: Tenant, method: str, url: str) -> str:
    """The JWT the app signs with the tenant's shared secret for one request to its Jira."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    now = int(time.time())
    claims = {
        "iss": APP_KEY,
        "iat": now,
        "exp": now + TOKEN_TTL,
        "qsh": query_hash(method, parts.path, query, urlsplit(tenant.base_url).path),
    }
    try:
        return sign(claims, unseal(tenant))
    except SecretError:
        raise JiraUnavailable("This Jira site's installation secret cannot be read.") from None


def call(tenant: Tenant, method: str, path: str, params=None, body=None) -> requests.Response:
    """One request to the tenant's Jira as the app: timeouts, no redirects, no proxies, and the
    outbound guard of providers/http.py (https, a public address, checked on the address the
    connection uses) unless GITINT_ALLOW_PRIVATE_HOSTS."""
    allow_private = current_app.config["GITINT_ALLOW_PRIVATE_HOSTS"]
    try:
        check_base_url(tenant.base_url, allow_private)
    except BlockedHost:
        raise JiraUnavailable("This Jira site's address is not allowed for app calls.") from None
    url = tenant.base_url.rstrip("/") + path + ("?" + urlencode(params) if params else "")
    headers = {
        "Authorization": "JWT " + app_token(tenant, method, url),
        "Accept": "application/json",
    }
    try:
        response = session_for(url, allow_private).request(
            method, url, json=body, headers=headers, timeout=TIMEOUT, allow_redirects=False
        )
    except BlockedHost:  # the name resolved to a private or reserved address
        raise JiraUnavailable("This Jira site's address is not allowed for app calls.") from None
    except requests.Timeout:
        raise JiraUnavailable("Jira did not answer in time. Try again in a moment.") from None
    except (requests.RequestException, ProviderError):
        raise JiraUnavailable("Jira could not be reached. Try again in a moment.") from None
    if response.status_code >= 500 or 300 <= response.status_code < 400:
        raise JiraUnavailable(f"Jira answered with an error (HTTP {response.status_code}).")
    if response.status_code in (401, 403):
        raise JiraUnavailable("Jira refused the app's request; the app may need reinstalling.")
    return response


def _json(response: requests.Response) -> dict:
    try:
        data = response.json()
    except ValueError:
        raise JiraUnavailable("Jira sent an answer the app could not read.") from None
    return data if isinstance(data, dict) else {}


def _cached(key: tuple) -> bool:
    with _lock:
        expires = _granted.get(key)
        if expires is None:
            return False
        if expires <= clock():
            del _granted[key]
            return False
        return True


def _remember(key: tuple) -> None:
    with _lock:
        _granted[key] = clock() + PERMISSION_TTL
        _granted.move_to_end(key)
        while len(_granted) > CACHE_SIZE:
            _granted.popitem(last=False)


def clear_cache() -> None:
    with _lock:
        _granted.clear()
        _answers.clear()


def has_permission(
    tenant: Tenant, account_id: str, project_id: str | None, permission: str
) -> bool:
    """Does Jira grant ``permission`` to the user (in the project, for project permissions)?

    Positive answers are cached per worker for ≤ 60 s; negative answers are never cached. A
    project permission without a project is refused (fail closed).
    """
    if not account_id:
        return False
    is_global = permission in GLOBAL_PERMISSIONS
    if not is_global and not (project_id and str(project_id).isdigit()):
        return False
    key = (tenant.id, tenant.issuer, account_id, None if is_global else str(project_id), permission)
    if _cached(key):
        return True
    body: dict = {"accountId": account_id}
    if is_global:
        body["globalPermissions"] = [permission]
    else:
        body["projectPermissions"] = [{"permissions": [permission], "projects": [int(project_id)]}]
    response = call(tenant, "POST", "/rest/api/3/permissions/check", body=body)
    if response.status_code != 200:
        raise JiraUnavailable(f"Jira could not check permissions (HTTP {response.status_code}).")
    data = _json(response)
    if is_global:
        granted = permission in (data.get("globalPermissions") or [])
    else:
        granted = any(
            isinstance(entry, dict)
            and entry.get("permission") == permission
            and str(project_id) in {str(p) for p in entry.get("projects") or []}
            for entry in data.get("projectPermissions") or []
        )
    if granted:
        _remember(key)
    return granted


def issue_details(tenant: Tenant, issue_key: str) -> tuple[str | None, str | None]:
    """The issue's summary and type name, or (None, None) when Jira does not show it to the app."""
    if not ISSUE_KEY.match(issue_key or ""):
        return None, None
    params = {"fields": "summary,issuetype"}
    response = call(tenant, "GET", f"/rest/api/3/issue/{issue_key}", params=params)
    if response.status_code != 200:
        return None, None
    return _issue_fields(_json(response))


def _issue_fields(data: dict) -> tuple[str | None, str | None]:
    fields = data.get("fields") if isinstance(data.get("fields"), dict) else {}
    issue_type = fields.get("issuetype") if isinstance(fields.get("issuetype"), dict) else {}
    summary = fields.get("summary")
    return (
        summary if isinstance(summary, str) else None,
        issue_type.get("name") if isinstance(issue_type.get("name"), str) else None,
    )


# ---------------------------------------------------------------- Forge tenants (user token)


def forge_call(tenant: Tenant, token: str | None, path: str, params: dict) -> requests.Response:
    """One GET to the Forge tenant's Jira with the user's token: timeouts, no redirects."""
    if not token:
        raise JiraUnavailable(
            "Jira did not pass your authorization to the app; an administrator may need to "
            "grant the app's permissions again."
        )
    url = f"{tenant.api_base_url}{path}?{urlencode(params)}"
    headers = {"Authorization": "Bearer " + token, "Accept": "application/json"}
    try:
        response = _session.get(url, headers=headers, timeout=TIMEOUT, allow_redirects=False)
    except requests.Timeout:
        raise JiraUnavailable("Jira did not answer in time. Try again in a moment.") from None
    except requests.RequestException:
        raise JiraUnavailable("Jira could not be reached. Try again in a moment.") from None
    if response.status_code >= 500 or 300 <= response.status_code < 400:
        raise JiraUnavailable(f"Jira answered with an error (HTTP {response.status_code}).")
    if response.status_code == 401:
        raise JiraUnavailable("Jira did not accept the app's authorization. Open this again.")
    return response


def forge_has_permission(
    tenant: Tenant, token: str | None, account_id: str, project_id: str | None, permission: str
) -> bool:
    """Does Jira grant ``permission`` to the calling user (``mypermissions`` with their token)?

    A project permission without a project (the PAT page) asks whether the user has it in
    any project, which is what ``mypermissions`` answers without ``projectId``. Positive
    answers are cached per worker for ≤ 60 s, as for Connect.
    """
    if not account_id:
        return False
    in_project = permission not in GLOBAL_PERMISSIONS and project_id is not None
    if in_project and not str(project_id).isdigit():
        return False
    key = ("forge", tenant.id, account_id, str(project_id) if in_project else None, permission)
    if _cached(key):
        return True
    params = {"permissions": permission}
    if in_project:
        params["projectId"] = str(project_id)
    response = forge_call(tenant, token, "/rest/api/3/mypermissions", params)
    if response.status_code != 200:
        raise JiraUnavailable(f"Jira could not check permissions (HTTP {response.status_code}).")
    entry = (_json(response).get("permissions") or {}).get(permission)
    granted = isinstance(entry, dict) and entry.get("havePermission") is True
    if granted:
        _remember(key)
    return granted


def forge_issue_details(
    tenant: Tenant, token: str | None, account_id: str, issue_key: str
) -> tuple[str | None, str | None]:
    """The issue's summary and type name as the user sees them (cached ≤ 60 s per user and
    issue), or (None, None) when Jira does not show it."""
    if not ISSUE_KEY.match(issue_key or ""):
        return None, None
    key = (tenant.id, account_id, issue_key)
    found, cached = _recall(key)
    if found:
        return cached
    params = {"fields": "summary,issuetype"}
    response = forge_call(tenant, token, f"/rest/api/3/issue/{issue_key}", params)
    if response.status_code != 200:
        return None, None
    details = _issue_fields(_json(response))
    _keep(key, details, PERMISSION_TTL)
    return details


# ---------------------------------------------------------------- user names (the audit log)


def display_name(tenant: Tenant, account_id: str, forge_token: str | None = None) -> str | None:
    """The user's display name as Jira shows it now (cached an hour per user), or None when Jira
    does not say: a Connect tenant asks as the app (``/user?accountId=``), a Forge tenant with
    the user's own token (``/myself``). Never raises: an audit row is written without it."""
    if not account_id or tenant.kind not in ("connect", "forge"):
        return None
    key = ("name", tenant.id, account_id)
    found, cached = _recall(key)
    if found:
        return cached
    try:
        if tenant.kind == "forge":
            response = forge_call(tenant, forge_token, "/rest/api/3/myself", {})
        else:
            response = call(tenant, "GET", "/rest/api/3/user", params={"accountId": account_id})
        data = _json(response) if response.status_code == 200 else {}
    except JiraUnavailable:
        return None
    name = data.get("displayName")
    name = name.strip()[:255] or None if isinstance(name, str) else None
    _keep(key, name, NAME_TTL)
    return name


def _recall(key: tuple) -> tuple[bool, object]:
    """(True, value) while ``key`` is kept and fresh, else (False, None)."""
    with _lock:
        kept = _answers.get(key)
        if kept and kept[0] > clock():
            return True, kept[1]
    return False, None


def _keep(key: tuple, value, ttl: float) -> None:
    with _lock:
        _answers[key] = (clock() + ttl, value)
        _answers.move_to_end(key)
        while len(_answers) > CACHE_SIZE:
            _answers.popitem(last=False)
