"""Reads of the ratings that feed NPS and service-desk satisfaction (ingest's tables)."""

from __future__ import annotations

from datetime import date
from typing import Any

import polars as pl
from sqlalchemy import text
from sqlalchemy.orm import Session

# Month basis: a ticket's rating belongs to its month of resolution (Europe/London), or
# of logging while unresolved, as in the SLA NPS report; a rating sent on its own
# belongs to the month it was received.
_TICKET_SQL = """
SELECT t.organisation_id, t.nps_rating AS recommendation,
       date_trunc('month', COALESCE(t.resolved_at, t.logged_at) AT TIME ZONE 'Europe/London')::date
           AS month
FROM tickets t
WHERE t.nps_rating IS NOT NULL {orgs}
  -- A rating sent for this very ticket through the endpoint replaces the export's.
  AND NOT EXISTS (
      SELECT 1 FROM feedback_ratings f
      WHERE f.organisation_id = t.organisation_id AND f.source_system = t.source_system
        AND f.ticket_reference = t.reference AND f.recommendation IS NOT NULL)
"""
_FEEDBACK_SQL = """
SELECT organisation_id, satisfaction, recommendation,
       date_trunc('month', received_at AT TIME ZONE 'Europe/London')::date AS month
FROM feedback_ratings f WHERE true {orgs}
"""

RATING_SCHEMA = {
    "organisation_id": pl.Int64(),
    "origin": pl.Utf8(),
    "satisfaction": pl.Int16(),
    "recommendation": pl.Int16(),
    "month": pl.Date(),
}


def load_ratings(
    session: Session,
    organisation_ids: list[int] | None,
    month_from: date | None,
    month_to: date | None,
) -> pl.DataFrame:
    """One row per rating: organisation_id, origin (ticket_export | feedback), satisfaction,
    recommendation, month (first day, Europe/London)."""
    params: dict[str, Any] = {}
    orgs = ""
    if organisation_ids is not None:
        orgs = "AND {a}.organisation_id = ANY(:orgs)"
        params["orgs"] = organisation_ids
    rows: list[tuple[Any, ...]] = []
    for org, rec, month in session.execute(
        text(_TICKET_SQL.format(orgs=orgs.format(a="t"))), params
    ).all():
        rows.append((org, "ticket_export", None, rec, month))
    for org, sat, rec, month in session.execute(
        text(_FEEDBACK_SQL.format(orgs=orgs.format(a="f"))), params
    ).all():
        rows.append((org, "feedback", sat, rec, month))
    df = pl.DataFrame(rows, schema=RATING_SCHEMA, orient="row")
    if month_from is not None:
        df = df.filter(pl.col("month") >= month_from.replace(day=1))
    if month_to is not None:
        df = df.filter(pl.col("month") <= month_to)
    return df
