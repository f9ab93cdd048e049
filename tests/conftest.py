"""Fixtures like flaskr's (app, client, runner) plus factories for tenants, integrations,
credentials and repositories, and helpers that sign Jira entry tokens and context headers."""

import base64
import os
import time
from urllib.parse import urlencode

import pytest
from sqlalchemy import event, text

from gitint import create_app
from gitint.config import database_uri
from gitint.crypto import seal
from gitint.extensions import db
from gitint.jira.context import CONTEXT_HEADER, Context, mint_context_token
from gitint.jira.jwt import query_hash, sign
from gitint.models import Credential, Integration, Repository, Tenant

TEST_KEY = "t1:" + base64.b64encode(b"k" * 32).decode()
BASE_URL = "http://gitint.test"
DEV_PERMISSIONS = ("VIEW_DEV_TOOLS",)


def database_url(tmp_path) -> str:
    """PostgreSQL when DATABASE_URL is set (CI's second run), else a fresh SQLite file."""
    return os.environ.get("DATABASE_URL") or f"sqlite:///{tmp_path / 'test.sqlite'}"


@pytest.fixture
def app(tmp_path):
    app = create_app(
        {
            "TESTING": True,
            "SQLALCHEMY_DATABASE_URI": database_uri(database_url(tmp_path)),
            "GITINT_SECRET_KEYS": TEST_KEY,
            "GITINT_BASE_URL": BASE_URL,
            "GITINT_ALLOW_PRIVATE_HOSTS": False,
        }
    )
    with app.app_context():
        _reset_schema()
        db.create_all()
        yield app
        db.session.remove()
        _reset_schema()
        db.engine.dispose()


def _reset_schema():
    db.drop_all()
    with db.engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


# ------------------------------------------------------------------ factories


@pytest.fixture
def make_tenant(app):
    counter = iter(range(1, 10_000))

    def make(issuer=None, kind="embedded", base_url=None, secret=None, **fields):
        n = next(counter)
        issuer = issuer or f"jira-{n}"
        tenant = Tenant(
            kind=kind,
            issuer=issuer,
            name=fields.pop("name", f"Jira {n}"),
            base_url=base_url or f"https://jira{n}.example.com",
            **fields,
        )
        seal(tenant, secret or f"shared-secret-{issuer}")
        db.session.add(tenant)
        db.session.commit()
        return tenant

    return make


@pytest.fixture
def make_integration(app):
    counter = iter(range(1, 10_000))

    def make(tenant, kind="github", name=None, secret="ghp_integrationtoken0000", **fields):
        integration = Integration(
            tenant_id=tenant.id, kind=kind, name=name or f"{kind} {next(counter)}", **fields
        )
        db.session.add(integration)
        db.session.flush()
        if secret is not None:
            seal(integration, secret)
            integration.credential_last4 = secret[-4:]
            integration.credential_login = fields.get("credential_login") or "integration-bot"
            integration.credential_status = "valid"
        db.session.commit()
        return integration

    return make


@pytest.fixture
def make_credential(app):
    def make(integration, account_id, secret="ghp_usertoken000000001", kind="pat", **fields):
        credential = Credential(
            tenant_id=integration.tenant_id,
            account_id=account_id,
            integration_id=integration.id,
            kind=kind,
            last4=secret[-4:],
            login=fields.pop("login", f"{account_id}-login"),
            **fields,
        )
        seal(credential, secret)
        db.session.add(credential)
        db.session.commit()
        return credential

    return make


@pytest.fixture
def make_repo(app):
    def make(integration, full_name, host_id=None, default_branch="main", **fields):
        repo = Repository(
            tenant_id=integration.tenant_id,
            integration_id=integration.id,
            host_id=host_id or full_name,
            full_name=full_name,
            search_name=full_name.lower(),
            default_branch=default_branch,
            web_url=fields.pop("web_url", f"https://github.com/{full_name}"),
            **fields,
        )
        db.session.add(repo)
        db.session.commit()
        return repo

    return make


# ------------------------------------------------------------------ signing helpers


def entry_token(
    tenant,
    path,
    params=None,
    *,
    account_id="user-1",
    permissions=DEV_PERMISSIONS,
    secret=None,
    method="GET",
    issue=None,
    display_name="Dev User",
    **claims,
):
    """A Jira-signed HS256 iframe token for ``path`` + ``params`` (embedded-host style)."""
    now = int(time.time())
    payload = {
        "iss": tenant.issuer,
        "sub": account_id,
        "iat": now,
        "exp": now + 180,
        "qsh": query_hash(method, path, list((params or {}).items())),
        "context": {
            "user": {"displayName": display_name},
            "permissions": list(permissions),
            "issue": issue or {"summary": "Fix the login page", "type": "Bug"},
        },
    }
    payload.update(claims)
    return sign(payload, secret or f"shared-secret-{tenant.issuer}")


def entry_url(tenant, path, params=None, **kwargs) -> str:
    """The iframe URL Jira would open: path?params&jwt=..."""
    params = dict(params or {})
    token = entry_token(tenant, path, params, **kwargs)
    return f"{path}?{urlencode({**params, 'jwt': token})}"


def context_headers(
    tenant,
    account_id="user-1",
    permissions=DEV_PERMISSIONS,
    *,
    htmx=True,
    issue_key="DEV-1",
    project_key="DEV",
    summary="Fix the login page",
    issue_type="Bug",
    ttl=900,
) -> dict:
    """Headers of an htmx call from a page opened for this user (call inside an app context)."""
    ctx = Context(
        tenant_id=tenant.id,
        tenant_kind=tenant.kind,
        account_id=account_id,
        display_name="Dev User",
        permissions=tuple(permissions),
        project_key=project_key,
        project_id="10000",
        issue_key=issue_key,
        issue_summary=summary,
        issue_type=issue_type,
    )
    headers = {CONTEXT_HEADER: mint_context_token(ctx, ttl=ttl)}
    if htmx:
        headers["HX-Request"] = "true"
    return headers


def statements_of(run) -> list[str]:
    """The SQL statements ``run()`` executes (tests count queries, never time)."""
    seen = []

    def record(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        run()
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    return seen


@pytest.fixture
def sockets(monkeypatch):
    """The addresses connections were opened to; none is really opened (connection refused)."""
    import urllib3.util.connection

    opened = []

    def create_connection(address, *args, **kwargs):
        opened.append(address)
        raise ConnectionRefusedError("no network in tests")

    monkeypatch.setattr(urllib3.util.connection, "create_connection", create_connection)
    return opened
