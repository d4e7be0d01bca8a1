from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from shared.db.tables.ingest_governance import cost_table_cells as cc
from shared.db.tables.ingest_governance import cost_table_printed_totals as ct
from shared.db.tables.ingest_governance import cost_tables as t


def upsert_table(session: Session, values: dict[str, Any]) -> int:
    statement = (
        pg_insert(t)
        .values(**values)
        .on_conflict_do_update(
            index_elements=[t.c.service_id, t.c.financial_year, t.c.period, t.c.title],
            set_={
                "columns": values["columns"],
                "categories": values["categories"],
                "created_by": values["created_by"],
                "updated_at": func.now(),
            },
        )
        .returning(t.c.id)
    )
    return int(session.execute(statement).scalar_one())


def replace_contents(
    session: Session, table_id: int, cells: list[dict[str, Any]], totals: list[dict[str, Any]]
) -> None:
    session.execute(delete(cc).where(cc.c.table_id == table_id))
    session.execute(delete(ct).where(ct.c.table_id == table_id))
    if cells:
        session.execute(insert(cc), [{"table_id": table_id, **c} for c in cells])
    if totals:
        session.execute(insert(ct), [{"table_id": table_id, **x} for x in totals])


def get_table(session: Session, service_id: int, table_id: int) -> dict[str, Any] | None:
    query = select(t).where(t.c.service_id == service_id, t.c.id == table_id)
    row = session.execute(query).mappings().first()
    return dict(row) if row else None


def cells(session: Session, table_id: int) -> list[dict[str, Any]]:
    query = (
        select(cc.c.organisation_id, cc.c.category, cc.c.column_index, cc.c.amount_pence)
        .where(cc.c.table_id == table_id)
        .order_by(cc.c.organisation_id, cc.c.category, cc.c.column_index)
    )
    return [dict(r) for r in session.execute(query).mappings()]


def totals(session: Session, table_id: int) -> list[dict[str, Any]]:
    query = (
        select(ct.c.organisation_id, ct.c.column_index, ct.c.amount_pence)
        .where(ct.c.table_id == table_id)
        .order_by(ct.c.organisation_id.asc().nulls_last(), ct.c.column_index.asc().nulls_last())
    )
    return [dict(r) for r in session.execute(query).mappings()]


def list_tables(session: Session, service_id: int) -> list[dict[str, Any]]:
    rows = (
        # Every row has a cell in every column, so its first column counts it once.
        select(cc.c.table_id, func.count().label("rows"))
        .where(cc.c.column_index == 0)
        .group_by(cc.c.table_id)
        .subquery()
    )
    query = (
        select(t, func.coalesce(rows.c.rows, 0).label("rows"))
        .outerjoin(rows, rows.c.table_id == t.c.id)
        .where(t.c.service_id == service_id)
        .order_by(t.c.financial_year.desc(), t.c.period.desc(), t.c.title)
    )
    return [dict(r) for r in session.execute(query).mappings()]


def delete_table(session: Session, service_id: int, table_id: int) -> bool:
    statement = delete(t).where(t.c.service_id == service_id, t.c.id == table_id)
    return session.execute(statement.returning(t.c.id)).first() is not None
