from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select, tuple_
from sqlalchemy.orm import Session

from shared.db.tables.ingest import cycles as c
from shared.db.tables.ingest import organisations as o
from shared.db.tables.ingest_submissions import import_batches as b
from shared.db.tables.ingest_submissions import submissions as s


def organisations(session: Session) -> list[dict[str, Any]]:
    return [dict(r) for r in session.execute(select(o.c.id, o.c.name)).mappings()]


def cycles(session: Session) -> list[dict[str, Any]]:
    return [dict(r) for r in session.execute(select(c)).mappings()]


def existing_submissions(
    session: Session, keys: set[tuple[int, int, str]]
) -> dict[tuple[int, int, str], str]:
    if not keys:
        return {}
    rows = session.execute(
        select(s.c.organisation_id, s.c.cycle_id, s.c.module, s.c.state).where(
            tuple_(s.c.organisation_id, s.c.cycle_id, s.c.module).in_(list(keys))
        )
    )
    return {(r[0], r[1], r[2]): r[3] for r in rows}


def insert_batch(session: Session, values: dict[str, Any]) -> dict[str, Any]:
    return dict(session.execute(insert(b).values(**values).returning(b)).mappings().one())


def insert_submissions(
    session: Session, rows: list[dict[str, Any]]
) -> dict[tuple[int, int, str], int]:
    result = session.execute(
        insert(s).returning(s.c.id, s.c.organisation_id, s.c.cycle_id, s.c.module), rows
    )
    return {(r[1], r[2], r[3]): r[0] for r in result}


def get_batch(session: Session, batch_id: int) -> dict[str, Any] | None:
    row = session.execute(select(b).where(b.c.id == batch_id)).mappings().first()
    return dict(row) if row else None


def list_batches(session: Session, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    total = session.execute(select(func.count()).select_from(b)).scalar_one()
    rows = session.execute(select(b).order_by(b.c.id.desc()).limit(limit).offset(offset))
    return [dict(r) for r in rows.mappings()], total
