"""NPS and mean service-desk satisfaction from post-interaction ratings (Polars).

Ratings come from ticket exports (the 0-10 ``nps_rating`` column) and from
``POST /api/v1/feedback`` (satisfaction 1-7 and/or recommendation 0-10). Each report has
a row per organisation and month, then a row per organisation over the whole period
(``month`` null). A month or organisation with ratings of the other kind only shows
0 ratings and a null figure: no ratings gives no score, not 0.
"""

from __future__ import annotations

from datetime import date

import polars as pl
from sqlalchemy.orm import Session

from services.metrics.feedback import repository as repo
from services.metrics.sla.engine import nps_expr


def mean_half_up(values: pl.Expr, decimals: int = 2) -> pl.Expr:
    """Mean of non-negative integers rounded half-up, exactly (integer arithmetic)."""
    scale = 10**decimals
    total = values.sum().cast(pl.Int64)
    n = values.is_not_null().sum().cast(pl.Int64)
    scaled = (total * scale * 2 + n) // (n * 2)
    return (
        pl.when(n > 0)
        .then(scaled.cast(pl.Decimal(18, decimals)) / scale)
        .otherwise(None)
        .cast(pl.Decimal(18, decimals))
    )


def _by_month_and_total(df: pl.DataFrame, aggs: list[pl.Expr]) -> pl.DataFrame:
    monthly = df.group_by("organisation_id", "month").agg(aggs)
    total = (
        df.group_by("organisation_id").agg(aggs).with_columns(pl.lit(None, pl.Date).alias("month"))
    )
    return pl.concat([monthly, total.select(monthly.columns)]).sort(
        "organisation_id", "month", nulls_last=True
    )


def nps(
    session: Session, orgs: list[int] | None, month_from: date | None, month_to: date | None
) -> pl.DataFrame:
    df = repo.load_ratings(session, orgs, month_from, month_to)
    r = pl.col("recommendation")
    return _by_month_and_total(
        df,
        [
            r.count().alias("ratings"),
            ((pl.col("origin") == "ticket_export") & r.is_not_null())
            .sum()
            .alias("from_ticket_exports"),
            ((pl.col("origin") == "feedback") & r.is_not_null()).sum().alias("from_feedback"),
            (r >= 9).sum().alias("promoters"),
            r.is_between(7, 8).sum().alias("passives"),
            (r <= 6).sum().alias("detractors"),
            nps_expr(r).alias("nps"),
        ],
    )


def satisfaction(
    session: Session, orgs: list[int] | None, month_from: date | None, month_to: date | None
) -> pl.DataFrame:
    # Ticket exports carry no satisfaction rating, so only endpoint rows take part.
    df = repo.load_ratings(session, orgs, month_from, month_to).filter(
        pl.col("origin") == "feedback"
    )
    s = pl.col("satisfaction")
    return _by_month_and_total(
        df,
        [
            s.count().alias("ratings"),
            mean_half_up(s, 2).alias("mean_satisfaction"),
            (s >= 5).sum().alias("satisfied"),
            (s <= 3).sum().alias("dissatisfied"),
        ],
    )
