"""SLA outcomes (recomputed on events), the SLA reports built from them, and the feedback
reports (NPS and satisfaction from post-interaction ratings)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
from sqlalchemy.orm import Session

from services.metrics import figures
from services.metrics.runs import repository as runs
from services.metrics.sla import engine
from services.metrics.sla import repository as repo
from services.metrics.sla.engine import TicketFilter
from shared.auth import Principal
from shared.errors import Forbidden
from shared.events import EventType, SlaRecompute, TicketsImported
from shared.observability import timed
from shared.settings import Settings


def _evaluate(
    session: Session,
    organisation_ids: list[int] | None,
    months: dict[int, list[str]] | None,
    as_of: datetime,
) -> pl.DataFrame:
    orgs = organisation_ids if months is None else sorted(months)
    tickets = repo.load_tickets(session, organisation_ids, months)
    holds, reopens = repo.load_intervals(session, orgs)
    policies = repo.load_policies(session, orgs)
    clocks = repo.load_clocks(session, orgs)
    return engine.evaluate_tickets(
        tickets, policies, clocks, as_of=as_of, holds=holds, reopens=reopens
    )


def recompute(
    session: Session,
    *,
    organisation_ids: list[int] | None = None,
    months: dict[int, list[str]] | None = None,
    as_of: datetime,
) -> int:
    """Evaluate and store outcomes: of whole organisations, or of the local logged
    months given per organisation (the months an import touched)."""
    with timed("sla_outcomes"):
        results = _evaluate(session, organisation_ids, months, as_of)
        return repo.write_outcomes(
            session, results, replace_organisations=organisation_ids if months is None else None
        )


def on_tickets_imported(session: Session, event: TicketsImported, _settings: Settings) -> int:
    """A job (services.metrics.events): recompute the months a ticket import touched."""
    months = event.months()
    n = recompute(session, months=months, as_of=datetime.now(UTC))
    return runs.record(
        session,
        kind="sla_outcomes",
        scope={"import_id": event.import_id, "organisations": sorted(months)},
        trigger=EventType.TICKETS_IMPORTED,
        detail={"tickets": n, "months": {str(k): v for k, v in months.items()}},
    )


def on_recompute_requested(session: Session, event: SlaRecompute, _settings: Settings) -> int:
    """A job (services.metrics.events): an organisation's policies, calendars or intervals
    changed, so all its outcomes are recomputed."""
    org = event.organisation_id
    n = recompute(session, organisation_ids=[org], as_of=datetime.now(UTC))
    return runs.record(
        session,
        kind="sla_outcomes",
        scope={"organisations": [org]},
        trigger=f"{EventType.SLA_RECOMPUTE}:{event.reason}",
        detail={"tickets": n},
    )


# --------------------------------------------------------------------------- reports


@dataclass(frozen=True)
class ReportQuery:
    organisation_ids: list[int] | None = None
    priorities: list[str] | None = None
    teams: list[str] | None = None
    closure_categories: list[str] | None = None
    resolved_from: date | None = None
    resolved_to: date | None = None
    logged_from: date | None = None
    logged_to: date | None = None


def visible_organisations(principal: Principal, asked: list[int] | None) -> list[int] | None:
    """The organisations a report covers; None = all (admins without a filter)."""
    if asked:
        for org in asked:
            principal.require_organisation(org)
        return sorted(set(asked))
    if principal.is_admin:
        return None
    if not principal.organisations:
        raise Forbidden("Your credentials are not scoped to any organisation.")
    return sorted(principal.organisations)


def _filter(q: ReportQuery) -> TicketFilter:
    return TicketFilter(
        resolved_from=q.resolved_from,
        resolved_to=q.resolved_to,
        logged_from=q.logged_from,
        logged_to=q.logged_to,
        priorities=q.priorities or None,
        teams=q.teams or None,
        closure_categories=q.closure_categories or None,
    )


def _outcomes(session: Session, orgs: list[int] | None) -> pl.DataFrame:
    return repo.load_outcomes(session, orgs)


def monthly(session: Session, orgs: list[int] | None, q: ReportQuery) -> pl.DataFrame:
    out = engine.monthly_sla(_outcomes(session, orgs), _filter(q))
    return out.drop("avg_closure_sla_clock_seconds", "avg_closure_wall_seconds")


def tickets_of_month(session: Session, q: ReportQuery) -> pl.DataFrame:
    """The outcomes a report's filter selects (an explanation's inputs)."""
    return engine.apply_filter(_outcomes(session, q.organisation_ids), _filter(q))


def latest_outcomes_run(session: Session, organisation_id: int) -> dict[str, Any] | None:
    """The last computation run that rewrote the organisation's SLA outcomes."""
    return repo.latest_outcomes_run(session, organisation_id)


def logged(session: Session, orgs: list[int] | None, q: ReportQuery) -> pl.DataFrame:
    return engine.monthly_logged(_outcomes(session, orgs), _filter(q))


def backlog(
    session: Session, orgs: list[int] | None, q: ReportQuery, as_of: datetime | None
) -> pl.DataFrame:
    # Open-ticket status depends on the moment asked about, so it is evaluated live.
    results = _evaluate(session, orgs, None, as_of or datetime.now(UTC))
    return engine.backlog(results, _filter(q))


def ticket_ratings(session: Session, orgs: list[int] | None) -> pl.DataFrame:
    """NPS ratings in ticket exports: organisation_id, month, rating (services.metrics.nps)."""
    return engine.nps_ratings(_outcomes(session, orgs))


def performance(
    session: Session, orgs: list[int] | None, q: ReportQuery, clock_basis: str
) -> pl.DataFrame:
    return engine.performance_metrics(
        _outcomes(session, orgs),
        f=_filter(q),
        clock_basis="24x7" if clock_basis == "24x7" else "sla_clock",
    )


def data_quality(session: Session, orgs: list[int] | None, q: ReportQuery) -> pl.DataFrame:
    r = engine.apply_filter(_outcomes(session, orgs), _filter(q))
    return (
        r.filter(pl.col("sla_status") == "data_quality")
        .select(
            "organisation_id",
            "source_system",
            "reference",
            "priority",
            "logged_at",
            "resolution_at",
            pl.col("data_quality_reason").alias("reason"),
        )
        .sort("organisation_id", "source_system", "reference")
    )


# ------------------------------------------------------------------ feedback reports
# NPS and mean service-desk satisfaction from post-interaction ratings (Polars).
#
# Ratings come from ticket exports (the 0-10 ``nps_rating`` column) and from
# ``POST /api/v1/feedback`` (satisfaction 1-7 and/or recommendation 0-10). Each report has
# a row per organisation and month, then a row per organisation over the whole period
# (``month`` null). A month or organisation with ratings of the other kind only shows
# 0 ratings and a null figure: no ratings gives no score, not 0.


def _by_month_and_total(df: pl.DataFrame, aggs: list[pl.Expr]) -> pl.DataFrame:
    monthly = df.group_by("organisation_id", "month").agg(aggs)
    total = (
        df.group_by("organisation_id").agg(aggs).with_columns(pl.lit(None, pl.Date).alias("month"))
    )
    return pl.concat([monthly, total.select(monthly.columns)]).sort(
        "organisation_id", "month", nulls_last=True
    )


def feedback_ratings(
    session: Session, orgs: list[int] | None, month_from: date | None, month_to: date | None
) -> pl.DataFrame:
    """0-10 recommendation ratings, ticket exports and ``POST /api/v1/feedback`` combined
    (a rating sent for a ticket replaces the export's): organisation_id, month, rating."""
    df = repo.load_ratings(session, orgs, month_from, month_to)
    return df.select("organisation_id", "month", pl.col("recommendation").alias("rating"))


def feedback_satisfaction(
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
            figures.half_up(s.sum(), s.count(), 2).alias("mean_satisfaction"),
            (s >= 5).sum().alias("satisfied"),
            (s <= 3).sum().alias("dissatisfied"),
        ],
    )
