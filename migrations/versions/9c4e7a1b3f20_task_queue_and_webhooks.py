"""Task queue and webhooks: the sync's lease and schedule on integrations, sync runs, webhooks and
their deliveries.

Revision ID: 9c4e7a1b3f20
Revises: 3e8b6d2f4a71
Create Date: 2026-12-02 14:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "9c4e7a1b3f20"
down_revision = "3e8b6d2f4a71"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("integrations") as batch:
        batch.add_column(sa.Column("sync_run_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("sync_requested_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("sync_owner", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("sync_lease_until", sa.DateTime(), nullable=True))
        batch.add_column(
            sa.Column("sync_every_hours", sa.Integer(), nullable=False, server_default="6")
        )
        batch.add_column(sa.Column("repositories_changed_at", sa.DateTime(), nullable=True))
        batch.create_check_constraint(
            op.f("ck_integrations_sync_every_hours"), "sync_every_hours BETWEEN 0 AND 168"
        )
    with op.batch_alter_table("integrations") as batch:
        batch.alter_column("sync_every_hours", existing_type=sa.Integer(), server_default=None)

    op.create_table(
        "sync_runs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("integration_id", sa.Integer(), nullable=False),
        sa.Column("trigger", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=128), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("removed", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "trigger IN ('manual', 'cli', 'scheduled')", name=op.f("ck_sync_runs_trigger")
        ),
        sa.ForeignKeyConstraint(
            ["integration_id", "tenant_id"],
            ["integrations.id", "integrations.tenant_id"],
            name=op.f("fk_sync_runs_integration_id_tenant_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sync_runs")),
    )
    with op.batch_alter_table("sync_runs") as batch:
        batch.create_index(
            "ix_sync_runs_integration_time", ["integration_id", "requested_at"], unique=False
        )
        batch.create_index("ix_sync_runs_requested_at", ["requested_at"], unique=False)

    op.create_table(
        "webhooks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("integration_id", sa.Integer(), nullable=False),
        sa.Column("public_id", sa.String(length=64), nullable=False),
        sa.Column("secret_ct", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_delivery_at", sa.DateTime(), nullable=True),
        sa.Column("last_delivery_event", sa.String(length=64), nullable=True),
        sa.Column("last_rejected_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["integration_id", "tenant_id"],
            ["integrations.id", "integrations.tenant_id"],
            name=op.f("fk_webhooks_integration_id_tenant_id_integrations"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhooks")),
        sa.UniqueConstraint("integration_id", name=op.f("uq_webhooks_integration_id")),
        sa.UniqueConstraint("public_id", name=op.f("uq_webhooks_public_id")),
    )
    with op.batch_alter_table("webhooks") as batch:
        batch.create_index(batch.f("ix_webhooks_tenant_id"), ["tenant_id"], unique=False)

    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("webhook_id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("detail", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhooks.id"],
            name=op.f("fk_webhook_deliveries_webhook_id_webhooks"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint("webhook_id", "key", name=op.f("uq_webhook_deliveries_webhook_id_key")),
    )
    with op.batch_alter_table("webhook_deliveries") as batch:
        batch.create_index("ix_webhook_deliveries_received_at", ["received_at"], unique=False)


def downgrade():
    op.drop_table("webhook_deliveries")
    op.drop_table("webhooks")
    op.drop_table("sync_runs")
    with op.batch_alter_table("integrations") as batch:
        batch.drop_constraint(op.f("ck_integrations_sync_every_hours"), type_="check")
        batch.drop_column("repositories_changed_at")
        batch.drop_column("sync_every_hours")
        batch.drop_column("sync_lease_until")
        batch.drop_column("sync_owner")
        batch.drop_column("sync_requested_at")
        batch.drop_column("sync_run_id")
