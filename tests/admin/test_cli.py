"""The admin commands: integration add, sync-repos, audit."""

import responses
from sqlalchemy import select

from gitint import sync
from gitint.extensions import db
from gitint.models import AuditEvent, Integration, Repository
from gitint.providers.base import Unavailable
from tests.admin.conftest import repos

TOKEN = "ghp_cli_token_canary_0001"


def add_integration(runner, *args, input):
    """Run `gitint integration add ARGS` with the credential on stdin."""
    return runner.invoke(args=["gitint", "integration", "add", *args], input=input)


@responses.activate
def test_integration_add_reads_the_token_from_stdin(runner, tenant):
    """Does `integration add` read the token from stdin, check it, store it and print the id?"""
    responses.get(
        "https://api.github.com/user",
        json={"login": "acme-bot", "name": "Acme Bot"},
        headers={"X-OAuth-Scopes": "repo, read:org"},
    )
    result = add_integration(
        runner,
        "--tenant",
        tenant.issuer,
        "--kind",
        "github",
        "--name",
        "Acme",
        "--require-user-pat",
        input=TOKEN + "\n",
    )
    assert result.exit_code == 0, result.output
    integration = db.session.scalar(select(Integration))
    assert result.stdout.strip().splitlines()[-1] == str(integration.id)
    assert "@acme-bot" in result.output and TOKEN not in result.output
    assert integration.require_user_pat and integration.credential_login == "acme-bot"
    assert integration.credential_last4 == "0001" and integration.tenant_id == tenant.id
    assert responses.calls[0].request.headers["Authorization"] == f"Bearer {TOKEN}"
    event = db.session.scalar(select(AuditEvent))
    assert (event.action, event.account_id) == ("integration.add", "cli")


@responses.activate
def test_integration_add_refuses_a_rejected_token(runner, tenant):
    """Is a token the host refuses not saved, with the host's reason printed?"""
    responses.get("https://api.github.com/user", status=401, json={"message": "Bad credentials"})
    result = add_integration(
        runner, "--tenant", tenant.issuer, "--kind", "github", "--name", "Acme", input=TOKEN
    )
    assert result.exit_code == 1
    assert "not saved" in result.output and "expired or has been revoked" in result.output
    assert db.session.scalar(select(Integration)) is None


def test_integration_add_needs_the_kinds_fields(runner, tenant):
    """Does a self-hosted kind without --base-url (or an unknown tenant) fail before any call?"""
    result = add_integration(
        runner,
        "--tenant",
        tenant.issuer,
        "--kind",
        "github_enterprise",
        "--name",
        "GHE",
        input=TOKEN,
    )
    assert result.exit_code == 2 and "--base-url is required" in result.output
    result = add_integration(
        runner, "--tenant", "nobody", "--kind", "github", "--name", "X", input=TOKEN
    )
    assert result.exit_code == 2 and "No tenant" in result.output
    result = add_integration(
        runner,
        "--tenant",
        tenant.issuer,
        "--kind",
        "github",
        "--name",
        "X",
        "--region",
        "eu-west-1",
        input=TOKEN,
    )
    assert result.exit_code == 2 and "--region is not used by github" in result.output
    assert db.session.scalar(select(Integration)) is None


def test_integration_add_codecommit_keys(runner, tenant, fake_host):
    """Does a CodeCommit integration take ACCESS_KEY_ID:SECRET from stdin and its region?"""
    result = add_integration(
        runner,
        "--tenant",
        tenant.issuer,
        "--kind",
        "codecommit",
        "--name",
        "AWS",
        "--region",
        "eu-west-1",
        input="AKIAEXAMPLE:wJalrXUtnFEMI/K7MDENG\n",
    )
    assert result.exit_code == 0, result.output
    assert fake_host.secrets == ["AKIAEXAMPLE:wJalrXUtnFEMI/K7MDENG"]
    assert "wJalrXUtnFEMI" not in result.output
    integration = db.session.scalar(select(Integration))
    assert (integration.kind, integration.region) == ("codecommit", "eu-west-1")


def test_sync_repos_now_shows_progress_and_counts(runner, tenant, make_integration, fake_host):
    """Does `sync-repos --now` sync every integration (or one) with a progress line and
    counts?"""
    one = make_integration(tenant, name="One")
    two = make_integration(tenant, name="Two")
    fake_host.pages = [repos(0, sync.BATCH + 500)]
    result = runner.invoke(args=["gitint", "sync-repos", "--now", "--integration", str(one.id)])
    assert result.exit_code == 0, result.output
    assert f"One: {sync.BATCH:,} repositories" in result.output
    assert f"One (#{one.id}): {sync.BATCH + 500:,} repositories synced, 0 removed." in result.output
    assert "Two" not in result.output
    fake_host.pages = [repos(0, 10), Unavailable("The git host could not be reached; try again.")]
    result = runner.invoke(args=["gitint", "sync-repos", "--now"])
    assert result.exit_code == 1
    assert f"Two (#{two.id}): sync failed: The git host could not be reached" in result.output
    assert db.session.query(Repository).filter_by(integration_id=one.id).count() == sync.BATCH + 500
    events = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "sync.cli")).all()
    assert [(e.integration_name, e.result, e.account_id) for e in events] == [
        ("One", "success", "cli"),
        ("One", "error", "cli"),
        ("Two", "error", "cli"),
    ]


def test_sync_repos_queues_by_default(runner, tenant, make_integration, fake_host):
    """Does `sync-repos` queue a sync for a worker (run inline in tests), join one already
    queued, and refuse --force without --now?"""
    one = make_integration(tenant, name="One")
    fake_host.pages = [repos(0, 3)]
    result = runner.invoke(args=["gitint", "sync-repos"])
    assert result.exit_code == 0 and f"One (#{one.id}): queued for a worker." in result.output
    assert db.session.query(Repository).filter_by(integration_id=one.id).count() == 3
    db.session.expire_all()
    one.sync_state = "queued"
    db.session.commit()
    result = runner.invoke(args=["gitint", "sync-repos"])
    assert "joined the sync already queued or running" in result.output
    result = runner.invoke(args=["gitint", "sync-repos", "--force"])
    assert result.exit_code == 2 and "use it with --now" in result.output


def test_sync_repos_unknown_integration(runner):
    """Is an unknown --integration a usage error?"""
    result = runner.invoke(args=["gitint", "sync-repos", "--integration", "999"])
    assert result.exit_code == 2


def test_audit_prints_events(runner, tenant, make_tenant):
    """Does `audit` print every event (or one tenant's, or the newest N), oldest first?"""
    other = make_tenant()
    db.session.add_all(
        [
            AuditEvent(
                tenant_id=tenant.id,
                account_id="alice",
                action="create_branch",
                result="success",
                acting="user_pat",
                acting_login="alice-gh",
                repository="org/a",
                integration_name="GH",
                link="https://x/1",
            ),
            AuditEvent(
                tenant_id=other.id,
                account_id="bob",
                action="create_pull_request",
                result="error",
                acting="integration",
                acting_login="bot",
                detail="The branch\tdoes not exist.",
            ),
        ]
    )
    db.session.commit()
    lines = runner.invoke(args=["gitint", "audit"]).output.splitlines()
    assert len(lines) == 2
    fields = lines[0].split("\t")
    assert fields[1:9] == [
        tenant.issuer,
        "alice",
        "GH",
        "org/a",
        "create_branch",
        "user PAT @alice-gh",
        "success",
        "",
    ]
    assert "integration account @bot" in lines[1] and "The branch does not exist." in lines[1]
    only = runner.invoke(args=["gitint", "audit", "--tenant", other.issuer]).output
    assert "bob" in only and "alice" not in only
    newest = runner.invoke(args=["gitint", "audit", "--limit", "1"]).output.splitlines()
    assert len(newest) == 1 and "bob" in newest[0]
