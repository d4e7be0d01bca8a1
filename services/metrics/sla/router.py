from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

import polars as pl
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from services.metrics.sla import service
from services.metrics.sla.schemas import (
    BacklogReport,
    DataQualityReport,
    LoggedReport,
    MonthlyReport,
    PerformanceReport,
    SatisfactionReport,
    SlaReport,
)
from services.metrics.sla.service import ReportQuery
from shared.auth import Principal, require_roles
from shared.deps import MAX_INT32, ReadSession
from shared.errors import Unprocessable
from shared.serialization import utc_iso
from shared.tabular import Output, OutputQuery, table_response, table_responses
from shared.types import IsoDate, IsoDateTime

router = APIRouter(prefix="/api/v1/sla", tags=["sla reports"])
Reader = Annotated[Principal, Depends(require_roles("admin", "participant", "partner", "reader"))]
_Str = Annotated[str, Query(min_length=1, max_length=200)]


def report_query(
    principal: Reader,
    organisation_id: Annotated[
        list[Annotated[int, Query(ge=1, le=MAX_INT32)]] | None,
        Query(description="Organisations (repeat the parameter); default: all you may see"),
    ] = None,
    priority: Annotated[
        list[Literal["P0", "P1", "P2", "P3", "P4"]] | None, Query(description="Priorities")
    ] = None,
    team: Annotated[list[_Str] | None, Query(description="Teams")] = None,
    closure_category: Annotated[list[_Str] | None, Query(description="Closure categories")] = None,
    resolved_from: Annotated[
        IsoDate | None, Query(description="Resolved on or after (local)")
    ] = None,
    resolved_to: Annotated[
        IsoDate | None, Query(description="Resolved on or before (local)")
    ] = None,
    logged_from: Annotated[IsoDate | None, Query(description="Logged on or after (local)")] = None,
    logged_to: Annotated[IsoDate | None, Query(description="Logged on or before (local)")] = None,
) -> tuple[list[int] | None, ReportQuery]:
    orgs = service.visible_organisations(principal, organisation_id)
    return orgs, ReportQuery(
        organisation_ids=orgs,
        priorities=list(priority) if priority else None,
        teams=team,
        closure_categories=closure_category,
        resolved_from=resolved_from,
        resolved_to=resolved_to,
        logged_from=logged_from,
        logged_to=logged_to,
    )


Scope = Annotated[tuple[list[int] | None, ReportQuery], Depends(report_query)]


def render(
    request: Request,
    out: Output,
    envelope: type[SlaReport[Any]],
    name: str,
    df: pl.DataFrame,
    units: dict[str, str],
    notes: dict[str, str] | None = None,
) -> Response:
    """A report in the page envelope (JSON: ``limit`` rows, 500 unless asked) with its
    columns, units and notes beside it; or as CSV: every row, streamed, its count in
    ``X-Total-Count`` (with ``limit`` or ``offset`` in the query, that page and a
    ``Link: <…>; rel="next"`` while rows remain)."""
    return table_response(
        request,
        out,
        envelope,
        df.columns,
        df.to_dicts(),
        f"sla-{name}",
        report=name,
        columns=df.columns,
        units={k: v for k, v in units.items() if k in df.columns},
        notes=notes or {},
    )


_MONTH = {"month": "first day of the month (Europe/London)"}
_PAGING = (
    "JSON: a page of `limit` rows (500 unless asked, at most 10,000) in `items`, the total "
    "in `total`, the next page's path in `next`. CSV (`format=csv`): every row, streamed, "
    "the count in `X-Total-Count`; with `limit` or `offset` in the query, that page only, "
    'with `X-Total-Count` and `Link: <...>; rel="next"` while rows remain.'
)


@router.get(
    "/monthly",
    response_model=MonthlyReport,
    responses=table_responses(MonthlyReport),
    summary="Per month: met, missed, % met vs target, closure time",
    description=_PAGING,
)
def monthly(request: Request, session: ReadSession, scope: Scope, out: OutputQuery) -> Response:
    orgs, q = scope
    return render(
        request,
        out,
        MonthlyReport,
        "monthly",
        service.monthly(session, orgs, q),
        {
            **_MONTH,
            "met": "tickets",
            "missed": "tickets",
            "total": "tickets",
            "pct_met": "% of resolved tickets (2 dp, half-up)",
            "target_share_pct": "%",
            "target_achieved": "pct_met >= target_share_pct",
            "avg_closure_sla_clock_hours": "hours, SLA clock, pauses deducted",
            "avg_closure_wall_hours": "hours, wall clock (24x7), nothing deducted",
        },
        {
            "month_basis": "month of resolution (Europe/London)",
            "counted": "resolved tickets; data-quality rejects excluded",
        },
    )


@router.get(
    "/logged",
    response_model=LoggedReport,
    responses=table_responses(LoggedReport),
    summary="Tickets logged per month",
    description=_PAGING,
)
def logged(request: Request, session: ReadSession, scope: Scope, out: OutputQuery) -> Response:
    orgs, q = scope
    return render(
        request,
        out,
        LoggedReport,
        "logged",
        service.logged(session, orgs, q),
        {**_MONTH, "logged": "tickets"},
    )


@router.get(
    "/backlog",
    response_model=BacklogReport,
    responses=table_responses(BacklogReport),
    summary="Open (within / breached), on hold, reopened, as of a moment",
    description=_PAGING,
)
def backlog(
    request: Request,
    session: ReadSession,
    scope: Scope,
    out: OutputQuery,
    as_of: Annotated[
        IsoDateTime | None, Query(description="ISO 8601 with offset; default now")
    ] = None,
) -> Response:
    orgs, q = scope
    if as_of is not None and as_of.tzinfo is None:
        raise Unprocessable(
            "as_of needs a UTC offset, e.g. 2021-03-08T09:30:00Z.",
            errors=[{"field": "query.as_of", "message": "offset required"}],
        )
    moment = as_of or datetime.now(UTC)
    units = {
        c: "tickets"
        for c in ("open", "open_within", "open_breached", "on_hold", "reopened", "data_quality")
    }
    return render(
        request,
        out,
        BacklogReport,
        "backlog",
        service.backlog(session, orgs, q, moment),
        units,
        {
            "as_of": utc_iso(moment),
            "reopened": "tickets with a reopen count above 0, open or not",
        },
    )


@router.get(
    "/performance",
    response_model=PerformanceReport,
    responses=table_responses(PerformanceReport),
    summary="Performance-module metrics from tickets",
    description=_PAGING,
)
def performance(
    request: Request,
    session: ReadSession,
    scope: Scope,
    out: OutputQuery,
    clock_basis: Annotated[
        Literal["24x7", "sla_clock"],
        Query(description="24x7 wall clock, or each ticket's SLA clock"),
    ] = "24x7",
) -> Response:
    orgs, q = scope
    df = service.performance(session, orgs, q, clock_basis)
    units = {c: "%" for c in df.columns if c.startswith("pct_")} | {
        "incidents": "tickets",
        "requests": "tickets",
        "resolved_incidents": "tickets",
    }
    return render(
        request,
        out,
        PerformanceReport,
        "performance",
        df,
        units,
        {
            "clock_basis": clock_basis,
            "denominator": "resolved incidents (first contact: all incidents)",
        },
    )


@router.get(
    "/data-quality",
    response_model=DataQualityReport,
    responses=table_responses(DataQualityReport),
    summary="Tickets never counted as met or missed, with the reason",
    description=_PAGING,
)
def data_quality(
    request: Request, session: ReadSession, scope: Scope, out: OutputQuery
) -> Response:
    orgs, q = scope
    return render(
        request,
        out,
        DataQualityReport,
        "data-quality",
        service.data_quality(session, orgs, q),
        {"logged_at": "UTC instant", "resolution_at": "UTC instant"},
    )


# ------------------------------------------------------------------ feedback reports

feedback_router = APIRouter(prefix="/api/v1/sla/feedback", tags=["feedback reports"])


def feedback_scope(
    principal: Reader,
    organisation_id: Annotated[
        list[Annotated[int, Query(ge=1, le=MAX_INT32)]] | None,
        Query(description="Organisations (repeat the parameter); default: all you may see"),
    ] = None,
    month_from: Annotated[IsoDate | None, Query(description="First month (any day in it)")] = None,
    month_to: Annotated[IsoDate | None, Query(description="Last month (any day in it)")] = None,
) -> tuple[list[int] | None, date | None, date | None]:
    check_months(month_from, month_to)
    return service.visible_organisations(principal, organisation_id), month_from, month_to


def check_months(month_from: date | None, month_to: date | None) -> None:
    if month_from and month_to and month_to < month_from:
        raise Unprocessable(
            "month_to is before month_from.",
            errors=[{"field": "query.month_to", "message": "before month_from"}],
        )


FeedbackScope = Annotated[
    tuple[list[int] | None, date | None, date | None], Depends(feedback_scope)
]
FEEDBACK_NOTES = {
    "month": "first day of the month (Europe/London); null = the organisation's whole period",
    "month_basis": "ticket-export ratings: month of resolution (logged if unresolved); "
    "endpoint ratings: month received",
}


@feedback_router.get(
    "/satisfaction",
    response_model=SatisfactionReport,
    responses=table_responses(SatisfactionReport),
    summary="Mean post-interaction satisfaction (1-7) by month and organisation",
    description=_PAGING,
    name="satisfaction",
)
def feedback_satisfaction(
    request: Request, session: ReadSession, scope: FeedbackScope, out: OutputQuery
) -> Response:
    orgs, start, end = scope
    return render(
        request,
        out,
        SatisfactionReport,
        "feedback-satisfaction",
        service.feedback_satisfaction(session, orgs, start, end),
        {
            "ratings": "1-7 ratings",
            "mean_satisfaction": "mean rating on the 1-7 scale (2 dp, half-up)",
            "satisfied": "ratings of 5-7",
            "dissatisfied": "ratings of 1-3",
        },
        FEEDBACK_NOTES,
    )
