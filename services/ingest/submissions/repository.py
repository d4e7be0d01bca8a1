from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from shared.db.tables.ingest import cycles as c
from shared.db.tables.ingest import organisations as o
from shared.db.tables.ingest_submissions import submission_answers as a
from shared.db.tables.ingest_submissions import submission_audit as au
from shared.db.tables.ingest_submissions import submission_review_reasons as rr
from shared.db.tables.ingest_submissions import submission_warning_comments as wc
from shared.db.tables.ingest_submissions import submissions as s

_SUBMISSION_COLUMNS = [
    *s.c,
    c.c.year.label("cycle_year"),
    c.c.status.label("cycle_status"),
    c.c.submission_deadline.label("cycle_deadline"),
    # The organisation's type picks its peer group for the outlier checks.
    select(o.c.type)
    .where(o.c.id == s.c.organisation_id)
    .scalar_subquery()
    .label("organisation_type"),
]


def get_organisation(session: Session, organisation_id: int) -> dict[str, Any] | None:
    row = session.execute(select(o).where(o.c.id == organisation_id)).mappings().first()
    return dict(row) if row else None


def get_cycle(session: Session, cycle_id: int) -> dict[str, Any] | None:
    row = session.execute(select(c).where(c.c.id == cycle_id)).mappings().first()
    return dict(row) if row else None


def insert_submission(session: Session, values: dict[str, Any]) -> int:
    new_id: int = session.execute(insert(s).values(**values).returning(s.c.id)).scalar_one()
    return new_id


def get_submission(
    session: Session, submission_id: int, *, lock: bool = False
) -> dict[str, Any] | None:
    query = (
        select(*_SUBMISSION_COLUMNS).join(c, c.c.id == s.c.cycle_id).where(s.c.id == submission_id)
    )
    if lock:
        query = query.with_for_update(of=s)
    row = session.execute(query).mappings().first()
    return dict(row) if row else None


def list_submissions(
    session: Session,
    filters: dict[str, Any],
    organisation_ids: set[int] | None,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    year = filters.get("cycle")
    conds = [getattr(s.c, k) == v for k, v in filters.items() if v is not None and k != "cycle"]
    if year is not None:  # the cycle by its year, as in every query string
        conds.append(s.c.cycle_id.in_(select(c.c.id).where(c.c.year == year)))
    if organisation_ids is not None:
        conds.append(s.c.organisation_id.in_(organisation_ids))
    total = session.execute(select(func.count()).select_from(s).where(*conds)).scalar_one()
    rows = session.execute(
        select(*_SUBMISSION_COLUMNS)
        .join(c, c.c.id == s.c.cycle_id)
        .where(*conds)
        .order_by(s.c.id)
        .limit(limit)
        .offset(offset)
    ).mappings()
    return [dict(r) for r in rows], total


def set_state(session: Session, submission_id: int, state: str, **extra: Any) -> None:
    session.execute(
        update(s).where(s.c.id == submission_id).values(state=state, updated_at=func.now(), **extra)
    )


def touch(session: Session, submission_id: int) -> None:
    session.execute(update(s).where(s.c.id == submission_id).values(updated_at=func.now()))


def answers(session: Session, submission_id: int) -> dict[str, dict[str, Any]]:
    rows = session.execute(
        select(a).where(a.c.submission_id == submission_id).order_by(a.c.question_key)
    ).mappings()
    return {r["question_key"]: dict(r) for r in rows}


def answers_of_other_modules(
    session: Session, organisation_id: int, cycle_id: int, module: str
) -> list[dict[str, Any]]:
    rows = session.execute(
        select(a)
        .join(s, s.c.id == a.c.submission_id)
        .where(
            s.c.organisation_id == organisation_id, s.c.cycle_id == cycle_id, s.c.module != module
        )
    ).mappings()
    return [dict(r) for r in rows]


def upsert_answers(session: Session, rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    stmt = pg_insert(a).values(rows)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[a.c.submission_id, a.c.question_key],
            set_={
                "value_number": stmt.excluded.value_number,
                "value_text": stmt.excluded.value_text,
                "value_boolean": stmt.excluded.value_boolean,
                "comment": stmt.excluded.comment,
                "updated_at": func.now(),
            },
        )
    )


def delete_answers(session: Session, submission_id: int, keys: Iterable[str]) -> None:
    keys = list(keys)
    if keys:
        session.execute(
            delete(a).where(a.c.submission_id == submission_id, a.c.question_key.in_(keys))
        )


def insert_audit(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(au), rows)


def audit(
    session: Session, submission_id: int, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    total = session.execute(
        select(func.count()).select_from(au).where(au.c.submission_id == submission_id)
    ).scalar_one()
    rows = session.execute(
        select(au)
        .where(au.c.submission_id == submission_id)
        .order_by(au.c.id)
        .limit(limit)
        .offset(offset)
    ).mappings()
    return [dict(r) for r in rows], total


def since_last_acceptance(session: Session, submission_id: int) -> list[dict[str, Any]] | None:
    """The audit entries after the submission's last acceptance, oldest first; None if it
    was never accepted."""
    last = session.execute(
        select(func.max(au.c.id)).where(
            au.c.submission_id == submission_id, au.c.action == "accepted"
        )
    ).scalar_one()
    if last is None:
        return None
    rows = session.execute(
        select(au).where(au.c.submission_id == submission_id, au.c.id > last).order_by(au.c.id)
    ).mappings()
    return [dict(r) for r in rows]


def replace_warning_comments(
    session: Session, submission_id: int, rows: list[dict[str, Any]]
) -> None:
    session.execute(delete(wc).where(wc.c.submission_id == submission_id))
    if rows:
        session.execute(insert(wc), rows)


def warning_comments(session: Session, submission_id: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(wc).where(wc.c.submission_id == submission_id).order_by(wc.c.rule_key)
    ).mappings()
    return [dict(r) for r in rows]


def insert_review_reasons(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(rr), rows)


def latest_review_reasons(session: Session, submission_id: int) -> list[dict[str, Any]]:
    """The reasons given at the most recent return (earlier ones are in the audit trail)."""
    latest = (
        select(func.max(rr.c.created_at))
        .where(rr.c.submission_id == submission_id)
        .scalar_subquery()
    )
    rows = session.execute(
        select(rr)
        .where(rr.c.submission_id == submission_id, rr.c.created_at == latest)
        .order_by(rr.c.question_key)
    ).mappings()
    return [dict(r) for r in rows]


def stored_value(row: dict[str, Any]) -> object:
    """An answer row's value as the API and the catalogue see it."""
    if row["value_boolean"] is not None:
        return bool(row["value_boolean"])
    if row["value_text"] is not None:
        return str(row["value_text"])
    number: Decimal = row["value_number"]
    return int(number) if number == number.to_integral_value() else float(number)
