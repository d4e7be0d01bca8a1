"""Tables owned (written) by the metrics service."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Index,
    Integer,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from shared.db.metadata import metadata, owned
from shared.db.tables.common import idempotency_table, inbox_table

metrics_inbox = inbox_table("metrics")
# Idempotency-Key records of the metrics service's creating POSTs (a committee pack's freeze).
metrics_idempotency = idempotency_table("metrics")

computation_runs = Table(
    "computation_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("kind", Text, nullable=False),
    Column("scope", JSONB, nullable=False),
    Column("trigger", Text, nullable=False),
    Column("status", Text, nullable=False, server_default="done"),
    Column("detail", JSONB, nullable=False, server_default="{}"),
    Column("started_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("finished_at", DateTime(timezone=True)),
    CheckConstraint("status IN ('running','done','failed')", name="status"),
    info=owned("metrics", readers=()),
)

# Long work asked for by an event (an SLA or benchmark recompute): the event's receipt
# records the inbox entry and one job row in one transaction and answers 202; a runner in
# the metrics process claims due jobs with a lease (services.metrics.runs.jobs).
JOB_STATUSES = ("pending", "running", "done", "failed")

metrics_jobs = Table(
    "metrics_jobs",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("event_key", Text, nullable=False, unique=True),
    Column("event_type", Text, nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("status", Text, nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("run_after", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("claim_token", UUID(as_uuid=True)),
    Column("leased_until", DateTime(timezone=True)),
    Column("last_error", Text),
    Column("run_id", Integer),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    # The delivery that asked for the job: its request id and trace context.
    Column("request_id", Text),
    Column("traceparent", Text),
    CheckConstraint("status IN ('pending','running','done','failed')", name="status"),
    Index("ix_metrics_jobs_due", "run_after", postgresql_where=text("status = 'pending'")),
    Index("ix_metrics_jobs_leased", "leased_until", postgresql_where=text("status = 'running'")),
    info=owned("metrics", readers=()),
)
