"""Audit log: the user's display name at the time of the event (shown instead of the account id).

Revision ID: b7d3e5a1c942
Revises: 9c4e7a1b3f20
Create Date: 2026-12-02 19:10:00
"""

import sqlalchemy as sa
from alembic import op

revision = "b7d3e5a1c942"
down_revision = "9c4e7a1b3f20"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("audit_events") as batch:
        batch.add_column(sa.Column("display_name", sa.String(length=255), nullable=True))


def downgrade():
    with op.batch_alter_table("audit_events") as batch:
        batch.drop_column("display_name")
