from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from services.metrics.surveys import pictures, service
from services.metrics.surveys.schemas import (
    BreakdownTable,
    CommentTable,
    FactorTable,
    SurveyBenchmarkTable,
    SurveyResults,
    Table,
)
from shared.auth import Principal, require_roles
from shared.clock import Now
from shared.deps import AppSettings, DbSession, IdPath
from shared.images import CHART_RESPONSES, ChartFormatQuery, chart_bytes, chart_response
from shared.tabular import OutputQuery, table_response, table_responses

router = APIRouter(prefix="/api/v1/survey-results", tags=["survey results"])
Reader = Annotated[Principal, Depends(require_roles("admin", "participant", "reader"))]
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
    **meta: Any,
) -> Response:
    return table_response(request, out, envelope, columns, rows, name, columns=columns, **meta)


@router.get(
    "/campaigns/{campaign_id}", response_model=SurveyResults, summary="A campaign's results"
)
def campaign_results(campaign_id: IdPath, session: DbSession, principal: Reader) -> SurveyResults:
    return SurveyResults(**service.results(session, principal, campaign_id))


@router.post(
    "/campaigns/{campaign_id}/compute",
    response_model=SurveyResults,
    summary="Compute a campaign's results now",
)
def compute_results(campaign_id: IdPath, session: DbSession, principal: Reader) -> SurveyResults:
    return SurveyResults(**service.recompute(session, principal, campaign_id))


@router.get(
    "/campaigns/{campaign_id}/factors",
    response_model=FactorTable,
    responses=table_responses(FactorTable),
    summary="Per factor: satisfaction, importance, gap, weight gap",
    description=_PAGING,
)
def factors(
    request: Request, campaign_id: IdPath, session: DbSession, principal: Reader, out: OutputQuery
) -> Response:
    columns, rows = service.table(session, principal, campaign_id, "factors")
    return _table(request, out, FactorTable, columns, rows, f"campaign-{campaign_id}-factors")


@router.get(
    "/campaigns/{campaign_id}/breakdowns",
    response_model=BreakdownTable,
    responses=table_responses(BreakdownTable),
    summary="Breakdowns by attribute, small cells suppressed",
    description=_PAGING,
)
def breakdowns(
    request: Request, campaign_id: IdPath, session: DbSession, principal: Reader, out: OutputQuery
) -> Response:
    columns, rows = service.table(session, principal, campaign_id, "breakdowns")
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
    now: Now,
    cycle: Annotated[int, Query(ge=2000, le=2100, description="Cycle (collection year)")],
) -> Response:
    resource = f"{request.url.path}?{request.url.query}"
    columns, rows, workshop_ids = service.benchmark(
        session, principal, cycle, settings.disclosure_min_n, now, resource
    )
    return _table(
        request,
        out,
        SurveyBenchmarkTable,
        columns,
        rows,
        f"survey-benchmark-{cycle}",
        workshop_ids=workshop_ids,
    )


# ------------------------------------------------------------------ pictures


@router.get(
    "/campaigns/{campaign_id}/charts/factors",
    response_class=Response,
    responses=CHART_RESPONSES,
    summary="Satisfaction, importance and weight gap per factor, drawn (SVG or PNG)",
)
def factors_chart(
    request: Request,
    campaign_id: IdPath,
    session: DbSession,
    principal: Reader,
    format: ChartFormatQuery = "svg",
) -> Response:
    found = service.results(session, principal, campaign_id)
    return chart_response(request, chart_bytes(pictures.factors(found), format), format)


@router.get(
    "/campaigns/{campaign_id}/charts/breakdowns",
    response_class=Response,
    responses=CHART_RESPONSES,
    summary="Overall satisfaction by one attribute (e.g. device type), drawn (SVG or PNG)",
    description="Cells too small to show are drawn as a dash and named, with the reason, "
    "in the chart's description.",
)
def breakdown_chart(
    request: Request,
    campaign_id: IdPath,
    session: DbSession,
    principal: Reader,
    attribute: Annotated[
        str, Query(min_length=1, max_length=100, description="e.g. attr.device_type")
    ],
    format: ChartFormatQuery = "svg",
) -> Response:
    found = service.results(session, principal, campaign_id)
    svg = pictures.breakdown(found, attribute)
    return chart_response(request, chart_bytes(svg, format), format)
