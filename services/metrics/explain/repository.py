"""SQL of explanations: the accepted answers behind a metric value (ingest's tables,
read-only), with the submission each came from."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db.tables.ingest import cycles as c
from shared.db.tables.ingest_governance import cost_tables as ct
from shared.db.tables.ingest_governance import finance_lines as fl
from shared.db.tables.ingest_governance import finance_reports as fr
from shared.db.tables.ingest_submissions import submission_answers as a
from shared.db.tables.ingest_submissions import submissions as s


def accepted_inputs(
    session: Session, organisation_id: int, year: int, question_keys: Collection[str]
) -> list[dict[str, Any]]:
    rows = session.execute(
        select(
            a.c.question_key,
            a.c.value_number,
            a.c.value_text,
            a.c.value_boolean,
            a.c.updated_at,
            s.c.id.label("submission_id"),
            s.c.module,
            s.c.decided_at,
        )
        .select_from(a)
        .join(s, s.c.id == a.c.submission_id)
        .join(c, c.c.id == s.c.cycle_id)
        .where(
            s.c.organisation_id == organisation_id,
            s.c.state == "accepted",
            c.c.year == year,
            a.c.question_key.in_(list(question_keys)),
        )
        .order_by(a.c.question_key)
    ).mappings()
    return [dict(r) for r in rows]


def finance_source(
    session: Session, service_id: int, financial_year: int, period: int
) -> tuple[dict[str, Any] | None, dict[int, dict[str, Any]]]:
    """The outturn import of the year to the period (as the pack reads it: the period's
    own, else the latest earlier one) and its lines by position, with the source row."""
    report = (
        session.execute(
            select(fr.c.id, fr.c.period, fr.c.source, fr.c.file_name, fr.c.updated_at)
            .where(
                fr.c.service_id == service_id,
                fr.c.financial_year == financial_year,
                fr.c.period <= period,
            )
            .order_by(fr.c.period.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    if report is None:
        return None, {}
    lines = session.execute(
        select(
            fl.c.position,
            fl.c.line,
            fl.c.budget_pence,
            fl.c.forecast_pence,
            fl.c.actuals_pence,
            fl.c.source_row,
        ).where(fl.c.report_id == report["id"])
    ).mappings()
    return dict(report), {int(r["position"]): dict(r) for r in lines}


def cost_sources(
    session: Session, service_id: int, financial_year: int, period: int
) -> dict[str, dict[str, Any]]:
    """Each cost table of the year as of the period (as the pack reads it), by title."""
    rows = (
        session.execute(
            select(ct.c.id, ct.c.title, ct.c.period, ct.c.updated_at)
            .where(
                ct.c.service_id == service_id,
                ct.c.financial_year == financial_year,
                ct.c.period <= period,
            )
            .order_by(ct.c.title, ct.c.period.desc())
        )
        .mappings()
        .all()
    )
    out: dict[str, dict[str, Any]] = {}
    for r in rows:
        out.setdefault(r["title"], dict(r))
    return out
