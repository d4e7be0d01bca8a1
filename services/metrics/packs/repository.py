"""SQL of the committee packs: reads of the shared service's governance data (ingest's
tables, read-only), and the stored versions of its packs (``committee_packs``, metrics' own).

Tickets, SLA outcomes, policies and ratings are read through the SLA and NPS packages'
own readers (services.metrics.sla.repository, services.metrics.nps.service), so a pack's
figures come from the same rows as the SLA and NPS reports.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

import polars as pl
from sqlalchemy import func, insert, select, text, update
from sqlalchemy.orm import Session

from services.metrics.packs import engine
from services.metrics.packs.schemas import Organisation
from shared.db.tables.metrics_packs import committee_packs as cp

# --------------------------------------------------------------------- organisations


def organisation(session: Session, organisation_id: int) -> Organisation | None:
    row = session.execute(
        text("SELECT id, name FROM organisations WHERE id = :id"), {"id": organisation_id}
    ).first()
    return None if row is None else Organisation(id=row[0], name=row[1])


def partners(session: Session, service_id: int) -> list[Organisation]:
    rows = session.execute(
        text(
            "SELECT o.id, o.name FROM organisation_partners p "
            "JOIN organisations o ON o.id = p.partner_id "
            "WHERE p.shared_service_id = :s ORDER BY p.position, o.id"
        ),
        {"s": service_id},
    ).all()
    return [Organisation(id=r[0], name=r[1]) for r in rows]


def services_of_partners(session: Session, organisation_ids: Sequence[int]) -> set[int]:
    """The shared services any of these organisations is a partner of."""
    rows = session.execute(
        text(
            "SELECT DISTINCT shared_service_id FROM organisation_partners "
            "WHERE partner_id = ANY(:orgs)"
        ),
        {"orgs": list(organisation_ids)},
    ).scalars()
    return set(rows)


def organisation_names(session: Session, ids: Sequence[int]) -> dict[int, str]:
    rows = session.execute(
        text("SELECT id, name FROM organisations WHERE id = ANY(:ids)"), {"ids": list(ids)}
    ).all()
    return {r[0]: r[1] for r in rows}


def _frame(rows: Sequence[Any], schema: dict[str, pl.DataType]) -> pl.DataFrame:
    return pl.DataFrame([tuple(r) for r in rows], schema=schema, orient="row")


# --------------------------------------------------------------------------- finance


def finance_report(
    session: Session, service_id: int, financial_year: int, period: int
) -> dict[str, Any] | None:
    """The outturn report of the year to the period: the period's own, else the latest
    earlier one of the same year."""
    row = (
        session.execute(
            text(
                "SELECT id, period, updated_at FROM finance_reports "
                "WHERE service_id = :s AND financial_year = :fy AND period <= :p "
                "ORDER BY period DESC LIMIT 1"
            ),
            {"s": service_id, "fy": financial_year, "p": period},
        )
        .mappings()
        .first()
    )
    return None if row is None else dict(row)


def finance_lines(session: Session, report_id: int) -> pl.DataFrame:
    rows = session.execute(
        text(
            "SELECT position, group_key, category, line, budget_pence, forecast_pence, "
            "actuals_pence, printed_variance_pence, printed_remaining_pence, is_recharge, "
            "period_actuals_pence FROM finance_lines WHERE report_id = :r ORDER BY position"
        ),
        {"r": report_id},
    ).all()
    return _frame(rows, engine.FINANCE_LINE_SCHEMA)


def finance_printed_totals(session: Session, report_id: int) -> pl.DataFrame:
    rows = session.execute(
        text(
            "SELECT group_key, budget_pence, forecast_pence, variance_pence, actuals_pence, "
            "remaining_pence FROM finance_printed_totals WHERE report_id = :r "
            "ORDER BY group_key"
        ),
        {"r": report_id},
    ).all()
    return _frame(rows, engine.PRINTED_TOTAL_SCHEMA)


def finance_group_labels(session: Session, service_id: int) -> dict[str, str]:
    rows = session.execute(
        text("SELECT key, label FROM finance_groups WHERE service_id = :s ORDER BY position"),
        {"s": service_id},
    ).all()
    return {r[0]: r[1] for r in rows}


# ----------------------------------------------------------------------- cost tables

CELL_SCHEMA: dict[str, pl.DataType] = {
    "table_id": pl.Int64(),
    "organisation_id": pl.Int64(),
    "category": pl.Utf8(),
    "column_index": pl.Int64(),
    "amount_pence": pl.Int64(),
}
COST_PRINTED_SCHEMA: dict[str, pl.DataType] = {
    "table_id": pl.Int64(),
    "organisation_id": pl.Int64(),
    "column_index": pl.Int64(),
    "amount_pence": pl.Int64(),
}


def cost_tables(
    session: Session, service_id: int, financial_year: int, period: int
) -> list[dict[str, Any]]:
    """Each titled cost table of the year as of the period (its latest version ≤ period)."""
    rows = session.execute(
        text(
            "SELECT DISTINCT ON (title) id, title, columns, categories, period FROM cost_tables "
            "WHERE service_id = :s AND financial_year = :fy AND period <= :p "
            "ORDER BY title, period DESC"
        ),
        {"s": service_id, "fy": financial_year, "p": period},
    ).mappings()
    return [dict(r) for r in rows]


def cost_cells(session: Session, table_ids: Sequence[int]) -> pl.DataFrame:
    rows = session.execute(
        text(
            "SELECT table_id, organisation_id, category, column_index, amount_pence "
            "FROM cost_table_cells WHERE table_id = ANY(:t) "
            "ORDER BY table_id, organisation_id, category, column_index"
        ),
        {"t": list(table_ids)},
    ).all()
    return _frame(rows, CELL_SCHEMA)


def cost_printed_totals(session: Session, table_ids: Sequence[int]) -> pl.DataFrame:
    rows = session.execute(
        text(
            "SELECT table_id, organisation_id, column_index, amount_pence "
            "FROM cost_table_printed_totals WHERE table_id = ANY(:t) "
            "ORDER BY table_id, organisation_id NULLS LAST, column_index NULLS LAST"
        ),
        {"t": list(table_ids)},
    ).all()
    return _frame(rows, COST_PRINTED_SCHEMA)


# ----------------------------------------------------------------------------- risks

_RANKED = """
WITH ranked AS (
    SELECT a.*, row_number() OVER (
        PARTITION BY a.risk_id ORDER BY a.financial_year DESC, a.period DESC) AS rn
    FROM risk_assessments a JOIN risks r ON r.id = a.risk_id
    WHERE r.service_id = :s AND NOT r.closed AND (a.financial_year, a.period) <= (:fy, :p)
)
"""


def risks(
    session: Session,
    service_id: int,
    financial_year: int,
    period: int,
    previous_at: tuple[int, int] | None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Each open risk as last assessed at or before the period, and its previous
    assessment: the latest at or before ``previous_at`` (the previous issued pack's
    period) when given, else its latest assessment before the current one."""
    params = {"s": service_id, "fy": financial_year, "p": period}
    current = session.execute(
        text(
            _RANKED + "SELECT r.id, r.reference, r.section, r.title, r.cause, r.event, "
            "r.consequence, x.developments, x.impact, x.probability, x.imported_priority, "
            "x.actions, coalesce(x.owner, r.owner) "
            "FROM ranked x JOIN risks r ON r.id = x.risk_id WHERE x.rn = 1 ORDER BY r.id"
        ),
        params,
    ).all()
    if previous_at is None:
        previous = session.execute(
            text(
                _RANKED + "SELECT risk_id, impact, probability FROM ranked WHERE rn = 2 "
                "ORDER BY risk_id"
            ),
            params,
        ).all()
    else:
        previous = session.execute(
            text(
                "SELECT DISTINCT ON (a.risk_id) a.risk_id, a.impact, a.probability "
                "FROM risk_assessments a JOIN risks r ON r.id = a.risk_id "
                "WHERE r.service_id = :s AND (a.financial_year, a.period) <= (:pfy, :pp) "
                "ORDER BY a.risk_id, a.financial_year DESC, a.period DESC"
            ),
            {"s": service_id, "pfy": previous_at[0], "pp": previous_at[1]},
        ).all()
    return _frame(current, engine.RISK_SCHEMA), _frame(previous, engine.PREVIOUS_RISK_SCHEMA)


# -------------------------------------------------------------- incidents, commentary


def security_incidents(
    session: Session, service_id: int, first: date, last: date
) -> list[dict[str, Any]]:
    """Incidents opened in [first, last] or opened before and still open at ``first``."""
    rows = session.execute(
        text(
            "SELECT reference, title, opened_on, closed_on, severity, os, assets_affected, "
            "status FROM security_incidents WHERE service_id = :s AND opened_on <= :last "
            "AND (opened_on >= :first OR closed_on IS NULL OR closed_on >= :first) "
            "ORDER BY opened_on, reference"
        ),
        {"s": service_id, "first": first, "last": last},
    ).mappings()
    return [dict(r) for r in rows]


def commentary(
    session: Session, service_id: int, financial_year: int, period: int
) -> list[dict[str, Any]]:
    rows = session.execute(
        text(
            "SELECT section, measure, body, author FROM pack_commentary "
            "WHERE service_id = :s AND financial_year = :fy AND period = :p "
            "ORDER BY array_position(ARRAY['kpi','sla','nps','security','finance','costs',"
            "'risks'], section), measure"
        ),
        {"s": service_id, "fy": financial_year, "p": period},
    ).mappings()
    return [dict(r) for r in rows]


# ------------------------------------------------------------------ freshness, late data

_LATEST = """
SELECT greatest(
  (SELECT max(updated_at) FROM finance_reports
     WHERE service_id = :s AND financial_year = :fy AND period <= :p),
  (SELECT max(updated_at) FROM cost_tables
     WHERE service_id = :s AND financial_year = :fy AND period <= :p),
  (SELECT max(greatest(r.updated_at, a.updated_at)) FROM risks r
     JOIN risk_assessments a ON a.risk_id = r.id
     WHERE r.service_id = :s AND (a.financial_year, a.period) <= (:fy, :p)),
  (SELECT max(updated_at) FROM security_incidents
     WHERE service_id = :s AND opened_on <= :last),
  (SELECT max(updated_at) FROM pack_commentary
     WHERE service_id = :s AND financial_year = :fy AND period = :p),
  (SELECT max(created_at) FROM organisation_partners WHERE shared_service_id = :s),
  (SELECT max(updated_at) FROM tickets
     WHERE organisation_id = ANY(:orgs) AND logged_at < :end
       AND (coalesce(resolved_at, closed_at) IS NULL
            OR coalesce(resolved_at, closed_at) >= :history)),
  (SELECT max(i.updated_at) FROM ticket_events e
     JOIN tickets t USING (organisation_id, source_system, reference)
     JOIN ticket_imports i ON i.id = e.last_import_id
     WHERE e.organisation_id = ANY(:orgs) AND t.logged_at < :end
       AND (coalesce(t.resolved_at, t.closed_at) IS NULL
            OR coalesce(t.resolved_at, t.closed_at) >= :history)),
  (SELECT max(created_at) FROM feedback_ratings
     WHERE organisation_id = ANY(:orgs) AND received_at >= :history AND received_at < :end)
)
"""


def _window_params(
    service_id: int, orgs: Sequence[int], period: engine.PackPeriod
) -> dict[str, Any]:
    return {
        "s": service_id,
        "fy": period.financial_year,
        "p": period.period,
        "last": period.period_end,
        "first": period.period_start,
        "orgs": list(orgs),
        "end": period.end_instant,
        "history": engine.london_midnight(period.history_start),
    }


def data_as_of(
    session: Session, service_id: int, orgs: Sequence[int], period: engine.PackPeriod
) -> datetime | None:
    """The latest change in the pack's source data."""
    value: datetime | None = session.execute(
        text(_LATEST), _window_params(service_id, orgs, period)
    ).scalar()
    return value


_LATE = """
SELECT 'finance', 'finance report ' || financial_year || ' P' || period, 1, updated_at
  FROM finance_reports
  WHERE service_id = :s AND financial_year = :fy AND period <= :p AND updated_at > :since
UNION ALL
SELECT 'costs', 'cost table ' || title, 1, updated_at FROM cost_tables
  WHERE service_id = :s AND financial_year = :fy AND period <= :p AND updated_at > :since
UNION ALL
SELECT 'risks', 'risk ' || r.reference, count(*),
       max(greatest(r.updated_at, a.updated_at))
  FROM risks r JOIN risk_assessments a ON a.risk_id = r.id
  WHERE r.service_id = :s AND (a.financial_year, a.period) <= (:fy, :p)
    AND (a.updated_at > :since OR r.updated_at > :since)
  GROUP BY r.reference
UNION ALL
SELECT 'security', 'security incident ' || reference, 1, updated_at FROM security_incidents
  WHERE service_id = :s AND opened_on <= :last AND updated_at > :since
UNION ALL
SELECT 'commentary', 'commentary ' || section || coalesce(nullif(' ' || measure, ' '), ''),
       1, updated_at FROM pack_commentary
  WHERE service_id = :s AND financial_year = :fy AND period = :p AND updated_at > :since
UNION ALL
SELECT 'sla', 'tickets of ' || o.name, count(*), max(t.updated_at)
  FROM tickets t JOIN organisations o ON o.id = t.organisation_id
  WHERE t.organisation_id = ANY(:orgs) AND t.updated_at > :since AND t.logged_at < :end
    AND (coalesce(t.resolved_at, t.closed_at) IS NULL
         OR coalesce(t.resolved_at, t.closed_at) >= :history)
  GROUP BY o.name
UNION ALL
-- A history file leaves its tickets as they were: its events carry the import that
-- stored them, whose last batch is committed at its updated_at.
SELECT 'sla', 'ticket histories of ' || o.name, count(*), max(i.updated_at)
  FROM ticket_events e
  JOIN tickets t USING (organisation_id, source_system, reference)
  JOIN ticket_imports i ON i.id = e.last_import_id
  JOIN organisations o ON o.id = e.organisation_id
  WHERE e.organisation_id = ANY(:orgs) AND i.updated_at > :since AND t.logged_at < :end
    AND (coalesce(t.resolved_at, t.closed_at) IS NULL
         OR coalesce(t.resolved_at, t.closed_at) >= :history)
  GROUP BY o.name
UNION ALL
SELECT 'nps', 'feedback ratings of ' || o.name, count(*), max(f.created_at)
  FROM feedback_ratings f JOIN organisations o ON o.id = f.organisation_id
  WHERE f.organisation_id = ANY(:orgs) AND f.created_at > :since
    AND f.received_at >= :history AND f.received_at < :end
  GROUP BY o.name
ORDER BY 1, 2
"""


def late_rows(
    session: Session,
    service_id: int,
    orgs: Sequence[int],
    period: engine.PackPeriod,
    since: datetime,
) -> list[engine.LateRow]:
    """Source data of the pack's period changed after ``since`` (the issue)."""
    params = {**_window_params(service_id, orgs, period), "since": since}
    rows = session.execute(text(_LATE), params).all()
    return [engine.LateRow(section=r[0], row=r[1], rows=int(r[2]), latest=r[3]) for r in rows]


# ---------------------------------------------------------------------- stored packs

SUMMARY_COLUMNS = (
    cp.c.id,
    cp.c.service_id,
    cp.c.financial_year,
    cp.c.period,
    cp.c.version,
    cp.c.status,
    cp.c.period_end,
    cp.c.data_version,
    cp.c.data_as_of,
    cp.c.created_by,
    cp.c.created_at,
    cp.c.reviewed_by,
    cp.c.reviewed_at,
    cp.c.issued_by,
    cp.c.issued_at,
    cp.c.seconds_to_issue,
    func.jsonb_array_length(cp.c.changes).label("changes"),
)


def issued_pack(
    session: Session, service_id: int, financial_year: int, period: int
) -> dict[str, Any] | None:
    """The issued version of the pack for this period, if any."""
    row = (
        session.execute(
            select(*SUMMARY_COLUMNS, cp.c.figures).where(
                cp.c.service_id == service_id,
                cp.c.financial_year == financial_year,
                cp.c.period == period,
                cp.c.status == "issued",
            )
        )
        .mappings()
        .first()
    )
    return None if row is None else dict(row)


def previous_issued(
    session: Session, service_id: int, financial_year: int, period: int
) -> dict[str, Any] | None:
    """The latest issued pack of an earlier period: id, period and its KPI summary."""
    row = (
        session.execute(
            select(
                cp.c.id,
                cp.c.financial_year,
                cp.c.period,
                cp.c.version,
                cp.c.data_version,
                cp.c.figures["kpi"].label("kpi"),
            )
            .where(
                cp.c.service_id == service_id,
                cp.c.status == "issued",
                func.row(cp.c.financial_year, cp.c.period) < func.row(financial_year, period),
            )
            .order_by(cp.c.financial_year.desc(), cp.c.period.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    return None if row is None else dict(row)


def next_version(session: Session, service_id: int, financial_year: int, period: int) -> int:
    found: int | None = session.execute(
        select(func.max(cp.c.version)).where(
            cp.c.service_id == service_id,
            cp.c.financial_year == financial_year,
            cp.c.period == period,
        )
    ).scalar()
    return (found or 0) + 1


def in_review(
    session: Session, service_id: int, financial_year: int, period: int
) -> dict[str, Any] | None:
    row = (
        session.execute(
            select(*SUMMARY_COLUMNS).where(
                cp.c.service_id == service_id,
                cp.c.financial_year == financial_year,
                cp.c.period == period,
                cp.c.status == "in_review",
            )
        )
        .mappings()
        .first()
    )
    return None if row is None else dict(row)


def insert_pack(session: Session, values: dict[str, Any]) -> int:
    pack_id: int = session.execute(insert(cp).values(**values).returning(cp.c.id)).scalar_one()
    return pack_id


def set_status(session: Session, pack_id: int, status: str) -> None:
    session.execute(update(cp).where(cp.c.id == pack_id).values(status=status))


def update_pack(session: Session, pack_id: int, values: dict[str, Any]) -> None:
    session.execute(update(cp).where(cp.c.id == pack_id).values(**values))


def summary(session: Session, pack_id: int) -> dict[str, Any] | None:
    row = session.execute(select(*SUMMARY_COLUMNS).where(cp.c.id == pack_id)).mappings().first()
    return None if row is None else dict(row)


def stored(session: Session, pack_id: int, *columns: str, lock: bool = False) -> dict[str, Any]:
    """The summary and the named stored columns (figures, checks, html, pdf; the list of
    changes as ``change_list``, the summary's ``changes`` being their count)."""
    labelled = [cp.c[c].label("change_list" if c == "changes" else c) for c in columns]
    query = select(*SUMMARY_COLUMNS, *labelled).where(cp.c.id == pack_id)
    if lock:
        query = query.with_for_update()
    return dict(session.execute(query).mappings().one())


def list_packs(
    session: Session,
    service_ids: Sequence[int] | None,
    financial_year: int | None,
    period: int | None,
    status: str | None,
) -> list[dict[str, Any]]:
    query = select(*SUMMARY_COLUMNS)
    if service_ids is not None:
        query = query.where(cp.c.service_id.in_(list(service_ids)))
    if financial_year is not None:
        query = query.where(cp.c.financial_year == financial_year)
    if period is not None:
        query = query.where(cp.c.period == period)
    if status is not None:
        query = query.where(cp.c.status == status)
    query = query.order_by(
        cp.c.service_id,
        cp.c.financial_year.desc(),
        cp.c.period.desc(),
        cp.c.version.desc(),
    )
    return [dict(r) for r in session.execute(query).mappings()]
