from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from shared.db.tables.ingest import organisations as t


def insert_organisation(session: Session, values: dict[str, Any]) -> dict[str, Any]:
    row = session.execute(insert(t).values(**values).returning(t)).mappings().one()
    return dict(row)


def get_organisation(session: Session, organisation_id: int) -> dict[str, Any] | None:
    row = session.execute(select(t).where(t.c.id == organisation_id)).mappings().first()
    return dict(row) if row else None


def update_organisation(
    session: Session, organisation_id: int, values: dict[str, Any]
) -> dict[str, Any] | None:
    row = (
        session.execute(
            update(t)
            .where(t.c.id == organisation_id)
            .values(**values, updated_at=func.now())
            .returning(t)
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def list_organisations(
    session: Session,
    *,
    only_ids: Collection[int] | None,
    org_type: str | None,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    query = select(t)
    if only_ids is not None:
        query = query.where(t.c.id.in_(list(only_ids)))
    if org_type is not None:
        query = query.where(t.c.type == org_type)
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = session.execute(query.order_by(t.c.id).limit(limit).offset(offset)).mappings().all()
    return [dict(r) for r in rows], total
