"""The ``flask --app app gitint`` command group. Secrets come from stdin, never from arguments."""

import click
from flask import current_app
from flask.cli import with_appcontext

from .crypto import key_file, load_keyring, new_key_text, rotate_all
from .extensions import db


@click.group()
def gitint():
    """gitint administration commands."""


@gitint.command("rotate-keys")
@click.option(
    "--new-key",
    is_flag=True,
    help="Add a fresh key to instance/secret-keys first (only when GITINT_SECRET_KEYS is unset).",
)
@with_appcontext
def rotate_keys(new_key: bool):
    """Re-encrypt every stored secret under the newest key, in one transaction."""
    if new_key:
        if current_app.config["GITINT_SECRET_KEYS"].strip():
            raise click.UsageError(
                "GITINT_SECRET_KEYS is set: put the new key first in it instead of --new-key."
            )
        path = key_file(current_app.instance_path)
        ring = load_keyring("", current_app.instance_path)
        key_id = f"k{max(int(k[1:]) for k in ring.keys if k[1:].isdigit()) + 1}"
        path.write_text(new_key_text(key_id) + "," + ring.format() + "\n")
        current_app.extensions["gitint.keyring"] = load_keyring("", current_app.instance_path)
    changed, current = rotate_all(db.session)
    db.session.commit()
    primary = current_app.extensions["gitint.keyring"].primary_id
    click.echo(
        f"Re-encrypted {changed} secrets under key {primary}; {current} were already under it."
    )


# ---------------------------------------------------------------- Jira side: tenants and the demo

MIN_SHARED_SECRET = 32


def _stdin_secret(prompt: str) -> str:
    """A secret from stdin (piped), or typed without echo at a terminal; never an argument."""
    import sys

    if sys.stdin.isatty():
        return click.prompt(prompt, hide_input=True).strip()
    return sys.stdin.read().strip()


@gitint.group("tenant")
def tenant_group():
    """Embedded Jira hosts (Data Center/Server, or any host that signs the same JWT)."""


@tenant_group.command("add")
@click.option("--issuer", required=True, help="The `iss` the host puts in its tokens.")
@click.option("--base-url", required=True, help="The host's Jira URL (it may frame the app).")
@click.option("--name", default=None, help="A name for people (default: the issuer).")
@click.option("--display-url", default=None, help="Another URL users open Jira at, if any.")
@with_appcontext
def tenant_add(issuer: str, base_url: str, name: str | None, display_url: str | None):
    """Create or update an embedded tenant; the shared secret is read from stdin."""
    from urllib.parse import urlsplit

    from sqlalchemy import select

    from .crypto import seal
    from .models import Tenant

    issuer = issuer.strip()
    if not issuer or len(issuer) > 255:
        raise click.UsageError("--issuer must be 1 to 255 characters.")
    for option, url in (("--base-url", base_url), ("--display-url", display_url)):
        if url is not None:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise click.UsageError(
                    f"{option} must be an http(s) URL, e.g. https://jira.example.com"
                )
    secret = _stdin_secret("Shared secret")
    if len(secret) < MIN_SHARED_SECRET:
        raise click.UsageError(
            f"The shared secret (stdin) must be at least {MIN_SHARED_SECRET} characters; "
            "e.g. python -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    tenant = db.session.scalar(select(Tenant).where(Tenant.issuer == issuer))
    created = tenant is None
    if created:
        tenant = Tenant(kind="embedded", issuer=issuer)
        db.session.add(tenant)
    elif tenant.kind != "embedded":
        raise click.UsageError(
            f"{issuer!r} is a Jira Cloud (Connect) tenant; it cannot be changed here."
        )
    tenant.base_url = base_url.rstrip("/")
    tenant.display_url = display_url.rstrip("/") if display_url else None
    tenant.name = name or tenant.name or issuer
    tenant.installed = True
    seal(tenant, secret)
    db.session.commit()
    click.echo(
        f"{'Created' if created else 'Updated'} embedded tenant {issuer} ({tenant.base_url})."
    )


@gitint.command("demo")
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=5000, show_default=True, type=int, help="Port to listen on.")
@with_appcontext
def demo(host: str, port: int):
    """Set up the development Jira host (database, dev tenant) and serve the app like `flask run`.

    Safe to run again: migrations and the dev tenant are idempotent.
    """
    import os

    from flask_migrate import upgrade
    from werkzeug import serving

    from . import create_app, sync
    from .dev import forge as dev_forge
    from .dev.devhost import USERS, demo_githost_port, ensure_demo_integrations, ensure_dev_tenant
    from .dev.fakehost import FakeGitHost, demo_state
    from .queue import start_in_process

    os.environ["GITINT_DEV"] = "1"
    os.environ["GITINT_ALLOW_PRIVATE_HOSTS"] = "1"
    public_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
    base_url = (os.environ.get("GITINT_BASE_URL") or f"http://{public_host}:{port}").rstrip("/")
    settings = {**current_app.config, "GITINT_BASE_URL": base_url}
    settings.update(GITINT_DEV=True, GITINT_ALLOW_PRIVATE_HOSTS=True)
    settings.update(dev_forge.settings_for(base_url))  # Forge calls signed by the dev host's key
    app = create_app(settings)  # a fresh app: the dev host is registered only at creation
    with app.app_context():
        upgrade()
        last_port = demo_githost_port()  # the same as last time, so earlier links keep working
        try:
            githost = FakeGitHost(demo_state(), port=last_port).start()
        except OSError:  # taken by something else now
            githost = FakeGitHost(demo_state()).start()
        tenants = {
            "Connect": ensure_dev_tenant(base_url),
            "Forge": dev_forge.ensure_tenant(base_url),
        }
        db.session.commit()
        for mode, tenant in tenants.items():
            for integration in ensure_demo_integrations(tenant, githost.base_url):
                outcome = sync.run(integration.id, sync.claim(integration.id, force=True))
                click.echo(
                    f"Synced {outcome.done} repositories into {integration.name!r} ({mode} mode)."
                )
        db.session.remove()
        db.engine.dispose()
    click.echo(f"gitint demo is ready. Open {base_url}/dev/jira")
    click.echo(
        f"Forge mode (the Forge resource calling gitint as its Forge Remote): {base_url}"
        "/dev/jira?mode=forge, or the Connect | Forge switch at the top of the page."
    )
    click.echo("Switch users at the top of that page: " + ", ".join(USERS) + ".")
    click.echo(
        f"A fake git host runs at {githost.base_url}; when asked for a personal access token,"
        " use the demo token ghp_demo_developer_token (it is only valid on that fake host)."
    )
    consumer = start_in_process()  # a queue worker: syncs, webhooks and the schedule
    if consumer:
        click.echo("A task queue worker runs inside this process (no `gitint worker` needed).")
    try:
        serving.run_simple(host, port, app, threaded=True)
    finally:
        if consumer:
            consumer.stop()


@gitint.command("check-pats")
@click.option("--tenant", "issuer", help="Only this tenant's credentials (its issuer).")
@click.option("--integration", "integration_id", type=int, help="Only this integration's.")
@click.option("--now", is_flag=True, help="Check here and now, printing each outcome.")
@click.option(
    "--pause",
    type=float,
    default=1.0,
    show_default=True,
    envvar="GITINT_CHECK_PATS_PAUSE",
    help="Seconds between two calls to the same host (keeps within its rate limits).",
)
@with_appcontext
def check_pats(issuer: str | None, integration_id: int | None, now: bool, pause: float):
    """Re-validate users' stored tokens with their hosts; update status, expiry and check time.

    Queued for a worker unless --now (a worker also checks every token daily)."""
    from .credentials import check_stored
    from .queue import check_pats as check_pats_job

    if not now:
        check_pats_job(issuer, integration_id)
        click.echo("Queued: a worker checks the tokens (see the worker's log).")
        return

    def report(credential, outcome: str) -> None:
        integration = credential.integration
        click.echo(
            f"{integration.name} (#{integration.id}) user {credential.account_id}: {outcome}"
        )

    outcomes = check_stored(
        issuer=issuer, integration_id=integration_id, pause=pause, report=report
    )
    summary = ", ".join(f"{n} {state}" for state, n in sorted(outcomes.items())) or "none stored"
    click.echo(f"Checked {sum(outcomes.values())} credentials: {summary}.")


@gitint.command("worker")
@click.option(
    "--workers",
    "-w",
    default=2,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Jobs run at once (threads).",
)
@click.option("--no-periodic", is_flag=True, help="Leave the schedule to other workers.")
@with_appcontext
def worker(workers: int, no_periodic: bool):
    """Run the task queue's consumer: syncs, webhook deliveries, the schedule (Ctrl-C stops
    after the running jobs; SIGTERM stops at once and hands a running sync back)."""
    import logging

    from . import queue

    if queue.huey.immediate:
        raise click.UsageError("The queue is in immediate mode (GITINT_QUEUE_IMMEDIATE).")
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    consumer = queue.consumer(workers=workers, periodic=not no_periodic)
    queue.resume_soon(current_app)
    click.echo(f"gitint worker: {workers} threads on {_queue_display()}.", err=True)
    consumer.run()


def _queue_display() -> str:
    """Where the queue lives, without a password."""
    from urllib.parse import urlsplit

    url = current_app.config["GITINT_QUEUE_URL"]
    parts = urlsplit(url)
    if parts.password:
        url = url.replace(f":{parts.password}@", ":***@", 1)
    return url


# ---------------------------------------------------------------- admin: integrations, sync, audit

from .models import PROVIDER_KINDS  # noqa: E402


def _cli_audit(tenant_id: int, action: str, integration, **fields) -> None:
    """An audit event for a command-line action (the actor is "cli"); the caller commits."""
    from .models import AuditEvent

    db.session.add(
        AuditEvent(
            tenant_id=tenant_id,
            account_id="cli",
            integration_id=integration.id,
            integration_name=integration.name,
            action=action,
            result="success",
            **fields,
        )
    )


@gitint.group("integration")
def integration_group():
    """Integrations: connections to git hosts."""


@integration_group.command("add")
@click.option("--tenant", "issuer", required=True, help="The tenant's issuer (Jira client key).")
@click.option("--kind", required=True, type=click.Choice(PROVIDER_KINDS))
@click.option("--name", required=True, help="How users see the integration.")
@click.option("--base-url", help="Self-hosted: as in the browser, e.g. https://ghe.example.com.")
@click.option("--organization", help="Azure DevOps / VSTS organization.")
@click.option("--region", help="CodeCommit: the AWS region, e.g. eu-west-1.")
@click.option("--server-version", help="TFS / Azure DevOps Server: 2013 … 2022.")
@click.option("--require-user-pat", is_flag=True, help="Users must add their own token.")
@with_appcontext
def integration_add(
    issuer, kind, name, base_url, organization, region, server_version, require_user_pat
):
    """Add an integration. Its credential is read from stdin: a token, or ACCESS_KEY_ID:SECRET
    for CodeCommit. It is checked with the host first; the new integration's id is printed."""
    from sqlalchemy import select

    from .models import Integration, Tenant
    from .providers.base import ProviderError
    from .settings import KIND_FIELDS, SERVER_VERSIONS, check_credential, store_credential

    tenant = db.session.scalar(select(Tenant).where(Tenant.issuer == issuer))
    if tenant is None:
        raise click.UsageError(f"No tenant has the issuer {issuer!r}.")
    given = {
        "base_url": base_url.rstrip("/") if base_url else None,
        "organization": organization,
        "region": region,
        "server_version": server_version,
    }
    values = {field: given[field] for field in KIND_FIELDS[kind]}
    for field, value in given.items():
        option = "--" + field.replace("_", "-")
        if field in values and not value:
            raise click.UsageError(f"{option} is required for {kind}.")
        if field not in values and value:
            raise click.UsageError(f"{option} is not used by {kind}.")
    if server_version and server_version not in SERVER_VERSIONS:
        raise click.UsageError(f"--server-version must be one of {', '.join(SERVER_VERSIONS)}.")
    name = name.strip()
    if not name or len(name) > 120:
        raise click.UsageError("--name must be 1 to 120 characters.")
    taken = select(Integration).where(Integration.tenant_id == tenant.id, Integration.name == name)
    if db.session.scalar(taken) is not None:
        raise click.UsageError(f"{tenant.issuer} already has an integration named {name!r}.")
    secret = _stdin_secret("Credential (token, or ACCESS_KEY_ID:SECRET)")
    if not secret:
        raise click.UsageError("Give the credential on stdin.")
    integration = Integration(
        tenant_id=tenant.id, kind=kind, name=name, require_user_pat=require_user_pat, **values
    )
    try:
        identity = check_credential(integration, secret)
    except ProviderError as error:
        raise click.ClickException(f"The credential was not saved: {error}") from None
    db.session.add(integration)
    db.session.flush()
    store_credential(integration, secret, identity)
    _cli_audit(
        tenant.id,
        "integration.add",
        integration,
        acting="integration",
        acting_login=identity.login,
    )
    db.session.commit()
    scopes = (
        "scopes unknown" if identity.scopes is None else "scopes: " + ", ".join(identity.scopes)
    )
    click.echo(f"Added {name} as @{identity.login} ({scopes}).", err=True)
    click.echo(integration.id)


@gitint.command("sync-repos")
@click.option("--integration", "integration_id", type=int, help="Only this integration.")
@click.option("--now", is_flag=True, help="Sync here and now, with a progress line.")
@click.option("--force", is_flag=True, help="With --now: take over a sync a worker is running.")
@with_appcontext
def sync_repos(integration_id: int | None, now: bool, force: bool):
    """List the repositories each integration account can see into the database.

    Queued for a worker unless --now; a sync already queued or running is joined."""
    from sqlalchemy import select

    from . import queue, sync
    from .models import Integration

    if force and not now:
        raise click.UsageError("--force takes over a running sync: use it with --now.")
    query = select(Integration.id, Integration.name).order_by(Integration.id)
    if integration_id is not None:
        query = query.where(Integration.id == integration_id)
    targets = db.session.execute(query).all()
    if integration_id is not None and not targets:
        raise click.UsageError(f"No integration has the id {integration_id}.")
    failed = 0
    for iid, name in targets:
        if not now:
            _, queued = queue.request_sync(iid, "cli", "cli")
            state = "queued for a worker" if queued else "joined the sync already queued or running"
            click.echo(f"{name} (#{iid}): {state}.")
            continue
        estimate = sync.repository_count(iid)

        def progress(done: int, name=name, estimate=estimate) -> None:
            of = f" of ~{estimate:,} ({min(100, done * 100 // estimate)}%)" if estimate else ""
            click.echo(f"\r{name}: {done:,}{of} repositories", nl=False)

        sync.request(iid, "cli", "cli")  # or join the queued one, and run it here
        outcome = sync.perform(iid, force=force, on_progress=progress)
        if outcome.state == "joined":
            click.echo(f"{name} (#{iid}): a worker is running its sync; --force takes it over.")
            failed += 1
            continue
        click.echo("")
        if outcome.state == "done":
            done, removed = f"{outcome.done:,}", f"{outcome.removed:,}"
            click.echo(f"{name} (#{iid}): {done} repositories synced, {removed} removed.")
        else:
            failed += 1
            click.echo(f"{name} (#{iid}): sync {outcome.state}: {outcome.error or ''}".rstrip())
    if failed:
        raise SystemExit(1)


@gitint.command("audit")
@click.option("--tenant", "issuer", help="Only this tenant's events (its issuer).")
@click.option("--limit", type=int, help="Only the newest N events.")
@with_appcontext
def audit_log(issuer: str | None, limit: int | None):
    """Print the audit log, oldest first, one tab-separated event per line."""
    from sqlalchemy import select

    from .models import AuditEvent, Tenant

    query = select(AuditEvent, Tenant.issuer).join(Tenant, Tenant.id == AuditEvent.tenant_id)
    if issuer:
        query = query.where(Tenant.issuer == issuer)
    if limit:  # the newest N, printed oldest first
        newest = query.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc()).limit(limit)
        rows = reversed(db.session.execute(newest).all())
    else:  # streamed: the log may be long
        oldest_first = query.order_by(AuditEvent.created_at, AuditEvent.id)
        rows = db.session.execute(oldest_first.execution_options(yield_per=1000))
    acting = {"user_pat": "user PAT", "integration": "integration account"}
    for event, tenant_issuer in rows:
        who = acting.get(event.acting or "", "-")
        if event.acting_login:
            who += f" @{event.acting_login}"
        fields = (
            event.created_at.strftime("%Y-%m-%d %H:%M:%S"),
            tenant_issuer,
            event.account_id,
            event.integration_name or "-",
            event.repository or "-",
            event.action,
            who,
            event.result,
            (event.detail or "").replace("\t", " ").replace("\n", " "),
            event.link or "",
        )
        click.echo("\t".join(fields).rstrip())
