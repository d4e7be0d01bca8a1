"""outbox leases (claims that hold no transaction across HTTP), redrive audit, metrics jobs

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-29 23:51:24.461157
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.db.grants import grant_table, revoke_table

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

GRANTS = [("metrics_jobs", "metrics", ())]
OUTBOXES = ("ingest_outbox", "survey_outbox")


def upgrade() -> None:
    op.create_table(
        "metrics_jobs",
        sa.Column("id", sa.BigInteger(), autoincrement=True, nullable=False),
        sa.Column("event_key", sa.Text(), nullable=False),
        sa.Column("event_type", sa.Text(), nullable=False),
        sa.Column("payload", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("status", sa.Text(), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "run_after",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("claim_token", sa.UUID(), nullable=True),
        sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('pending','running','done','failed')",
            name=op.f("ck_metrics_jobs_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_metrics_jobs")),
        sa.UniqueConstraint("event_key", name=op.f("uq_metrics_jobs_event_key")),
    )
    op.create_index(
        "ix_metrics_jobs_due",
        "metrics_jobs",
        ["run_after"],
        unique=False,
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.create_index(
        "ix_metrics_jobs_leased",
        "metrics_jobs",
        ["leased_until"],
        unique=False,
        postgresql_where=sa.text("status = 'running'"),
    )
    for table in OUTBOXES:
        op.add_column(table, sa.Column("claim_token", sa.UUID(), nullable=True))
        op.add_column(table, sa.Column("leased_until", sa.DateTime(timezone=True), nullable=True))
        op.add_column(table, sa.Column("redriven_by", sa.Text(), nullable=True))
        op.add_column(table, sa.Column("redriven_at", sa.DateTime(timezone=True), nullable=True))
        op.drop_constraint(op.f(f"ck_{table}_status"), table, type_="check")
        op.create_check_constraint(
            op.f(f"ck_{table}_status"),
            table,
            "status IN ('pending', 'delivering', 'delivered', 'dead')",
        )
        op.create_check_constraint(
            op.f(f"ck_{table}_lease"),
            table,
            "status <> 'delivering' OR (claim_token IS NOT NULL AND leased_until IS NOT NULL)",
        )
        op.create_index(
            f"ix_{table}_leased",
            table,
            ["leased_until"],
            unique=False,
            postgresql_where=sa.text("status = 'delivering'"),
        )
        op.create_index(f"ix_{table}_status_id", table, ["status", "id"], unique=False)
    conn = op.get_bind()
    for table, owner, readers in GRANTS:
        grant_table(conn, table, owner, readers)


def downgrade() -> None:
    conn = op.get_bind()
    for table, _owner, _readers in GRANTS:
        revoke_table(conn, table)
    for table in OUTBOXES:
        # A row in flight goes back to pending: the old worker retries it (the receiver's
        # inbox makes a second delivery harmless).
        op.execute(f"UPDATE {table} SET status = 'pending' WHERE status = 'delivering'")
        op.drop_index(f"ix_{table}_status_id", table_name=table)
        op.drop_index(
            f"ix_{table}_leased",
            table_name=table,
            postgresql_where=sa.text("status = 'delivering'"),
        )
        op.drop_constraint(op.f(f"ck_{table}_lease"), table, type_="check")
        op.drop_constraint(op.f(f"ck_{table}_status"), table, type_="check")
        op.create_check_constraint(
            op.f(f"ck_{table}_status"), table, "status IN ('pending', 'delivered', 'dead')"
        )
        op.drop_column(table, "redriven_at")
        op.drop_column(table, "redriven_by")
        op.drop_column(table, "leased_until")
        op.drop_column(table, "claim_token")
    op.drop_index(
        "ix_metrics_jobs_leased",
        table_name="metrics_jobs",
        postgresql_where=sa.text("status = 'running'"),
    )
    op.drop_index(
        "ix_metrics_jobs_due",
        table_name="metrics_jobs",
        postgresql_where=sa.text("status = 'pending'"),
    )
    op.drop_table("metrics_jobs")
