"""Repositories on PostgreSQL: prefix indexes on the text after a name's first and second "/"
and a trigram index over the names with three or more (gitint.models.segment_indexes), so the
search's look-up after "/" reads index entries instead of rechecking every trigram candidate.

Revision ID: a7c1e9d3b5f2
Revises: e5b9c3d7a2f4
Create Date: 2026-12-03 13:00:00
"""

from alembic import op

revision = "a7c1e9d3b5f2"
down_revision = "e5b9c3d7a2f4"
branch_labels = None
depends_on = None

# the statements gitint.models.segment_indexes makes, frozen here as this revision made them
FIRST = "substr(search_name, strpos(search_name, '/') + 1)"
SECOND = f"substr({FIRST}, strpos({FIRST}, '/') + 1)"
POSTGRESQL = (
    "CREATE INDEX ix_repositories_after_slash ON repositories"
    f" (tenant_id, ({FIRST} COLLATE \"C\")) INCLUDE (id) WHERE strpos(search_name, '/') > 0",
    "CREATE INDEX ix_repositories_after_slash_2 ON repositories"
    f" (tenant_id, ({SECOND} COLLATE \"C\")) INCLUDE (id) WHERE strpos({FIRST}, '/') > 0",
    "CREATE INDEX ix_repositories_deep_search_trgm ON repositories USING gin"
    " (translate(search_name, '/-_.', 'qzjx') gin_trgm_ops)"
    f" WHERE strpos({SECOND}, '/') > 0",
)
INDEXES = (
    "ix_repositories_after_slash",
    "ix_repositories_after_slash_2",
    "ix_repositories_deep_search_trgm",
)


def upgrade():
    if op.get_bind().dialect.name == "postgresql":
        for statement in POSTGRESQL:
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "postgresql":
        for name in INDEXES:
            op.execute(f"DROP INDEX IF EXISTS {name}")
