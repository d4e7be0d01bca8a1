"""Tables owned (written) by the metrics service."""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    Integer,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

from shared.db.metadata import metadata, owned
from shared.db.tables.common import inbox_table

metrics_inbox = inbox_table("metrics")

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
