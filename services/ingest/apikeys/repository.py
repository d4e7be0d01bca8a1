from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from shared.db.tables.ingest import api_keys as k
from shared.db.tables.ingest import organisations as o

PUBLIC = [c for c in k.c if c.name != "secret_hash"]


def insert_key(session: Session, values: dict[str, Any]) -> dict[str, Any]:
    return dict(session.execute(insert(k).values(**values).returning(*PUBLIC)).mappings().one())


def list_keys(
    session: Session, created_by: str | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    query = select(*PUBLIC)
    if created_by is not None:
        query = query.where(k.c.created_by == created_by)
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = session.execute(query.order_by(k.c.created_at, k.c.prefix).limit(limit).offset(offset))
    return [dict(r) for r in rows.mappings()], total


def get_key(session: Session, key_id: uuid.UUID) -> dict[str, Any] | None:
    row = session.execute(select(*PUBLIC).where(k.c.id == key_id)).mappings().first()
    return dict(row) if row else None


def revoke_key(session: Session, key_id: uuid.UUID) -> dict[str, Any]:
    return dict(
        session.execute(
            update(k)
            .where(k.c.id == key_id)
            .values(revoked_at=func.coalesce(k.c.revoked_at, func.now()))
            .returning(*PUBLIC)
        )
        .mappings()
        .one()
    )


def existing_organisations(session: Session, ids: list[int]) -> set[int]:
    return set(session.execute(select(o.c.id).where(o.c.id.in_(ids))).scalars())
