"""Repository search in the database (gitint/search.py): on SQLite an FTS5 trigram index of the
repositories' search names kept in step by triggers; on PostgreSQL pg_trgm's GIN index and a
prefix index in code-point order.

Revision ID: 3e8b6d2f4a71
Revises: 5d2f1c0a9b7e
Create Date: 2026-12-02 19:00:00
"""

from alembic import op

revision = "3e8b6d2f4a71"
down_revision = "5d2f1c0a9b7e"
branch_labels = None
depends_on = None

# the statements of gitint.models.REPOSITORIES_SEARCH, frozen here as this revision made them
SQLITE = (
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
    # index the repositories synced before this revision
    "INSERT INTO repositories_search(repositories_search) VALUES ('rebuild')",
)
POSTGRESQL = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    'CREATE INDEX ix_repositories_tenant_search_c ON repositories (tenant_id, search_name COLLATE "C", id)',
    "CREATE INDEX ix_repositories_search_trgm ON repositories USING gin"
    " ((translate(search_name, '/-_.', 'qzjx')) gin_trgm_ops) WITH (gin_pending_list_limit = 128)",
)


def upgrade():
    dialect = op.get_bind().dialect.name
    for statement in {"sqlite": SQLITE, "postgresql": POSTGRESQL}.get(dialect, ()):
        op.execute(statement)


def downgrade():
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS repositories_search_{name}")
        op.execute("DROP TABLE IF EXISTS repositories_search")
    elif dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_repositories_search_trgm")
        op.execute("DROP INDEX IF EXISTS ix_repositories_tenant_search_c")
