"""The audit trail of named views: owned (written) by the metrics service, private to it.

Metrics is the service that shows a workshop's consenting members by name, so it records
each time it does, in the same transaction as the read it serves (ARCHITECTURE.md: each
table is written by one owner; the metrics role only reads ingest's workshop tables).
Append-only, like ``submission_audit``: the owner may INSERT and SELECT, and a trigger
refuses UPDATE and DELETE even to the database owner (migration 0009). No foreign key to
``workshops``: the trail outlives what it describes and is not another service's to cut.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Identity, Index, Integer, Table, Text
from sqlalchemy.dialects.postgresql import ARRAY

from shared.db.metadata import metadata, owned

workshop_named_views = Table(
    "workshop_named_views",
    metadata,
    Column("id", BigInteger, Identity(always=False), primary_key=True),
    Column("workshop_id", Integer, nullable=False),
    Column("subject", Text, nullable=False),  # who: the principal's subject
    Column("organisation_id", Integer, nullable=False),  # the member they viewed as
    Column("resource", Text, nullable=False),  # what: the request's path and query
    Column("named_organisations", ARRAY(Integer), nullable=False),  # whose names were shown
    Column("viewed_at", DateTime(timezone=True), nullable=False),
    Index("ix_workshop_named_views_workshop_id", "workshop_id", "viewed_at"),
    info=owned("metrics", readers=()),
)

# Tables whose owner may only INSERT and SELECT (append-only); see migration 0009.
APPEND_ONLY = ("workshop_named_views",)
