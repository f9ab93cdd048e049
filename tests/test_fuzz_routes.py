"""Every route in the URL map (the dev host's too) under generated query strings, forms,
bodies and headers — huge and negative numbers, unicode, NUL, 100 kB strings, repeated keys,
wrong content types — with a valid context, a signed entry, a garbage one or none: never a
5xx and never a traceback (SPEC §4, issue 11). Outbound HTTP is blocked with `responses`, so a
host or Jira call fails as a connection error, which the app must turn into a sentence.

Bounded: GITINT_FUZZ_EXAMPLES examples per route and method (default 12), derandomized so a
run is repeatable; raise it, and set GITINT_FUZZ_RANDOM=1, to search longer and elsewhere.
"""

import gzip
import json
import os
import re
import time
from urllib.parse import urlencode

import brotli
import pytest
import responses
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from gitint import create_app
from gitint.crypto import seal
from gitint.extensions import db
from gitint.jira import rest
from gitint.jira.jwt import query_hash, sign
from gitint.models import Credential, Integration, Repository, Tenant
from tests.conftest import TEST_KEY, context_headers

EXAMPLES = int(os.environ.get("GITINT_FUZZ_EXAMPLES", "12"))
REPEATABLE = not os.environ.get("GITINT_FUZZ_RANDOM")
ISSUER = "fuzz-jira"
SECRET = "fuzz-shared-secret-0123456789abcdef"
PERMISSIONS = ("VIEW_DEV_TOOLS", "ADMINISTER")
SKIPPED_METHODS = {"HEAD", "OPTIONS"}


def _routes() -> list[tuple[str, str, str]]:
    """(endpoint, rule, method) of every route of an app with GITINT_DEV on."""
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": "sqlite://",
            "GITINT_SECRET_KEYS": TEST_KEY,
            "GITINT_DEV": True,
        }
    )
    return sorted(
        (rule.endpoint, rule.rule, method)
        for rule in app.url_map.iter_rules()
        for method in rule.methods - SKIPPED_METHODS
    )


ROUTES = _routes()


# ---------------------------------------------------------------- the app and its data


@pytest.fixture
def fuzz_app(app):
    """An app with GITINT_DEV on, on the test database (its data: ``_ensure_data``)."""
    keys = ("SQLALCHEMY_DATABASE_URI", "GITINT_SECRET_KEYS", "GITINT_BASE_URL")
    fuzz = create_app(
        {
            **{key: app.config[key] for key in keys},
            "TESTING": True,
            "GITINT_DEV": True,
            "GITINT_ALLOW_PRIVATE_HOSTS": False,
        }
    )
    rest.clear_cache()
    yield fuzz
    with fuzz.app_context():
        db.session.remove()
        db.engine.dispose()


def _ensure_data(fuzz) -> dict:
    """The tenant, integration, credential and repository (recreated when an example deleted
    them); their ids, and the headers of an htmx call by an administrator."""
    with fuzz.app_context():
        tenant = db.session.scalar(select(Tenant).where(Tenant.issuer == ISSUER))
        if tenant is None:
            tenant = Tenant(
                kind="embedded", issuer=ISSUER, name="Fuzz", base_url="https://jira.example.com"
            )
            seal(tenant, SECRET)
            db.session.add(tenant)
            db.session.commit()
        tenant.installed = True
        integration = db.session.scalar(
            select(Integration).where(Integration.tenant_id == tenant.id)
        )
        if integration is None:
            integration = Integration(tenant_id=tenant.id, kind="github", name="GitHub")
            db.session.add(integration)
            db.session.flush()
            seal(integration, "ghp_integrationtoken0000")
            integration.credential_last4 = "0000"
            integration.credential_login = "bot"
            integration.credential_status = "valid"
        db.session.flush()
        credentials = select(Credential).where(Credential.integration_id == integration.id)
        if db.session.scalar(credentials) is None:
            credential = Credential(
                tenant_id=tenant.id,
                account_id="user-1",
                integration_id=integration.id,
                kind="pat",
                last4="0001",
                login="octocat",
            )
            seal(credential, "ghp_usertoken000000001")
            db.session.add(credential)
        repository = db.session.scalar(
            select(Repository).where(Repository.integration_id == integration.id)
        )
        if repository is None:
            repository = Repository(
                tenant_id=tenant.id,
                integration_id=integration.id,
                host_id="acme/app",
                full_name="acme/app",
                search_name="acme/app",
                default_branch="main",
                web_url="https://github.com/acme/app",
            )
            db.session.add(repository)
        db.session.commit()
        return {
            "tenant": tenant,
            "integration_id": integration.id,
            "repository_id": repository.id,
            "headers": context_headers(tenant, permissions=PERMISSIONS),
        }


# ---------------------------------------------------------------- what a request may carry

NUMBERS = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 2**31 - 1, 2**31, 2**63 - 1, 2**63, 2**64, 10**30, -(2**63) - 1]),
).map(str)
TEXT = st.text(max_size=40)  # any unicode but surrogates
ODD = st.sampled_from(
    [
        "",
        " ",
        "\x00",
        "a\x00b",
        "€",
        "☃" * 20,
        "../../../../user",
        "%2e%2e%2f",
        "<script>alert(1)</script>",
        "{{7*7}}",
        "${issuekey}",
        "true",
        "on",
        "1",
        "DEV-1",
        "main",
        "page",
        "dialog",
        "github",
        "gitlab_self_managed",
        "codecommit",
        "https://127.0.0.1",
        "https://gitlab.example.com",
        "2024-13-45",
        "2024-01-01",
        "\u202e\u200b",
        "x" * 100_000,
        "€" * 34_000,
    ]
)
VALUES = st.one_of(NUMBERS, TEXT, ODD)
KEYS = st.one_of(
    st.sampled_from(
        [
            "repository",
            "repository_name",
            "base",
            "base_default",
            "name",
            "name_default",
            "source",
            "source_default",
            "target",
            "target_default",
            "title",
            "description",
            "draft",
            "q",
            "page",
            "token",
            "secret",
            "access_key_id",
            "secret_access_key",
            "kind",
            "base_url",
            "organization",
            "region",
            "server_version",
            "branch_template",
            "separator",
            "max_length",
            "type_prefixes",
            "require_user_pat",
            "allow_branch",
            "allow_pull_request",
            "integration",
            "user",
            "action",
            "result",
            "since",
            "until",
            "sync_state",
            "fields",
            "confirm",
            "issueKey",
            "projectKey",
            "projectId",
            "issueId",
            "open",
            "mode",
            "permissions",
            "filename",
            "jwt",
        ]
    ),
    st.text(max_size=10),
)
ID_NAMES = ["repository", "integration", "page", "max_length", "sync_every_hours"]
ID_KEYS = st.sampled_from(ID_NAMES)
PAIRS = st.lists(  # repeated keys happen
    st.one_of(st.tuples(KEYS, VALUES), st.tuples(ID_KEYS, NUMBERS)), max_size=8
)
JSON = st.recursive(
    st.none() | st.booleans() | NUMBERS.map(int) | VALUES,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(TEXT, children, max_size=4),
    max_leaves=10,
)
LATIN1 = st.text(st.characters(max_codepoint=255, exclude_characters="\r\n"), max_size=60)
HEADERS = st.dictionaries(
    st.sampled_from(
        [
            "HX-Request",
            "HX-Target",
            "HX-Trigger",
            "HX-Trigger-Name",
            "HX-Current-URL",
            "Accept",
            "Accept-Encoding",
            "Accept-Language",
            "If-None-Match",
            "If-Modified-Since",
            "Range",
            "Origin",
            "Referer",
            "Cookie",
            "X-Forwarded-For",
            "X-Forwarded-Proto",
            "Authorization",
            "x-forge-oauth-user",
            "Content-Type",
        ]
    ),
    st.one_of(
        LATIN1,
        st.sampled_from(["true", "gzip, br", "bytes=0-0,5-", "JWT a.b.c", "Bearer x", "*/*"]),
        st.just("y" * 100_000),
    ),
    max_size=4,
)
CONTENT_TYPES = st.sampled_from(
    [
        None,
        "application/x-www-form-urlencoded",
        "application/json",
        "multipart/form-data; boundary=zzz",
        "text/plain; charset=utf-8",
        "application/json; charset=latin-1",
        "application/octet-stream",
        "image/png",
    ]
)
BODIES = st.one_of(
    st.tuples(st.just("form"), PAIRS),
    st.tuples(st.just("json"), JSON),
    st.tuples(st.just("raw"), st.binary(max_size=200)),
    st.tuples(st.just("nested"), st.integers(min_value=1_000, max_value=60_000)),
    st.tuples(st.just("none"), st.none()),
)
# who asks: the page's context header (valid), an entry signed for this exact URL (GET),
# a context header that is not one, or nobody
AUTH = st.sampled_from(["context", "context", "entry", "garbage", "none"])


def _path_safe(text: str) -> bool:
    """A path variable the test client can send as it is (no query, fragment or escape)."""
    return bool(text.strip("/")) and not set(text) & set("?#%\x00")


def _path_values(rule: str, data: dict):
    """A strategy for the rule's path with its variables filled: ids (ours, another's, past
    the database's range) and file names."""
    variables = re.findall(r"<(?:([a-z]+)(?:\([^)]*\))?:)?([a-z_]+)>", rule)
    if not variables:
        return st.just(rule)
    parts = []
    for converter, _name in variables:
        if converter == "int":
            parts.append(
                st.one_of(
                    st.just(str(data["integration_id"])),
                    st.integers(min_value=0, max_value=2**80).map(str),
                )
            )
        elif converter == "path":
            parts.append(
                st.one_of(
                    st.sampled_from(["index.html", "app.css", "dev/forge-bridge.js", "../x"]),
                    TEXT.filter(_path_safe),
                )
            )
        else:
            parts.append(st.one_of(st.just("DEV-1"), TEXT.filter(_path_safe)))

    def fill(values):
        path = rule
        for value in values:
            path = re.sub(r"<[^>]+>", value.replace("\\", "\\\\"), path, count=1)
        return path

    return st.tuples(*parts).map(fill)


def _request(method, path, query, body, content_type, headers, auth, data):
    """The keyword arguments of ``client.open`` for one generated request."""
    query = list(query)
    if auth == "context":  # the generated HX-* headers win: a call need not come from htmx
        headers = {**data["headers"], **headers}
    elif auth == "garbage":
        headers = {**headers, "X-Gitint-Context": "not.a.token"}
    elif auth == "entry" and method == "GET":
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": "user-1",
            "iat": now,
            "exp": now + 180,
            "qsh": query_hash("GET", path, [(k, v) for k, v in query if k != "jwt"]),
            "context": {
                "user": {"displayName": "Fuzz"},
                "permissions": list(PERMISSIONS),
                "issue": {"summary": "Fuzz", "type": "Bug"},
            },
        }
        query = [(k, v) for k, v in query if k != "jwt"] + [("jwt", sign(claims, SECRET))]
    kind, value = body
    kwargs = {"method": method, "headers": headers}
    if kind == "form":
        kwargs["data"] = urlencode(value).encode()
        kwargs["content_type"] = content_type or "application/x-www-form-urlencoded"
    elif kind == "json":
        kwargs["data"] = json.dumps(value).encode()
        kwargs["content_type"] = content_type or "application/json"
    elif kind == "raw":
        kwargs["data"] = value
        kwargs["content_type"] = content_type
    elif kind == "nested":
        kwargs["data"] = b"[" * value
        kwargs["content_type"] = "application/json"
    if headers.get("Content-Type") and "content_type" in kwargs:
        kwargs.pop("content_type")
    kwargs["path"] = f"{path}?{urlencode(query)}" if query else path
    return kwargs


def _decoded(response) -> str:
    """The body as text, uncompressed when Flask-Compress answered an Accept-Encoding
    (gitint/assets.py: br or gzip)."""
    body = response.get_data()
    encoding = response.headers.get("Content-Encoding")
    if encoding == "gzip":
        body = gzip.decompress(body)
    elif encoding == "br":
        body = brotli.decompress(body)
    return body.decode("utf-8", "replace")


def _assert_answered(client, kwargs) -> None:
    with responses.RequestsMock(assert_all_requests_are_fired=False):  # no host is reachable
        response = client.open(**kwargs)
    text = _decoded(response)
    where = f"{kwargs['method']} {kwargs['path'][:300]}"
    assert response.status_code < 500, f"{where} → {response.status_code}: {text[:300]}"
    assert "Traceback" not in text, where
    response.close()


EXTREMES = ["2147483648", "9223372036854775808", "-9223372036854775809", "1" * 5000]


@pytest.mark.parametrize(("endpoint", "rule", "method"), ROUTES, ids=lambda v: str(v))
def test_route_never_answers_5xx(fuzz_app, endpoint, rule, method):
    """Does this route answer every generated request with a 2xx-4xx and no traceback?"""
    data = _ensure_data(fuzz_app)
    client = fuzz_app.test_client()
    # first, every id-like parameter past the database's range (query and form) every time
    path = re.sub(r"<int:[a-z_]+>", str(data["integration_id"]), rule)
    path = re.sub(r"<[^>]+>", "x", path)
    for value in EXTREMES:
        pairs = [(key, value) for key in ID_NAMES]
        body = ("form", pairs) if method != "GET" else ("none", None)
        _assert_answered(client, _request(method, path, pairs, body, None, {}, "context", data))
    if method == "GET":  # opened as a page from Jira (no htmx), fragments' routes too
        none = ("none", None)
        _assert_answered(client, _request(method, path, [], none, None, {}, "entry", data))
    else:  # a JSON body nested deeper than the parser recurses
        body = ("nested", 50_000)
        _assert_answered(client, _request(method, path, [], body, None, {}, "context", data))

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=REPEATABLE,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        path=_path_values(rule, data),
        query=PAIRS,
        body=BODIES if method != "GET" else st.just(("none", None)),
        content_type=CONTENT_TYPES,
        headers=HEADERS,
        auth=AUTH,
    )
    def check(path, query, body, content_type, headers, auth):
        current = _ensure_data(fuzz_app)
        _assert_answered(
            client, _request(method, path, query, body, content_type, headers, auth, current)
        )

    check()


def test_every_route_is_fuzzed():
    """Does the fuzz list cover every blueprint (a route added later is fuzzed too)?"""
    blueprints = {endpoint.partition(".")[0] for endpoint, _rule, _method in ROUTES}
    assert {"admin", "dialogs", "pats", "lifecycle", "forge", "health", "devhost"} <= blueprints
