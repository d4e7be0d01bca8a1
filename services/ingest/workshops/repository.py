from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from shared.db.tables.ingest import cycles as c
from shared.db.tables.ingest import organisation_codes as oc
from shared.db.tables.ingest import organisations as o
from shared.db.tables.ingest_workshops import workshop_members as m
from shared.db.tables.ingest_workshops import workshops as w

_WORKSHOP = (*w.c, c.c.year.label("cycle_year"))


def get_cycle(session: Session, cycle_id: int) -> dict[str, Any] | None:
    row = session.execute(select(c).where(c.c.id == cycle_id)).mappings().first()
    return dict(row) if row else None


def existing_organisations(session: Session, ids: Collection[int]) -> set[int]:
    return set(session.execute(select(o.c.id).where(o.c.id.in_(list(ids)))).scalars())


def organisations_with_code(session: Session, cycle_id: int, ids: Collection[int]) -> set[int]:
    return set(
        session.execute(
            select(oc.c.organisation_id).where(
                oc.c.cycle_id == cycle_id, oc.c.organisation_id.in_(list(ids))
            )
        ).scalars()
    )


def insert_workshop(session: Session, values: dict[str, Any], members: list[int]) -> int:
    workshop_id = int(session.execute(insert(w).values(**values).returning(w.c.id)).scalar_one())
    session.execute(
        insert(m), [{"workshop_id": workshop_id, "organisation_id": org} for org in members]
    )
    return workshop_id


def get_workshop(
    session: Session, workshop_id: int, *, lock: bool = False
) -> dict[str, Any] | None:
    query = select(*_WORKSHOP).join(c, c.c.id == w.c.cycle_id).where(w.c.id == workshop_id)
    if lock:
        query = query.with_for_update(of=w)
    row = session.execute(query).mappings().first()
    return dict(row) if row else None


def list_workshops(
    session: Session,
    *,
    member_of: Collection[int] | None,
    cycle_id: int | None,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    """Newest start first; ``member_of``: only workshops with one of these members."""
    query = select(*_WORKSHOP).join(c, c.c.id == w.c.cycle_id)
    if member_of is not None:
        mine = select(m.c.workshop_id).where(m.c.organisation_id.in_(list(member_of)))
        query = query.where(w.c.id.in_(mine))
    if cycle_id is not None:
        query = query.where(w.c.cycle_id == cycle_id)
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = session.execute(
        query.order_by(w.c.starts_at.desc(), w.c.id.desc()).limit(limit).offset(offset)
    ).mappings()
    return [dict(r) for r in rows], total


def members(session: Session, workshop_ids: Collection[int]) -> list[dict[str, Any]]:
    """Members of these workshops with their names, by workshop then name."""
    rows = session.execute(
        select(*m.c, o.c.name.label("organisation_name"))
        .join(o, o.c.id == m.c.organisation_id)
        .where(m.c.workshop_id.in_(list(workshop_ids)))
        .order_by(m.c.workshop_id, o.c.name)
    ).mappings()
    return [dict(r) for r in rows]


def set_consent(
    session: Session,
    workshop_id: int,
    organisation_id: int,
    consent: str,
    by: str,
    at: datetime,
) -> bool:
    """False when the organisation is not a member."""
    done = session.execute(
        update(m)
        .where(m.c.workshop_id == workshop_id, m.c.organisation_id == organisation_id)
        .values(consent=consent, consent_by=by, consent_at=at)
        .returning(m.c.workshop_id)
    ).first()
    return done is not None


def end_early(session: Session, workshop_id: int, by: str, at: datetime) -> None:
    session.execute(
        update(w)
        .where(w.c.id == workshop_id)
        .values(ended_early_at=at, ended_early_by=by, updated_at=func.now())
    )
