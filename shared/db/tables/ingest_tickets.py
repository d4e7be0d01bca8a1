"""Ticket imports, tickets and SLA configuration: owned (written) by the ingest service.

Growing tables (tickets, their intervals, import row errors) carry the organisation id
first in their primary key, so they can be distributed by organisation (Citus) later.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    Numeric,
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from shared.db.metadata import PARTITION_BY, metadata, owned
from shared.tickets import TICKET_KEY, table_columns

IMPORT_STATUSES = ("queued", "processing", "done", "failed")

ticket_imports = Table(
    "ticket_imports",
    metadata,
    Column("id", Integer, Identity(), primary_key=True),
    Column("organisation_id", Integer, ForeignKey("organisations.id", ondelete="CASCADE")),
    # Organisations the rows may name (the uploader's scope); null = any (admin upload).
    Column("allowed_organisations", ARRAY(Integer)),
    Column("source_system", Text, nullable=False),
    Column("profile", Text, nullable=False),
    Column("mapping_id", Integer, ForeignKey("ticket_mappings.id", ondelete="SET NULL")),
    Column("file_format", Text, nullable=False),
    # What the file holds: tickets (with any history embedded in their records), or the
    # history events of tickets already stored (a second file of the same export).
    Column("content", Text, nullable=False, server_default="tickets"),
    Column("status", Text, nullable=False, server_default="queued"),
    Column("bytes_received", BigInteger, nullable=False, server_default="0"),
    Column("spool_path", Text),
    Column("encoding", Text),
    Column("rows_read", BigInteger, nullable=False, server_default="0"),
    Column("rows_accepted", BigInteger, nullable=False, server_default="0"),
    Column("rows_rejected", BigInteger, nullable=False, server_default="0"),
    Column("rows_inserted", BigInteger, nullable=False, server_default="0"),
    Column("rows_updated", BigInteger, nullable=False, server_default="0"),
    Column("rows_unchanged", BigInteger, nullable=False, server_default="0"),
    Column("warnings", BigInteger, nullable=False, server_default="0"),
    Column("duplicates_merged", BigInteger, nullable=False, server_default="0"),
    Column("replaced_characters", BigInteger, nullable=False, server_default="0"),
    # Last source row whose batch is committed: a restarted job skips up to here.
    Column("checkpoint_row", BigInteger, nullable=False, server_default="0"),
    Column("failure", Text),
    Column("created_by", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # {"<organisation id>": ["YYYY-MM", ...]}: the local months logged of the tickets the
    # import inserted or changed, i.e. what the recompute it triggers covers.
    Column("touched_months", JSONB),
    CheckConstraint("status IN ('queued','processing','done','failed')", name="status"),
    CheckConstraint("file_format IN ('csv','jsonl','json')", name="file_format"),
    CheckConstraint("content IN ('tickets','history')", name="content"),
    info=owned("ingest", readers=("metrics",)),
)

ticket_import_errors = Table(
    "ticket_import_errors",
    metadata,
    Column("import_id", Integer, ForeignKey("ticket_imports.id", ondelete="CASCADE")),
    Column("row_number", BigInteger, nullable=False),
    Column("seq", SmallInteger, nullable=False),
    Column("column_name", Text),
    Column("code", Text, nullable=False),
    Column("message", Text, nullable=False),
    Column("severity", Text, nullable=False),
    Column("related_row", BigInteger),
    PrimaryKeyConstraint("import_id", "row_number", "seq"),
    CheckConstraint("severity IN ('error','warning')", name="severity"),
    info=owned("ingest", readers=()),
)

tickets = Table(
    "tickets",
    metadata,
    # The canonical fields (organisation_id … flag_dst_ambiguous), declared once with what
    # each means in shared/tickets.py; the rest is bookkeeping.
    *table_columns(),
    Column("last_import_id", Integer),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint(*TICKET_KEY),
    ForeignKeyConstraint(["organisation_id"], ["organisations.id"], ondelete="CASCADE"),
    CheckConstraint("type IN ('incident','request')", name="type"),
    CheckConstraint("priority IN ('P0','P1','P2','P3','P4')", name="priority"),
    CheckConstraint("nps_rating BETWEEN 0 AND 10", name="nps_rating"),
    Index("ix_tickets_org_logged", "organisation_id", "logged_at"),
    info=owned("ingest", readers=("metrics",)),
    postgresql_partition_by=PARTITION_BY,
)

ticket_intervals = Table(
    "ticket_intervals",
    metadata,
    Column("organisation_id", Integer, nullable=False),
    Column("source_system", Text, nullable=False),
    Column("reference", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("start_at", DateTime(timezone=True), nullable=False),
    Column("end_at", DateTime(timezone=True)),
    PrimaryKeyConstraint("organisation_id", "source_system", "reference", "kind", "start_at"),
    ForeignKeyConstraint(
        ["organisation_id", "source_system", "reference"],
        ["tickets.organisation_id", "tickets.source_system", "tickets.reference"],
        ondelete="CASCADE",
    ),
    CheckConstraint("kind IN ('hold','reopen')", name="kind"),
    CheckConstraint("end_at IS NULL OR end_at >= start_at", name="order"),
    info=owned("ingest", readers=("metrics",)),
)

ticket_mappings = Table(
    "ticket_mappings",
    metadata,
    Column("id", Integer, Identity(), primary_key=True),
    Column(
        "organisation_id",
        Integer,
        ForeignKey("organisations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", Text, nullable=False),
    Column("base_profile", Text),
    Column("columns", JSONB, nullable=False),
    Column("priority_map", JSONB, nullable=False, server_default="{}"),
    Column("type_map", JSONB, nullable=False, server_default="{}"),
    Column("status_map", JSONB, nullable=False, server_default="{}"),
    Column("default_type", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("organisation_id", "name"),
    info=owned("ingest", readers=()),
)

business_calendars = Table(
    "business_calendars",
    metadata,
    Column("id", Integer, Identity(), primary_key=True),
    Column(
        "organisation_id",
        Integer,
        ForeignKey("organisations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("name", Text, nullable=False),
    Column("nation", Text, nullable=False),
    # {"0": [["08:00", "18:00"]], ...}: weekday (0 = Monday) to local working windows.
    Column("hours", JSONB, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("organisation_id", "name"),
    CheckConstraint("nation IN ('GB-ENG','GB-WLS','GB-SCT','GB-NIR')", name="nation"),
    info=owned("ingest", readers=("metrics",)),
)

calendar_closures = Table(
    "calendar_closures",
    metadata,
    Column(
        "calendar_id",
        Integer,
        ForeignKey("business_calendars.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("closed_on", Date, nullable=False),
    Column("reason", Text, nullable=False, server_default=""),
    PrimaryKeyConstraint("calendar_id", "closed_on"),
    info=owned("ingest", readers=("metrics",)),
)

sla_policies = Table(
    "sla_policies",
    metadata,
    Column("id", Integer, Identity(), primary_key=True),
    Column(
        "organisation_id",
        Integer,
        ForeignKey("organisations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("priority", Text, nullable=False),
    Column("request_type", Text),
    Column("target_seconds", BigInteger),
    Column("target_working_days", Numeric(6, 2)),
    # null = the 24x7 clock
    Column("calendar_id", Integer, ForeignKey("business_calendars.id", ondelete="RESTRICT")),
    Column("target_share", Numeric(5, 4), nullable=False),
    Column("effective_from", Date, nullable=False),
    # Statuses of a ticket history (as the tool names them, matched ignoring case and
    # surrounding spaces) during which the clock stops.
    Column("pause_statuses", ARRAY(Text), nullable=False, server_default="{}"),
    # Every status the policy expects in a history (the pause statuses count as known);
    # a history event with another status is refused by row. Empty: any status.
    Column("known_statuses", ARRAY(Text), nullable=False, server_default="{}"),
    # A priority change: the new priority's target runs from logging (retroactive) or
    # from the change (from_change).
    Column("priority_change", Text, nullable=False, server_default="retroactive"),
    # A reopening: the gap from resolution to reopening does not count (gap_excluded),
    # or the clock restarts as a new cycle (new_cycle).
    Column("reopen_rule", Text, nullable=False, server_default="gap_excluded"),
    # Time to first response, on the policy's clock; null = no first-response target.
    Column("response_target_seconds", BigInteger),
    # Warning thresholds in % of the target elapsed (e.g. {75, 90}).
    Column("warning_pcts", ARRAY(Numeric(5, 2)), nullable=False, server_default="{}"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint(
        "organisation_id",
        "priority",
        "request_type",
        "effective_from",
        name="uq_sla_policies_effective",
        postgresql_nulls_not_distinct=True,
    ),
    CheckConstraint("priority IN ('P0','P1','P2','P3','P4')", name="priority"),
    CheckConstraint("(target_seconds IS NULL) <> (target_working_days IS NULL)", name="one_target"),
    CheckConstraint("target_seconds IS NULL OR target_seconds > 0", name="target_seconds"),
    CheckConstraint(
        "target_working_days IS NULL OR target_working_days > 0", name="target_working_days"
    ),
    CheckConstraint("target_share > 0 AND target_share <= 1", name="target_share"),
    CheckConstraint("priority_change IN ('retroactive','from_change')", name="priority_change"),
    CheckConstraint("reopen_rule IN ('gap_excluded','new_cycle')", name="reopen_rule"),
    CheckConstraint(
        "response_target_seconds IS NULL OR response_target_seconds > 0",
        name="response_target_seconds",
    ),
    info=owned("ingest", readers=("metrics",)),
)

# Post-interaction feedback sent on its own (POST /api/v1/feedback): a service-desk
# satisfaction rating (1-7) and/or a 0-10 recommendation rating, optionally naming the
# ticket it is about. Ratings that come inside a ticket export stay on ``tickets``.
feedback_ratings = Table(
    "feedback_ratings",
    metadata,
    Column(
        "organisation_id",
        Integer,
        ForeignKey("organisations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("id", BigInteger, Identity(), nullable=False),
    Column("source_system", Text, nullable=False),
    Column("ticket_reference", Text),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("satisfaction", SmallInteger),
    Column("recommendation", SmallInteger),
    Column("created_by", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("organisation_id", "id"),
    CheckConstraint("satisfaction BETWEEN 1 AND 7", name="satisfaction"),
    CheckConstraint("recommendation BETWEEN 0 AND 10", name="recommendation"),
    CheckConstraint("satisfaction IS NOT NULL OR recommendation IS NOT NULL", name="has_rating"),
    Index("ix_feedback_ratings_org_received", "organisation_id", "received_at"),
    info=owned("ingest", readers=("metrics",)),
)
