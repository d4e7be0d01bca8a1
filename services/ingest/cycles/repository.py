from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from shared.db.tables.ingest import cycles as c
from shared.db.tables.ingest import organisation_codes as oc
from shared.db.tables.ingest import organisations as o


def insert_cycle(session: Session, values: dict[str, Any]) -> dict[str, Any]:
    return dict(session.execute(insert(c).values(**values).returning(c)).mappings().one())


def get_cycle(session: Session, cycle_id: int, *, lock: bool = False) -> dict[str, Any] | None:
    query = select(c).where(c.c.id == cycle_id)
    if lock:
        query = query.with_for_update()
    row = session.execute(query).mappings().first()
    return dict(row) if row else None


def update_cycle(session: Session, cycle_id: int, values: dict[str, Any]) -> dict[str, Any]:
    return dict(
        session.execute(
            update(c).where(c.c.id == cycle_id).values(**values, updated_at=func.now()).returning(c)
        )
        .mappings()
        .one()
    )


def list_cycles(session: Session, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    total = session.execute(select(func.count()).select_from(c)).scalar_one()
    rows = session.execute(select(c).order_by(c.c.year.desc()).limit(limit).offset(offset))
    return [dict(r) for r in rows.mappings()], total


def used_numbers(session: Session, cycle_id: int) -> set[int]:
    return set(session.execute(select(oc.c.number).where(oc.c.cycle_id == cycle_id)).scalars())


def organisations_without_code(session: Session, cycle_id: int) -> list[dict[str, Any]]:
    has_code = select(oc.c.organisation_id).where(oc.c.cycle_id == cycle_id)
    rows = session.execute(select(o).where(o.c.id.not_in(has_code)).order_by(o.c.id))
    return [dict(r) for r in rows.mappings()]


def insert_codes(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(oc), rows)


def list_codes(
    session: Session, cycle_id: int, organisation_ids: set[int] | None = None
) -> list[dict[str, Any]]:
    query = (
        select(oc.c.cycle_id, oc.c.organisation_id, oc.c.code, o.c.name.label("organisation_name"))
        .join(o, o.c.id == oc.c.organisation_id)
        .where(oc.c.cycle_id == cycle_id)
        .order_by(oc.c.code)
    )
    if organisation_ids is not None:
        query = query.where(oc.c.organisation_id.in_(organisation_ids))
    return [dict(r) for r in session.execute(query).mappings()]


def organisations_with_code(session: Session, cycle_id: int) -> set[int]:
    return set(
        session.execute(select(oc.c.organisation_id).where(oc.c.cycle_id == cycle_id)).scalars()
    )


def lock_cycle_codes(session: Session, cycle_id: int) -> None:
    session.execute(select(c.c.id).where(c.c.id == cycle_id).with_for_update())


def organisations_by_id(session: Session, ids: set[int]) -> list[dict[str, Any]]:
    rows = session.execute(select(o).where(o.c.id.in_(ids)).order_by(o.c.id))
    return [dict(r) for r in rows.mappings()]
