"""The query string hash, the iframe-entry rejection matrix (SPEC §4), context tokens, tenant
isolation and the security headers."""

import base64
import json
import re
import time
from pathlib import Path
from urllib.parse import urlencode

import jwt
import pytest
from werkzeug.datastructures import MultiDict

from gitint.crypto import seal
from gitint.extensions import db
from gitint.jira.jwt import canonical_request, query_hash, sign, verify_entry
from tests.conftest import context_headers, entry_token, entry_url
from tests.jira.conftest import ISSUE_PARAMS, SECRET_A, SECRET_B

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"


# ------------------------------------------------------------------ qsh


def test_qsh_matches_atlassians_published_example():
    """Is the canonical request the one Atlassian publishes (sorted, repeated values joined)?"""
    query = [
        ("zee_last", "param"),
        ("repeated", "parameter 1"),
        ("first", "param"),
        ("repeated", "parameter 2"),
    ]
    assert (
        canonical_request("GET", "/path/to/service", query)
        == "GET&/path/to/service&first=param&repeated=parameter%201,parameter%202&zee_last=param"
    )


def test_qsh_matches_the_query_string_hash_page_table():
    """Do the method, minimal URI and empty query follow the QSH page's examples?"""
    assert canonical_request("get", "/", [("param", "foo")]) == "GET&/&param=foo"
    assert canonical_request("POST", "/user", []) == "POST&/user&"
    assert canonical_request("GET", "", []) == "GET&/&"
    assert canonical_request("GET", "/issue/", []) == "GET&/issue&"


def test_qsh_hash_of_a_known_request():
    """Is the hash the SHA-256 hex of the canonical request (case-sensitive key order)?"""
    query = [("a", "1"), ("A", "2"), ("b", "3"), ("B", "4")]
    assert canonical_request("GET", "/path/to/service", query).endswith("&A=2&B=4&a=1&b=3")
    assert (
        query_hash("GET", "/path/to/service", query)
        == "70282c7cf82834bd5a3d6dacda1b4ccd5cf5860a63a1fa2fb86b64d576e6a1d5"
    )


def test_qsh_encoding_of_special_characters():
    """Are spaces %20 (never +), '*' %2A, '~' kept, ',' and '+' encoded, '&' in the path %26?"""
    query = [("q", "a b*c~d,e+f")]
    assert canonical_request("GET", "/a&b", query) == "GET&/a%26b&q=a%20b%2Ac~d%2Ce%2Bf"


def test_qsh_ignores_the_jwt_parameter_and_sorts_repeated_values():
    """Is ``jwt`` left out, and are repeated values sorted before joining?"""
    query = [("b", "2"), ("jwt", "x.y.z"), ("b", "1"), ("a", "")]
    assert canonical_request("GET", "/x", query) == "GET&/x&a=&b=1,2"


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/jira-connector", "/"),
        ("/jira-connector/", "/"),
        ("/jira-connector/issue", "/issue"),
        ("/jira-connector/issue/", "/issue"),
        ("/issue", "/issue"),  # a proxy already stripped the prefix
        ("/jira-connectorx/issue", "/jira-connectorx/issue"),  # not the base path
    ],
)
def test_qsh_strips_the_app_base_path(path, expected):
    """Is the path relative to the base URL's path, as in the QSH page's table?"""
    assert canonical_request("GET", path, [], "/jira-connector") == f"GET&{expected}&"


# ------------------------------------------------------------------ rejection matrix


def _b64(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(tenant, path="/probe/dialog", params=ISSUE_PARAMS, **extra) -> dict:
    now = int(time.time())
    claims = {
        "iss": tenant.issuer,
        "sub": "user-1",
        "iat": now,
        "exp": now + 180,
        "qsh": query_hash("GET", path, list(params.items())),
        "context": {"user": {"displayName": "Dev"}, "permissions": ["VIEW_DEV_TOOLS"]},
    }
    claims.update(extra)
    return claims


def _get(client, token, params=ISSUE_PARAMS):
    return client.get(f"/probe/dialog?{urlencode({**params, 'jwt': token})}")


@pytest.fixture
def tenant(make_tenant):
    return make_tenant(issuer="jira-a", secret=SECRET_A, base_url="https://jira-a.example.com")


def _forged(tenant, rsa_key) -> dict:
    claims = _claims(tenant)
    header_none = _b64({"alg": "none", "typ": "JWT"})
    return {
        "alg none": f"{header_none}.{_b64(claims)}.",
        "RS256 token": jwt.encode(claims, rsa_key, algorithm="RS256"),
        "HS512": jwt.encode(claims, SECRET_A + SECRET_A, algorithm="HS512"),
        "unknown iss": sign(_claims(tenant, iss="jira-unknown"), SECRET_A),
        "expired": sign(
            _claims(tenant, iat=int(time.time()) - 600, exp=int(time.time()) - 90), SECRET_A
        ),
        "not valid yet": sign(_claims(tenant, nbf=int(time.time()) + 90), SECRET_A),
        "nbf not a number": sign(_claims(tenant, nbf="now"), SECRET_A),
        "missing qsh": sign({k: v for k, v in _claims(tenant).items() if k != "qsh"}, SECRET_A),
        "context-qsh": sign(_claims(tenant, qsh="context-qsh"), SECRET_A),
        "qsh of another URL": sign(_claims(tenant, path="/probe/admin"), SECRET_A),
        "qsh of other params": sign(
            _claims(tenant, params={**ISSUE_PARAMS, "issueKey": "DEV-2"}), SECRET_A
        ),
        "wrong secret": sign(_claims(tenant), SECRET_B),
    }


@pytest.mark.parametrize(
    "case",
    [
        "alg none",
        "RS256 token",
        "HS512",
        "unknown iss",
        "expired",
        "not valid yet",
        "nbf not a number",
        "tampered signature",
        "missing qsh",
        "context-qsh",
        "qsh of another URL",
        "qsh of other params",
        "wrong secret",
    ],
)
def test_entry_rejection_matrix(probe_client, tenant, rsa_key, case):
    """Is each kind of bad iframe token a 401 with the short readable page?"""
    if case == "tampered signature":
        header, payload, signature = sign(_claims(tenant), SECRET_A).split(".")
        forged = _b64({**_claims(tenant), "sub": "admin-user"})
        token = f"{header}.{forged}.{signature}"
    else:
        token = _forged(tenant, rsa_key)[case]
    response = _get(probe_client, token)
    assert response.status_code == 401
    page = response.get_data(as_text=True)
    assert "This page could not be opened" in page
    assert "Traceback" not in page and token not in page
    assert response.headers["Cache-Control"] == "no-store"


def test_a_new_shared_secret_applies_at_once(probe_client, tenant):
    """The shared secret is kept a minute in the process by its ciphertext: after Jira installs
    again with another secret, is a token signed with the old one refused on the next request,
    and one signed with the new one accepted?"""
    assert _get(probe_client, sign(_claims(tenant), SECRET_A)).status_code == 200
    seal(tenant, SECRET_B)  # as a re-install does
    db.session.commit()
    assert _get(probe_client, sign(_claims(tenant), SECRET_A)).status_code == 401
    assert _get(probe_client, sign(_claims(tenant), SECRET_B)).status_code == 200


def test_a_shared_secret_pyjwt_refuses_as_an_hmac_key_is_401(make_tenant, probe_client, rsa_key):
    """A tenant whose stored secret looks like a PEM key (PyJWT will not use one as an HMAC
    key): is its token a 401, not a 500?"""
    from cryptography.hazmat.primitives import serialization

    pem = rsa_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    tenant = make_tenant(issuer="jira-pem", secret=pem.decode())
    token = jwt.api_jws.encode(
        json.dumps(_claims(tenant)).encode(),
        "some-other-secret-of-32-bytes-or-more",
        algorithm="HS256",
    )
    assert _get(probe_client, token).status_code == 401


def test_valid_entry_is_accepted(probe_client, tenant):
    """Does a correctly signed token for this exact URL open the page with the vouched context?"""
    response = _get(probe_client, sign(_claims(tenant), SECRET_A))
    assert response.status_code == 200
    assert response.get_json()["account_id"] == "user-1"
    assert response.get_json()["issue_key"] == "DEV-1"


def test_expired_within_leeway_is_accepted(probe_client, tenant):
    """Is a token expired by less than the leeway (clock skew) still accepted?"""
    now = int(time.time())
    response = _get(probe_client, sign(_claims(tenant, iat=now - 200, exp=now - 10), SECRET_A))
    assert response.status_code == 200


def test_nbf_within_leeway_is_accepted(probe_client, tenant):
    """Is a token whose nbf is less than the leeway ahead (clock skew) still accepted?"""
    now = int(time.time())
    response = _get(probe_client, sign(_claims(tenant, nbf=now + 10), SECRET_A))
    assert response.status_code == 200


@pytest.mark.parametrize("param", ["issueKey", "projectKey", "projectId"])
def test_entry_with_a_repeated_context_param_is_401(probe_client, tenant, param):
    """Is an entry whose issueKey/projectKey/projectId appears twice refused (qsh sorts the
    values, the context would take the first)?"""
    params = [*ISSUE_PARAMS.items(), (param, "OTHER-2")]
    claims = _claims(tenant, params={})
    claims["qsh"] = query_hash("GET", "/probe/dialog", params)
    token = sign(claims, SECRET_A)
    response = probe_client.get(f"/probe/dialog?{urlencode([*params, ('jwt', token)])}")
    assert response.status_code == 401
    assert "more than once" in response.get_data(as_text=True)
    assert "https://jira-a.example.com" in response.headers["Content-Security-Policy"]


def test_context_call_with_a_repeated_context_param_is_401(app, probe_client, tenant):
    """Is a later call that repeats issueKey with another value refused, whichever comes first?"""
    headers = context_headers(tenant, issue_key="DEV-1")
    query = "/probe/dialog?issueKey=DEV-1&issueKey=DEV-2"
    assert probe_client.get(query, headers=headers).status_code == 401
    both = MultiDict([("issueKey", "DEV-1"), ("issueKey", "DEV-2")])
    assert probe_client.post("/probe/dialog", headers=headers, data=both).status_code == 401


def test_entry_with_repeated_params_and_spaces(probe_client, tenant):
    """Does qsh verification handle repeated parameters and values with spaces (sent as +)?"""
    params = [("issueKey", "DEV-1"), ("label", "two words"), ("label", "a*b")]
    claims = _claims(tenant, params={})
    claims["qsh"] = query_hash("GET", "/probe/dialog", params)
    token = sign(claims, SECRET_A)
    response = probe_client.get(f"/probe/dialog?{urlencode([*params, ('jwt', token)])}")
    assert response.status_code == 200
    spaced = f"/probe/dialog?issueKey=DEV-1&label=two%20words&label=a%2Ab&jwt={token}"
    assert probe_client.get(spaced).status_code == 200


def test_entry_under_a_base_path(app, probe_client, tenant):
    """With GITINT_BASE_URL at /gitint, is qsh over the path relative to it (proxy or mount)?"""
    app.config["GITINT_BASE_URL"] = "https://x.example.com/gitint"
    token = sign(_claims(tenant), SECRET_A)
    assert _get(probe_client, token).status_code == 200
    url = f"/probe/dialog?{urlencode({**ISSUE_PARAMS, 'jwt': token})}"
    mounted = probe_client.get(url, environ_base={"SCRIPT_NAME": "/gitint"})
    assert mounted.status_code == 200
    full_path = _claims(tenant, path="/gitint/probe/dialog")  # Jira strips the base path
    assert _get(probe_client, sign(full_path, SECRET_A)).status_code == 401


def test_verify_entry_rejects_uninstalled_tenant(app, tenant):
    """Is a token of an uninstalled tenant refused?"""
    from gitint.extensions import db
    from gitint.jira.jwt import JWTRejected

    tenant.installed = False
    db.session.commit()
    token = sign(_claims(tenant), SECRET_A)
    with pytest.raises(JWTRejected, match="unknown issuer"):
        verify_entry(token, "GET", "/probe/dialog", list(ISSUE_PARAMS.items()))


# ------------------------------------------------------------------ tenants and context tokens


def test_a_token_for_tenant_a_never_reads_tenant_b(
    app, probe_client, make_tenant, make_integration
):
    """Does each tenant's token see only its own integrations, and is iss=B with A's key refused?"""
    a = make_tenant(issuer="jira-a", secret=SECRET_A)
    b = make_tenant(issuer="jira-b", secret=SECRET_B)
    make_integration(a, name="A's GitHub")
    make_integration(b, name="B's GitHub")
    seen_a = _get(probe_client, sign(_claims(a), SECRET_A)).get_json()
    seen_b = _get(probe_client, sign(_claims(b), SECRET_B)).get_json()
    assert seen_a["integrations"] == ["A's GitHub"] and seen_a["tenant_id"] == a.id
    assert seen_b["integrations"] == ["B's GitHub"] and seen_b["tenant_id"] == b.id
    assert _get(probe_client, sign(_claims(b), SECRET_A)).status_code == 401
    headers = context_headers(a)
    assert probe_client.post("/probe/dialog", headers=headers).get_json()["integrations"] == [
        "A's GitHub"
    ]


def test_context_token_works_for_htmx_calls(app, probe_client, tenant):
    """Does the context token from the page authorise a POST with the header?"""
    response = probe_client.post("/probe/dialog", headers=context_headers(tenant))
    assert response.status_code == 200
    assert response.get_json()["account_id"] == "user-1"


def test_entry_page_carries_a_context_token_bound_to_the_issue(app, probe_client, tenant):
    """Does the context token minted at entry carry tenant, user and issue?"""
    from gitint.jira.context import _authenticate, read_context_token

    client = probe_client
    token = sign(_claims(tenant), SECRET_A)
    with app.test_request_context(f"/probe/dialog?{urlencode({**ISSUE_PARAMS, 'jwt': token})}"):
        ctx = _authenticate()
    read = read_context_token(ctx.token)
    assert (read.tenant_id, read.account_id, read.issue_key, read.project_id) == (
        tenant.id,
        "user-1",
        "DEV-1",
        "10000",
    )
    assert client.post("/probe/dialog", headers={"X-Gitint-Context": ctx.token}).status_code == 200


def test_context_token_replayed_after_expiry_is_rejected(app, probe_client, tenant):
    """Is an expired context token a 401?"""
    response = probe_client.post("/probe/dialog", headers=context_headers(tenant, ttl=-60))
    assert response.status_code == 401
    assert "expired" in response.get_data(as_text=True)


def test_context_token_for_another_issue_is_rejected(app, probe_client, tenant):
    """Is a context token used with another issueKey/projectId a 401?"""
    headers = context_headers(tenant, issue_key="DEV-1")
    assert (
        probe_client.post("/probe/dialog", headers=headers, data={"issueKey": "DEV-2"}).status_code
        == 401
    )
    assert probe_client.get("/probe/dialog?projectId=999", headers=headers).status_code == 401
    assert (
        probe_client.post("/probe/dialog", headers=headers, data={"issueKey": "DEV-1"}).status_code
        == 200
    )


def test_context_token_of_another_app_key_is_rejected(app, probe_client, tenant):
    """Is a context-like token signed with a tenant secret (not our key) refused?"""
    fake = sign(
        {
            "tenant_id": tenant.id,
            "account_id": "x",
            "iss": "gitint",
            "aud": "gitint-context",
            "iat": int(time.time()),
            "exp": int(time.time()) + 60,
        },
        SECRET_A,
    )
    assert probe_client.post("/probe/dialog", headers={"X-Gitint-Context": fake}).status_code == 401


def test_post_without_the_header_is_401(app, probe_client, tenant):
    """Is a state-changing call without the context header refused (CSRF defence)?"""
    assert probe_client.post("/probe/dialog").status_code == 401
    assert probe_client.delete("/probe/dialog").status_code == 401


def test_jira_token_on_a_post_is_401(app, probe_client, tenant):
    """Is a Jira entry token accepted only when a page is opened (GET)?"""
    token = sign(_claims(tenant), SECRET_A)
    response = probe_client.post(f"/probe/dialog?{urlencode({**ISSUE_PARAMS, 'jwt': token})}")
    assert response.status_code == 401


def test_patch_is_405(app, probe_client, tenant):
    """Are methods other than GET/POST/PUT/DELETE refused, even with a valid header?"""
    assert probe_client.patch("/probe/dialog", headers=context_headers(tenant)).status_code == 405


def test_missing_permission_is_403_naming_it(app, probe_client, tenant):
    """Without the permission, is it a 403 page naming View Development Tools / Jira admin?"""
    no_perm = context_headers(tenant, permissions=())
    response = probe_client.post("/probe/dialog", headers=no_perm)
    assert response.status_code == 403
    assert "View Development Tools" in response.get_data(as_text=True)
    developer = context_headers(tenant, permissions=("VIEW_DEV_TOOLS",))
    admin_page = probe_client.post("/probe/admin", headers=developer)
    assert admin_page.status_code == 403
    assert "Jira administrator" in admin_page.get_data(as_text=True)
    admin = context_headers(tenant, permissions=("VIEW_DEV_TOOLS", "ADMINISTER"))
    assert probe_client.post("/probe/admin", headers=admin).status_code == 200


def test_vouched_permissions_must_be_a_list(app, probe_client, tenant):
    """Is a string 'permissions' claim (not a list) treated as no permissions?"""
    claims = _claims(tenant)
    claims["context"]["permissions"] = "VIEW_DEV_TOOLS"
    assert _get(probe_client, sign(claims, SECRET_A)).status_code == 403


# ------------------------------------------------------------------ headers and templates


def test_security_headers_on_an_authenticated_page(app, probe_client, make_tenant):
    """Is the page framed only by the tenant's Jira (base and display URL), no inline script,
    no referrer, no caching?"""
    tenant = make_tenant(
        issuer="jira-h",
        secret=SECRET_A,
        base_url="https://jira.example.com/jira",
        display_url="https://jira-alias.example.com",
    )
    response = _get(probe_client, sign(_claims(tenant), SECRET_A))
    assert response.status_code == 200
    csp = response.headers["Content-Security-Policy"]
    ancestors = re.search(r"frame-ancestors ([^;]+)", csp).group(1).split()
    assert sorted(ancestors) == ["https://jira-alias.example.com", "https://jira.example.com"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"


def test_401_page_can_be_framed_by_the_claimed_tenant_only(app, probe_client, tenant):
    """Can the tenant's Jira frame our 401 page, while an unknown issuer gets 'none'?"""
    expired = _claims(tenant, iat=int(time.time()) - 600, exp=int(time.time()) - 300)
    response = _get(probe_client, sign(expired, SECRET_A))
    assert response.status_code == 401
    assert (
        "frame-ancestors https://jira-a.example.com" in response.headers["Content-Security-Policy"]
    )
    unknown = _get(probe_client, sign(_claims(tenant, iss="nobody"), SECRET_A))
    assert "frame-ancestors 'none'" in unknown.headers["Content-Security-Policy"]
    assert unknown.headers["Cache-Control"] == "no-store"


def test_conftest_entry_helpers_verify(app, probe_client, make_tenant):
    """Do the shared test helpers (entry_url/entry_token) produce tokens this code accepts?"""
    tenant = make_tenant()
    assert probe_client.get(entry_url(tenant, "/probe/dialog", ISSUE_PARAMS)).status_code == 200
    token = entry_token(tenant, "/probe/dialog", ISSUE_PARAMS)
    tenant_found, claims = verify_entry(token, "GET", "/probe/dialog", list(ISSUE_PARAMS.items()))
    assert tenant_found.id == tenant.id and claims["sub"] == "user-1"


INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I), "inline <script>"),
    (re.compile(r"\sstyle\s*=", re.I), "style attribute"),
    (re.compile(r"\shx-on", re.I), "hx-on attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.I), "inline event handler"),
    (re.compile(r"javascript:", re.I), "javascript: URL"),
]


def test_no_template_has_inline_script_or_style():
    """Does every template keep scripts and styles out of the markup (CSP script-src 'self')?"""
    problems = []
    for path in sorted(TEMPLATES.rglob("*.html")):
        text = path.read_text()
        for pattern, what in INLINE:
            if pattern.search(text):
                problems.append(f"{path.relative_to(TEMPLATES)}: {what}")
    assert problems == []


def test_error_pages_in_a_dialog_close_with_escape(client):
    """Does a 401 page shown in a dialog iframe carry the class that lets Escape close it?"""
    assert 'class="dialog"' in client.get("/dialogs/create-branch").text
    assert 'class="dialog"' not in client.get("/pats").text


@pytest.mark.parametrize(
    "claims",
    [
        {"iss": "jira:1", "iat": 1, "exp": 2, "qsh": "abc"},
        {"sub": "557058:ü", "context": {"issue": {"key": "DEV-1"}}, "n": [1, 2.5, None, True]},
    ],
)
def test_tokens_are_signed_exactly_as_pyjwt_signs_them(claims):
    """Is sign()'s token (stdlib HMAC, no per-call key checks) byte for byte PyJWT's, and does
    PyJWT verify it with the secret and refuse it with another?"""
    secret = "a-shared-secret-of-jira-with-enough-length"
    token = sign(claims, secret)
    assert token == jwt.encode(claims, secret, algorithm="HS256")
    assert jwt.decode(token, secret, algorithms=["HS256"], options={"verify_exp": False}) == claims
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(token, secret + "x", algorithms=["HS256"], options={"verify_exp": False})
