"""operations: the request id (and trace context) of the request that queued each outbox event and metrics job

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30 03:00:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

# The worker sends these again when it delivers the event, and the metrics job runner
# binds them while it runs the job, so one request id links every log line of the work a
# request caused (shared/observability.py).
TRACED = ("ingest_outbox", "survey_outbox", "metrics_jobs")


def upgrade() -> None:
    for table in TRACED:
        op.add_column(table, sa.Column("request_id", sa.Text(), nullable=True))
        op.add_column(table, sa.Column("traceparent", sa.Text(), nullable=True))


def downgrade() -> None:
    for table in TRACED:
        op.drop_column(table, "traceparent")
        op.drop_column(table, "request_id")
