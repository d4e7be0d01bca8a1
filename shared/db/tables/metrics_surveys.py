"""Survey results computed by the metrics service (one snapshot per campaign)."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Integer, Table, Text, func
from sqlalchemy.dialects.postgresql import JSONB

from shared.db.metadata import metadata, owned

survey_results = Table(
    "survey_results",
    metadata,
    Column("campaign_id", Integer, primary_key=True),
    Column("organisation_id", Integer, nullable=False),
    Column("kind", Text, nullable=False),
    Column("trigger", Text, nullable=False),
    Column("results", JSONB, nullable=False),
    Column("computed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    info=owned("metrics", readers=()),
)
