"""What the dialogs do besides rendering: load repositories, pick default branches, and create a
branch or pull request exactly once, audited, with every host error turned into one sentence.
Finding repositories by name is gitint/search.py."""

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app, g
from sqlalchemy import bindparam, delete, select
from sqlalchemy.exc import IntegrityError

from . import audit
from .acting import BRANCH, Acting
from .extensions import db
from .hosts import integration_provider, mark_rejected, settings_of, user_provider
from .models import Credential, Idempotency, Integration, Repository, as_id, utcnow
from .providers import make_provider
from .providers.base import (
    UNREADABLE,
    AlreadyExists,
    AuthExpired,
    Branch,
    Malformed,
    Provider,
    ProviderError,
    PullRequest,
    ReadOnly,
    Repo,
)

IDEMPOTENCY_WINDOW = timedelta(minutes=10)
RECOVERED = "already created by an earlier attempt whose answer was lost."


# ---------------------------------------------------------------- repositories and branches


def get_repository(tenant_id: int, repository_id) -> Repository | None:
    """The tenant's repository by id (another tenant's id, or no id at all, gives None)."""
    repository_id = as_id(repository_id)
    if repository_id is None:
        return None
    return db.session.scalar(_REPOSITORY, {"tenant": tenant_id, "id": repository_id})


_REPOSITORY = select(Repository).where(  # built once (views/common.py says why)
    Repository.tenant_id == bindparam("tenant"), Repository.id == bindparam("id")
)


def repo_of(row: Repository) -> Repo:
    return Repo(
        host_id=row.host_id,
        full_name=row.full_name,
        default_branch=row.default_branch,
        web_url=row.web_url,
        project=row.project,
    )


def newest_branch_with(branches: list[Branch], issue_key: str | None) -> str | None:
    """The newest branch whose name contains the issue key: by commit date when the host gives
    it, else the last listed match."""
    if not issue_key:
        return None
    matches = [b for b in branches if issue_key.lower() in b.name.lower()]
    dated = [b for b in matches if b.committed_at]
    if dated:
        return max(dated, key=lambda b: b.committed_at).name
    return matches[-1].name if matches else None


def host_traits(integration: Integration) -> tuple[str, bool]:
    """(pr_noun, supports_draft) of the integration's host, without calling it."""
    try:
        provider = make_provider(settings_of(integration), "unused:unused", allow_private=True)
        return provider.pr_noun, bool(provider.supports_draft)
    except (ProviderError, KeyError):
        return "pull request", False


def branch_web_url(repository: Repository, name: str) -> str | None:
    """The host's page for branch ``name`` of ``repository``, without calling the host."""
    try:
        provider = make_provider(settings_of(repository.integration), "unused:unused")
        return provider.web_url_for_branch(repo_of(repository), name)
    except (ProviderError, KeyError):
        return None


def acting_provider(integration: Integration, credential: Credential | None, acting: Acting):
    """The provider for whoever acts: the user's credential or the integration account."""
    if acting.audit_name == "user_pat":
        return user_provider(credential)
    return integration_provider(integration)


def refused(error: AuthExpired, integration: Integration, credential, acting: Acting) -> None:
    """A 401: remember that the acting credential no longer works."""
    mark_rejected(credential if acting.audit_name == "user_pat" else integration, error)


# ---------------------------------------------------------------- our own earlier success


def own_branch(provider: Provider, repo: Repo, name: str, base: str) -> Branch | None:
    """The existing branch ``name`` when it points at the head of ``base``: what our own earlier
    create made when its answer was lost (2 host calls; None when it cannot be told)."""
    try:
        branch, head = provider.get_branch(repo, name), provider.get_branch(repo, base)
    except (ProviderError, *UNREADABLE):
        return None
    return branch if branch.sha and branch.sha == head.sha else None


def own_pull_request(
    provider: Provider,
    repo: Repo,
    source: str,
    target: str,
    login: str | None,
    found: PullRequest | None = None,
) -> PullRequest | None:
    """The open PR from ``source`` into ``target`` when ``login`` opened it within the
    idempotency window: our own earlier create whose answer was lost. ``found`` is the PR the
    provider already looked up (else 1 host call)."""
    if not login:
        return None
    try:
        pr = found or provider.find_open_pull_request(repo, source, target)
    except (ProviderError, *UNREADABLE):
        return None
    if pr is None or (pr.source, pr.target) != (source, target):
        return None
    by_login = (pr.author or "").lower() == login.lower()
    recent = pr.created_at is not None and pr.created_at >= utcnow() - IDEMPOTENCY_WINDOW
    return pr if by_login and recent else None


# ---------------------------------------------------------------- creating exactly once


@dataclass
class Outcome:
    """How a create ended: ``url`` links to the new (or, for AlreadyExists, existing) thing."""

    ok: bool
    message: str | None = None
    url: str | None = None
    name: str | None = None
    needs_pat: bool = False  # the acting credential was refused: ask for a PAT inline
    repeated: bool = False  # the earlier result (a double submit, or a lost answer recognised)


def idempotency_key(*parts) -> str:
    """sha256 of tenant/user/integration/repository/action/name."""
    return hashlib.sha256("\0".join(str(p) for p in parts).encode()).hexdigest()


def claim(tenant_id: int, key: str) -> tuple[Idempotency | None, bool]:
    """Insert a pending row for ``key`` → (row, True); if a fresh one exists → (it, False).

    The unique (tenant_id, key) constraint makes this safe across workers: of two concurrent
    requests only one insert succeeds, so only one calls the host.
    """
    for _ in range(3):
        row = Idempotency(tenant_id=tenant_id, key=key, state="pending", created_at=utcnow())
        db.session.add(row)
        try:
            db.session.commit()
            return row, True
        except IntegrityError:
            db.session.rollback()
        existing = db.session.scalar(
            select(Idempotency).where(Idempotency.tenant_id == tenant_id, Idempotency.key == key)
        )
        if existing is None:
            continue
        if existing.created_at > utcnow() - IDEMPOTENCY_WINDOW:
            return existing, False
        db.session.execute(  # stale: forget it and try again
            delete(Idempotency).where(
                Idempotency.id == existing.id, Idempotency.created_at == existing.created_at
            )
        )
        db.session.commit()
    return None, False


def release(row: Idempotency) -> None:
    """The attempt failed: let a retry call the host again."""
    db.session.rollback()
    db.session.execute(delete(Idempotency).where(Idempotency.id == row.id))
    db.session.commit()


def create_once(
    action: str,
    name: str,
    *,
    integration: Integration,
    repository: Repository,
    credential: Credential | None,
    acting: Acting,
    call: Callable[[Provider], tuple[str, str]],
    ours: Callable[[Provider, AlreadyExists], tuple[str, str] | None] | None = None,
) -> Outcome:
    """Run ``call(provider)`` → (url, name) at most once per user, repository and name within
    the idempotency window, audit the attempt, and map host errors to one sentence. When the
    host says the thing already exists, ``ours(provider, error)`` → (url, name) recognises our
    own earlier create whose answer was lost (a timeout, a dropped connection): a success."""
    ctx = g.ctx
    key = idempotency_key(
        ctx.tenant_id, ctx.account_id, integration.id, repository.id, action, name
    )
    audit_action = "create_branch" if action == BRANCH else "create_pull_request"

    def record(result: str, detail: str | None = None, link: str | None = None) -> None:
        audit.record(
            audit_action,
            result,
            integration=integration,
            repository=repository.full_name,
            acting=acting.audit_name,
            acting_login=acting.login,
            detail=detail,
            link=link,
        )

    def failed(message: str, **outcome) -> Outcome:
        release(row)
        record("error", message, outcome.get("url"))
        return Outcome(False, message, **outcome)

    row, mine = claim(ctx.tenant_id, key)
    if not mine:
        if row is not None and row.state == "done":
            result = row.result or {}
            record(
                "success", "Repeated request: the earlier result was returned.", result.get("url")
            )
            return Outcome(True, url=result.get("url"), name=result.get("name"), repeated=True)
        return Outcome(
            False,
            "The same request is still being processed; wait a few seconds, then check the host.",
        )
    repeated = False
    try:
        provider = acting_provider(integration, credential, acting)
        try:
            url, made = call(provider)
        except AlreadyExists as error:
            earlier = ours(provider, error) if ours else None
            if earlier is None:
                raise
            (url, made), repeated = earlier, True
    except AuthExpired as error:
        refused(error, integration, credential, acting)
        return failed(str(error), needs_pat=True)
    except AlreadyExists as error:
        return failed(str(error), url=error.url)
    except ReadOnly as error:
        return failed(error.said(acting.login, repository.full_name))
    except ProviderError as error:
        return failed(str(error))
    except UNREADABLE:  # a host answer without the documented shape (the host may have acted)
        current_app.logger.warning("unreadable host answer", exc_info=True)
        return failed(Malformed.default)
    except Exception:
        release(row)
        record("error", "Unexpected error.")
        current_app.logger.exception("create failed")
        raise
    row.state, row.result = "done", {"url": url, "name": made}
    db.session.commit()
    # the audit log's Detail: the branch or PR (linked), and when it was our earlier attempt's
    detail = f"{made}: {RECOVERED}" if repeated else made
    record("success", detail, link=url)
    return Outcome(True, url=url, name=made, repeated=repeated)
