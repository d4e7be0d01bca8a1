"""Tables owned by the metrics service for benchmarking results.

Rewritten per cycle by a recompute (``services/metrics/benchmark/service.py``), in one
transaction: a reader sees the old figures or the new ones, never a mix.

- ``metric_values``: each organisation's value of each metric in a cycle (accepted
  submissions only). Keyed by organisation first so it can be distributed by it. Ingest
  may read it: the history outlier checks compare a new value with the organisation's
  own earlier ones.
- ``benchmark_members``: the organisation attributes a recompute grouped by (type,
  nation, partnership, users and size band in that cycle): the membership of standard and
  custom peer groups, so a results request needs no join back to the source tables.
- ``benchmark_statistics``: n, median, quartiles, min, max per (cycle, standard peer
  group, metric), with suppression. Custom groups are computed on request from the two
  tables above and not stored.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    Double,
    Index,
    Integer,
    PrimaryKeyConstraint,
    Table,
    Text,
    func,
)

from shared.db.metadata import metadata, owned

metric_values = Table(
    "metric_values",
    metadata,
    Column("organisation_id", Integer, nullable=False),
    Column("cycle_year", Integer, nullable=False),
    Column("metric_key", Text, nullable=False),
    Column("value", Double, nullable=False),
    Column("computed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("organisation_id", "cycle_year", "metric_key"),
    Index("ix_metric_values_cycle_metric", "cycle_year", "metric_key"),
    # Ingest reads an organisation's earlier values for the history outlier checks.
    info=owned("metrics", readers=("ingest",)),
)

benchmark_members = Table(
    "benchmark_members",
    metadata,
    Column("organisation_id", Integer, nullable=False),
    Column("cycle_year", Integer, nullable=False),
    Column("type", Text, nullable=False),
    Column("nation", Text, nullable=False),
    Column("partnership", Boolean, nullable=False),
    Column("users", Integer),
    Column("size_band", Text),
    PrimaryKeyConstraint("organisation_id", "cycle_year"),
    Index("ix_benchmark_members_cycle_year", "cycle_year"),
    info=owned("metrics", readers=()),
)

benchmark_statistics = Table(
    "benchmark_statistics",
    metadata,
    Column("cycle_year", Integer, nullable=False),
    Column("peer_group_key", Text, nullable=False),
    Column("metric_key", Text, nullable=False),
    Column("n", Integer, nullable=False),
    Column("n_organisations", Integer, nullable=False),
    Column("median", Double),
    Column("q1", Double),
    Column("q3", Double),
    Column("min", Double),
    Column("max", Double),
    Column("suppressed", Boolean, nullable=False),
    Column("suppression_reason", Text),
    Column("computed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("cycle_year", "peer_group_key", "metric_key"),
    info=owned("metrics", readers=()),
)
