"""Sync runs: the requesting user's display name at the time (for the audit row of the sync).

Revision ID: d4a8c2f61b3e
Revises: b7d3e5a1c942
Create Date: 2026-12-03 10:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "d4a8c2f61b3e"
down_revision = "b7d3e5a1c942"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("sync_runs") as batch:
        batch.add_column(sa.Column("requested_by_name", sa.String(length=255), nullable=True))


def downgrade():
    with op.batch_alter_table("sync_runs") as batch:
        batch.drop_column("requested_by_name")
