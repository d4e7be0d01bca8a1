from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import delete, func, insert, literal_column, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from shared.db.tables.ingest_governance import security_incidents as t

FIELDS = ("title", "opened_on", "closed_on", "severity", "os", "assets_affected", "status")


def insert_incident(session: Session, values: dict[str, Any]) -> dict[str, Any]:
    return dict(session.execute(insert(t).values(**values).returning(t)).mappings().one())


def upsert_incident(session: Session, values: dict[str, Any]) -> bool:
    """Whether the reference was new."""
    statement = (
        pg_insert(t)
        .values(**values)
        .on_conflict_do_update(
            index_elements=[t.c.service_id, t.c.reference],
            set_={**{k: values[k] for k in FIELDS}, "updated_at": func.now()},
        )
        .returning(literal_column("xmax") == 0)
    )
    return bool(session.execute(statement).scalar_one())


def get_incident(session: Session, service_id: int, incident_id: int) -> dict[str, Any] | None:
    query = select(t).where(t.c.service_id == service_id, t.c.id == incident_id)
    row = session.execute(query).mappings().first()
    return dict(row) if row else None


def update_incident(
    session: Session, service_id: int, incident_id: int, values: dict[str, Any]
) -> dict[str, Any]:
    statement = (
        update(t)
        .where(t.c.service_id == service_id, t.c.id == incident_id)
        .values(**values, updated_at=func.now())
        .returning(t)
    )
    return dict(session.execute(statement).mappings().one())


def list_incidents(
    session: Session,
    service_id: int,
    opened_from: date | None,
    opened_to: date | None,
    severities: Sequence[str] | None,
) -> list[dict[str, Any]]:
    query = select(t).where(t.c.service_id == service_id)
    if opened_from is not None:
        query = query.where(t.c.opened_on >= opened_from)
    if opened_to is not None:
        query = query.where(t.c.opened_on <= opened_to)
    if severities:
        query = query.where(t.c.severity.in_(list(severities)))
    query = query.order_by(t.c.opened_on.desc(), t.c.reference)
    return [dict(r) for r in session.execute(query).mappings()]


def delete_incident(session: Session, service_id: int, incident_id: int) -> bool:
    statement = delete(t).where(t.c.service_id == service_id, t.c.id == incident_id)
    return session.execute(statement.returning(t.c.id)).first() is not None
