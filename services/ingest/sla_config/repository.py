from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.orm import Session

from shared.db.tables.ingest_histories import ola_policies as op
from shared.db.tables.ingest_tickets import business_calendars as bc
from shared.db.tables.ingest_tickets import calendar_closures as cc
from shared.db.tables.ingest_tickets import sla_policies as sp


def insert_calendar(session: Session, values: dict[str, Any]) -> dict[str, Any]:
    return dict(session.execute(insert(bc).values(**values).returning(bc)).mappings().one())


def update_calendar(session: Session, calendar_id: int, values: dict[str, Any]) -> dict[str, Any]:
    return dict(
        session.execute(
            update(bc)
            .where(bc.c.id == calendar_id)
            .values(**values, updated_at=func.now())
            .returning(bc)
        )
        .mappings()
        .one()
    )


def get_calendar(session: Session, organisation_id: int, calendar_id: int) -> dict[str, Any] | None:
    row = (
        session.execute(
            select(bc).where(bc.c.id == calendar_id, bc.c.organisation_id == organisation_id)
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def list_calendars(session: Session, organisation_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(bc).where(bc.c.organisation_id == organisation_id).order_by(bc.c.id)
    )
    return [dict(r) for r in rows.mappings()]


def delete_calendar(session: Session, calendar_id: int) -> None:
    """Delete the calendar; a policy still using it makes the database refuse (the foreign
    key is ON DELETE RESTRICT), which rolls back to a savepoint and raises IntegrityError."""
    with session.begin_nested():
        session.execute(delete(bc).where(bc.c.id == calendar_id))


def policies_using(session: Session, organisation_id: int, calendar_id: int) -> list[int]:
    rows = session.execute(
        select(sp.c.id)
        .where(sp.c.organisation_id == organisation_id, sp.c.calendar_id == calendar_id)
        .order_by(sp.c.id)
    )
    return [int(i) for i in rows.scalars()]


def replace_closures(session: Session, calendar_id: int, rows: list[dict[str, Any]]) -> None:
    session.execute(delete(cc).where(cc.c.calendar_id == calendar_id))
    if rows:
        session.execute(insert(cc), [{"calendar_id": calendar_id, **r} for r in rows])


def closures(session: Session, calendar_ids: list[int]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {i: [] for i in calendar_ids}
    rows = session.execute(
        select(cc).where(cc.c.calendar_id.in_(calendar_ids)).order_by(cc.c.closed_on)
    )
    for r in rows.mappings():
        out[r["calendar_id"]].append({"date": r["closed_on"], "reason": r["reason"]})
    return out


def insert_policy(session: Session, values: dict[str, Any]) -> dict[str, Any]:
    return dict(session.execute(insert(sp).values(**values).returning(sp)).mappings().one())


def list_policies(session: Session, organisation_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(sp)
        .where(sp.c.organisation_id == organisation_id)
        .order_by(sp.c.priority, sp.c.request_type.nulls_first(), sp.c.effective_from)
    )
    return [dict(r) for r in rows.mappings()]


def get_policy(session: Session, organisation_id: int, policy_id: int) -> dict[str, Any] | None:
    row = (
        session.execute(
            select(sp).where(sp.c.id == policy_id, sp.c.organisation_id == organisation_id)
        )
        .mappings()
        .first()
    )
    return None if row is None else dict(row)


def delete_policy(session: Session, organisation_id: int, policy_id: int) -> bool:
    done = session.execute(
        delete(sp)
        .where(sp.c.id == policy_id, sp.c.organisation_id == organisation_id)
        .returning(sp.c.id)
    ).first()
    return done is not None


# ------------------------------------------------------------------------------ OLAs


def ola_policies_using(session: Session, organisation_id: int, calendar_id: int) -> list[int]:
    rows = session.execute(
        select(op.c.id)
        .where(op.c.organisation_id == organisation_id, op.c.calendar_id == calendar_id)
        .order_by(op.c.id)
    )
    return [int(i) for i in rows.scalars()]


def insert_ola_policy(session: Session, values: dict[str, Any]) -> dict[str, Any]:
    return dict(session.execute(insert(op).values(**values).returning(op)).mappings().one())


def list_ola_policies(session: Session, organisation_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(op)
        .where(op.c.organisation_id == organisation_id)
        .order_by(op.c.resolver_group, op.c.priority.nulls_first(), op.c.effective_from)
    )
    return [dict(r) for r in rows.mappings()]


def get_ola_policy(session: Session, organisation_id: int, policy_id: int) -> dict[str, Any] | None:
    row = (
        session.execute(
            select(op).where(op.c.id == policy_id, op.c.organisation_id == organisation_id)
        )
        .mappings()
        .first()
    )
    return None if row is None else dict(row)


def delete_ola_policy(session: Session, organisation_id: int, policy_id: int) -> bool:
    done = session.execute(
        delete(op)
        .where(op.c.id == policy_id, op.c.organisation_id == organisation_id)
        .returning(op.c.id)
    ).first()
    return done is not None


def seen_statuses(session: Session, organisation_id: int, keys: list[str]) -> set[str]:
    """Which of ``keys`` (lower-cased, trimmed statuses) some status event of the
    organisation's ticket histories carries (matched ignoring case and surrounding
    spaces)."""
    if not keys:
        return set()
    rows = session.execute(
        text(
            # One pass over the organisation's status events for every key at once.
            "SELECT DISTINCT lower(btrim(value)) FROM ticket_events "
            "WHERE organisation_id = :o AND kind = 'status' "
            "AND lower(btrim(value)) = ANY(CAST(:keys AS text[]))"
        ),
        {"o": organisation_id, "keys": sorted(set(keys))},
    ).scalars()
    return set(rows)
