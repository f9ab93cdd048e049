"""The data model. Every row below a tenant carries tenant_id, and queries filter on it."""

from datetime import UTC, datetime

from sqlalchemy import (
    DDL,
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    func,
    literal_column,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Mapped, mapped_column, relationship
from sqlalchemy.sql.functions import FunctionElement

from .extensions import db

PROVIDER_KINDS = (
    "github",
    "github_enterprise",
    "gitlab",
    "gitlab_self_managed",
    "azure_devops",
    "vsts",
    "tfs",
    "codecommit",
)
TENANT_KINDS = ("forge", "connect", "embedded")
CREDENTIAL_STATUSES = ("valid", "expired", "revoked", "insufficient")
DEFAULT_TEMPLATE = "${issuekey}-${summary}"
MAX_ID = 2**31 - 1  # ids are INTEGER columns: 32 bits in PostgreSQL (64 in SQLite)


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def as_id(value) -> int | None:
    """``value`` (an int, or the decimal digits of one) as a row id; None when no row can have
    it — not a number, not positive, or past the database's integer range, where PostgreSQL
    and SQLite raise instead of finding nothing. Look-ups with None are a 404."""
    if isinstance(value, str):
        value = value.strip()
        if not (value.isascii() and value.isdigit() and len(value) <= 10):
            return None
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not 0 < value <= MAX_ID:
        return None
    return value


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Tenant(db.Model):
    """A Jira site: Forge (installed by the Forge lifecycle or its first invocation; ``issuer``
    is the installation id and there is no shared secret), Connect (installed by lifecycle
    callback) or embedded (added by the CLI)."""

    __tablename__ = "tenants"
    __table_args__ = (CheckConstraint(_in("kind", TENANT_KINDS), name="kind"),)
    SECRET_FIELD = "shared_secret_ct"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    issuer: Mapped[str] = mapped_column(String(255), unique=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    base_url: Mapped[str] = mapped_column(String(500))
    display_url: Mapped[str | None] = mapped_column(String(500))
    shared_secret_ct: Mapped[str | None] = mapped_column(Text)  # none for Forge tenants
    cloud_id: Mapped[str | None] = mapped_column(String(64))  # Forge: the site's cloudId
    api_base_url: Mapped[str | None] = mapped_column(String(500))  # Forge: app.apiBaseUrl
    installed: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    def secret_aad(self) -> str:
        return f"tenant-secret|issuer={self.issuer}"


class Integration(db.Model):
    """A connection to one git host, with the integration account's credential and settings."""

    __tablename__ = "integrations"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        UniqueConstraint("id", "tenant_id"),  # target of the composite keys below
        CheckConstraint(_in("kind", PROVIDER_KINDS), name="kind"),
        CheckConstraint("max_length BETWEEN 10 AND 200", name="max_length"),
        CheckConstraint("sync_every_hours BETWEEN 0 AND 168", name="sync_every_hours"),
    )
    SECRET_FIELD = "credential_ct"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    name: Mapped[str] = mapped_column(String(120))
    base_url: Mapped[str | None] = mapped_column(String(500))
    organization: Mapped[str | None] = mapped_column(String(255))  # Azure org or TFS collection
    region: Mapped[str | None] = mapped_column(String(32))
    server_version: Mapped[str | None] = mapped_column(String(16))
    # feature settings
    require_user_pat: Mapped[bool] = mapped_column(Boolean, default=False)
    allow_branch: Mapped[bool] = mapped_column(Boolean, default=True)
    allow_pull_request: Mapped[bool] = mapped_column(Boolean, default=True)
    branch_template: Mapped[str] = mapped_column(String(200), default=DEFAULT_TEMPLATE)
    separator: Mapped[str] = mapped_column(String(1), default="-")
    max_length: Mapped[int] = mapped_column(Integer, default=100)
    type_prefixes: Mapped[dict] = mapped_column(JSON, default=dict)
    # the integration account's credential (write-only; shown as last 4 + login)
    credential_ct: Mapped[str | None] = mapped_column(Text)
    credential_last4: Mapped[str | None] = mapped_column(String(4))
    credential_login: Mapped[str | None] = mapped_column(String(255))
    credential_scopes: Mapped[str | None] = mapped_column(String(500))
    credential_expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    credential_status: Mapped[str | None] = mapped_column(String(16))
    credential_checked_at: Mapped[datetime | None] = mapped_column(DateTime)
    # repository sync progress
    sync_state: Mapped[str] = mapped_column(String(16), default="never")
    sync_done: Mapped[int] = mapped_column(Integer, default=0)
    sync_error: Mapped[str | None] = mapped_column(Text)
    synced_at: Mapped[datetime | None] = mapped_column(DateTime)
    # the task queue's view of the sync (gitint/sync.py): the pending or current run, the lease
    # its worker holds (renewed while it runs; an expired lease means the worker died) and the
    # schedule ("Sync every" N hours, 0 = off)
    sync_run_id: Mapped[int | None] = mapped_column(Integer)
    sync_requested_at: Mapped[datetime | None] = mapped_column(DateTime)
    sync_owner: Mapped[str | None] = mapped_column(String(32))
    sync_lease_until: Mapped[datetime | None] = mapped_column(DateTime)
    sync_every_hours: Mapped[int] = mapped_column(Integer, default=6)
    # when a sync or a webhook last changed this integration's repositories
    repositories_changed_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    tenant: Mapped[Tenant] = relationship()

    def secret_aad(self) -> str:
        return f"integration|tenant={self.tenant_id}|integration={self.id}"


def search_words(name):
    """``name`` with the separators "/-_." turned into rare letters, for PostgreSQL's trigram
    index: pg_trgm only sees runs of letters and digits, so "ui-led" would otherwise be two words,
    "ui" and "led", each common; as "uizled" its trigrams are rare. Matches are checked on the
    real name afterwards, so a letter that was there already only costs a false candidate."""
    return func.translate(name, literal_column("'/-_.'"), literal_column("'qzjx'"))


# constants, not parameters: PostgreSQL matches a query's expression to an index's only when
# they are
SLASH, ONE, ZERO = literal_column("'/'"), literal_column("1"), literal_column("0")


class position(FunctionElement):
    """``position(text, part)``: where ``part`` first starts in ``text`` (1-based; 0 when it
    does not occur) — SQLite's instr, PostgreSQL's strpos."""

    type = Integer()
    inherit_cache = True


@compiles(position)
def _instr(element, compiler, **kw):
    return f"instr({compiler.process(element.clauses, **kw)})"


@compiles(position, "postgresql")
def _strpos(element, compiler, **kw):
    return f"strpos({compiler.process(element.clauses, **kw)})"


class code_points(FunctionElement):
    """Text compared in code-point order: PostgreSQL's COLLATE "C"; SQLite's BINARY, its own."""

    type = String()
    inherit_cache = True


@compiles(code_points)
def _binary(element, compiler, **kw):
    return compiler.process(element.clauses.clauses[0], **kw)


@compiles(code_points, "postgresql")
def _collate_c(element, compiler, **kw):
    return compiler.process(element.clauses.clauses[0].collate("C"), **kw)


def after_slash(name):
    """``name`` after its first "/" (all of it when it has none); applied twice, after its
    second. A name holds "/q" exactly when the text after one of its "/" starts with q."""
    return func.substr(name, position(name, SLASH) + ONE)


def has_slash(name):
    return position(name, SLASH) > ZERO


def segment_indexes(name) -> list[Index]:
    """Prefix indexes on the text after a name's first and second "/" (each only over the names
    that have it), and one for the names with three or more: PostgreSQL's is a trigram index of
    them, SQLite's lists them per tenant (the search asks its FTS5 table for them only when a
    tenant has any). With them the search answers "which names hold /q" exactly, from index
    entries: a trigram index cannot place a trigram after a "/", so "/ing" would otherwise
    check every name with "ing" in it, and FTS5 reads a common trigram's whole list ("-or" is in
    every "-org")."""
    first, second = after_slash(name), after_slash(after_slash(name))
    return [
        Index(
            "ix_repositories_after_slash",
            "tenant_id",
            code_points(first),
            postgresql_include=["id"],  # the search reads ids: from the index alone
            postgresql_where=has_slash(name),
        ).ddl_if(dialect="postgresql"),
        Index(  # SQLite's holds the names too: a "few" answer is sorted from the index alone
            "ix_repositories_after_slash",
            "tenant_id",
            code_points(first),
            "search_name",
            sqlite_where=has_slash(name),
        ).ddl_if(dialect="sqlite"),
        Index(
            "ix_repositories_after_slash_2",
            "tenant_id",
            code_points(second),
            postgresql_include=["id"],
            postgresql_where=has_slash(first),
            sqlite_where=has_slash(first),
        ),
        Index(
            "ix_repositories_deep_search_trgm",
            search_words(name).label("words"),
            postgresql_using="gin",
            postgresql_ops={"words": "gin_trgm_ops"},
            postgresql_where=has_slash(second),
        ).ddl_if(dialect="postgresql"),
        Index(  # covering, so that SQLite prefers it to the tenant's every name
            "ix_repositories_deep", "tenant_id", "search_name", sqlite_where=has_slash(second)
        ).ddl_if(dialect="sqlite"),
    ]


class Repository(db.Model):
    """A repository the integration account can see, copied by the sync (dialogs read these)."""

    __tablename__ = "repositories"
    __table_args__ = (
        UniqueConstraint("integration_id", "host_id"),
        ForeignKeyConstraint(
            ["integration_id", "tenant_id"],
            ["integrations.id", "integrations.tenant_id"],
            ondelete="CASCADE",
        ),
        Index("ix_repositories_tenant_search", "tenant_id", "search_name"),
        # PostgreSQL's repository search (gitint/search.py); SQLite's is REPOSITORIES_SEARCH
        Index(
            "ix_repositories_tenant_search_c",
            "tenant_id",
            literal_column("search_name").collate("C"),  # code-point order, as in SQLite
            "id",
        ).ddl_if(dialect="postgresql"),
        Index(
            "ix_repositories_search_trgm",
            search_words(literal_column("search_name")).label("words"),
            postgresql_using="gin",
            postgresql_ops={"words": "gin_trgm_ops"},
            # new entries wait in a short pending list (each search reads it) and are merged
            # 128 kB at a time: a sync writes 2× faster than with fastupdate off
            postgresql_with={"gin_pending_list_limit": 128},
        ).ddl_if(dialect="postgresql"),
        *segment_indexes(literal_column("search_name")),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(Integer)
    integration_id: Mapped[int] = mapped_column(Integer)
    host_id: Mapped[str] = mapped_column(String(255))
    full_name: Mapped[str] = mapped_column(String(500))
    search_name: Mapped[str] = mapped_column(String(500))  # lower-cased full_name
    project: Mapped[str | None] = mapped_column(String(255))  # Azure project
    default_branch: Mapped[str | None] = mapped_column(String(255))
    web_url: Mapped[str | None] = mapped_column(String(1000))
    synced_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    integration: Mapped[Integration] = relationship()


# SQLite's repository search (gitint/search.py): an FTS5 trigram index of search_name, kept in
# step by triggers in the writing transaction, so the sync and webhooks need no code for it.
# External content: the index holds only trigrams and reads names from repositories. The same
# statements are in migration 3e8b6d2f4a71; a batch migration that recreates the repositories
# table drops the triggers and must create them again.
REPOSITORIES_SEARCH = (
    "CREATE VIRTUAL TABLE repositories_search USING fts5(search_name, content='repositories',"
    " content_rowid='id', tokenize='trigram', columnsize=0)",
    "CREATE TRIGGER repositories_search_insert AFTER INSERT ON repositories BEGIN"
    " INSERT INTO repositories_search(rowid, search_name) VALUES (new.id, new.search_name); END",
    "CREATE TRIGGER repositories_search_delete AFTER DELETE ON repositories BEGIN"
    " INSERT INTO repositories_search(repositories_search, rowid, search_name)"
    " VALUES ('delete', old.id, old.search_name); END",
    "CREATE TRIGGER repositories_search_update AFTER UPDATE OF id, search_name ON repositories"
    " WHEN old.id IS NOT new.id OR old.search_name IS NOT new.search_name BEGIN"
    " INSERT INTO repositories_search(repositories_search, rowid, search_name)"
    " VALUES ('delete', old.id, old.search_name);"
    " INSERT INTO repositories_search(rowid, search_name) VALUES (new.id, new.search_name); END",
)
for _statement in REPOSITORIES_SEARCH:
    event.listen(Repository.__table__, "after_create", DDL(_statement).execute_if(dialect="sqlite"))
event.listen(
    Repository.__table__,
    "before_drop",
    DDL("DROP TABLE IF EXISTS repositories_search").execute_if(dialect="sqlite"),
)
event.listen(  # pg_trgm's operator class, before the index that uses it
    Repository.__table__,
    "before_create",
    DDL("CREATE EXTENSION IF NOT EXISTS pg_trgm").execute_if(dialect="postgresql"),
)


class Credential(db.Model):
    """A Jira user's own credential (PAT or IAM key) for one integration."""

    __tablename__ = "credentials"
    __table_args__ = (
        UniqueConstraint("tenant_id", "account_id", "integration_id"),
        ForeignKeyConstraint(
            ["integration_id", "tenant_id"],
            ["integrations.id", "integrations.tenant_id"],
            ondelete="CASCADE",
        ),
        CheckConstraint(_in("kind", ("pat", "iam_key")), name="kind"),
        CheckConstraint(_in("status", CREDENTIAL_STATUSES), name="status"),
    )
    SECRET_FIELD = "ciphertext"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(Integer, index=True)
    account_id: Mapped[str] = mapped_column(String(128))
    integration_id: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(8), default="pat")
    ciphertext: Mapped[str] = mapped_column(Text)
    last4: Mapped[str] = mapped_column(String(4))
    login: Mapped[str | None] = mapped_column(String(255))
    scopes: Mapped[str | None] = mapped_column(String(500))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(16), default="valid")
    checked_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    integration: Mapped[Integration] = relationship()

    def secret_aad(self) -> str:
        return (
            f"{self.kind}|tenant={self.tenant_id}|user={self.account_id}"
            f"|integration={self.integration_id}"
        )


class AuditEvent(db.Model):
    """One create attempt (or admin change): who, where, acting as whom, and how it ended."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_tenant_time", "tenant_id", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    account_id: Mapped[str] = mapped_column(String(128))
    display_name: Mapped[str | None] = mapped_column(String(255))  # the user's, at the time
    integration_id: Mapped[int | None] = mapped_column(Integer)  # kept after deletion
    integration_name: Mapped[str] = mapped_column(String(120), default="")
    repository: Mapped[str | None] = mapped_column(String(500))
    action: Mapped[str] = mapped_column(String(32))
    acting: Mapped[str | None] = mapped_column(String(16))  # user_pat | integration
    acting_login: Mapped[str | None] = mapped_column(String(255))
    result: Mapped[str] = mapped_column(String(16))  # success | error
    detail: Mapped[str | None] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(1000))


class Attempt(db.Model):
    """A rate-limited attempt (e.g. a token validation), counted across workers."""

    __tablename__ = "attempts"
    __table_args__ = (Index("ix_attempts_bucket_time", "bucket", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    bucket: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


class Idempotency(db.Model):
    """The outcome of a create, kept briefly so a double submit or retry returns it again."""

    __tablename__ = "idempotency"
    __table_args__ = (UniqueConstraint("tenant_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending | done
    result: Mapped[dict | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)


SYNC_TRIGGERS = ("manual", "cli", "scheduled")


class SyncRun(db.Model):
    """One requested repository sync of an integration (history; old rows are cleaned up)."""

    __tablename__ = "sync_runs"
    __table_args__ = (
        ForeignKeyConstraint(
            ["integration_id", "tenant_id"],
            ["integrations.id", "integrations.tenant_id"],
            ondelete="CASCADE",
        ),
        CheckConstraint(_in("trigger", SYNC_TRIGGERS), name="trigger"),
        Index("ix_sync_runs_integration_time", "integration_id", "requested_at"),
        Index("ix_sync_runs_requested_at", "requested_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(Integer)
    integration_id: Mapped[int] = mapped_column(Integer)
    trigger: Mapped[str] = mapped_column(String(16))
    requested_by: Mapped[str] = mapped_column(String(128))  # a Jira account id, "cli", "scheduler"
    requested_by_name: Mapped[str | None] = mapped_column(String(255))  # their display name then
    requested_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)  # of the latest attempt
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    state: Mapped[str] = mapped_column(String(16), default="queued")  # queued running done failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # > 1: resumed after a dead worker
    done: Mapped[int] = mapped_column(Integer, default=0)
    removed: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text)


class Webhook(db.Model):
    """The address and secret a git host signs its repository events with, one per integration.

    ``public_id`` is the last part of ``/webhooks/<public_id>``; the secret is sealed like every
    other secret (GitHub: the HMAC key; GitLab: the secret token; Azure: the basic-auth password).
    """

    __tablename__ = "webhooks"
    __table_args__ = (
        UniqueConstraint("integration_id"),
        ForeignKeyConstraint(
            ["integration_id", "tenant_id"],
            ["integrations.id", "integrations.tenant_id"],
            ondelete="CASCADE",
        ),
    )
    SECRET_FIELD = "secret_ct"

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(Integer, index=True)
    integration_id: Mapped[int] = mapped_column(Integer)
    public_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_ct: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_delivery_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_delivery_event: Mapped[str | None] = mapped_column(String(64))
    last_rejected_at: Mapped[datetime | None] = mapped_column(DateTime)

    integration: Mapped[Integration] = relationship()

    def secret_aad(self) -> str:
        return (
            f"webhook|tenant={self.tenant_id}|integration={self.integration_id}"
            f"|hook={self.public_id}"
        )


class WebhookDelivery(db.Model):
    """A verified delivery, kept for a while so that a replayed one changes nothing twice."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("webhook_id", "key"),
        Index("ix_webhook_deliveries_received_at", "received_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))  # the host's delivery id, else the body's hash
    received_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    event: Mapped[str] = mapped_column(String(64))
    state: Mapped[str] = mapped_column(String(16), default="queued")  # applied ignored failed
    detail: Mapped[str | None] = mapped_column(Text)


SECRET_MODELS = (Tenant, Integration, Credential, Webhook)
