from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from shared.db.tables.ingest_governance import finance_groups as g
from shared.db.tables.ingest_governance import finance_lines as fl
from shared.db.tables.ingest_governance import finance_printed_totals as pt
from shared.db.tables.ingest_governance import finance_reports as fr


def own_groups(session: Session, service_id: int) -> list[dict[str, Any]]:
    query = select(g.c.key, g.c.label, g.c.position).where(g.c.service_id == service_id)
    return [dict(r) for r in session.execute(query.order_by(g.c.position, g.c.key)).mappings()]


def upsert_group(
    session: Session, service_id: int, key: str, label: str, position: int
) -> dict[str, Any]:
    statement = (
        pg_insert(g)
        .values(service_id=service_id, key=key, label=label, position=position)
        .on_conflict_do_update(
            index_elements=[g.c.service_id, g.c.key], set_={"label": label, "position": position}
        )
        .returning(g.c.key, g.c.label, g.c.position)
    )
    return dict(session.execute(statement).mappings().one())


def delete_group(session: Session, service_id: int, key: str) -> bool:
    statement = delete(g).where(g.c.service_id == service_id, g.c.key == key)
    return session.execute(statement.returning(g.c.key)).first() is not None


def reports_using_group(session: Session, service_id: int, key: str) -> list[tuple[int, int]]:
    query = (
        select(fr.c.financial_year, fr.c.period)
        .where(
            fr.c.service_id == service_id,
            fr.c.id.in_(select(fl.c.report_id).where(fl.c.group_key == key))
            | fr.c.id.in_(select(pt.c.report_id).where(pt.c.group_key == key)),
        )
        .order_by(fr.c.financial_year, fr.c.period)
    )
    return [(r[0], r[1]) for r in session.execute(query)]


def upsert_report(session: Session, values: dict[str, Any]) -> int:
    """The report's id for (service, year, period), made or taken over by this import."""
    changes = {k: values[k] for k in ("source", "file_name", "created_by")}
    statement = (
        pg_insert(fr)
        .values(**values)
        .on_conflict_do_update(
            index_elements=[fr.c.service_id, fr.c.financial_year, fr.c.period],
            set_={**changes, "updated_at": func.now()},
        )
        .returning(fr.c.id)
    )
    return int(session.execute(statement).scalar_one())


def replace_contents(
    session: Session, report_id: int, lines: list[dict[str, Any]], totals: list[dict[str, Any]]
) -> None:
    session.execute(delete(fl).where(fl.c.report_id == report_id))
    session.execute(delete(pt).where(pt.c.report_id == report_id))
    session.execute(insert(fl), [{"report_id": report_id, **line} for line in lines])
    if totals:
        session.execute(insert(pt), [{"report_id": report_id, **total} for total in totals])


def get_report(
    session: Session, service_id: int, financial_year: int, period: int
) -> dict[str, Any] | None:
    query = select(fr).where(
        fr.c.service_id == service_id, fr.c.financial_year == financial_year, fr.c.period == period
    )
    row = session.execute(query).mappings().first()
    return dict(row) if row else None


def lines(session: Session, report_id: int) -> list[dict[str, Any]]:
    query = select(fl).where(fl.c.report_id == report_id).order_by(fl.c.position)
    return [dict(r) for r in session.execute(query).mappings()]


def printed_totals(session: Session, report_id: int) -> list[dict[str, Any]]:
    # Group totals in the order their groups' first lines appear, the grand total last.
    first = (
        select(fl.c.group_key, func.min(fl.c.position).label("first"))
        .where(fl.c.report_id == report_id)
        .group_by(fl.c.group_key)
        .subquery()
    )
    query = (
        select(pt)
        .outerjoin(first, first.c.group_key == pt.c.group_key)
        .where(pt.c.report_id == report_id)
        .order_by((pt.c.group_key == "").asc(), first.c.first.asc().nulls_last(), pt.c.group_key)
    )
    return [dict(r) for r in session.execute(query).mappings()]


def list_reports(session: Session, service_id: int) -> list[dict[str, Any]]:
    counts = select(fl.c.report_id, func.count().label("lines")).group_by(fl.c.report_id).subquery()
    query = (
        select(fr, func.coalesce(counts.c.lines, 0).label("lines"))
        .outerjoin(counts, counts.c.report_id == fr.c.id)
        .where(fr.c.service_id == service_id)
        .order_by(fr.c.financial_year.desc(), fr.c.period.desc())
    )
    return [dict(r) for r in session.execute(query).mappings()]


def delete_report(session: Session, service_id: int, financial_year: int, period: int) -> bool:
    statement = delete(fr).where(
        fr.c.service_id == service_id,
        fr.c.financial_year == financial_year,
        fr.c.period == period,
    )
    return session.execute(statement.returning(fr.c.id)).first() is not None
