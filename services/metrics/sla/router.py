from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal, overload

import polars as pl
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from services.metrics.sla import service
from services.metrics.sla.schemas import (
    BacklogReport,
    BreachForecastReport,
    DataQualityReport,
    LoggedReport,
    MonthlyReport,
    OlaReport,
    OlaTicketReport,
    PerformanceReport,
    SatisfactionReport,
    SlaReport,
    TicketReport,
    TotalsReport,
)
from services.metrics.sla.service import OlaTicketQuery, ReportQuery, Scope
from shared.auth import Principal, require_roles
from shared.deps import MAX_INT32, ReadSession
from shared.errors import Unprocessable
from shared.serialization import utc_iso
from shared.tabular import Output, OutputQuery, table_response, table_responses
from shared.types import IsoDate, IsoDateTime

router = APIRouter(prefix="/api/v1/sla", tags=["sla reports"])
Reader = Annotated[Principal, Depends(require_roles("admin", "participant", "partner", "reader"))]
_Str = Annotated[str, Query(min_length=1, max_length=200)]


def report_filters(
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
) -> ReportQuery:
    return ReportQuery(
        priorities=list(priority) if priority else None,
        teams=team,
        closure_categories=closure_category,
        resolved_from=resolved_from,
        resolved_to=resolved_to,
        logged_from=logged_from,
        logged_to=logged_to,
    )


OrganisationsQuery = Annotated[
    list[Annotated[int, Query(ge=1, le=MAX_INT32)]] | None,
    Query(
        description="Organisations (repeat the parameter); default: all you may see. A shared "
        "service's rows cover its partners' tickets too"
    ),
]
Filters = Annotated[ReportQuery, Depends(report_filters)]


def report_query(
    principal: Reader,
    session: ReadSession,
    filters: Filters,
    organisation_id: OrganisationsQuery = None,
) -> tuple[Scope, ReportQuery]:
    scope = service.report_scope(session, principal, organisation_id)
    return scope, replace(filters, organisation_ids=scope.ids())


ReportScope = Annotated[tuple[Scope, ReportQuery], Depends(report_query)]


def ticket_query(
    principal: Reader,
    session: ReadSession,
    filters: Filters,
    organisation_id: Annotated[
        list[Annotated[int, Query(ge=1, le=MAX_INT32)]] | None,
        Query(
            description="Organisations (repeat the parameter); default: yours. A shared "
            "service stands for itself and its partners (its staff only: a partner lists its "
            "own tickets)"
        ),
    ] = None,
) -> tuple[list[int] | None, ReportQuery]:
    orgs = service.ticket_scope(session, principal, organisation_id)
    return orgs, replace(filters, organisation_ids=orgs)


TicketScope = Annotated[tuple[list[int] | None, ReportQuery], Depends(ticket_query)]
AsOf = Annotated[IsoDateTime | None, Query(description="ISO 8601 with offset; default now")]


def _moment(as_of: datetime | None) -> datetime:
    if as_of is not None and as_of.tzinfo is None:
        raise Unprocessable(
            "as_of needs a UTC offset, e.g. 2021-03-08T09:30:00Z.",
            errors=[{"field": "query.as_of", "message": "offset required"}],
        )
    # In UTC: an offset PostgreSQL cannot hold (beyond ±15:59) is still a valid instant.
    return (as_of or datetime.now(UTC)).astimezone(UTC)


def _notes(session: ReadSession, scope: Scope, **extra: str) -> dict[str, str]:
    """Every SLA report says how reopenings and priority changes were counted (from the
    policies in scope) and what a shared service's rows cover."""
    return {**extra, **service.rules_notes(session, scope.ids()), **service.scope_notes(scope)}


class FrameRows(Sequence[dict[str, Any]]):
    """A frame's rows as dicts, made only for the rows read: a JSON page converts its
    page, a CSV download streams in slices (a million-ticket view is never one list)."""

    def __init__(self, df: pl.DataFrame) -> None:
        self.df = df

    def __len__(self) -> int:
        return self.df.height

    @overload
    def __getitem__(self, index: int) -> dict[str, Any]: ...

    @overload
    def __getitem__(self, index: slice) -> list[dict[str, Any]]: ...

    def __getitem__(self, index: int | slice) -> dict[str, Any] | list[dict[str, Any]]:
        if isinstance(index, slice):
            start, stop, step = index.indices(self.df.height)
            rows = self.df.slice(start, max(0, stop - start)).to_dicts()
            return rows[::step] if step != 1 else rows
        return self.df.row(index, named=True)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for part in self.df.iter_slices(5000):
            yield from part.to_dicts()

    def __repr__(self) -> str:
        # What a download's ETag is made of (shared/tabular.py): the rows, not the object.
        rows = self.df.hash_rows(seed=11).to_numpy().tobytes()
        return f"FrameRows({self.df.columns!r}, {hashlib.sha256(rows).hexdigest()})"


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
        FrameRows(df),
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
def monthly(request: Request, session: ReadSession, rs: ReportScope, out: OutputQuery) -> Response:
    scope, q = rs
    return render(
        request,
        out,
        MonthlyReport,
        "monthly",
        service.monthly(session, scope.organisations, q, scope.services),
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
        _notes(
            session,
            scope,
            month_basis="month of resolution (Europe/London)",
            counted="resolved tickets; data-quality rejects excluded",
        ),
    )


@router.get(
    "/logged",
    response_model=LoggedReport,
    responses=table_responses(LoggedReport),
    summary="Tickets logged per month",
    description=_PAGING,
)
def logged(request: Request, session: ReadSession, rs: ReportScope, out: OutputQuery) -> Response:
    scope, q = rs
    return render(
        request,
        out,
        LoggedReport,
        "logged",
        service.logged(session, scope.organisations, q, scope.services),
        {**_MONTH, "logged": "tickets"},
        _notes(session, scope),
    )


@router.get(
    "/backlog",
    response_model=BacklogReport,
    responses=table_responses(BacklogReport),
    summary="Open (within / breached), on hold, reopened, as of a moment",
    description=_PAGING,
)
def backlog(
    request: Request, session: ReadSession, rs: ReportScope, out: OutputQuery, as_of: AsOf = None
) -> Response:
    scope, q = rs
    moment = _moment(as_of)
    units = {
        c: "tickets"
        for c in ("open", "open_within", "open_breached", "on_hold", "reopened", "data_quality")
    }
    return render(
        request,
        out,
        BacklogReport,
        "backlog",
        service.backlog(session, scope.organisations, q, moment, scope.services),
        units,
        _notes(
            session,
            scope,
            as_of=utc_iso(moment),
            reopened="tickets with a reopen count above 0, open or not",
        ),
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
    rs: ReportScope,
    out: OutputQuery,
    clock_basis: Annotated[
        Literal["24x7", "sla_clock"],
        Query(description="24x7 wall clock, or each ticket's SLA clock"),
    ] = "24x7",
) -> Response:
    scope, q = rs
    df = service.performance(session, scope.organisations, q, clock_basis, scope.services)
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
        _notes(
            session,
            scope,
            clock_basis=clock_basis,
            denominator="resolved incidents (first contact: all incidents)",
        ),
    )


@router.get(
    "/data-quality",
    response_model=DataQualityReport,
    responses=table_responses(DataQualityReport),
    summary="Tickets never counted as met or missed, with the reason",
    description=_PAGING,
)
def data_quality(
    request: Request, session: ReadSession, rs: ReportScope, out: OutputQuery
) -> Response:
    scope, q = rs
    return render(
        request,
        out,
        DataQualityReport,
        "data-quality",
        service.data_quality(session, scope.organisations, q, scope.services),
        {"logged_at": "UTC instant", "resolution_at": "UTC instant"},
        _notes(session, scope),
    )


_TOTAL_UNITS = {
    "met": "tickets",
    "missed": "tickets",
    "total": "tickets",
    "pct_met": "% of resolved tickets (2 dp, half-up)",
    "target_share_pct": "%",
    "target_achieved": "pct_met >= target_share_pct",
    "avg_closure_sla_clock_hours": "hours, SLA clock, pauses deducted",
    "avg_closure_wall_hours": "hours, wall clock (24x7), nothing deducted",
    "open_within": "tickets",
    "open_breached": "tickets",
}


@router.get(
    "/totals",
    response_model=TotalsReport,
    responses=table_responses(TotalsReport),
    summary="Totals over any date range, by priority, team or closure category",
    description="Met, missed and % met over the whole range given (resolved_from / "
    "resolved_to: a quarter, a year), not per month; grouped per organisation and the "
    "`by` columns (repeat the parameter; default priority). " + _PAGING,
)
def totals(
    request: Request,
    session: ReadSession,
    rs: ReportScope,
    out: OutputQuery,
    by: Annotated[
        list[Literal["priority", "team", "closure_category"]] | None,
        Query(description="Group by (repeat): priority, team, closure_category"),
    ] = None,
) -> Response:
    scope, q = rs
    grouped = list(dict.fromkeys(by or ["priority"]))
    df = service.totals(session, scope.organisations, q, grouped, scope.services)
    return render(
        request,
        out,
        TotalsReport,
        "totals",
        df,
        _TOTAL_UNITS,
        _notes(
            session,
            scope,
            by=", ".join(["organisation_id", *grouped]),
            range=f"resolved {q.resolved_from or 'any time'} to {q.resolved_to or 'any time'} "
            "(local dates, inclusive)",
            counted="met/missed: resolved tickets; open: tickets open when last computed",
        ),
    )


_TICKET_UNITS = {
    "target_seconds": "seconds on the policy's clock",
    "elapsed_seconds": "seconds on the policy's clock, pauses deducted",
    "remaining_seconds": "seconds on the policy's clock (negative: over the target)",
    "pct_target_elapsed": "% of the target (2 dp, half-up)",
    "warning_pct": "% of the target (a threshold of the policy)",
    "paused_seconds": "seconds on the policy's clock",
    "pending_seconds": "seconds on the policy's clock",
    "response_target_seconds": "seconds on the policy's clock",
    "response_elapsed_seconds": "seconds on the policy's clock",
    "logged_at": "UTC instant",
    "resolution_at": "UTC instant",
    "due_at": "UTC instant",
}


@router.get(
    "/tickets",
    response_model=TicketReport,
    responses=table_responses(TicketReport),
    summary="Per ticket: policy, target, elapsed, remaining, due, % elapsed, status",
    description="Every ticket logged by `as_of` (default now): open ones evaluated as of "
    "that moment, the others as computed. Filter by status (repeat), by warning (open "
    "tickets at or past a warning threshold of their policy) and by the report filters. " + _PAGING,
)
def tickets(
    request: Request,
    session: ReadSession,
    ts: TicketScope,
    out: OutputQuery,
    as_of: AsOf = None,
    status: Annotated[
        list[Literal["met", "missed", "open_within", "open_breached", "data_quality"]] | None,
        Query(description="Statuses (repeat the parameter)"),
    ] = None,
    warning: Annotated[
        bool, Query(description="Only open tickets at or past a warning threshold")
    ] = False,
) -> Response:
    orgs, q = ts
    moment = _moment(as_of)
    df = service.tickets(session, orgs, q, moment, statuses=status, warning_only=warning)
    return render(
        request,
        out,
        TicketReport,
        "tickets",
        df,
        _TICKET_UNITS,
        _notes(session, Scope(orgs), as_of=utc_iso(moment)),
    )


@router.get(
    "/breach-forecast",
    response_model=BreachForecastReport,
    responses=table_responses(BreachForecastReport),
    summary="Open tickets that breach within the next N working hours if untouched",
    description="Open tickets within their target at `as_of` (default now) whose "
    "remaining time on their own policy's clock is at most `within_hours` working hours: "
    "they breach by then unless resolved or paused. Soonest due first. " + _PAGING,
)
def breach_forecast(
    request: Request,
    session: ReadSession,
    ts: TicketScope,
    out: OutputQuery,
    within_hours: Annotated[
        float, Query(gt=0, le=10_000, description="Working hours ahead (on each ticket's clock)")
    ] = 8,
    as_of: AsOf = None,
) -> Response:
    orgs, q = ts
    moment = _moment(as_of)
    df = service.breach_forecast(session, orgs, q, moment, within_hours)
    return render(
        request,
        out,
        BreachForecastReport,
        "breach-forecast",
        df,
        _TICKET_UNITS,
        _notes(
            session,
            Scope(orgs),
            as_of=utc_iso(moment),
            within_hours=f"{within_hours:g} working hours on each ticket's policy clock",
        ),
    )


@router.get(
    "/olas",
    response_model=OlaReport,
    responses=table_responses(OlaReport),
    summary="OLAs per resolver group: met, missed, % met, open",
    description="Each resolver group's operational-level agreement: its clock runs while a "
    "ticket is assigned to the group (from its ticket histories). Evaluated as of `as_of` "
    "(default now); filtered by the ticket filters. " + _PAGING,
)
def olas(
    request: Request, session: ReadSession, rs: ReportScope, out: OutputQuery, as_of: AsOf = None
) -> Response:
    scope, q = rs
    moment = _moment(as_of)
    return render(
        request,
        out,
        OlaReport,
        "olas",
        service.olas(session, scope.organisations, q, moment, scope.services),
        {
            "met": "ticket assignments to the group",
            "missed": "ticket assignments to the group",
            "total": "ticket assignments to the group",
            "pct_met": "% (2 dp, half-up)",
            "target_share_pct": "%",
            "open_within": "ticket assignments",
            "open_breached": "ticket assignments",
        },
        _notes(session, scope, as_of=utc_iso(moment)),
    )


@router.get(
    "/ola-tickets",
    response_model=OlaTicketReport,
    responses=table_responses(OlaTicketReport),
    summary="Per ticket and resolver group: OLA, target, elapsed, remaining, due, status",
    description="Each ticket's time with each resolver group that has an OLA, as of `as_of` "
    "(default now): the OLA in words, its target, elapsed (pauses deducted), remaining, due "
    "time while assigned, % of the target elapsed and status (met, missed, open_within, "
    "open_warning at or past `warning_pct` % of the target, open_breached). Filter by "
    "resolver group and status (repeat either), by the date of the first assignment to the "
    "group (assigned_from / assigned_to, local dates) and by the ticket filters. " + _PAGING,
)
def ola_tickets(
    request: Request,
    session: ReadSession,
    ts: TicketScope,
    out: OutputQuery,
    as_of: AsOf = None,
    resolver_group: Annotated[
        list[_Str] | None,
        Query(description="Resolver groups (repeat; case and surrounding spaces ignored)"),
    ] = None,
    status: Annotated[
        list[Literal["met", "missed", "open_within", "open_warning", "open_breached"]] | None,
        Query(description="Statuses (repeat the parameter)"),
    ] = None,
    assigned_from: Annotated[
        IsoDate | None, Query(description="First assigned to the group on or after (local)")
    ] = None,
    assigned_to: Annotated[
        IsoDate | None, Query(description="First assigned to the group on or before (local)")
    ] = None,
    warning_pct: Annotated[
        float,
        Query(
            gt=0,
            le=100,
            description="% of the OLA's target elapsed from which an open assignment within "
            "it is open_warning (OLA policies carry no thresholds of their own)",
        ),
    ] = 75,
) -> Response:
    orgs, q = ts
    if assigned_from and assigned_to and assigned_to < assigned_from:
        raise Unprocessable(
            "assigned_to is before assigned_from.",
            errors=[{"field": "query.assigned_to", "message": "before assigned_from"}],
        )
    moment = _moment(as_of)
    o = OlaTicketQuery(
        resolver_groups=resolver_group,
        statuses=list(status) if status else None,
        assigned_from=assigned_from,
        assigned_to=assigned_to,
        warning_pct=warning_pct,
    )
    return render(
        request,
        out,
        OlaTicketReport,
        "ola-tickets",
        service.ola_tickets(session, orgs, q, moment, o),
        {
            "target_seconds": "seconds on the OLA's clock",
            "elapsed_seconds": "seconds on the OLA's clock, pauses deducted",
            "paused_seconds": "seconds on the OLA's clock",
            "remaining_seconds": "seconds on the OLA's clock (negative: over the target)",
            "pct_target_elapsed": "% of the target (2 dp, half-up)",
            "assignments": "assignments to the group",
            "resolution_at": "UTC instant",
            "assigned_at": "UTC instant",
            "released_at": "UTC instant",
            "due_at": "UTC instant",
        },
        _notes(
            session,
            Scope(orgs),
            as_of=utc_iso(moment),
            warning=f"open_warning: still assigned, within the target, at or past "
            f"{warning_pct:g} % of it elapsed",
        ),
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
