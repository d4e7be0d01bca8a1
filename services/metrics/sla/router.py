from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

import polars as pl
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from services.metrics.sla import service
from services.metrics.sla.schemas import Report
from services.metrics.sla.service import ReportQuery
from shared.auth import Principal, require_roles
from shared.deps import MAX_INT32, DbSession
from shared.errors import Unprocessable
from shared.tabular import CsvBom, csv_response, page_headers
from shared.types import IsoDate, IsoDateTime

router = APIRouter(prefix="/api/v1/sla", tags=["sla reports"])
Reader = Annotated[Principal, Depends(require_roles("admin", "participant", "partner", "reader"))]
Format = Annotated[Literal["json", "csv"], Query(description="json, or csv with the same columns")]
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
_CSV: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}}
}


def render(
    name: str,
    df: pl.DataFrame,
    fmt: str,
    units: dict[str, str],
    notes: dict[str, str] | None = None,
    *,
    limit: int | None = None,
    offset: int | None = None,
    bom: bool = False,
    csv_page: Request | None = None,
) -> Response:
    """A report as JSON (``limit``/``offset`` page it; the total is in ``total_rows``) or
    as CSV. The CSV is the whole report, streamed, with its row count in
    ``X-Total-Count``; with ``csv_page`` (the client asked for ``limit`` or ``offset``)
    it is that page, with ``X-Total-Count`` and ``Link: <…>; rel="next"`` while rows
    remain."""
    total = df.height
    if fmt == "csv":
        headers = {"X-Total-Count": str(total)}
        if csv_page is not None and limit is not None:
            start = offset or 0
            df = df.slice(start, limit)
            headers = page_headers(csv_page, total=total, offset=start, limit=limit)
        return csv_response(df.columns, df.iter_rows(), f"sla-{name}", bom=bom, headers=headers)
    if limit is not None:
        df = df.slice(offset or 0, limit)
    body = Report(
        report=name,
        columns=df.columns,
        units={k: v for k, v in units.items() if k in df.columns},
        notes=notes or {},
        rows=service.rows(df),
        total_rows=total,
        limit=limit,
        offset=offset,
    )
    return JSONResponse(body.model_dump(mode="json"))


_MONTH = {"month": "first day of the month (Europe/London)"}


@router.get(
    "/monthly",
    response_model=Report,
    responses=_CSV,
    summary="Per month: met, missed, % met vs target, closure time",
)
def monthly(
    session: DbSession, scope: Scope, format: Format = "json", bom: CsvBom = False
) -> Response:
    orgs, q = scope
    return render(
        "monthly",
        service.monthly(session, orgs, q),
        format,
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
        bom=bom,
    )


@router.get("/logged", response_model=Report, responses=_CSV, summary="Tickets logged per month")
def logged(
    session: DbSession, scope: Scope, format: Format = "json", bom: CsvBom = False
) -> Response:
    orgs, q = scope
    return render(
        "logged",
        service.logged(session, orgs, q),
        format,
        {**_MONTH, "logged": "tickets"},
        bom=bom,
    )


@router.get(
    "/backlog",
    response_model=Report,
    responses=_CSV,
    summary="Open (within / breached), on hold, reopened, as of a moment",
)
def backlog(
    session: DbSession,
    scope: Scope,
    format: Format = "json",
    bom: CsvBom = False,
    as_of: Annotated[
        IsoDateTime | None, Query(description="ISO 8601 with offset; default now")
    ] = None,
) -> Response:
    orgs, q = scope
    if as_of is not None and as_of.tzinfo is None:
        from shared.errors import Unprocessable

        raise Unprocessable(
            "as_of needs a UTC offset, e.g. 2021-03-08T09:30:00+00:00.",
            errors=[{"field": "query.as_of", "message": "offset required"}],
        )
    moment = as_of or datetime.now().astimezone()
    units = {
        c: "tickets"
        for c in ("open", "open_within", "open_breached", "on_hold", "reopened", "data_quality")
    }
    return render(
        "backlog",
        service.backlog(session, orgs, q, moment),
        format,
        units,
        {
            "as_of": moment.isoformat(),
            "reopened": "tickets with a reopen count above 0, open or not",
        },
        bom=bom,
    )


@router.get(
    "/nps",
    response_model=Report,
    responses=_CSV,
    summary="Net Promoter Score by month and organisation",
)
def nps(session: DbSession, scope: Scope, format: Format = "json", bom: CsvBom = False) -> Response:
    orgs, q = scope
    return render(
        "nps",
        service.nps(session, orgs, q),
        format,
        {
            **_MONTH,
            "responses": "ratings",
            "promoters": "ratings 9-10",
            "passives": "ratings 7-8",
            "detractors": "ratings 0-6",
            "nps": "% promoters - % detractors (1 dp); null when no ratings",
        },
        {"month_basis": "month of resolution (logged month while unresolved)"},
        bom=bom,
    )


@router.get(
    "/performance",
    response_model=Report,
    responses=_CSV,
    summary="Performance-module metrics from tickets",
)
def performance(
    session: DbSession,
    scope: Scope,
    format: Format = "json",
    bom: CsvBom = False,
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
        "performance",
        df,
        format,
        units,
        {
            "clock_basis": clock_basis,
            "denominator": "resolved incidents (first contact: all incidents)",
        },
        bom=bom,
    )


@router.get(
    "/data-quality",
    response_model=Report,
    responses=_CSV,
    summary="Tickets never counted as met or missed, with the reason",
    description="JSON: a page of `limit` rows (500 unless asked), the total in `total_rows`. "
    "CSV: every row, streamed, the count in `X-Total-Count`; with `limit` or `offset` in "
    'the query, that page only, with `X-Total-Count` and `Link: <...>; rel="next"` while '
    "rows remain.",
)
def data_quality(
    request: Request,
    session: DbSession,
    scope: Scope,
    format: Format = "json",
    bom: CsvBom = False,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 500,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> Response:
    orgs, q = scope
    paged = "limit" in request.query_params or "offset" in request.query_params
    return render(
        "data-quality",
        service.data_quality(session, orgs, q),
        format,
        {"logged_at": "UTC instant", "resolution_at": "UTC instant"},
        limit=limit,
        offset=offset,
        bom=bom,
        csv_page=request if paged else None,
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
    if month_from and month_to and month_to < month_from:
        raise Unprocessable(
            "month_to is before month_from.",
            errors=[{"field": "query.month_to", "message": "before month_from"}],
        )
    return service.visible_organisations(principal, organisation_id), month_from, month_to


FeedbackScope = Annotated[
    tuple[list[int] | None, date | None, date | None], Depends(feedback_scope)
]
_FEEDBACK_NOTES = {
    "month": "first day of the month (Europe/London); null = the organisation's whole period",
    "month_basis": "ticket-export ratings: month of resolution (logged if unresolved); "
    "endpoint ratings: month received",
}


@feedback_router.get(
    "/nps",
    response_model=Report,
    responses=_CSV,
    summary="Net Promoter Score by month and organisation (ticket exports and feedback)",
    name="nps",  # the route's name (and operationId) as before the move
)
def feedback_nps(
    session: DbSession, scope: FeedbackScope, format: Format = "json", bom: CsvBom = False
) -> Response:
    orgs, start, end = scope
    return render(
        "feedback-nps",
        service.feedback_nps(session, orgs, start, end),
        format,
        {
            "ratings": "0-10 ratings",
            "from_ticket_exports": "ratings",
            "from_feedback": "ratings",
            "promoters": "ratings of 9-10",
            "passives": "ratings of 7-8",
            "detractors": "ratings of 0-6",
            "nps": "% promoters - % detractors (1 dp, half-up); null when no ratings",
        },
        {
            **_FEEDBACK_NOTES,
            "combined": "a rating sent through POST /api/v1/feedback for a ticket replaces "
            "the rating in that ticket's export",
        },
        bom=bom,
    )


@feedback_router.get(
    "/satisfaction",
    response_model=Report,
    responses=_CSV,
    summary="Mean post-interaction satisfaction (1-7) by month and organisation",
    name="satisfaction",
)
def feedback_satisfaction(
    session: DbSession, scope: FeedbackScope, format: Format = "json", bom: CsvBom = False
) -> Response:
    orgs, start, end = scope
    return render(
        "feedback-satisfaction",
        service.feedback_satisfaction(session, orgs, start, end),
        format,
        {
            "ratings": "1-7 ratings",
            "mean_satisfaction": "mean rating on the 1-7 scale (2 dp, half-up)",
            "satisfied": "ratings of 5-7",
            "dissatisfied": "ratings of 1-3",
        },
        _FEEDBACK_NOTES,
        bom=bom,
    )
