"""Fixtures for the Jira side: a probe view behind @requires, an RSA install key, apps with the
dev host on or off, and clean per-process caches."""

import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from flask import Blueprint, g, jsonify

from gitint import create_app
from gitint.extensions import db
from gitint.jira import lifecycle, rest
from gitint.jira.context import ADMINISTER, VIEW_DEV_TOOLS, requires
from gitint.jira.jwt import query_hash
from gitint.views.common import integrations_query

SECRET_A = "tenant-a-shared-secret-0123456789abcdef"
SECRET_B = "tenant-b-shared-secret-0123456789abcdef"
KEYS_URL = "https://connect-install-keys.atlassian.com"
ISSUE_PARAMS = {"issueKey": "DEV-1", "projectKey": "DEV", "projectId": "10000"}

probe = Blueprint("probe", __name__)


def _answer():
    names = sorted(i.name for i in db.session.scalars(integrations_query()))
    ctx = g.ctx
    return jsonify(
        tenant_id=ctx.tenant_id,
        account_id=ctx.account_id,
        issue_key=ctx.issue_key,
        summary=ctx.issue_summary,
        type=ctx.issue_type,
        integrations=names,
    )


@probe.route("/probe/dialog", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
@requires(VIEW_DEV_TOOLS)
def dialog():
    return _answer()


@probe.route("/probe/admin", methods=["GET", "POST"])
@requires(ADMINISTER)
def admin():
    return _answer()


@pytest.fixture(autouse=True)
def clean_caches():
    rest.clear_cache()
    lifecycle.clear_key_cache()
    yield
    rest.clear_cache()
    lifecycle.clear_key_cache()


@pytest.fixture
def probe_client(app):
    """A client for the app with /probe/dialog (VIEW_DEV_TOOLS) and /probe/admin (ADMINISTER)."""
    app.register_blueprint(probe)
    return app.test_client()


def _settings(app) -> dict:
    keys = ("TESTING", "SQLALCHEMY_DATABASE_URI", "GITINT_SECRET_KEYS", "GITINT_BASE_URL")
    return {key: app.config[key] for key in keys}


@pytest.fixture
def make_app(app):
    """Build another app on the same test database (e.g. with GITINT_DEV on or off)."""
    built = []

    def make(**config):
        other = create_app({**_settings(app), "GITINT_ALLOW_PRIVATE_HOSTS": False, **config})
        built.append(other)
        return other

    yield make
    for other in built:
        with other.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def dev_app(make_app):
    """An app with GITINT_DEV on, its context pushed."""
    dev = make_app(GITINT_DEV=True)
    with dev.app_context():
        yield dev


# ------------------------------------------------------------------ install keys


@pytest.fixture(scope="session")
def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def other_rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(private_key) -> bytes:
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def install_token(
    private_key,
    client_key,
    *,
    aud,
    path="/lifecycle/installed",
    kid="kid-1",
    algorithm="RS256",
    **claims,
) -> str:
    """The RS256 token Atlassian puts in a signed lifecycle callback."""
    now = int(time.time())
    payload = {
        "iss": client_key,
        "aud": aud,
        "iat": now,
        "exp": now + 180,
        "qsh": query_hash("POST", path, []),
        "sub": "557058:f7e5e1ab-1111-2222-3333-444455556666",
        "context": {},
    }
    payload.update(claims)
    return jwt.encode(payload, private_key, algorithm=algorithm, headers={"kid": kid})


def install_body(client_key="acme-client-key", secret=SECRET_A, **fields) -> str:
    body = {
        "key": "gitint",
        "clientKey": client_key,
        "sharedSecret": secret,
        "baseUrl": "https://acme.atlassian.net",
        "displayUrl": "https://jira.acme.com",
        "productType": "jira",
        "description": "Atlassian JIRA at https://acme.atlassian.net ",
        "eventType": "installed",
    }
    body.update(fields)
    return json.dumps(body)
