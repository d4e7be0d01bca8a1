from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import JSONResponse, Response

from services.metrics.surveys import service
from services.metrics.surveys.schemas import SurveyResults, Table
from shared.auth import Principal, require_roles
from shared.deps import AppSettings, DbSession, IdPath
from shared.tabular import CsvBom, csv_response

router = APIRouter(prefix="/api/v1/survey-results", tags=["survey results"])
Reader = Annotated[Principal, Depends(require_roles("admin", "participant", "reader"))]
Format = Annotated[Literal["json", "csv"], Query(description="json or csv (same columns)")]
TABLE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The table as JSON, or as CSV with the same columns",
        "model": Table,  # so the schema lands in components (a bare $ref dangled)
        "content": {"text/csv": {"schema": {"type": "string"}}},
    }
}


def _table(
    columns: list[str], rows: list[dict[str, Any]], fmt: str, name: str, bom: bool
) -> Response:
    if fmt == "json":
        return JSONResponse(Table(columns=columns, rows=rows).model_dump(mode="json"))
    return csv_response(columns, rows, name, bom=bom)


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
    response_class=Response,
    responses=TABLE_RESPONSES,
    summary="Per factor: satisfaction, importance, gap, weight gap",
)
def factors(
    campaign_id: IdPath,
    session: DbSession,
    principal: Reader,
    format: Format = "json",
    bom: CsvBom = False,
) -> Response:
    columns, rows = service.table(session, principal, campaign_id, "factors")
    return _table(columns, rows, format, f"campaign-{campaign_id}-factors", bom)


@router.get(
    "/campaigns/{campaign_id}/breakdowns",
    response_class=Response,
    responses=TABLE_RESPONSES,
    summary="Breakdowns by attribute, small cells suppressed",
)
def breakdowns(
    campaign_id: IdPath,
    session: DbSession,
    principal: Reader,
    format: Format = "json",
    bom: CsvBom = False,
) -> Response:
    columns, rows = service.table(session, principal, campaign_id, "breakdowns")
    return _table(columns, rows, format, f"campaign-{campaign_id}-breakdowns", bom)


@router.get(
    "/campaigns/{campaign_id}/comments",
    response_class=Response,
    responses=TABLE_RESPONSES,
    summary="Comments (the organisation's own users only)",
)
def comments(
    campaign_id: IdPath,
    session: DbSession,
    principal: Reader,
    format: Format = "json",
    bom: CsvBom = False,
) -> Response:
    columns, rows = service.comments(session, principal, campaign_id)
    return _table(columns, rows, format, f"campaign-{campaign_id}-comments", bom)


@router.get(
    "/benchmark",
    response_class=Response,
    responses=TABLE_RESPONSES,
    summary="User-satisfaction metrics across organisations: median and quartiles",
)
def benchmark(
    session: DbSession,
    settings: AppSettings,
    principal: Reader,
    cycle_id: Annotated[int, Query(ge=1, le=2_147_483_647)],
    format: Format = "json",
    bom: CsvBom = False,
) -> Response:
    columns, rows = service.benchmark(session, principal, cycle_id, settings.disclosure_min_n)
    return _table(columns, rows, format, f"survey-benchmark-{cycle_id}", bom)


@router.get(
    "/nps",
    response_class=Response,
    responses=TABLE_RESPONSES,
    summary="NPS by organisation and month",
)
def nps(
    session: DbSession,
    principal: Reader,
    organisation_id: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
    format: Format = "json",
    bom: CsvBom = False,
) -> Response:
    columns, rows = service.nps(session, principal, organisation_id)
    return _table(columns, rows, format, "nps", bom)
