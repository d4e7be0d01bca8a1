"""Tables owned by the ingest service for benchmarking submissions and their review.

- ``submissions``: one per (organisation, cycle, module), in state draft, submitted,
  returned or accepted; ``imported`` marks past data loaded by an admin's bulk import.
- ``submission_answers``: the long table of answers. A number (counts, pounds,
  percentages) goes in ``value_number`` (NUMERIC: money is never a float), a choice key
  in ``value_text``, a yes/no in ``value_boolean``; exactly one is set.
- ``submission_warning_comments``: the participant's comment on each warning-severity
  rule that fired at submission, keyed by rule.
- ``submission_review_reasons``: the reviewer's reason per question when returning.
- ``submission_audit``: append-only trail (who, when, action, old → new, why). The
  ingest role may only INSERT and SELECT it (migration 0002) and a trigger refuses
  UPDATE and DELETE for everyone, the database owner included.
- ``import_batches``: one row per bulk CSV import of past cycles' values.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    PrimaryKeyConstraint,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB

from shared.db.metadata import metadata, owned

SUBMISSION_STATES = ("draft", "submitted", "returned", "accepted")

import_batches = Table(
    "import_batches",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("filename", Text),
    Column("created_by", Text, nullable=False),
    Column("rows", Integer, nullable=False),
    Column("submissions", Integer, nullable=False),
    Column("cycle_years", JSONB, nullable=False, server_default="[]"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    info=owned("ingest", readers=()),
)

submissions = Table(
    "submissions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "organisation_id",
        Integer,
        ForeignKey("organisations.id", ondelete="RESTRICT"),
        nullable=False,
    ),
    Column("cycle_id", Integer, ForeignKey("cycles.id", ondelete="RESTRICT"), nullable=False),
    Column("module", Text, nullable=False),
    Column("state", Text, nullable=False, server_default="draft"),
    Column("imported", Boolean, nullable=False, server_default="false"),
    Column("import_batch_id", Integer, ForeignKey("import_batches.id", ondelete="RESTRICT")),
    Column("created_by", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("submitted_at", DateTime(timezone=True)),
    Column("decided_at", DateTime(timezone=True)),
    UniqueConstraint("organisation_id", "cycle_id", "module"),
    CheckConstraint("state IN ('draft','submitted','returned','accepted')", name="state"),
    Index("ix_submissions_cycle_state", "cycle_id", "state"),
    info=owned("ingest", readers=("metrics",)),
)

submission_answers = Table(
    "submission_answers",
    metadata,
    Column(
        "submission_id",
        Integer,
        ForeignKey("submissions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("question_key", Text, nullable=False),
    Column("value_number", Numeric),
    Column("value_text", Text),
    Column("value_boolean", Boolean),
    Column("comment", Text),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("submission_id", "question_key"),
    CheckConstraint("num_nonnulls(value_number, value_text, value_boolean) = 1", name="one_value"),
    info=owned("ingest", readers=("metrics",)),
)

submission_warning_comments = Table(
    "submission_warning_comments",
    metadata,
    Column(
        "submission_id",
        Integer,
        ForeignKey("submissions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("rule_key", Text, nullable=False),
    Column("message", Text, nullable=False),
    Column("comment", Text, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("submission_id", "rule_key"),
    info=owned("ingest", readers=()),
)

submission_review_reasons = Table(
    "submission_review_reasons",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "submission_id",
        Integer,
        ForeignKey("submissions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("question_key", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("created_by", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_submission_review_reasons_submission_id", "submission_id"),
    info=owned("ingest", readers=()),
)

submission_audit = Table(
    "submission_audit",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    # No cascade: the trail outlives nothing it describes, and deleting it is refused.
    Column(
        "submission_id",
        Integer,
        ForeignKey("submissions.id", ondelete="RESTRICT"),
        nullable=False,
    ),
    Column("actor", Text, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("action", Text, nullable=False),
    Column("question_key", Text),
    Column("old_value", JSONB),
    Column("new_value", JSONB),
    Column("reason", Text),
    Index("ix_submission_audit_submission_id", "submission_id"),
    info=owned("ingest", readers=()),
)

# Tables whose owner may only INSERT and SELECT (append-only); see migration 0002.
APPEND_ONLY = ("submission_audit",)
