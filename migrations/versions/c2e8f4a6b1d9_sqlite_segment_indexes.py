"""Repositories on SQLite: the segment indexes PostgreSQL got in a7c1e9d3b5f2 — prefix indexes
on the text after a name's first "/" (holding the names too) and second "/" — and a covering
index of the names with three or more per tenant (gitint.models.segment_indexes), so the
search's look-up after "/" reads index entries instead of FTS5's list of every name with a
common trigram ("-or": every "-org").

Revision ID: c2e8f4a6b1d9
Revises: a7c1e9d3b5f2
Create Date: 2026-12-07 23:40:00
"""

from alembic import op

revision = "c2e8f4a6b1d9"
down_revision = "a7c1e9d3b5f2"
branch_labels = None
depends_on = None

# the statements gitint.models.segment_indexes makes on SQLite, frozen here as this revision
# made them
FIRST = "substr(search_name, instr(search_name, '/') + 1)"
SECOND = f"substr({FIRST}, instr({FIRST}, '/') + 1)"
SQLITE = (
    "CREATE INDEX ix_repositories_after_slash ON repositories"
    f" (tenant_id, {FIRST}, search_name) WHERE instr(search_name, '/') > 0",
    "CREATE INDEX ix_repositories_after_slash_2 ON repositories"
    f" (tenant_id, {SECOND}) WHERE instr({FIRST}, '/') > 0",
    "CREATE INDEX ix_repositories_deep ON repositories"
    f" (tenant_id, search_name) WHERE instr({SECOND}, '/') > 0",
)
INDEXES = ("ix_repositories_after_slash", "ix_repositories_after_slash_2", "ix_repositories_deep")


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        for statement in SQLITE:
            op.execute(statement)


def downgrade():
    if op.get_bind().dialect.name == "sqlite":
        for name in INDEXES:
            op.execute(f"DROP INDEX IF EXISTS {name}")
