"""Repositories: drop ix_repositories_integration_search, an index no query reads.

Every sync wrote each repository into it at a random place (names sort in no order of arrival):
about a third of a SQLite sync's time into a large tenant. Look-ups by integration use the
(integration_id, host_id) unique index; the search reads (tenant_id, search_name).

Revision ID: e5b9c3d7a2f4
Revises: d4a8c2f61b3e
Create Date: 2026-12-03 06:30:00
"""

from alembic import op

revision = "e5b9c3d7a2f4"
down_revision = "d4a8c2f61b3e"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_index("ix_repositories_integration_search", table_name="repositories")


def downgrade():
    op.create_index(
        "ix_repositories_integration_search", "repositories", ["integration_id", "search_name"]
    )
