"""Committee performance packs: owned (written) by the metrics service.

A draft pack is computed on every read from the live data. Moving a pack to review and
issuing it stores a version: an issued version is frozen (its figures, checks and rendered
HTML and PDF are stored with the data version they came from) so that a committee paper
never changes under its readers. Re-issuing makes the next version and records what
changed against the one it supersedes.
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from shared.db.metadata import metadata, owned

PACK_STATUSES = ("in_review", "issued", "superseded", "withdrawn")

committee_packs = Table(
    "committee_packs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("service_id", Integer, nullable=False),
    Column("financial_year", SmallInteger, nullable=False),
    Column("period", SmallInteger, nullable=False),
    Column("version", SmallInteger, nullable=False),
    Column("status", Text, nullable=False, server_default="in_review"),
    Column("period_end", Date, nullable=False),
    # sha256 of the canonical JSON of the pack's source data: equal versions, equal data.
    Column("data_version", Text, nullable=False),
    Column("data_as_of", DateTime(timezone=True)),
    Column("figures", JSONB, nullable=False),
    Column("checks", JSONB, nullable=False),
    Column("changes", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("html", Text),
    Column("pdf", LargeBinary),
    Column("created_by", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("reviewed_by", Text),
    Column("reviewed_at", DateTime(timezone=True)),
    Column("issued_by", Text),
    Column("issued_at", DateTime(timezone=True)),
    # Whole seconds from the end of the period (midnight Europe/London after its last day)
    # to the issue.
    Column("seconds_to_issue", Integer),
    UniqueConstraint("service_id", "financial_year", "period", "version"),
    CheckConstraint("status IN ('in_review','issued','superseded','withdrawn')", name="status"),
    CheckConstraint("period BETWEEN 1 AND 12", name="period"),
    CheckConstraint("version >= 1", name="version"),
    CheckConstraint(
        "status NOT IN ('issued','superseded') OR (issued_at IS NOT NULL AND html IS NOT NULL"
        " AND pdf IS NOT NULL)",
        name="issued_is_rendered",
    ),
    # At most one version in review and one issued per service and period.
    Index(
        "ix_committee_packs_one_in_review",
        "service_id",
        "financial_year",
        "period",
        unique=True,
        postgresql_where=text("status = 'in_review'"),
    ),
    Index(
        "ix_committee_packs_one_issued",
        "service_id",
        "financial_year",
        "period",
        unique=True,
        postgresql_where=text("status = 'issued'"),
    ),
    info=owned("metrics", readers=()),
)
