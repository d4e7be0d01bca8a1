from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from shared.db.tables.ingest import organisations as t
from shared.db.tables.ingest_governance import organisation_partners as p


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


def organisation_names(session: Session, ids: Collection[int]) -> dict[int, dict[str, Any]]:
    rows = session.execute(select(t.c.id, t.c.name, t.c.type).where(t.c.id.in_(list(ids))))
    return {r["id"]: dict(r) for r in rows.mappings()}


def partners(session: Session, service_id: int) -> list[dict[str, Any]]:
    """The service's partner organisations, in their order."""
    query = (
        select(t.c.id, t.c.name, t.c.type, p.c.position)
        .join(p, p.c.partner_id == t.c.id)
        .where(p.c.shared_service_id == service_id)
        .order_by(p.c.position, t.c.id)
    )
    return [dict(r) for r in session.execute(query).mappings()]


def replace_partners(session: Session, service_id: int, partner_ids: list[int]) -> None:
    session.execute(delete(p).where(p.c.shared_service_id == service_id))
    if partner_ids:
        session.execute(
            insert(p),
            [
                {"shared_service_id": service_id, "partner_id": pid, "position": i}
                for i, pid in enumerate(partner_ids)
            ],
        )


def is_partner_of(session: Session, service_id: int, organisation_ids: Collection[int]) -> bool:
    query = select(p.c.partner_id).where(
        p.c.shared_service_id == service_id, p.c.partner_id.in_(list(organisation_ids))
    )
    return session.execute(query.limit(1)).first() is not None
