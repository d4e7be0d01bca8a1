"""SQL of validation monitoring and follow-ups (all ingest's own tables, plus the read of
the published references' version)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from shared.db.tables.ingest import cycles as c
from shared.db.tables.ingest import organisations as o
from shared.db.tables.ingest_submissions import submission_answers as a
from shared.db.tables.ingest_submissions import submissions as s
from shared.db.tables.ingest_trust import follow_ups as fu
from shared.db.tables.ingest_trust import validation_runs as vr
from shared.db.tables.ingest_trust import validation_violations as vv

CHECKED_STATES = ("submitted", "accepted")


def cycles(session: Session) -> list[dict[str, Any]]:
    rows = session.execute(select(c.c.id, c.c.year, c.c.status).order_by(c.c.year)).mappings()
    return [dict(r) for r in rows]


def submissions_version(session: Session, year: int) -> list[Any]:
    row = session.execute(
        select(func.count(), func.max(s.c.updated_at))
        .select_from(s)
        .join(c, c.c.id == s.c.cycle_id)
        .where(c.c.year == year)
    ).one()
    return [row[0], row[1].isoformat() if row[1] else None]


def submissions_of(session: Session, year: int) -> list[dict[str, Any]]:
    """Every submission of the cycle, with what the checks need."""
    rows = session.execute(
        select(
            s.c.id,
            s.c.organisation_id,
            s.c.module,
            s.c.state,
            c.c.year.label("cycle_year"),
            o.c.type.label("organisation_type"),
        )
        .join(c, c.c.id == s.c.cycle_id)
        .join(o, o.c.id == s.c.organisation_id)
        .where(c.c.year == year)
        .order_by(s.c.id)
    ).mappings()
    return [dict(r) for r in rows]


def answers_of(session: Session, year: int) -> list[dict[str, Any]]:
    """Every answer of the cycle's submissions, in one query."""
    rows = session.execute(
        select(a)
        .join(s, s.c.id == a.c.submission_id)
        .join(c, c.c.id == s.c.cycle_id)
        .where(c.c.year == year)
    ).mappings()
    return [dict(r) for r in rows]


def last_run(session: Session, year: int) -> dict[str, Any] | None:
    row = (
        session.execute(select(vr).where(vr.c.cycle_year == year).order_by(vr.c.id.desc()).limit(1))
        .mappings()
        .first()
    )
    return dict(row) if row else None


def lock(session: Session) -> None:
    """One monitoring pass at a time (two workers would otherwise race on the same rows)."""
    from sqlalchemy import text

    session.execute(text("SELECT pg_advisory_xact_lock(hashtext('yardstick.validation'))"))


def insert_run(session: Session, values: dict[str, Any]) -> int:
    run_id: int = session.execute(insert(vr).values(**values).returning(vr.c.id)).scalar_one()
    return run_id


def update_run(session: Session, run_id: int, **values: Any) -> None:
    session.execute(update(vr).where(vr.c.id == run_id).values(**values))


def get_run(session: Session, run_id: int, *, lock: bool = False) -> dict[str, Any] | None:
    query = select(vr).where(vr.c.id == run_id)
    if lock:
        query = query.with_for_update()
    row = session.execute(query).mappings().first()
    return dict(row) if row else None


def violations_of(session: Session, year: int) -> dict[tuple[int, str, str], dict[str, Any]]:
    rows = session.execute(select(vv).where(vv.c.cycle_year == year)).mappings()
    return {(r["submission_id"], r["kind"], r["key"]): dict(r) for r in rows}


def insert_violations(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(vv), rows)


def refresh_violation(session: Session, violation_id: int, **values: Any) -> None:
    session.execute(update(vv).where(vv.c.id == violation_id).values(**values))


def resolve_violations(session: Session, ids: Collection[int], now: datetime) -> None:
    if ids:
        session.execute(update(vv).where(vv.c.id.in_(list(ids))).values(resolved_at=now))


def list_violations(
    session: Session, year: int | None, open_only: bool, run_id: int | None = None
) -> list[dict[str, Any]]:
    query = (
        select(vv, s.c.organisation_id, s.c.module, s.c.state.label("submission_state"))
        .join(s, s.c.id == vv.c.submission_id)
        .order_by(vv.c.cycle_year, vv.c.submission_id, vv.c.kind, vv.c.key)
    )
    if year is not None:
        query = query.where(vv.c.cycle_year == year)
    if open_only:
        query = query.where(vv.c.resolved_at.is_(None))
    if run_id is not None:
        query = query.where(vv.c.first_run_id == run_id)
    return [dict(r) for r in session.execute(query).mappings()]


def list_runs(session: Session, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    total = session.execute(select(func.count()).select_from(vr)).scalar_one()
    rows = session.execute(select(vr).order_by(vr.c.id.desc()).limit(limit).offset(offset))
    return [dict(r) for r in rows.mappings()], total


# ------------------------------------------------------------------ follow-ups


def submission(session: Session, submission_id: int) -> dict[str, Any] | None:
    row = (
        session.execute(
            select(s.c.id, s.c.organisation_id, s.c.module, s.c.state, c.c.year.label("cycle_year"))
            .join(c, c.c.id == s.c.cycle_id)
            .where(s.c.id == submission_id)
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def violation(session: Session, violation_id: int) -> dict[str, Any] | None:
    row = session.execute(select(vv).where(vv.c.id == violation_id)).mappings().first()
    return dict(row) if row else None


def insert_follow_up(session: Session, values: dict[str, Any]) -> int:
    new_id: int = session.execute(insert(fu).values(**values).returning(fu.c.id)).scalar_one()
    return new_id


def update_follow_up(session: Session, follow_up_id: int, values: dict[str, Any]) -> None:
    session.execute(
        update(fu).where(fu.c.id == follow_up_id).values(**values, updated_at=func.now())
    )


_FOLLOW_UP_COLUMNS = [
    *fu.c,
    s.c.organisation_id,
    c.c.year.label("cycle_year"),
    s.c.module,
]


def get_follow_up(
    session: Session, follow_up_id: int, *, lock: bool = False
) -> dict[str, Any] | None:
    query = (
        select(*_FOLLOW_UP_COLUMNS)
        .join(s, s.c.id == fu.c.submission_id)
        .join(c, c.c.id == s.c.cycle_id)
        .where(fu.c.id == follow_up_id)
    )
    if lock:
        query = query.with_for_update(of=fu)
    row = session.execute(query).mappings().first()
    return dict(row) if row else None


def list_follow_ups(session: Session, filters: dict[str, Any]) -> list[dict[str, Any]]:
    query = (
        select(*_FOLLOW_UP_COLUMNS)
        .join(s, s.c.id == fu.c.submission_id)
        .join(c, c.c.id == s.c.cycle_id)
        .order_by(fu.c.id)
    )
    if filters.get("state") is not None:
        query = query.where(fu.c.state == filters["state"])
    if filters.get("cycle") is not None:
        query = query.where(c.c.year == filters["cycle"])
    if filters.get("organisation_id") is not None:
        query = query.where(s.c.organisation_id == filters["organisation_id"])
    if filters.get("submission_id") is not None:
        query = query.where(fu.c.submission_id == filters["submission_id"])
    return [dict(r) for r in session.execute(query).mappings()]
