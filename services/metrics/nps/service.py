"""Net Promoter Score from any source of 0-10 ratings, computed one way.

Each source gives one row per rating opportunity (organisation_id, month, rating; the
rating null where none was given): ticket exports (services.metrics.sla), ticket exports
and feedback combined (the same), survey answers (services.metrics.surveys). Rows per
organisation and month, then per organisation over the whole period (``month`` null), with
the counts and score of :func:`services.metrics.figures.nps`.
"""

from __future__ import annotations

from datetime import date

import polars as pl
from sqlalchemy.orm import Session

from services.metrics import figures
from services.metrics.nps.schemas import Source
from services.metrics.sla import service as sla
from services.metrics.surveys import service as surveys

COLUMNS = ["organisation_id", "month", "responses", "promoters", "passives", "detractors", "nps"]
MONTH_BASIS: dict[str, str] = {
    "tickets": "month of resolution (logged month while unresolved), Europe/London",
    "feedback": "ticket-export ratings: month of resolution (logged if unresolved); "
    "POST /api/v1/feedback ratings: month received",
    "survey": "month of the survey response",
}


def ratings(
    session: Session,
    source: Source,
    orgs: list[int] | None,
    month_from: date | None,
    month_to: date | None,
) -> pl.DataFrame:
    """organisation_id, month, rating: the source's ratings in the months asked for."""
    if source == "tickets":
        df = sla.ticket_ratings(session, orgs)
    elif source == "feedback":
        df = sla.feedback_ratings(session, orgs, month_from, month_to)
    else:
        df = surveys.survey_ratings(session, orgs)
    if month_from is not None:
        df = df.filter(pl.col("month") >= month_from.replace(day=1))
    if month_to is not None:
        df = df.filter(pl.col("month") <= month_to)
    return df


def by_month_and_total(df: pl.DataFrame) -> pl.DataFrame:
    aggs = figures.nps(pl.col("rating"), ratings="responses")
    monthly = df.group_by("organisation_id", "month").agg(aggs)
    total = (
        df.group_by("organisation_id").agg(aggs).with_columns(pl.lit(None, pl.Date).alias("month"))
    )
    both = pl.concat([monthly.select(COLUMNS), total.select(COLUMNS)])
    return both.with_columns(pl.col("organisation_id").cast(pl.Int64)).sort(
        "organisation_id", "month", nulls_last=True
    )


def nps(
    session: Session,
    source: Source,
    orgs: list[int] | None,
    month_from: date | None,
    month_to: date | None,
) -> pl.DataFrame:
    return by_month_and_total(ratings(session, source, orgs, month_from, month_to))
