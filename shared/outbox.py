"""Transactional outbox: write an event in the same transaction as the change that causes
it; a worker claims due rows with ``FOR UPDATE SKIP LOCKED``, delivers them over HTTP to the
target service with retries and exponential back-off, and marks them delivered.

Delivery is at-least-once; the receiver makes it exactly-once in effect by recording the
``Idempotency-Key`` (``<table>:<id>``) in its inbox in the same transaction as the effect
(see :func:`receive_once`).
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import Engine, Table, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from shared.http import ServiceClient
from shared.settings import ServiceName, Settings

log = logging.getLogger("yardstick.outbox")


def enqueue(
    session: Session,
    table: Table,
    *,
    event_type: str,
    target: ServiceName,
    path: str,
    payload: dict[str, Any],
) -> int:
    """Add an event to ``table`` inside the caller's transaction; returns its id."""
    new_id: int = session.execute(
        insert(table)
        .values(event_type=event_type, target=target, path=path, payload=payload)
        .returning(table.c.id)
    ).scalar_one()
    return new_id


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

    def backoff(self, attempts: int) -> timedelta:
        base = self.settings.outbox_backoff_base_seconds * (2 ** max(attempts - 1, 0))
        capped = min(base, self.settings.outbox_backoff_cap_seconds)
        return timedelta(seconds=capped * random.uniform(0.8, 1.2))

    def run_once(self) -> DeliveryResult:
        result = DeliveryResult()
        for table, engine in self.sources:
            self._drain(table, engine, result)
        return result

    def _drain(self, table: Table, engine: Engine, result: DeliveryResult) -> None:
        with Session(engine) as session, session.begin():
            rows = (
                session.execute(
                    select(table)
                    .where(
                        table.c.status == "pending", table.c.next_attempt_at <= datetime.now(UTC)
                    )
                    .order_by(table.c.id)
                    .limit(self.batch_size)
                    .with_for_update(skip_locked=True)
                )
                .mappings()
                .all()
            )
            for row in rows:
                # Each row's outcome is recorded in this transaction, which holds the row
                # locks: a crash before commit releases them and the rows are retried.
                error = self._deliver(table, row)
                if error is None:
                    session.execute(
                        update(table)
                        .where(table.c.id == row["id"])
                        .values(
                            status="delivered",
                            delivered_at=datetime.now(UTC),
                            last_error=None,
                            attempts=row["attempts"] + 1,
                        )
                    )
                    result.delivered += 1
                    continue
                attempts = row["attempts"] + 1
                dead = attempts >= self.settings.outbox_max_attempts
                session.execute(
                    update(table)
                    .where(table.c.id == row["id"])
                    .values(
                        attempts=attempts,
                        last_error=error[:2000],
                        status="dead" if dead else "pending",
                        next_attempt_at=datetime.now(UTC) + self.backoff(attempts),
                    )
                )
                result.dead += int(dead)
                result.failed += int(not dead)
                log.warning(
                    "outbox %s#%s to %s failed (attempt %s): %s",
                    table.name,
                    row["id"],
                    row["target"],
                    attempts,
                    error,
                )

    def _deliver(self, table: Table, row: Any) -> str | None:
        try:
            response = self.client.request(
                row["target"],
                "POST",
                row["path"],
                json={"event_type": row["event_type"], "payload": row["payload"]},
                headers={"Idempotency-Key": f"{table.name}:{row['id']}"},
            )
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
        if response.status_code >= 300:
            return f"HTTP {response.status_code}: {response.text[:500]}"
        return None

    def run_forever(self) -> None:
        log.info("outbox worker started for %s", ", ".join(t.name for t, _ in self.sources))
        while not self.stopping:
            try:
                result = self.run_once()
            except Exception:
                log.exception("outbox worker pass failed; retrying")
                result = DeliveryResult()
            if result.delivered == 0:
                self.wait(self.settings.outbox_poll_seconds)

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
