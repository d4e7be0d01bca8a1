"""Tables owned (written) by the ingest service."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from shared.db.metadata import metadata, owned
from shared.db.tables.common import idempotency_table, outbox_table

ORG_TYPES = ("E", "S", "W", "C", "D", "L", "M", "O")
NATIONS = ("England", "Scotland", "Wales", "Northern Ireland")
CYCLE_STATUSES = ("open", "closed", "published")
ROLES = ("admin", "participant", "partner", "reader")

organisations = Table(
    "organisations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("nation", Text, nullable=False),
    Column("partnership", Boolean, nullable=False, server_default="false"),
    Column("users", Integer, nullable=False),
    # Resident population where loaded (a nearest-neighbours variable); null when unknown.
    Column("population", BigInteger),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("name"),
    CheckConstraint("type IN ('E','S','W','C','D','L','M','O')", name="type"),
    CheckConstraint("nation IN ('England','Scotland','Wales','Northern Ireland')", name="nation"),
    CheckConstraint("users >= 0", name="users"),
    CheckConstraint("population IS NULL OR population >= 0", name="population"),
    info=owned("ingest", readers=("metrics", "survey")),
)

cycles = Table(
    "cycles",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("year", Integer, nullable=False),
    Column("status", Text, nullable=False, server_default="open"),
    Column("results_release_date", Date),
    # Submissions are due by the end of this day (Europe/London); data-quality timeliness.
    Column("submission_deadline", Date),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    UniqueConstraint("year"),
    CheckConstraint("status IN ('open','closed','published')", name="status"),
    CheckConstraint("year BETWEEN 2000 AND 2100", name="year"),
    CheckConstraint(
        "status <> 'published' OR results_release_date IS NOT NULL", name="published_release"
    ),
    info=owned("ingest", readers=("metrics", "survey")),
)

organisation_codes = Table(
    "organisation_codes",
    metadata,
    Column("cycle_id", Integer, ForeignKey("cycles.id", ondelete="CASCADE"), nullable=False),
    Column(
        "organisation_id",
        Integer,
        ForeignKey("organisations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("number", Integer, nullable=False),
    Column("code", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("cycle_id", "organisation_id"),
    UniqueConstraint("cycle_id", "number"),
    CheckConstraint("number BETWEEN 10 AND 999", name="number"),
    info=owned("ingest", readers=("metrics",)),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("prefix", Text, nullable=False),
    Column("secret_hash", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("role", Text, nullable=False),
    Column("organisations", ARRAY(Integer), nullable=False, server_default="{}"),
    Column("created_by", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("expires_at", DateTime(timezone=True)),
    Column("revoked_at", DateTime(timezone=True)),
    UniqueConstraint("prefix"),
    CheckConstraint("role IN ('admin','participant','partner','reader')", name="role"),
    info=owned("ingest", readers=("metrics", "survey")),
)

ingest_outbox = outbox_table("ingest")
ingest_idempotency = idempotency_table("ingest")
