"""SLA outcomes computed by the metrics service (one row per ticket)."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    Numeric,
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    Text,
    func,
)

from shared.db.metadata import PARTITION_BY, metadata, owned

sla_outcomes = Table(
    "sla_outcomes",
    metadata,
    Column("organisation_id", Integer, nullable=False),
    Column("source_system", Text, nullable=False),
    Column("reference", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("priority", Text),
    Column("request_type", Text),
    Column("team", Text),
    Column("closure_category", Text),
    Column("logged_at", DateTime(timezone=True)),
    Column("logged_date", Date),
    Column("resolution_at", DateTime(timezone=True)),
    Column("reopen_count", Integer),
    Column("resolved_first_contact", Boolean),
    Column("nps_rating", SmallInteger),
    Column("calendar_id", Text),
    Column("target_seconds", BigInteger),
    Column("target_share", Numeric(5, 4)),
    Column("policy_effective_from", Date),
    Column("is_open", Boolean, nullable=False),
    Column("on_hold", Boolean, nullable=False),
    Column("paused_seconds", BigInteger),
    Column("elapsed_sla_seconds", BigInteger),
    Column("elapsed_wall_seconds", BigInteger),
    Column("due_at", DateTime(timezone=True)),
    Column("sla_status", Text, nullable=False),
    Column("data_quality_reason", Text),
    Column("computed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # From ticket histories and the policy's rules (services/metrics/sla/engine.py).
    Column("priority_changed_at", DateTime(timezone=True)),
    Column("clock_start_at", DateTime(timezone=True)),
    Column("pending_seconds", BigInteger),
    Column("priority_change", Text),
    Column("reopen_rule", Text),
    Column("cycles", SmallInteger),
    Column("first_response_at", DateTime(timezone=True)),
    Column("response_target_seconds", BigInteger),
    Column("response_elapsed_seconds", BigInteger),
    Column("response_due_at", DateTime(timezone=True)),
    Column("response_status", Text),
    PrimaryKeyConstraint("organisation_id", "source_system", "reference"),
    Index("ix_sla_outcomes_org_resolution", "organisation_id", "resolution_at"),
    info=owned("metrics", readers=()),
    postgresql_partition_by=PARTITION_BY,
)

# Which computation run first included a ticket import, and when its figures were ready:
# written with the run, read by ingest for the import job's ``figures_ready_at``.
sla_import_runs = Table(
    "sla_import_runs",
    metadata,
    Column("import_id", Integer, primary_key=True, autoincrement=False),
    Column("run_id", Integer, nullable=False),
    Column("figures_ready_at", DateTime(timezone=True), nullable=False),
    info=owned("metrics", readers=("ingest",)),
)
