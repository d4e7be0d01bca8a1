"""SQL for organisation value mappings."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from shared.db.tables.ingest import organisations as o
from shared.db.tables.ingest_histories import organisation_value_maps as m


def listing(
    session: Session, organisation_id: int, source_system: str | None
) -> list[dict[str, Any]]:
    query = (
        select(m, o.c.name.label("target_organisation_name"))
        .join(o, o.c.id == m.c.target_organisation_id)
        .where(m.c.organisation_id == organisation_id)
    )
    if source_system is not None:
        query = query.where(m.c.source_system == source_system)
    rows = session.execute(query.order_by(m.c.source_system, m.c.value_key))
    return [dict(r) for r in rows.mappings()]


def replace(
    session: Session, organisation_id: int, source_system: str, rows: list[dict[str, Any]]
) -> None:
    session.execute(
        delete(m).where(m.c.organisation_id == organisation_id, m.c.source_system == source_system)
    )
    if rows:
        session.execute(insert(m), rows)


def remove(session: Session, organisation_id: int, source_system: str) -> int:
    done = session.execute(
        delete(m)
        .where(m.c.organisation_id == organisation_id, m.c.source_system == source_system)
        .returning(m.c.value_key)
    ).all()
    return len(done)


def lookup(session: Session, organisation_id: int, source_system: str) -> dict[str, str]:
    """value key (lower-cased, trimmed) → target organisation id as text."""
    rows = session.execute(
        select(m.c.value_key, m.c.target_organisation_id).where(
            m.c.organisation_id == organisation_id, m.c.source_system == source_system
        )
    )
    return {k: str(v) for k, v in rows}
