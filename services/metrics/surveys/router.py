from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from services.metrics.surveys import service
from services.metrics.surveys.schemas import (
    BreakdownTable,
    CommentTable,
    FactorTable,
    SurveyBenchmarkTable,
    SurveyResults,
    Table,
)
from shared.auth import Principal, require_roles
from shared.deps import AppSettings, DbSession, IdPath
from shared.tabular import OutputQuery, table_response, table_responses

router = APIRouter(prefix="/api/v1/survey-results", tags=["survey results"])
Reader = Annotated[Principal, Depends(require_roles("admin", "participant", "reader"))]
AudienceQuery = Annotated[
    Literal["internal", "publication"] | None,
    Query(
        description="internal (the organisation's own staff: the campaign's threshold; the "
        "default for its staff and admins) or publication (what other organisations, exports "
        "and BI see: n >= the publication minimum and a response rate >= the publication "
        "rate; always the view of a reader key)"
    ),
]
_PAGING = (
    "JSON: a page of `limit` rows (500 unless asked) in `items`, with `columns`; CSV "
    "(`format=csv`): every row with the same columns, or the page asked for with "
    "`limit`/`offset` (then `X-Total-Count` and a `Link` rel=next)."
)


def _table(
    request: Request,
    out: Any,
    envelope: type[Table[Any]],
    columns: list[str],
    rows: list[dict[str, Any]],
    name: str,
) -> Response:
    return table_response(request, out, envelope, columns, rows, name, columns=columns)


@router.get(
    "/campaigns/{campaign_id}", response_model=SurveyResults, summary="A campaign's results"
)
def campaign_results(
    campaign_id: IdPath,
    session: DbSession,
    settings: AppSettings,
    principal: Reader,
    audience: AudienceQuery = None,
) -> SurveyResults:
    return SurveyResults(**service.results(session, principal, campaign_id, settings, audience))


@router.post(
    "/campaigns/{campaign_id}/compute",
    response_model=SurveyResults,
    summary="Compute a campaign's results now",
)
def compute_results(
    campaign_id: IdPath, session: DbSession, settings: AppSettings, principal: Reader
) -> SurveyResults:
    return SurveyResults(**service.recompute(session, principal, campaign_id, settings))


@router.get(
    "/campaigns/{campaign_id}/factors",
    response_model=FactorTable,
    responses=table_responses(FactorTable),
    summary="Per factor: satisfaction, importance, gap, weight gap",
    description=_PAGING,
)
def factors(
    request: Request,
    campaign_id: IdPath,
    session: DbSession,
    settings: AppSettings,
    principal: Reader,
    out: OutputQuery,
    audience: AudienceQuery = None,
) -> Response:
    columns, rows = service.table(session, principal, campaign_id, "factors", settings, audience)
    return _table(request, out, FactorTable, columns, rows, f"campaign-{campaign_id}-factors")


@router.get(
    "/campaigns/{campaign_id}/breakdowns",
    response_model=BreakdownTable,
    responses=table_responses(BreakdownTable),
    summary="Breakdowns by attribute, small cells suppressed",
    description=_PAGING,
)
def breakdowns(
    request: Request,
    campaign_id: IdPath,
    session: DbSession,
    settings: AppSettings,
    principal: Reader,
    out: OutputQuery,
    audience: AudienceQuery = None,
) -> Response:
    columns, rows = service.table(session, principal, campaign_id, "breakdowns", settings, audience)
    return _table(request, out, BreakdownTable, columns, rows, f"campaign-{campaign_id}-breakdowns")


@router.get(
    "/campaigns/{campaign_id}/comments",
    response_model=CommentTable,
    responses=table_responses(CommentTable),
    summary="Comments (the organisation's own users only)",
    description=_PAGING,
)
def comments(
    request: Request, campaign_id: IdPath, session: DbSession, principal: Reader, out: OutputQuery
) -> Response:
    columns, rows = service.comments(session, principal, campaign_id)
    return _table(request, out, CommentTable, columns, rows, f"campaign-{campaign_id}-comments")


@router.get(
    "/benchmark",
    response_model=SurveyBenchmarkTable,
    responses=table_responses(SurveyBenchmarkTable),
    summary="User-satisfaction metrics across organisations: median and quartiles",
    description=_PAGING + " In CSV, `values` is a JSON array in one cell.",
)
def benchmark(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    principal: Reader,
    out: OutputQuery,
    cycle: Annotated[int, Query(ge=2000, le=2100, description="Cycle (collection year)")],
) -> Response:
    columns, rows = service.benchmark(session, principal, cycle, settings.disclosure_min_n)
    return _table(request, out, SurveyBenchmarkTable, columns, rows, f"survey-benchmark-{cycle}")
