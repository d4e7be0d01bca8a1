"""SQL for ticket imports, tickets, intervals and mappings."""

from __future__ import annotations

from typing import Any, cast

import polars as pl
import psycopg
from sqlalchemy import Table, delete, func, insert, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from shared.db.tables.ingest import organisations
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
    RETURNING (xmax = 0) AS inserted
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up
"""


def driver_connection(session: Session) -> psycopg.Connection[Any]:
    return cast(psycopg.Connection[Any], session.connection().connection.driver_connection)


# (organisation, local month YYYY-MM) of the staged rows the upsert inserted or changed.
_STAGED_CHANGED_MONTHS = f"""
SELECT DISTINCT t.organisation_id, to_char(t.logged_at AT TIME ZONE '{LONDON}', 'YYYY-MM')
FROM ticket_stage s JOIN tickets t USING ({", ".join(TICKET_KEY)})
WHERE t.last_import_id = %(import_id)s
"""

Months = set[tuple[int, str]]


def batch_months(frame: pl.DataFrame) -> Months:
    """(organisation, local month YYYY-MM) of every row of a batch."""
    if frame.height == 0:
        return set()
    pairs = frame.select(
        pl.col("organisation_id").cast(pl.Int64),
        pl.col("logged_at").dt.convert_time_zone(LONDON).dt.strftime("%Y-%m"),
    ).unique()
    return {(int(org), str(month)) for org, month in pairs.iter_rows()}


def copy_payload(frame: pl.DataFrame) -> bytes:
    """The batch as COPY CSV (columns ``STAGE_COLUMNS``), written by Polars."""
    return frame.select(STAGE_COLUMNS).write_csv(include_header=False).encode()


def upsert_batch(
    session: Session,
    frame: pl.DataFrame,
    import_id: int,
    *,
    payload: bytes | None = None,
    months: Months | None = None,
) -> tuple[int, int, Months]:
    """COPY a batch (columns ``STAGE_COLUMNS``) into a temp table and upsert it.

    ``payload`` is ``copy_payload(frame)`` and ``months`` is ``batch_months(frame)`` when
    the caller made them ahead of time. Returns (inserted, updated, touched months): the
    rest of the batch was unchanged, and the months are those of the inserted or changed
    rows only. When every row changed they are the batch's months, with no query; when
    some did, they are read back from the staged rows before the stage is emptied.
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
        inserted, updated = (int(n) for n in cur.fetchone() or (0, 0))
        touched: Months = set()
        if inserted + updated == frame.height:
            touched = batch_months(frame) if months is None else months
        elif inserted + updated:
            cur.execute(_STAGED_CHANGED_MONTHS, {"import_id": import_id})
            touched = {(int(org), str(month)) for org, month in cur.fetchall()}
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
