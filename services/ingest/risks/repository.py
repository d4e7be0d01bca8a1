from __future__ import annotations

from typing import Any

from sqlalchemy import func, literal_column, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from shared.db.tables.ingest_governance import risk_assessments as a
from shared.db.tables.ingest_governance import risks as r

RISK_FIELDS = ("section", "title", "cause", "event", "consequence", "owner", "closed")
ASSESSMENT_FIELDS = (
    "developments",
    "impact",
    "probability",
    "imported_priority",
    "actions",
    "owner",
)


def upsert_risk(session: Session, values: dict[str, Any]) -> tuple[int, bool]:
    """(risk id, whether it was created)."""
    statement = (
        pg_insert(r)
        .values(**values)
        .on_conflict_do_update(
            index_elements=[r.c.service_id, r.c.reference],
            set_={**{k: values[k] for k in RISK_FIELDS}, "updated_at": func.now()},
        )
        # xmax is 0 for a row this statement inserted, not for one it updated.
        .returning(r.c.id, (literal_column("xmax") == 0).label("created"))
    )
    row = session.execute(statement).one()
    return int(row[0]), bool(row[1])


def upsert_assessment(session: Session, values: dict[str, Any]) -> None:
    statement = (
        pg_insert(a)
        .values(**values)
        .on_conflict_do_update(
            index_elements=[a.c.risk_id, a.c.financial_year, a.c.period],
            set_={**{k: values[k] for k in ASSESSMENT_FIELDS}, "updated_at": func.now()},
        )
    )
    session.execute(statement)


def list_risks(session: Session, service_id: int) -> list[dict[str, Any]]:
    query = select(r).where(r.c.service_id == service_id).order_by(r.c.section, r.c.reference)
    return [dict(x) for x in session.execute(query).mappings()]


def get_risk(session: Session, service_id: int, risk_id: int) -> dict[str, Any] | None:
    query = select(r).where(r.c.service_id == service_id, r.c.id == risk_id)
    row = session.execute(query).mappings().first()
    return dict(row) if row else None


def assessments(session: Session, risk_id: int) -> list[dict[str, Any]]:
    query = select(a).where(a.c.risk_id == risk_id).order_by(a.c.financial_year, a.c.period)
    return [dict(x) for x in session.execute(query).mappings()]


def register(
    session: Session, service_id: int, financial_year: int, period: int
) -> list[dict[str, Any]]:
    query = (
        select(
            r.c.id.label("risk_id"),
            *(r.c[k] for k in ("reference", *RISK_FIELDS, "created_at")),
            *(a.c[k] for k in ("financial_year", "period", "updated_at")),
            *(a.c[k] for k in ASSESSMENT_FIELDS if k != "owner"),
            a.c.owner.label("assessment_owner"),
        )
        .join(a, a.c.risk_id == r.c.id)
        .where(
            r.c.service_id == service_id,
            a.c.financial_year == financial_year,
            a.c.period == period,
        )
        .order_by(r.c.section, r.c.reference)
    )
    return [dict(x) for x in session.execute(query).mappings()]
