"""Results workshops: owned (written) by the ingest service, read by metrics.

A workshop brings a group of a cycle's participants together for a set time; during it,
the members that consented see each other by name beside their anonymous codes (metrics
decides that per request, ``services/metrics/workshops``). Times are stored in UTC and
entered and shown in Europe/London. ``ended_early_at`` is set when an admin ends the
workshop before ``ends_at``; the window is ``[starts_at, min(ends_at, ended_early_at))``.

Each member organisation's staff consent for their own organisation, or decline; the
state is ``pending`` until they answer, and may change (consent withdrawn) until the
workshop starts. ``consent_by``/``consent_at`` say who set the current state and when.
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    PrimaryKeyConstraint,
    Table,
    Text,
    func,
)

from shared.db.metadata import metadata, owned

CONSENT_STATES = ("pending", "consented", "declined")

workshops = Table(
    "workshops",
    metadata,
    Column("id", Integer, Identity(always=False), primary_key=True),
    Column("title", Text, nullable=False),
    Column("cycle_id", Integer, ForeignKey("cycles.id", ondelete="CASCADE"), nullable=False),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("ends_at", DateTime(timezone=True), nullable=False),
    Column("ended_early_at", DateTime(timezone=True)),
    Column("ended_early_by", Text),
    Column("created_by", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("ends_at > starts_at", name="ends_after_start"),
    Index("ix_workshops_cycle_id", "cycle_id"),
    info=owned("ingest", readers=("metrics",)),
)

workshop_members = Table(
    "workshop_members",
    metadata,
    Column("workshop_id", Integer, ForeignKey("workshops.id", ondelete="CASCADE"), nullable=False),
    Column(
        "organisation_id",
        Integer,
        ForeignKey("organisations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("consent", Text, nullable=False, server_default="pending"),
    Column("consent_by", Text),
    Column("consent_at", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("workshop_id", "organisation_id"),
    CheckConstraint("consent IN ('pending','consented','declined')", name="consent"),
    CheckConstraint(
        "consent = 'pending' OR (consent_by IS NOT NULL AND consent_at IS NOT NULL)",
        name="consent_recorded",
    ),
    # Metrics looks up, per results request, the workshops an organisation consented in.
    Index("ix_workshop_members_organisation_id", "organisation_id"),
    info=owned("ingest", readers=("metrics",)),
)
