from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from services.metrics.feedback import service
from services.metrics.sla.router import render
from services.metrics.sla.schemas import Report
from services.metrics.sla.service import visible_organisations
from shared.auth import Principal, require_roles
from shared.deps import MAX_INT32, DbSession
from shared.errors import Unprocessable
from shared.tabular import CsvBom

router = APIRouter(prefix="/api/v1/sla/feedback", tags=["feedback reports"])
Reader = Annotated[Principal, Depends(require_roles("admin", "participant", "partner", "reader"))]
Format = Annotated[Literal["json", "csv"], Query(description="json, or csv with the same columns")]
_CSV: dict[int | str, dict[str, object]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}}}
}


def feedback_scope(
    principal: Reader,
    organisation_id: Annotated[
        list[Annotated[int, Query(ge=1, le=MAX_INT32)]] | None,
        Query(description="Organisations (repeat the parameter); default: all you may see"),
    ] = None,
    month_from: Annotated[date | None, Query(description="First month (any day in it)")] = None,
    month_to: Annotated[date | None, Query(description="Last month (any day in it)")] = None,
) -> tuple[list[int] | None, date | None, date | None]:
    if month_from and month_to and month_to < month_from:
        raise Unprocessable(
            "month_to is before month_from.",
            errors=[{"field": "query.month_to", "message": "before month_from"}],
        )
    return visible_organisations(principal, organisation_id), month_from, month_to


Scope = Annotated[tuple[list[int] | None, date | None, date | None], Depends(feedback_scope)]
_NOTES = {
    "month": "first day of the month (Europe/London); null = the organisation's whole period",
    "month_basis": "ticket-export ratings: month of resolution (logged if unresolved); "
    "endpoint ratings: month received",
}


@router.get(
    "/nps",
    response_model=Report,
    responses=_CSV,
    summary="Net Promoter Score by month and organisation (ticket exports and feedback)",
)
def nps(session: DbSession, scope: Scope, format: Format = "json", bom: CsvBom = False) -> Response:
    orgs, start, end = scope
    return render(
        "feedback-nps",
        service.nps(session, orgs, start, end),
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
            **_NOTES,
            "combined": "a rating sent through POST /api/v1/feedback for a ticket replaces "
            "the rating in that ticket's export",
        },
        bom=bom,
    )


@router.get(
    "/satisfaction",
    response_model=Report,
    responses=_CSV,
    summary="Mean post-interaction satisfaction (1-7) by month and organisation",
)
def satisfaction(
    session: DbSession, scope: Scope, format: Format = "json", bom: CsvBom = False
) -> Response:
    orgs, start, end = scope
    return render(
        "feedback-satisfaction",
        service.satisfaction(session, orgs, start, end),
        format,
        {
            "ratings": "1-7 ratings",
            "mean_satisfaction": "mean rating on the 1-7 scale (2 dp, half-up)",
            "satisfied": "ratings of 5-7",
            "dissatisfied": "ratings of 1-3",
        },
        _NOTES,
        bom=bom,
    )
