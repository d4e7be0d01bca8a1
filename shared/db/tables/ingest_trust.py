"""Reviewer checks on submissions: owned (written) by the ingest service.

- ``submission_flags``: the outlier flags of a submission's metric values as last checked
  (on save, on submit, and by validation monitoring), one row per metric and check, with
  the numbers behind it in ``detail``. The participant's comment on a flagged metric is a
  warning comment (``submission_warning_comments``, rule key ``outlier.<metric>``).
- ``submission_quality``: each submission's data-quality score and its parts, read by
  metrics to return with results.
- ``validation_runs``: each run of validation monitoring over a cycle, with the
  fingerprint of what it checked against (catalogue, rules, thresholds, peer references),
  so the scheduled job re-runs a cycle only when one of them changed.
- ``validation_violations``: what monitoring found, one row per submission and finding,
  kept while it holds (``resolved_at`` set when a later run no longer finds it).
- ``follow_ups``: values a reviewer marked for follow-up, with their state.
"""

from __future__ import annotations

from sqlalchemy import (
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Double,
    ForeignKey,
    Identity,
    Index,
    Integer,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

from shared.db.metadata import metadata, owned

FLAG_CHECKS = ("modified_z", "iqr_fence", "history_sd", "year_on_year")
FOLLOW_UP_STATES = ("open", "contacted", "resolved", "dismissed")

submission_flags = Table(
    "submission_flags",
    metadata,
    Column(
        "submission_id", Integer, ForeignKey("submissions.id", ondelete="CASCADE"), nullable=False
    ),
    Column("metric_key", Text, nullable=False),
    Column("check", Text, nullable=False),
    Column("value", Double, nullable=False),
    Column("reason", Text, nullable=False),
    Column("detail", JSONB, nullable=False),
    Column("checked_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("submission_id", "metric_key", "check"),
    CheckConstraint(
        "\"check\" IN ('modified_z','iqr_fence','history_sd','year_on_year')", name="check"
    ),
    info=owned("ingest", readers=()),
)

submission_quality = Table(
    "submission_quality",
    metadata,
    Column(
        "submission_id",
        Integer,
        ForeignKey("submissions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("organisation_id", Integer, nullable=False),
    Column("cycle_year", Integer, nullable=False),
    Column("module", Text, nullable=False),
    Column("score", Double, nullable=False),
    Column("completeness", Double, nullable=False),
    Column("timeliness", Double, nullable=False),
    Column("consistency", Double, nullable=False),
    Column("outliers", Double, nullable=False),
    Column("detail", JSONB, nullable=False),
    Column("computed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_submission_quality_organisation_cycle", "organisation_id", "cycle_year"),
    info=owned("ingest", readers=("metrics",)),
)

validation_runs = Table(
    "validation_runs",
    metadata,
    Column("id", Integer, Identity(always=False), primary_key=True),
    Column("cycle_year", Integer, nullable=False),
    Column("fingerprint", Text, nullable=False),
    Column("trigger", Text, nullable=False),
    Column("submissions", Integer, nullable=False),
    Column("violations", Integer, nullable=False),
    Column("new_violations", Integer, nullable=False),
    Column("resolved", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # When the reviewers' notice of its new violations went out (null: none due or not yet).
    Column("notified_at", DateTime(timezone=True)),
    Column("notified_to", Text),
    Index("ix_validation_runs_cycle_year", "cycle_year", "id"),
    info=owned("ingest", readers=()),
)

validation_violations = Table(
    "validation_violations",
    metadata,
    Column("id", Integer, Identity(always=False), primary_key=True),
    Column(
        "submission_id", Integer, ForeignKey("submissions.id", ondelete="CASCADE"), nullable=False
    ),
    Column("cycle_year", Integer, nullable=False),
    Column("kind", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("severity", Text, nullable=False),
    Column("message", Text, nullable=False),
    Column("question_keys", JSONB, nullable=False),
    Column("detail", JSONB, nullable=False),
    Column("first_run_id", Integer, nullable=False),
    Column("last_run_id", Integer, nullable=False),
    Column("first_seen_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("resolved_at", DateTime(timezone=True)),
    UniqueConstraint("submission_id", "kind", "key"),
    CheckConstraint("kind IN ('rule','outlier')", name="kind"),
    Index("ix_validation_violations_cycle_year", "cycle_year"),
    info=owned("ingest", readers=()),
)

follow_ups = Table(
    "follow_ups",
    metadata,
    Column("id", Integer, Identity(always=False), primary_key=True),
    Column(
        "submission_id", Integer, ForeignKey("submissions.id", ondelete="CASCADE"), nullable=False
    ),
    Column("question_key", Text),
    Column("metric_key", Text),
    Column("violation_id", Integer, ForeignKey("validation_violations.id", ondelete="SET NULL")),
    Column("state", Text, nullable=False, server_default="open"),
    Column("note", Text, nullable=False),
    Column("due_on", Date),
    Column("resolution", Text),
    Column("created_by", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_by", Text, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("state IN ('open','contacted','resolved','dismissed')", name="state"),
    CheckConstraint("num_nonnulls(question_key, metric_key) >= 1", name="names_a_value"),
    Index("ix_follow_ups_submission_id", "submission_id"),
    info=owned("ingest", readers=()),
)
