from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from shared.db.tables.ingest_governance import COMMENTARY_SECTIONS
from shared.db.tables.ingest_governance import pack_commentary as t


def upsert(session: Session, rows: list[dict[str, Any]]) -> None:
    statement = pg_insert(t)
    statement = statement.on_conflict_do_update(
        index_elements=[t.c.service_id, t.c.financial_year, t.c.period, t.c.section, t.c.measure],
        set_={
            "body": statement.excluded.body,
            "author": statement.excluded.author,
            "updated_at": func.now(),
        },
    )
    session.execute(statement, rows)


def listing(
    session: Session, service_id: int, financial_year: int, period: int, section: str | None
) -> list[dict[str, Any]]:
    query = select(t).where(
        t.c.service_id == service_id, t.c.financial_year == financial_year, t.c.period == period
    )
    if section is not None:
        query = query.where(t.c.section == section)
    rows = [dict(r) for r in session.execute(query).mappings()]
    return sorted(rows, key=lambda r: (COMMENTARY_SECTIONS.index(r["section"]), r["measure"]))


def remove(
    session: Session, service_id: int, financial_year: int, period: int, section: str, measure: str
) -> bool:
    statement = delete(t).where(
        t.c.service_id == service_id,
        t.c.financial_year == financial_year,
        t.c.period == period,
        t.c.section == section,
        t.c.measure == measure,
    )
    return session.execute(statement.returning(t.c.body)).first() is not None
