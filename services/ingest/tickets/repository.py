"""SQL for ticket imports, tickets, intervals and mappings."""

from __future__ import annotations

from typing import Any, cast

import polars as pl
import psycopg
from sqlalchemy import Table, delete, func, insert, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from shared.db.tables.ingest import organisations
from shared.db.tables.ingest_governance import organisation_partners as op
from shared.db.tables.ingest_tickets import (
    ticket_import_errors as e,
)
from shared.db.tables.ingest_tickets import (
    ticket_imports as ti,
)
from shared.db.tables.ingest_tickets import (
    ticket_intervals as iv,
)
from shared.db.tables.ingest_tickets import (
    ticket_mappings as tm,
)
from shared.db.tables.ingest_tickets import (
    tickets as t,
)
from shared.db.tables.metrics_sla import sla_import_runs as sir
from shared.tickets import STORED_COLUMNS, TICKET_KEY

# Columns copied from a parsed batch into the staging table, in order: the stored fields
# of the ticket declaration (shared/tickets.py), named as in the table.
STAGE_COLUMNS = STORED_COLUMNS
LONDON = "Europe/London"
_VALUES = [c for c in STAGE_COLUMNS if c not in TICKET_KEY]

# Built from the real table, so the two cannot drift (columns the batch does not carry take
# their defaults and are not copied on).
_CREATE_STAGE = (
    "CREATE TEMP TABLE IF NOT EXISTS ticket_stage (LIKE tickets INCLUDING DEFAULTS) "
    "ON COMMIT DELETE ROWS"
)

# Only rows whose values really differ are updated, so pushing the same export again
# leaves every stored ticket (and its updated_at) untouched.
#
# Inserted against updated: ``tickets`` is partitioned (migration 0014), and PostgreSQL
# cannot return a system column such as ``xmax`` from a partitioned table ("cannot
# retrieve a system column in this context"), so the count no longer comes from
# ``RETURNING (xmax = 0)``. An inserted row gets ``created_at`` = now() (the column's
# default: this transaction's start), which the update leaves alone, and a stored row
# cannot have been created by this same transaction: one upsert per batch transaction, and
# an upsert never touches a row twice. So ``created_at = now()`` holds exactly for the rows
# this statement inserted. It costs nothing more than the xmax test did: measured against
# counting the staged keys already stored in the same statement, which the planner does
# as a hash join over the whole table (a cost growing with the table, not the batch), see
# bench/growth_bench.py --upsert-baseline. The counts come per (organisation, local month
# logged) of the rows written, which are the months the import touched: no second query
# (joining the stage back to ``tickets`` after the upsert was a scan of the whole table,
# growing with it, whenever a batch changed only some of its rows). The one way to
# miscount (never to lose or double a row): another import's transaction, started in the
# very same microsecond, inserting a ticket this one then updates.
_UPSERT = f"""
WITH up AS (
    INSERT INTO tickets AS t ({", ".join(STAGE_COLUMNS)}, last_import_id)
    SELECT {", ".join(STAGE_COLUMNS)}, %(import_id)s FROM ticket_stage
    ON CONFLICT ({", ".join(TICKET_KEY)}) DO UPDATE SET
        {", ".join(f"{c} = EXCLUDED.{c}" for c in _VALUES)},
        last_import_id = EXCLUDED.last_import_id,
        updated_at = now()
    WHERE ({", ".join(f"t.{c}" for c in _VALUES)})
        IS DISTINCT FROM ({", ".join(f"EXCLUDED.{c}" for c in _VALUES)})
    RETURNING t.organisation_id, t.logged_at, (t.created_at = now()) AS inserted
)
SELECT organisation_id, to_char(logged_at AT TIME ZONE '{LONDON}', 'YYYY-MM'),
       count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted)
FROM up GROUP BY 1, 2
"""


def driver_connection(session: Session) -> psycopg.Connection[Any]:
    return cast(psycopg.Connection[Any], session.connection().connection.driver_connection)


Months = set[tuple[int, str]]


def copy_payload(frame: pl.DataFrame) -> bytes:
    """The batch as COPY CSV (columns ``STAGE_COLUMNS``), written by Polars."""
    return frame.select(STAGE_COLUMNS).write_csv(include_header=False).encode()


def upsert_batch(
    session: Session, frame: pl.DataFrame, import_id: int, *, payload: bytes | None = None
) -> tuple[int, int, Months]:
    """COPY a batch (columns ``STAGE_COLUMNS``) into a temp table and upsert it.

    ``payload`` is ``copy_payload(frame)`` when the caller made it ahead of time. Returns
    (inserted, updated, touched months): the rest of the batch was unchanged, and the
    months are the (organisation, local month logged) of the inserted or changed rows only.
    """
    if frame.height == 0:
        return 0, 0, set()
    conn = driver_connection(session)
    if payload is None:
        payload = copy_payload(frame)
    with conn.cursor() as cur:
        cur.execute(_CREATE_STAGE)
        with cur.copy(
            f"COPY ticket_stage ({', '.join(STAGE_COLUMNS)}) FROM STDIN (FORMAT csv)"
        ) as copy:
            copy.write(payload)
        cur.execute(_UPSERT, {"import_id": import_id})
        inserted = updated = 0
        touched: Months = set()
        for org, month, ins, upd in cur.fetchall():
            inserted, updated = inserted + int(ins), updated + int(upd)
            touched.add((int(org), str(month)))
        cur.execute("TRUNCATE ticket_stage")
    return inserted, updated, touched


def organisation_exists(session: Session, organisation_id: int) -> bool:
    found = session.execute(
        select(organisations.c.id).where(organisations.c.id == organisation_id)
    ).first()
    return found is not None


def organisation_ids(session: Session) -> set[int]:
    return set(session.execute(select(organisations.c.id)).scalars())


def insert_import(session: Session, values: dict[str, Any]) -> dict[str, Any]:
    return dict(session.execute(insert(ti).values(**values).returning(ti)).mappings().one())


def get_import(session: Session, import_id: int, *, lock: bool = False) -> dict[str, Any] | None:
    query = select(ti).where(ti.c.id == import_id)
    if lock:
        query = query.with_for_update()
    row = session.execute(query).mappings().first()
    return dict(row) if row else None


def figures_runs(session: Session, import_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Import → the computation run that first included it and when (metrics writes
    ``sla_import_runs``; ingest may read it)."""
    if not import_ids:
        return {}
    rows = session.execute(
        select(sir.c.import_id, sir.c.run_id, sir.c.figures_ready_at).where(
            sir.c.import_id.in_(import_ids)
        )
    ).mappings()
    return {int(r["import_id"]): dict(r) for r in rows}


def update_import(session: Session, import_id: int, values: dict[str, Any]) -> None:
    session.execute(update(ti).where(ti.c.id == import_id).values(**values, updated_at=func.now()))


def stalled_imports(session: Session, stale_before: Any) -> list[dict[str, Any]]:
    """Imports queued or processing with no progress since ``stale_before``, locked
    (skipping any another watchdog pass holds)."""
    rows = session.execute(
        select(ti)
        .where(ti.c.status.in_(("queued", "processing")), ti.c.updated_at < stale_before)
        .order_by(ti.c.id)
        .with_for_update(skip_locked=True)
    )
    return [dict(r) for r in rows.mappings()]


def try_xact_lock(session: Session, key: int) -> bool:
    """The advisory lock ``key`` until this transaction ends; False if another holds it."""
    got = session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": key}).scalar_one()
    return bool(got)


def process_events(session: Session, outbox: Table, path: str) -> tuple[int, int]:
    """(events ever queued for ``path``, those the outbox has not finished with)."""
    total, waiting = session.execute(
        select(
            func.count(),
            func.count().filter(outbox.c.status.not_in(("delivered", "dead"))),
        ).where(outbox.c.path == path)
    ).one()
    return int(total), int(waiting)


def list_imports(
    session: Session, organisation_ids: set[int] | None, subject: str, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    query = select(ti)
    if organisation_ids is not None:
        query = query.where(
            ti.c.organisation_id.in_(organisation_ids) | (ti.c.created_by == subject)
        )
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = session.execute(query.order_by(ti.c.id.desc()).limit(limit).offset(offset))
    return [dict(r) for r in rows.mappings()], total


def insert_errors(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(pg_insert(e).on_conflict_do_nothing(), rows)


def list_errors(
    session: Session, import_id: int, severity: str | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    cond = e.c.import_id == import_id
    if severity is not None:
        cond = cond & (e.c.severity == severity)
    total = session.execute(select(func.count()).select_from(e).where(cond)).scalar_one()
    rows = session.execute(
        select(e).where(cond).order_by(e.c.row_number, e.c.seq).limit(limit).offset(offset)
    )
    return [dict(r) for r in rows.mappings()], total


def touched_months(session: Session, import_id: int) -> dict[int, list[str]]:
    """Organisation → local months (YYYY-MM) of tickets this import inserted or changed.

    A scan of every ticket: only for a job resumed after a restart, whose earlier batches'
    months were not seen by this process (a fresh job collects them batch by batch).
    """
    rows = session.execute(
        text(
            "SELECT DISTINCT organisation_id, "
            "to_char(logged_at AT TIME ZONE 'Europe/London', 'YYYY-MM') AS month "
            "FROM tickets WHERE last_import_id = :id ORDER BY 1, 2"
        ),
        {"id": import_id},
    ).all()
    out: dict[int, list[str]] = {}
    for org, month in rows:
        out.setdefault(int(org), []).append(month)
    return out


# ----------------------------------------------------------------------- intervals


def existing_references(
    session: Session, organisation_id: int, source_system: str, references: list[str]
) -> set[str]:
    return set(
        session.execute(
            select(t.c.reference).where(
                t.c.organisation_id == organisation_id,
                t.c.source_system == source_system,
                t.c.reference.in_(references),
            )
        ).scalars()
    )


def replace_intervals(
    session: Session,
    organisation_id: int,
    source_system: str,
    references: list[str],
    rows: list[dict[str, Any]],
) -> None:
    session.execute(
        delete(iv).where(
            tuple_(iv.c.organisation_id, iv.c.source_system) == (organisation_id, source_system),
            iv.c.reference.in_(references),
        )
    )
    if rows:
        session.execute(insert(iv), rows)


# ------------------------------------------------------------------------ mappings


def insert_mapping(session: Session, values: dict[str, Any]) -> dict[str, Any]:
    return dict(session.execute(insert(tm).values(**values).returning(tm)).mappings().one())


def get_mapping(session: Session, organisation_id: int, mapping_id: int) -> dict[str, Any] | None:
    row = (
        session.execute(
            select(tm).where(tm.c.id == mapping_id, tm.c.organisation_id == organisation_id)
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def get_mapping_by_id(session: Session, mapping_id: int) -> dict[str, Any] | None:
    row = session.execute(select(tm).where(tm.c.id == mapping_id)).mappings().first()
    return dict(row) if row else None


def list_mappings(session: Session, organisation_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(tm).where(tm.c.organisation_id == organisation_id).order_by(tm.c.name)
    )
    return [dict(r) for r in rows.mappings()]


def delete_mapping(session: Session, organisation_id: int, mapping_id: int) -> bool:
    done = session.execute(
        delete(tm)
        .where(tm.c.id == mapping_id, tm.c.organisation_id == organisation_id)
        .returning(tm.c.id)
    ).first()
    return done is not None


# ------------------------------------------------------- shared services and histories


def partners_of(session: Session, service_ids: list[int]) -> set[int]:
    """The partner organisations of the shared services given."""
    rows = session.execute(
        select(op.c.partner_id).where(op.c.shared_service_id.in_(service_ids))
    ).scalars()
    return {int(r) for r in rows}


STATUS_POLICY_SCHEMA: dict[str, pl.DataType] = {
    "policy_id": pl.Int64(),
    "organisation_id": pl.Int32(),
    "priority": pl.Utf8(),
    "request_type": pl.Utf8(),
    "effective_from": pl.Date(),
    "checked": pl.Boolean(),
    "statuses": pl.List(pl.Utf8()),
}


def status_policies(session: Session) -> pl.DataFrame:
    """Every SLA policy with the statuses it expects in histories (``statuses``: its known
    and pause statuses, lower-cased, trimmed) and whether it checks them (``checked``: it
    lists known statuses; a policy without any accepts every status)."""
    rows = session.execute(
        text(
            "SELECT id, organisation_id, priority, request_type, effective_from, "
            "cardinality(known_statuses) > 0, "
            "ARRAY(SELECT DISTINCT lower(btrim(s)) FROM unnest(known_statuses || "
            "pause_statuses) AS s) FROM sla_policies ORDER BY id"
        )
    ).all()
    return pl.DataFrame([tuple(r) for r in rows], schema=STATUS_POLICY_SCHEMA, orient="row")


def ticket_facts(session: Session, keys: pl.DataFrame) -> pl.DataFrame:
    """The stored priority, request type and logging instant of the tickets named by
    ``keys`` (organisation_id, source_system, reference): what picks a ticket's policy."""
    schema: dict[str, pl.DataType] = {
        "organisation_id": pl.Int32(),
        "source_system": pl.Utf8(),
        "reference": pl.Utf8(),
        "priority": pl.Utf8(),
        "request_type": pl.Utf8(),
        "logged_at": pl.Datetime("us", "UTC"),
    }
    keys = keys.unique()
    if keys.height == 0:
        return pl.DataFrame(schema=schema)
    rows = session.execute(
        text(
            "SELECT t.organisation_id, t.source_system, t.reference, t.priority, "
            "t.request_type, t.logged_at FROM tickets t JOIN unnest(CAST(:o AS int[]), "
            "CAST(:s AS text[]), CAST(:r AS text[])) AS k(o, s, r) "
            "ON t.organisation_id = k.o AND t.source_system = k.s AND t.reference = k.r"
        ),
        {
            "o": keys["organisation_id"].cast(pl.Int64).to_list(),
            "s": keys["source_system"].to_list(),
            "r": keys["reference"].to_list(),
        },
    ).all()
    return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")


# The columns an events batch is staged with (the table's, plus where it came from).
EVENT_STAGE_COLUMNS = (
    "organisation_id",
    "source_system",
    "reference",
    "kind",
    "at",
    "seq",
    "value",
    "canonical",
    "end_at",
    "source_row",
)
_CREATE_EVENT_STAGE = (
    "CREATE TEMP TABLE IF NOT EXISTS event_stage (LIKE ticket_events INCLUDING DEFAULTS, "
    "source_row bigint) ON COMMIT DELETE ROWS"
)
# Events whose ticket says otherwise: unknown, logged after the event, closed before it.
_EVENT_TICKET_CHECK = """
SELECT s.source_row,
       CASE WHEN t.reference IS NULL THEN 'unknown_ticket'
            WHEN s.at < t.logged_at THEN 'event_before_logged'
            ELSE 'event_after_closed' END,
       s.kind, s.at
FROM event_stage s LEFT JOIN tickets t USING (organisation_id, source_system, reference)
WHERE t.reference IS NULL OR s.at < t.logged_at OR s.at > coalesce(t.closed_at, t.resolved_at)
"""
# Assignment intervals of one ticket that overlap, among this batch and the events this
# import stored before it: two at one instant, or one starting before the previous one's
# stated end.
_EVENT_OVERLAP_CHECK = """
WITH keys AS (SELECT DISTINCT organisation_id, source_system, reference FROM event_stage),
a AS (
    SELECT organisation_id, source_system, reference, at, end_at, source_row
    FROM event_stage WHERE kind = 'assignment'
    UNION ALL
    SELECT e.organisation_id, e.source_system, e.reference, e.at, e.end_at, NULL
    FROM ticket_events e JOIN keys USING (organisation_id, source_system, reference)
    WHERE e.kind = 'assignment' AND e.last_import_id = %(import_id)s
),
w AS (
    SELECT *, lag(at) OVER p AS prev_at, lag(end_at) OVER p AS prev_end
    FROM a WINDOW p AS (PARTITION BY organisation_id, source_system, reference
                        ORDER BY at, source_row NULLS FIRST)
)
SELECT source_row, 'overlapping_assignment', 'assignment', at FROM w
WHERE source_row IS NOT NULL AND (prev_at = at OR prev_end > at)
"""
_EVENT_MESSAGES = {
    "unknown_ticket": "no stored ticket has this reference for this organisation and source "
    "system: push the ticket first",
    "event_before_logged": "the event is before the ticket was logged",
    "event_after_closed": "the event is after the ticket was closed",
    "overlapping_assignment": "this assignment overlaps another of the same ticket (it was "
    "still assigned then)",
}
# A ticket named here gets this import's history in place of what was stored before.
_EVENT_REPLACE = """
DELETE FROM ticket_events e USING (SELECT DISTINCT organisation_id, source_system, reference
                                   FROM event_stage) k
WHERE e.organisation_id = k.organisation_id AND e.source_system = k.source_system
  AND e.reference = k.reference AND e.last_import_id IS DISTINCT FROM %(import_id)s
"""
_EVENT_INSERT = """
INSERT INTO ticket_events AS e (organisation_id, source_system, reference, kind, at, seq,
                                value, canonical, end_at, last_import_id)
SELECT organisation_id, source_system, reference, kind, at, seq, value, canonical, end_at,
       %(import_id)s
FROM event_stage
ON CONFLICT (organisation_id, source_system, reference, kind, at, seq) DO UPDATE SET
    value = EXCLUDED.value, canonical = EXCLUDED.canonical, end_at = EXCLUDED.end_at,
    last_import_id = EXCLUDED.last_import_id
"""
_EVENT_MONTHS = f"""
SELECT DISTINCT t.organisation_id, to_char(t.logged_at AT TIME ZONE '{LONDON}', 'YYYY-MM')
FROM (SELECT DISTINCT organisation_id, source_system, reference FROM event_stage) k
JOIN tickets t USING (organisation_id, source_system, reference)
"""


def replace_events(
    session: Session, events: pl.DataFrame, import_id: int
) -> tuple[int, list[tuple[int, str, str]], Months]:
    """Store a batch of history events (``EVENT_STAGE_COLUMNS``): each ticket named gets
    this import's events in place of the ones stored before. Events whose stored ticket
    refuses them (unknown, logged after, closed before) and overlapping assignments are
    left out and returned as (source row, code, message). Returns (events stored, those
    issues, the (organisation, local month) of the tickets given a history)."""
    if events.height == 0:
        return 0, [], set()
    conn = driver_connection(session)
    payload = events.select(EVENT_STAGE_COLUMNS).write_csv(include_header=False).encode()
    issues: list[tuple[int, str, str]] = []
    with conn.cursor() as cur:
        cur.execute(_CREATE_EVENT_STAGE)
        with cur.copy(
            f"COPY event_stage ({', '.join(EVENT_STAGE_COLUMNS)}) FROM STDIN (FORMAT csv)"
        ) as copy:
            copy.write(payload)
        for sql in (_EVENT_TICKET_CHECK, _EVENT_OVERLAP_CHECK):
            cur.execute(sql, {"import_id": import_id})
            bad = cur.fetchall()
            if bad:
                rows = sorted({int(r[0]) for r in bad})
                issues += [
                    (int(r), code, f"{kind} event at {at.isoformat()}: {_EVENT_MESSAGES[code]}")
                    for r, code, kind, at in bad
                ]
                cur.execute("DELETE FROM event_stage WHERE source_row = ANY(%s)", (rows,))
        cur.execute(_EVENT_REPLACE, {"import_id": import_id})
        cur.execute(_EVENT_INSERT, {"import_id": import_id})
        stored = cur.rowcount
        cur.execute(_EVENT_MONTHS)
        months = {(int(org), str(month)) for org, month in cur.fetchall()}
        cur.execute("TRUNCATE event_stage")
    return stored, sorted(issues), months


def history_months(session: Session, import_id: int) -> dict[int, list[str]]:
    """Organisation → local months (YYYY-MM) of the tickets whose history this import
    stored."""
    rows = session.execute(
        text(
            "SELECT DISTINCT t.organisation_id, "
            "to_char(t.logged_at AT TIME ZONE 'Europe/London', 'YYYY-MM') "
            "FROM ticket_events e JOIN tickets t USING (organisation_id, source_system, "
            "reference) WHERE e.last_import_id = :id ORDER BY 1, 2"
        ),
        {"id": import_id},
    ).all()
    out: dict[int, list[str]] = {}
    for org, month in rows:
        out.setdefault(int(org), []).append(month)
    return out
