"""Figures behind the reviewer checks and peers: owned (written) by the metrics service.

- ``outlier_references``: per cycle, standard peer group (``all`` and ``type:X``) and
  metric, the distribution the outlier checks compare a new value with: n, median, MAD
  (median absolute deviation from the median), Q1 and Q3 (Hyndman-Fan type 7). Written by
  the recompute beside the benchmark statistics, only for groups of at least the
  disclosure threshold. The ingest service reads it (read-only) to flag values on save
  and on submit, so saving never waits on, or fails with, another service.
- ``metric_restatements``: each change a recompute made to a figure that already existed
  (an accepted submission reopened, changed and accepted again): the previous value, the
  new one (null: withdrawn), when and by which computation run.
- ``saved_peer_groups``: custom peer groups an organisation saved (e.g. from its nearest
  neighbours), as a list of member organisations for a cycle. Results use them like any
  group: statistics suppressed below the threshold, peers shown by code.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Double,
    Identity,
    Index,
    Integer,
    PrimaryKeyConstraint,
    Table,
    Text,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from shared.db.metadata import metadata, owned

outlier_references = Table(
    "outlier_references",
    metadata,
    Column("cycle_year", Integer, nullable=False),
    Column("peer_group_key", Text, nullable=False),
    Column("metric_key", Text, nullable=False),
    Column("n_organisations", Integer, nullable=False),
    Column("median", Double, nullable=False),
    Column("mad", Double, nullable=False),
    Column("q1", Double, nullable=False),
    Column("q3", Double, nullable=False),
    Column("run_id", Integer),
    Column("computed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("cycle_year", "peer_group_key", "metric_key"),
    info=owned("metrics", readers=("ingest",)),
)

metric_restatements = Table(
    "metric_restatements",
    metadata,
    Column("id", BigInteger, Identity(always=False), primary_key=True),
    Column("organisation_id", Integer, nullable=False),
    Column("cycle_year", Integer, nullable=False),
    Column("metric_key", Text, nullable=False),
    Column("previous_value", Double, nullable=False),
    Column("value", Double),
    Column("trigger", Text, nullable=False),
    Column("run_id", Integer),
    Column("restated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_metric_restatements_organisation_cycle", "organisation_id", "cycle_year"),
    info=owned("metrics", readers=()),
)

saved_peer_groups = Table(
    "saved_peer_groups",
    metadata,
    Column("id", Integer, Identity(always=False), primary_key=True),
    Column("organisation_id", Integer, nullable=False),
    Column("cycle_year", Integer, nullable=False),
    Column("name", Text, nullable=False),
    Column("method", Text, nullable=False),
    Column("members", ARRAY(Integer), nullable=False),
    Column("detail", JSONB, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_saved_peer_groups_organisation_id", "organisation_id", "cycle_year"),
    info=owned("metrics", readers=()),
)
