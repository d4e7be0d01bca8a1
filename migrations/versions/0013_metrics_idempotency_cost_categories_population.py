"""metrics idempotency records, cost-table category order, organisation population

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30 05:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.db.grants import grant_table

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "metrics_idempotency",
        sa.Column("principal", sa.Text(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("method", sa.Text(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("request_hash", sa.Text(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=False),
        sa.Column("response_body", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("principal", "key", name=op.f("pk_metrics_idempotency")),
        info={"owner": "metrics", "readers": ()},
    )
    grant_table(op.get_bind(), "metrics_idempotency", "metrics", ())
    op.add_column(
        "cost_tables", sa.Column("categories", postgresql.ARRAY(sa.Text()), nullable=True)
    )
    op.add_column("organisations", sa.Column("population", sa.BigInteger(), nullable=True))
    op.create_check_constraint(
        op.f("ck_organisations_population"),
        "organisations",
        "population IS NULL OR population >= 0",
    )


def downgrade() -> None:
    op.drop_constraint(op.f("ck_organisations_population"), "organisations", type_="check")
    op.drop_column("organisations", "population")
    op.drop_column("cost_tables", "categories")
    op.drop_table("metrics_idempotency")
