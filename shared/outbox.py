"""Transactional outbox: write an event in the same transaction as the change that causes
it; a worker delivers it over HTTP to the target service with retries and exponential
back-off.

Delivery is at-least-once; the receiver makes it exactly-once in effect by recording the
``Idempotency-Key`` (``<table>:<id>``) in its inbox in the same transaction as the effect
(see :func:`receive_once`).

Claims and leases. No transaction is ever open while a request is on the wire:

1. *Claim* (short transaction): due rows are picked with ``FOR UPDATE SKIP LOCKED`` and set
   to ``status = 'delivering'`` with a fresh ``claim_token``, ``attempts + 1`` and
   ``leased_until = now() + lease``; commit. Due means ``pending`` and past
   ``next_attempt_at``, or ``delivering`` with a lease that has passed (the worker that
   claimed it died or hung): such a row is simply claimed again, with a new token.
2. *Deliver*, outside any transaction, with the row's timeout (:meth:`OutboxWorker.timeout_for`).
3. *Settle* (short transaction): ``delivered``, or back to ``pending`` with back-off, or
   ``dead`` after ``outbox_max_attempts``; the UPDATE matches ``claim_token``, so the outcome
   of a claim that was meanwhile taken over (its lease expired) changes nothing.

The lease is longer than the longest a delivery can take (httpx applies the timeout to
connect, write and read separately, so three timeouts plus a grace), so a live worker's
row is not claimed twice. A row whose lease expires with no attempts left goes ``dead``
(a poison event that kills every worker that takes it stops being retried).

Lanes. :meth:`OutboxWorker.run_forever` runs ``outbox_lanes_per_target`` threads per
target service. A lane claims one row at a time, from every outbox table, addressed to its
target only. So a receiver that hangs holds only its own lanes (each for at most one
timeout per row), while events for the other services keep flowing; and within a target a
slow delivery holds one lane while the others keep claiming the rows behind it. Ordering is
by id within a lane but not across lanes, which no receiver relies on (each event stands
alone and the inbox makes repeats harmless).

Timeouts. Ordinary events get ``outbox_delivery_timeout_seconds`` (short): receivers
answer at once and run long work as a job of their own (metrics answers 202, and so does
ingest's ticket-import processing). Event types in ``outbox_long_event_types`` (none by
default; for a receiver that works inside the request) get
``outbox_long_delivery_timeout_seconds``; they only hold a lane of their own target.

Admins see dead events and set them back to pending (:func:`list_events`, :func:`redrive`),
through an endpoint of each owning service.
"""

from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

import httpx
from sqlalchemy import Engine, Table, and_, case, func, insert, literal, or_, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from shared.errors import Conflict, NotFound
from shared.events import EventPayload
from shared.http import ServiceClient
from shared.observability import (
    OUTBOX_DELIVERIES,
    OUTBOX_DELIVERY_DURATION,
    bound,
    current_request_id,
    duration_ms,
)
from shared.observability_tracing import current_traceparent, span
from shared.settings import SERVICES, ServiceName, Settings

log = logging.getLogger("yardstick.outbox")

# Several timeouts (connect, write, read) plus this grace: longer than any live delivery.
LEASE_TIMEOUTS = 3


def enqueue(
    session: Session,
    table: Table,
    *,
    event_type: str,
    target: ServiceName,
    path: str,
    payload: dict[str, Any],
) -> int:
    """Add an event to ``table`` inside the caller's transaction; returns its id.

    The request id (and, with tracing on, the trace context) of the work in hand go with
    it: the worker sends them again when it delivers the event."""
    new_id: int = session.execute(
        insert(table)
        .values(
            event_type=event_type,
            target=target,
            path=path,
            payload=payload,
            request_id=current_request_id(),
            traceparent=current_traceparent(),
        )
        .returning(table.c.id)
    ).scalar_one()
    return new_id


def enqueue_event(session: Session, table: Table, event: EventPayload) -> int:
    """Queue a declared event (shared/events.py): its type, receiver and path come with it."""
    return enqueue(
        session,
        table,
        event_type=event.event_type,
        target=event.target,
        path=event.path(),
        payload=event.model_dump(mode="json", exclude_none=True),
    )


def receive_once(session: Session, inbox: Table, event_key: str, event_type: str) -> bool:
    """Record ``event_key`` in the receiver's inbox; False if it was already handled.

    Call inside the transaction that applies the event's effect.
    """
    inserted = session.execute(
        pg_insert(inbox)
        .values(event_key=event_key, event_type=event_type)
        .on_conflict_do_nothing(index_elements=[inbox.c.event_key])
        .returning(inbox.c.event_key)
    ).first()
    return inserted is not None


@dataclass
class DeliveryResult:
    delivered: int = 0
    failed: int = 0
    dead: int = 0
    # Outcomes not written because the claim had been taken over meanwhile.
    stale: int = 0

    def add(self, outcome: Outcome) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)


Outcome = Literal["delivered", "failed", "dead", "stale"]


@dataclass(frozen=True)
class Claim:
    """One row claimed for delivery: its values at claim time and the claim's token."""

    table: Table
    engine: Engine
    row: dict[str, Any]
    token: uuid.UUID

    @property
    def key(self) -> str:
        return f"{self.table.name}:{self.row['id']}"


class OutboxWorker:
    """Delivers the rows of one or more outbox tables, each with its owner's engine."""

    def __init__(
        self,
        settings: Settings,
        sources: Sequence[tuple[Table, Engine]],
        client: ServiceClient,
        *,
        batch_size: int = 20,
    ) -> None:
        self.settings = settings
        self.sources = list(sources)
        self.client = client
        self.batch_size = batch_size
        self._stop = threading.Event()
        self._lanes: list[threading.Thread] = []

    # ------------------------------------------------------------------ the three steps

    def timeout_for(self, event_type: str) -> float:
        if event_type in self.settings.outbox_long_event_types:
            return self.settings.outbox_long_delivery_timeout_seconds
        return self.settings.outbox_delivery_timeout_seconds

    def lease_for(self, timeout: float) -> timedelta:
        return timedelta(
            seconds=LEASE_TIMEOUTS * timeout + self.settings.outbox_lease_grace_seconds
        )

    def backoff(self, attempts: int) -> timedelta:
        base = self.settings.outbox_backoff_base_seconds * (2 ** max(attempts - 1, 0))
        capped = min(base, self.settings.outbox_backoff_cap_seconds)
        return timedelta(seconds=capped * random.uniform(0.8, 1.2))

    def claim(
        self, table: Table, engine: Engine, *, limit: int, target: ServiceName | None = None
    ) -> list[Claim]:
        """Claim up to ``limit`` due rows (oldest first) in one short transaction."""
        t = table
        now = func.now()
        token = uuid.uuid4()
        long_types = list(self.settings.outbox_long_event_types)
        lease = case(
            (
                t.c.event_type.in_(long_types),
                literal(self.lease_for(self.settings.outbox_long_delivery_timeout_seconds)),
            ),
            else_=literal(self.lease_for(self.settings.outbox_delivery_timeout_seconds)),
        )
        expired = and_(t.c.status == "delivering", t.c.leased_until < now)
        scope = [t.c.target == target] if target is not None else []
        with Session(engine) as session, session.begin():
            # A row whose every attempt ended with its worker gone would be claimed for
            # ever: it is dead once its lease passes with no attempts left.
            out_of_attempts = (
                select(t.c.id)
                .where(expired, t.c.attempts >= self.settings.outbox_max_attempts, *scope)
                .with_for_update(skip_locked=True)
            )
            session.execute(
                update(t)
                .where(t.c.id.in_(out_of_attempts.scalar_subquery()))
                .values(
                    status="dead",
                    claim_token=None,
                    leased_until=None,
                    last_error=func.coalesce(t.c.last_error + " / ", "")
                    + "lease expired during the last attempt (worker stopped or hung)",
                )
            )
            due = (
                select(t.c.id)
                .where(
                    or_(and_(t.c.status == "pending", t.c.next_attempt_at <= now), expired),
                    *scope,
                )
                .order_by(t.c.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            rows = (
                session.execute(
                    update(t)
                    .where(t.c.id.in_(due.scalar_subquery()))
                    .values(
                        status="delivering",
                        claim_token=token,
                        leased_until=now + lease,
                        attempts=t.c.attempts + 1,
                    )
                    .returning(*t.c)
                )
                .mappings()
                .all()
            )
        return [Claim(table, engine, dict(r), token) for r in sorted(rows, key=lambda r: r["id"])]

    def deliver(self, claim: Claim) -> str | None:
        """POST the event to its target; None on a 2xx answer, else what went wrong."""
        row = claim.row
        try:
            response = self.client.request(
                row["target"],
                "POST",
                row["path"],
                json={"event_type": row["event_type"], "payload": row["payload"]},
                # The request id bound by process() (the queuing request's) goes too.
                headers={"Idempotency-Key": claim.key},
                timeout=self.timeout_for(row["event_type"]),
            )
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if response.status_code >= 300:
            return f"HTTP {response.status_code}: {response.text[:500]}"
        return None

    def settle(self, claim: Claim, error: str | None) -> Outcome:
        """Write the delivery's outcome in a short transaction, if the claim still holds."""
        t, row = claim.table, claim.row
        attempts = int(row["attempts"])  # counted at claim time
        outcome: Outcome
        if error is None:
            values: dict[str, Any] = {
                "status": "delivered",
                "delivered_at": func.now(),
                "last_error": None,
            }
            outcome = "delivered"
        else:
            dead = attempts >= self.settings.outbox_max_attempts
            values = {
                "status": "dead" if dead else "pending",
                "last_error": error[:2000],
                "next_attempt_at": func.now() + literal(self.backoff(attempts)),
            }
            outcome = "dead" if dead else "failed"
        with Session(claim.engine) as session, session.begin():
            written = session.execute(
                update(t)
                .where(
                    t.c.id == row["id"],
                    t.c.claim_token == claim.token,
                    t.c.status == "delivering",
                )
                .values(claim_token=None, leased_until=None, **values)
                .returning(t.c.id)
            ).first()
        if written is None:
            log.warning(
                "outbox %s: outcome %s ignored, the claim was taken over", claim.key, outcome
            )
            return "stale"
        if error is not None:
            log.warning(
                "outbox %s to %s failed (attempt %s%s): %s",
                claim.key,
                row["target"],
                attempts,
                ", now dead" if outcome == "dead" else "",
                error,
            )
        return outcome

    def process(self, claim: Claim) -> Outcome:
        """Deliver and settle one claim, as a unit of work of the request that queued it:
        its log lines and the delivery carry that request's id (and trace)."""
        row = claim.row
        target, event_type = row["target"], row["event_type"]
        with (
            bound(row.get("request_id"), service="worker"),
            span(
                f"outbox deliver {event_type}",
                row.get("traceparent"),
                **{"yardstick.event_key": claim.key, "yardstick.target": target},
            ),
        ):
            start = time.perf_counter()
            error = self.deliver(claim)
            elapsed = time.perf_counter() - start
            outcome = self.settle(claim, error)
            OUTBOX_DELIVERY_DURATION.labels(target).observe(elapsed)
            OUTBOX_DELIVERIES.labels(target, event_type, outcome).inc()
            log.log(
                logging.INFO if outcome == "delivered" else logging.WARNING,
                "outbox %s %s to %s: %s",
                claim.key,
                event_type,
                target,
                outcome,
                extra={
                    "fields": {
                        "event": claim.key,
                        "event_type": event_type,
                        "target": target,
                        "outcome": outcome,
                        "attempt": int(row["attempts"]),
                        "duration_ms": duration_ms(elapsed),
                        **({"error": error[:300]} if error else {}),
                    }
                },
            )
        return outcome

    # ------------------------------------------------------------------------ driving

    def run_once(self) -> DeliveryResult:
        """One pass, in this thread: claim a batch of due rows per table and deliver them.

        For tests and one-shot use; :meth:`run_forever` runs the lanes."""
        result = DeliveryResult()
        for table, engine in self.sources:
            for claim in self.claim(table, engine, limit=self.batch_size):
                result.add(self.process(claim))
        return result

    def run_lane(self, target: ServiceName) -> None:
        """Deliver events for ``target``, one claimed row at a time, until stopped."""
        while not self.stopping:
            busy = False
            for table, engine in self.sources:
                if self.stopping:
                    return
                try:
                    for claim in self.claim(table, engine, limit=1, target=target):
                        busy = True
                        self.process(claim)
                except Exception:
                    # A database outage: the claim (if any) is retried when its lease ends.
                    log.exception("outbox lane for %s failed; retrying", target)
            if not busy:
                self.wait(self.settings.outbox_poll_seconds)

    def run_forever(self) -> None:
        names = ", ".join(t.name for t, _ in self.sources)
        lanes = [
            threading.Thread(
                target=self.run_lane, args=(target,), name=f"outbox-{target}-{n}", daemon=True
            )
            for target in SERVICES
            for n in range(self.settings.outbox_lanes_per_target)
        ]
        log.info("outbox worker started for %s with %s lanes", names, len(lanes))
        self._lanes = lanes
        for lane in lanes:
            lane.start()
        self._stop.wait()
        # A lane in the middle of a delivery finishes it (or its lease ends); idle lanes
        # see the stop at once.
        for lane in lanes:
            lane.join(timeout=1.0)

    def lanes_alive(self) -> bool:
        """True while every delivery lane of :meth:`run_forever` runs (the health probe)."""
        return bool(self._lanes) and not self.stopping and all(t.is_alive() for t in self._lanes)

    def stop(self) -> None:
        """Ask :meth:`run_forever` (and anything waiting in :meth:`wait`) to finish."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def wait(self, timeout: float | None = None) -> bool:
        """Sleep until :meth:`stop` is called or ``timeout`` seconds pass; True if stopping.

        For threads that run beside the worker and must end with it (the periodic jobs)."""
        return self._stop.wait(timeout)


# --------------------------------------------------------------------------- admin


class OutboxEventNotFound(NotFound):
    code = "outbox_event_not_found"


class OutboxEventNotDead(Conflict):
    code = "outbox_event_not_dead"


def list_events(
    session: Session, table: Table, status: str | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """One page of ``table``'s events, newest first, optionally of one status."""
    where = [table.c.status == status] if status is not None else []
    total: int = session.execute(select(func.count()).select_from(table).where(*where)).scalar_one()
    rows = session.execute(
        select(table).where(*where).order_by(table.c.id.desc()).limit(limit).offset(offset)
    )
    return [dict(r) for r in rows.mappings()], total


def get_event(session: Session, table: Table, event_id: int) -> dict[str, Any]:
    row = session.execute(select(table).where(table.c.id == event_id)).mappings().first()
    if row is None:
        raise OutboxEventNotFound(f"There is no outbox event {event_id} in {table.name}.")
    return dict(row)


def redrive(session: Session, table: Table, event_id: int, by: str) -> dict[str, Any]:
    """Set a dead event back to pending, due now, with its attempts reset; records who."""
    row = (
        session.execute(
            update(table)
            .where(table.c.id == event_id, table.c.status == "dead")
            .values(
                status="pending",
                attempts=0,
                next_attempt_at=func.now(),
                redriven_by=by,
                redriven_at=func.now(),
            )
            .returning(*table.c)
        )
        .mappings()
        .first()
    )
    if row is not None:
        log.info("outbox %s:%s re-driven by %s", table.name, event_id, by)
        return dict(row)
    status = session.execute(select(table.c.status).where(table.c.id == event_id)).scalar()
    if status is None:
        raise OutboxEventNotFound(f"There is no outbox event {event_id} in {table.name}.")
    raise OutboxEventNotDead(
        f"Outbox event {event_id} is {status}; only a dead event can be re-driven."
    )
