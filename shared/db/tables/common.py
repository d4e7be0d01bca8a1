"""Table shapes every service repeats: its outbox, its inbox of handled events, its
idempotency records. Each service gets its own copy so each table still has one owner.

An outbox row moves ``pending`` → ``delivering`` (claimed: ``claim_token`` and
``leased_until`` set in a short transaction) → ``delivered`` or back to ``pending`` (retry)
or ``dead`` (out of attempts); see :mod:`shared.outbox`. A ``delivering`` row whose lease
has passed is claimable again (its worker died). ``redriven_by``/``redriven_at`` record the
admin who last set a dead row back to pending.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    Index,
    Integer,
    PrimaryKeyConstraint,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from shared.db.metadata import metadata, owned

OUTBOX_STATUSES = ("pending", "delivering", "delivered", "dead")


def outbox_table(service: str) -> Table:
    name = f"{service}_outbox"
    return Table(
        name,
        metadata,
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("event_type", Text, nullable=False),
        Column("target", Text, nullable=False),
        Column("path", Text, nullable=False),
        Column("payload", JSONB, nullable=False),
        Column("status", Text, nullable=False, server_default="pending"),
        Column("attempts", Integer, nullable=False, server_default="0"),
        Column(
            "next_attempt_at", DateTime(timezone=True), nullable=False, server_default=func.now()
        ),
        Column("last_error", Text),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("delivered_at", DateTime(timezone=True)),
        Column("claim_token", UUID(as_uuid=True)),
        Column("leased_until", DateTime(timezone=True)),
        Column("redriven_by", Text),
        Column("redriven_at", DateTime(timezone=True)),
        # The request that queued the event (its X-Request-ID and, with tracing on, its W3C
        # traceparent): the worker sends both again when it delivers.
        Column("request_id", Text),
        Column("traceparent", Text),
        CheckConstraint("status IN ('pending', 'delivering', 'delivered', 'dead')", name="status"),
        CheckConstraint(
            "status <> 'delivering' OR (claim_token IS NOT NULL AND leased_until IS NOT NULL)",
            name="lease",
        ),
        Index(
            f"ix_{name}_due",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
        ),
        Index(
            f"ix_{name}_leased",
            "leased_until",
            postgresql_where=text("status = 'delivering'"),
        ),
        Index(f"ix_{name}_status_id", "status", "id"),
        info=owned(service, readers=()),
    )


def inbox_table(service: str) -> Table:
    return Table(
        f"{service}_inbox",
        metadata,
        Column("event_key", Text, primary_key=True),
        Column("event_type", Text, nullable=False),
        Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        info=owned(service, readers=()),
    )


def idempotency_table(service: str) -> Table:
    return Table(
        f"{service}_idempotency",
        metadata,
        Column("principal", Text, nullable=False),
        Column("key", Text, nullable=False),
        Column("method", Text, nullable=False),
        Column("path", Text, nullable=False),
        Column("request_hash", Text, nullable=False),
        Column("status_code", Integer, nullable=False),
        Column("response_body", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        PrimaryKeyConstraint("principal", "key"),
        info=owned(service, readers=()),
    )
