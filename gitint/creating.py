"""What the dialogs do besides rendering: find repositories, pick default branches, and create a
branch or pull request exactly once, audited, with every host error turned into one sentence."""

import hashlib
import threading
from array import array
from bisect import bisect_left, bisect_right
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app, g
from sqlalchemy import delete, not_, select
from sqlalchemy.exc import IntegrityError

from . import audit
from .acting import BRANCH, Acting
from .extensions import db
from .hosts import integration_provider, mark_rejected, settings_of, user_provider
from .models import Credential, Idempotency, Integration, Repository, as_id, utcnow
from .providers import make_provider
from .providers.base import AlreadyExists, AuthExpired, Branch, Provider, ProviderError, Repo

PAGE_SIZE = 20
IDEMPOTENCY_WINDOW = timedelta(minutes=10)


# ---------------------------------------------------------------- repositories and branches


def _after(prefix: str) -> str:
    """The smallest string above every string that starts with ``prefix`` (code-point order)."""
    return prefix[:-1] + chr(min(ord(prefix[-1]) + 1, 0x10FFFF))


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search_repositories(tenant_id: int, query: str, page: int = 0) -> tuple[list[Repository], bool]:
    """One page of the tenant's repositories matching ``query``, best first: exact, prefix of the
    full name, prefix of a name after "/", then any substring. Returns (rows, more).

    Small tenants: SQL, the prefix part on the (tenant_id, search_name) index. Large tenants:
    substring scans of 100,000 rows are too slow in SQL, so a per-process ``NameIndex`` serves
    all parts."""
    q = query.strip().lower().replace("\n", "").replace("\x00", "")
    wanted = (page + 1) * PAGE_SIZE + 1
    index = name_index(tenant_id) if q else None
    if index is not None:
        ids = index.search(q, wanted)
    else:
        ids = []
        for stage in _sql_stages(tenant_id, q):
            if len(ids) < wanted:
                ids.extend(stage(wanted - len(ids)))
    chosen = ids[page * PAGE_SIZE : (page + 1) * PAGE_SIZE]
    rows = {
        r.id: r for r in db.session.scalars(select(Repository).where(Repository.id.in_(chosen)))
    }
    found = [rows[i] for i in chosen if i in rows]
    if page == 0 and q:
        found.sort(key=lambda r: r.search_name != q)  # exact matches first
    return found, len(ids) > (page + 1) * PAGE_SIZE


def _sql_stages(tenant_id: int, q: str) -> list:
    base = select(Repository.id).where(Repository.tenant_id == tenant_id)

    def stage(statement):
        ordered = statement.order_by(Repository.search_name, Repository.id)
        return lambda limit: list(db.session.scalars(ordered.limit(limit)))

    if not q:
        return [stage(base)]
    name = Repository.search_name
    if db.session.get_bind().dialect.name == "postgresql":
        name = name.collate("C")  # a prefix range is exact only in code-point order
    prefix = Repository.search_name.like(_like(q) + "%", escape="\\")
    segment = Repository.search_name.like("%/" + _like(q) + "%", escape="\\")
    anywhere = Repository.search_name.like("%" + _like(q) + "%", escape="\\")
    return [
        stage(base.where(name >= q, name < _after(q), prefix)),  # a range on the index
        stage(base.where(segment, not_(prefix))),
        stage(base.where(anywhere, not_(segment), not_(prefix))),
    ]


class _Sorted:
    """Sorted strings kept in one text (little memory), found by prefix with bisection."""

    def __init__(self, items):
        self.starts, self.payload, parts, at = array("q"), array("q"), [], 0
        for string, payload in items:
            self.starts.append(at)
            self.payload.append(payload)
            parts.append(string)
            at += len(string) + 1
        self.text = "\n".join(parts) + "\n"

    def __len__(self) -> int:
        return len(self.starts)

    def item(self, i: int) -> str:
        return self.text[self.starts[i] : self.text.index("\n", self.starts[i])]

    def with_prefix(self, prefix: str) -> range:
        """Positions of the strings starting with ``prefix`` (code-point order keeps them
        together, between ``prefix`` and the same with its last character incremented)."""
        positions = range(len(self))
        return range(
            bisect_left(positions, prefix, key=self.item),
            bisect_left(positions, _after(prefix), key=self.item),
        )


class NameIndex:
    """A large tenant's repository names in memory, answering the type-ahead in a few ms: names
    sorted (prefix by bisection), the parts after each "/" sorted (same), and one text for
    substrings (``str.find`` runs at C speed; SQL would scan 100,000 rows)."""

    FEW = 1000  # more matches after a "/" than this: scan the names in order instead

    def __init__(self, rows):
        rows = sorted((name, repository_id) for repository_id, name in rows)
        self.names = _Sorted(rows)
        self.segments = _Sorted(
            sorted(
                (name[at + 1 :], n)
                for n, (name, _) in enumerate(rows)
                for at in range(len(name))
                if name[at] == "/"
            )
        )

    def search(self, q: str, wanted: int) -> list[int]:
        """Up to ``wanted`` ids: prefix matches, then prefix after "/", then substrings."""
        names = self.names
        hits = list(names.with_prefix(q)[:wanted])
        after_slash = self.segments.with_prefix(q)
        if len(hits) < wanted and len(after_slash) <= self.FEW:  # few: take them all from here
            found = sorted({self.segments.payload[i] for i in after_slash})
            hits += [n for n in found if not names.item(n).startswith(q)]
        elif len(hits) < wanted:  # many: the first ones in name order turn up quickly
            hits += self._scan("/" + q, wanted - len(hits), lambda name: name.startswith(q))
        if len(hits) < wanted:
            hits += self._scan(
                q, wanted - len(hits), lambda name: name.startswith(q) or "/" + q in name
            )
        return [names.payload[n] for n in hits[:wanted]]

    def _scan(self, needle: str, limit: int, skip) -> list[int]:
        """Positions of the first ``limit`` names containing ``needle``, except ``skip(name)``."""
        names, found = self.names, []
        at = names.text.find(needle)
        while at != -1 and len(found) < limit:
            n = bisect_right(names.starts, at) - 1
            name = names.item(n)
            if not skip(name):
                found.append(n)
            at = names.text.find(needle, names.starts[n] + len(name))
        return found


LARGE_TENANT = 5_000  # repositories; below this SQL scans in well under a millisecond
_indexes: OrderedDict = OrderedDict()  # tenant_id → (stamp, NameIndex), a few large tenants
_indexes_lock = threading.Lock()


def name_index(tenant_id: int) -> NameIndex | None:
    """The tenant's NameIndex when it has many repositories and no sync is running, else None.

    Kept per process and rebuilt when any of the tenant's integrations changes its sync stamp,
    so every worker derives the same answer from the database."""
    integrations = db.session.execute(
        select(
            Integration.id, Integration.synced_at, Integration.sync_state, Integration.sync_done
        ).where(Integration.tenant_id == tenant_id)
    ).all()
    stamp = tuple(sorted(tuple(row) for row in integrations))
    size = sum(row.sync_done or 0 for row in integrations)
    if size < LARGE_TENANT or any(row.sync_state == "running" for row in integrations):
        return None
    with _indexes_lock:
        kept = _indexes.get(tenant_id)
        if kept and kept[0] == stamp:
            _indexes.move_to_end(tenant_id)
            return kept[1]
    rows = db.session.execute(
        select(Repository.id, Repository.search_name).where(Repository.tenant_id == tenant_id)
    )
    index = NameIndex(rows)
    with _indexes_lock:
        _indexes[tenant_id] = (stamp, index)
        while len(_indexes) > 4:
            _indexes.popitem(last=False)
    return index


def get_repository(tenant_id: int, repository_id) -> Repository | None:
    """The tenant's repository by id (another tenant's id, or no id at all, gives None)."""
    repository_id = as_id(repository_id)
    if repository_id is None:
        return None
    return db.session.scalar(
        select(Repository).where(Repository.tenant_id == tenant_id, Repository.id == repository_id)
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


def acting_provider(integration: Integration, credential: Credential | None, acting: Acting):
    """The provider for whoever acts: the user's credential or the integration account."""
    if acting.audit_name == "user_pat":
        return user_provider(credential)
    return integration_provider(integration)


def refused(error: AuthExpired, integration: Integration, credential, acting: Acting) -> None:
    """A 401: remember that the acting credential no longer works."""
    mark_rejected(credential if acting.audit_name == "user_pat" else integration, error)


# ---------------------------------------------------------------- creating exactly once


@dataclass
class Outcome:
    """How a create ended: ``url`` links to the new (or, for AlreadyExists, existing) thing."""

    ok: bool
    message: str | None = None
    url: str | None = None
    name: str | None = None
    needs_pat: bool = False  # the acting credential was refused: ask for a PAT inline
    repeated: bool = False  # a double submit: the earlier result, nothing created again


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
) -> Outcome:
    """Run ``call(provider)`` → (url, name) at most once per user, repository and name within
    the idempotency window, audit the attempt, and map host errors to one sentence."""
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
    try:
        url, made = call(acting_provider(integration, credential, acting))
    except AuthExpired as error:
        release(row)
        refused(error, integration, credential, acting)
        record("error", str(error))
        return Outcome(False, str(error), needs_pat=True)
    except AlreadyExists as error:
        release(row)
        record("error", str(error), error.url)
        return Outcome(False, str(error), url=error.url)
    except ProviderError as error:
        release(row)
        record("error", str(error))
        return Outcome(False, str(error))
    except Exception:
        release(row)
        record("error", "Unexpected error.")
        current_app.logger.exception("create failed")
        raise
    row.state, row.result = "done", {"url": url, "name": made}
    db.session.commit()
    record("success", link=url)
    return Outcome(True, url=url, name=made)
