"""Retention of old tickets and their SLA outcomes (``YARDSTICK_TICKET_RETENTION_MONTHS``).

What retention means here. ``tickets`` and ``sla_outcomes`` are partitioned by
organisation hash (migrations 0008 and 0014), not by time, so no partition ever becomes
"old" as a whole and none can be dropped. Retention is a cut-off instead: the first
instant (Europe/London) of the month ``months`` whole months before the current one. A
ticket finished before it goes, with its intervals and history (their foreign keys
cascade) and its SLA outcome; nothing else does. "Finished before the cut-off":

* logged before it, and resolved or closed before it (each of ``resolved_at`` and
  ``closed_at`` that is set; at least one must be);
* and none of its hold or reopen intervals, nor any history event, reaches the cut-off.

So every figure of a month from the cut-off on is made of tickets that all stay: a
monthly report counts a ticket in its month of resolution (``resolved_at``, else
``closed_at``) or logging, both before the cut-off for a removed ticket, and a ticket
open at any retained instant was not finished before it. The months before the cut-off
lose their figures, which is what retention asks.

How: per partition, organisation by organisation (each organisation's rows live in one
partition, so each statement touches that partition only and uses the
``(organisation_id, logged_at)`` index), in batches of ``batch`` keys, each batch its
own short transaction, so an operator can run it beside imports and reads: no long lock,
no table rewrite, the partition's free space reused by later imports (autovacuum). Each
step runs as the role that owns the table: tickets as ingest, outcomes as metrics; the
outcomes removed are exactly those whose ticket is gone and that are finished before the
cut-off, so the two steps agree even if a ticket step was interrupted.

Measured (bench/growth_bench.py prints it at every size): a batched delete costs a few
seconds per million tickets, a fraction of importing them; monthly sub-partitions
(``tickets`` by hash, each by month) would make retention a ``DROP`` but multiply the
partitions by the months kept (16 x 120), cost every organisation-scoped read a scan per
month, and force the logged month into the primary key (a ticket whose logged time is
corrected would be stored twice): batched deletes were chosen.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

log = logging.getLogger("yardstick.retention")

LONDON = ZoneInfo("Europe/London")
KEY = "organisation_id, source_system, reference"

# Keys of one organisation's tickets finished before the cut-off (see the module text).
_FINISHED_TICKETS = """
SELECT organisation_id, source_system, reference FROM tickets t
WHERE t.organisation_id = :org AND t.logged_at < :cut
  AND coalesce(t.resolved_at, t.closed_at) < :cut
  AND coalesce(t.closed_at, t.resolved_at) < :cut
  AND NOT EXISTS (SELECT 1 FROM ticket_intervals i
                  WHERE (i.organisation_id, i.source_system, i.reference)
                        = (t.organisation_id, t.source_system, t.reference)
                    AND (i.end_at IS NULL OR i.end_at >= :cut OR i.start_at >= :cut))
  AND NOT EXISTS (SELECT 1 FROM ticket_events e
                  WHERE (e.organisation_id, e.source_system, e.reference)
                        = (t.organisation_id, t.source_system, t.reference)
                    AND (e.at >= :cut OR e.end_at >= :cut))
LIMIT :batch
"""
_DELETE_TICKETS = f"""
WITH gone AS (DELETE FROM tickets WHERE organisation_id = :org AND ({KEY}) IN (
{_FINISHED_TICKETS}) RETURNING 1)
SELECT count(*) FROM gone
"""
# Outcomes finished before the cut-off whose ticket is gone.
_DELETE_OUTCOMES = f"""
WITH gone AS (DELETE FROM sla_outcomes WHERE organisation_id = :org AND ({KEY}) IN (
    SELECT {KEY} FROM sla_outcomes o
    WHERE o.organisation_id = :org AND o.logged_at < :cut AND o.resolution_at < :cut
      AND NOT o.is_open
      AND NOT EXISTS (SELECT 1 FROM tickets t
                      WHERE (t.organisation_id, t.source_system, t.reference)
                            = (o.organisation_id, o.source_system, o.reference))
    LIMIT :batch) RETURNING 1)
SELECT count(*) FROM gone
"""


def cutoff(months: int, now: datetime | None = None) -> datetime:
    """The first instant (Europe/London) of the month ``months`` months before now's."""
    local = (now or datetime.now(UTC)).astimezone(LONDON)
    index = local.year * 12 + local.month - 1 - months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=LONDON)


@dataclass
class Pruned:
    """Rows removed: per table, per partition (``<table>_pNN``), and in all."""

    cutoff: datetime
    by_partition: dict[str, dict[str, int]] = field(default_factory=dict)

    def total(self, table: str) -> int:
        return sum(self.by_partition.get(table, {}).values())


def _partitions(session: Session, table: str) -> list[tuple[str, int, int]]:
    """(partition name, modulus, remainder) of a table partitioned by hash."""
    rows = session.execute(
        text(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = CAST(:t AS regclass) ORDER BY c.relname"
        ),
        {"t": table},
    ).all()
    out = []
    for name, bound in rows:  # FOR VALUES WITH (modulus 16, remainder 3)
        words = bound.replace(",", " ").replace("(", " ").replace(")", " ").split()
        out.append((str(name), int(words[words.index("modulus") + 1]),
                    int(words[words.index("remainder") + 1])))  # fmt: skip
    return out or [(table, 1, 0)]  # a plain table: one "partition", itself


def _organisations(session: Session, table: str, modulus: int, remainder: int) -> list[int]:
    """The organisations whose rows ``table``'s partition (modulus, remainder) holds."""
    if modulus == 1:
        return list(session.execute(text("SELECT id FROM organisations ORDER BY id")).scalars())
    return list(
        session.execute(
            text(
                "SELECT id FROM organisations "
                "WHERE satisfies_hash_partition(CAST(:t AS regclass), :m, :r, id) ORDER BY id"
            ),
            {"t": table, "m": modulus, "r": remainder},
        ).scalars()
    )


def _prune(engine: Engine, table: str, sql: str, cut: datetime, batch: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    with Session(engine) as session:
        partitions = _partitions(session, table)
        plan = [(name, _organisations(session, table, m, r)) for name, m, r in partitions]
    for name, orgs in plan:
        started, removed = time.monotonic(), 0
        for org in orgs:
            while True:
                with Session(engine) as session:
                    n = int(
                        session.execute(
                            text(sql), {"org": org, "cut": cut, "batch": batch}
                        ).scalar_one()
                    )
                    session.commit()
                removed += n
                if n < batch:
                    break
        counts[name] = removed
        log.info(
            "retention: %s rows removed from %s (%d organisations) in %.2f s",
            removed,
            name,
            len(orgs),
            time.monotonic() - started,
            extra={"table": table, "partition": name, "removed": removed,
                   "cutoff": cut.isoformat()},
        )  # fmt: skip
    return counts


def prune(
    ingest: Engine, metrics: Engine, months: int, *, now: datetime | None = None, batch: int = 5000
) -> Pruned:
    """Remove the tickets (with intervals and histories) and the SLA outcomes finished
    before ``cutoff(months, now)``; ``ingest`` and ``metrics`` act as those roles."""
    if months < 1:
        raise ValueError("retention needs at least one month")
    cut = cutoff(months, now)
    result = Pruned(cut)
    result.by_partition["tickets"] = _prune(ingest, "tickets", _DELETE_TICKETS, cut, batch)
    result.by_partition["sla_outcomes"] = _prune(
        metrics, "sla_outcomes", _DELETE_OUTCOMES, cut, batch
    )
    log.info(
        "retention: before %s, %d tickets and %d SLA outcomes removed",
        cut.isoformat(),
        result.total("tickets"),
        result.total("sla_outcomes"),
    )
    return result
