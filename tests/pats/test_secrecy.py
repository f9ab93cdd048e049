"""A token saved through the fragment never leaves: not in HTML, headers, logs, audit or at rest."""

import logging

import pytest
from sqlalchemy import select, text

from gitint.crypto import unseal
from gitint.extensions import db
from gitint.logs import RedactingFilter
from gitint.models import Attempt, AuditEvent, Credential
from tests.conftest import context_headers, entry_url

from .conftest import github_says

# Shaped like no known token format, so the redaction patterns cannot hide a leak.
CANARY = "cAnArY7f3a9c1e5b2d4e6f8a0b1c2d3e4f5"
REJECTED = "rEjEcTeD0a1b2c3d4e5f60718293a4b5c6d"


@pytest.fixture
def logs(caplog, monkeypatch):
    """Every log record of the whole app at DEBUG, after the app's redaction filter."""
    # alembic's fileConfig (run by migration tests) disables existing loggers: undo it here
    for logger in list(logging.root.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger):
            monkeypatch.setattr(logger, "disabled", False)
    caplog.set_level(logging.DEBUG)
    caplog.handler.addFilter(RedactingFilter())
    return caplog


def assert_clean(responses, logs, *secrets):
    for response in responses:
        for secret in secrets:
            assert secret not in response.get_data(as_text=True)
            assert secret not in str(response.headers)
    for record in logs.records:
        for secret in secrets:
            assert secret not in record.getMessage()
            assert secret not in repr(record.__dict__)
    for event in db.session.scalars(select(AuditEvent)):
        row = repr({c.key: getattr(event, c.key) for c in AuditEvent.__table__.columns})
        for secret in secrets:
            assert secret not in row
    for bucket in db.session.scalars(select(Attempt.bucket)):
        for secret in secrets:
            assert secret not in bucket


def test_canary_token_never_leaks(client, runner, tenant, github, make_repo, host, logs):
    """Does a token saved via the fragment appear only as ciphertext, never anywhere else?"""
    make_repo(github, "acme/api")
    headers = context_headers(tenant)
    seen = []
    github_says(host, status=401)
    seen.append(
        client.post(
            f"/pats/{github.id}", data={"token": REJECTED, "target": "page"}, headers=headers
        )
    )
    host.reset()
    github_says(host, login="octocat")
    seen.append(
        client.post(f"/pats/{github.id}", data={"token": CANARY, "target": "page"}, headers=headers)
    )
    assert seen[-1].status_code == 200
    seen.append(client.post(f"/pats/{github.id}", data={"token": CANARY}, headers=headers))
    seen.append(client.get("/pats", headers=headers))
    seen.append(client.get("/pats", headers={**headers, "HX-Request": "false"}))
    seen.append(client.get(entry_url(tenant, "/pats")))
    seen.append(client.get(f"/pats/setup/{github.id}?target=dialog", headers=headers))
    seen.append(client.get(f"/pats/setup/{github.id}?target=page", headers=headers))
    seen.append(client.get(f"/pats/{github.id}/delete-confirm", headers=headers))
    result = runner.invoke(args=["gitint", "check-pats", "--now", "--pause", "0"])
    assert "1 valid" in result.output and CANARY not in result.output

    assert_clean(seen, logs, CANARY, REJECTED)
    assert any(r.name.startswith("gitint") for r in logs.records)  # the capture works
    raw = db.session.execute(text("SELECT ciphertext FROM credentials")).scalars().all()
    assert len(raw) == 1 and CANARY not in raw[0] and CANARY[:12] not in raw[0]
    assert unseal(db.session.scalars(select(Credential)).one()) == CANARY

    seen = [client.post(f"/pats/{github.id}/delete", headers=headers)]
    assert_clean(seen, logs, CANARY)
    assert db.session.execute(text("SELECT count(*) FROM credentials")).scalar() == 0


def test_canary_iam_secret_never_leaks(client, tenant, make_integration, fake_host, logs):
    """Does a CodeCommit secret access key stay out of responses, logs, audit, and plaintext?"""
    codecommit = make_integration(tenant, "codecommit", region="eu-west-1", secret="AKIA1:s")
    headers = context_headers(tenant)
    form = {"access_key_id": "AKIAIOSFODNN7EXAMPLE", "secret_access_key": CANARY}
    seen = [client.post(f"/pats/{codecommit.id}", data=form, headers=headers)]
    assert seen[0].status_code == 200
    seen.append(client.get("/pats", headers=context_headers(tenant, htmx=False)))
    seen.append(client.get(f"/pats/setup/{codecommit.id}", headers=headers))
    assert_clean(seen, logs, CANARY)
    raw = db.session.execute(text("SELECT ciphertext FROM credentials")).scalar_one()
    assert CANARY not in raw
    assert 'ending in <code class="suffix">…MPLE</code>' in seen[1].text


def test_token_with_a_line_break_is_refused_without_quoting_it(client, tenant, github, host, logs):
    """A token with a line break inside (only a hand-made request can send one): a 422 with a
    sentence, not a 500 whose traceback quotes the Authorization header in the log."""
    github_says(host)
    token = CANARY[:12] + "\n" + CANARY[12:]
    response = client.post(
        f"/pats/{github.id}", data={"token": token}, headers=context_headers(tenant)
    )
    assert response.status_code == 422 and "line break" in response.text
    for record in logs.records:
        assert record.exc_info is None, record.getMessage()
    assert_clean([response], logs, CANARY[:12], CANARY[12:])
    assert db.session.scalar(select(Credential)) is None
