"""Forge tenants: kind 'forge', cloud_id, api_base_url; no shared secret for them.

Revision ID: 5d2f1c0a9b7e
Revises: 073c9664267c
Create Date: 2026-12-02 10:45:00
"""

import sqlalchemy as sa
from alembic import op

revision = "5d2f1c0a9b7e"
down_revision = "073c9664267c"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("tenants") as batch:
        batch.add_column(sa.Column("cloud_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("api_base_url", sa.String(length=500), nullable=True))
        batch.alter_column("shared_secret_ct", existing_type=sa.Text(), nullable=True)
        batch.drop_constraint(op.f("ck_tenants_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_tenants_kind"), "kind IN ('forge', 'connect', 'embedded')")


def downgrade():
    op.execute("DELETE FROM tenants WHERE kind = 'forge'")
    with op.batch_alter_table("tenants") as batch:
        batch.drop_constraint(op.f("ck_tenants_kind"), type_="check")
        batch.create_check_constraint(op.f("ck_tenants_kind"), "kind IN ('connect', 'embedded')")
        batch.alter_column("shared_secret_ct", existing_type=sa.Text(), nullable=False)
        batch.drop_column("api_base_url")
        batch.drop_column("cloud_id")
