"""Ticket histories, OLA policies and organisation value mappings: owned by ingest.

* ``ticket_events``: a ticket's history as its export tells it (status, priority and
  assignment changes, responses), each with its instant. Metrics reads it to pause clocks
  by status, apply priority changes, find reopenings and first responses, and time OLAs.
* ``ola_policies``: operational-level agreements, a target per resolver group whose clock
  runs while a ticket is assigned to that group.
* ``organisation_value_maps``: how one organisation's exports from one source system name
  organisations ("Brent", "LBS"): value → organisation id, so a shared service's export
  lands per partner.
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
    Integer,
    Numeric,
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY

from shared.db.metadata import metadata, owned

EVENT_KINDS = ("status", "priority", "assignment", "response")

ticket_events = Table(
    "ticket_events",
    metadata,
    Column("organisation_id", Integer, nullable=False),
    Column("source_system", Text, nullable=False),
    Column("reference", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    # Several events of one kind at the same instant keep their order in the file.
    Column("seq", SmallInteger, nullable=False, server_default="0"),
    # status: the tool's label; priority: the tool's label; assignment: the resolver
    # group; response: null.
    Column("value", Text),
    # status: new, open, on_hold, resolved, closed or cancelled when the profile knows
    # the label (else null); priority: P0-P4; otherwise null.
    Column("canonical", Text),
    # assignment only: when the group let go of the ticket, when the export says so
    # (otherwise the next assignment, or the ticket's resolution, ends it).
    Column("end_at", DateTime(timezone=True)),
    Column("last_import_id", Integer),
    PrimaryKeyConstraint("organisation_id", "source_system", "reference", "kind", "at", "seq"),
    ForeignKeyConstraint(
        ["organisation_id", "source_system", "reference"],
        ["tickets.organisation_id", "tickets.source_system", "tickets.reference"],
        ondelete="CASCADE",
    ),
    CheckConstraint("kind IN ('status','priority','assignment','response')", name="kind"),
    CheckConstraint("end_at IS NULL OR end_at >= at", name="order"),
    info=owned("ingest", readers=("metrics",)),
)

ola_policies = Table(
    "ola_policies",
    metadata,
    Column("id", Integer, Identity(), primary_key=True),
    Column(
        "organisation_id",
        Integer,
        ForeignKey("organisations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("resolver_group", Text, nullable=False),
    Column("priority", Text),  # null = every priority
    Column("target_seconds", BigInteger),
    Column("target_working_days", Numeric(6, 2)),
    Column("calendar_id", Integer, ForeignKey("business_calendars.id", ondelete="RESTRICT")),
    Column("target_share", Numeric(5, 4), nullable=False),
    Column("pause_statuses", ARRAY(Text), nullable=False, server_default="{}"),
    Column("effective_from", Date, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint(
        "organisation_id",
        "resolver_group",
        "priority",
        "effective_from",
        name="uq_ola_policies_effective",
        postgresql_nulls_not_distinct=True,
    ),
    CheckConstraint("priority IN ('P0','P1','P2','P3','P4')", name="priority"),
    CheckConstraint("(target_seconds IS NULL) <> (target_working_days IS NULL)", name="one_target"),
    CheckConstraint("target_seconds IS NULL OR target_seconds > 0", name="target_seconds"),
    CheckConstraint(
        "target_working_days IS NULL OR target_working_days > 0", name="target_working_days"
    ),
    CheckConstraint("target_share > 0 AND target_share <= 1", name="target_share"),
    info=owned("ingest", readers=("metrics",)),
)

organisation_value_maps = Table(
    "organisation_value_maps",
    metadata,
    # The organisation whose exports use the values (usually a shared service).
    Column(
        "organisation_id",
        Integer,
        ForeignKey("organisations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("source_system", Text, nullable=False),
    Column("value", Text, nullable=False),  # as given
    Column("value_key", Text, nullable=False),  # lower-cased, spaces trimmed: what is matched
    Column(
        "target_organisation_id",
        Integer,
        ForeignKey("organisations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("created_by", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("organisation_id", "source_system", "value_key"),
    info=owned("ingest", readers=()),
)
