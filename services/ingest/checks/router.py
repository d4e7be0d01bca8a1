from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from services.ingest.checks import service
from services.ingest.checks.schemas import (
    FlagRow,
    FlagTable,
    OrganisationQualityRow,
    OrganisationQualityTable,
    QualityRow,
    QualityTable,
)
from shared.auth import CurrentPrincipal
from shared.deps import MAX_INT32, DbSession, IdPath
from shared.tabular import OutputQuery, table_response, table_responses

router = APIRouter(tags=["checks"])

CycleFilter = Annotated[
    int | None, Query(ge=2000, le=2100, description="Only this cycle (its year, e.g. 2021)")
]
OrgFilter = Annotated[int | None, Query(ge=1, le=MAX_INT32, description="Only this organisation")]


@router.get(
    "/api/v1/submissions/{submission_id}/flags",
    response_model=FlagTable,
    responses=table_responses(FlagTable),
    summary="The submission's outlier flags, each with its reason, the numbers behind it "
    "and the participant's comment",
)
def list_flags(
    request: Request,
    submission_id: IdPath,
    session: DbSession,
    principal: CurrentPrincipal,
    out: OutputQuery,
) -> Response:
    sub, rows = service.flag_rows(session, principal, submission_id)
    return table_response(
        request,
        out,
        FlagTable,
        list(FlagRow.model_fields),
        rows,
        f"flags-{submission_id}",
        submission_id=submission_id,
        state=sub["state"],
    )


@router.get(
    "/api/v1/data-quality/submissions",
    response_model=QualityTable,
    responses=table_responses(QualityTable),
    summary="Data quality per submission: the score and its parts (admins: all; "
    "participants: their organisations')",
)
def submission_quality(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    out: OutputQuery,
    cycle: CycleFilter = None,
    organisation_id: OrgFilter = None,
) -> Response:
    rows = service.quality_rows(session, principal, cycle, organisation_id)
    return table_response(
        request,
        out,
        QualityTable,
        list(QualityRow.model_fields),
        rows,
        "data-quality-submissions",
        cycle_year=cycle,
    )


@router.get(
    "/api/v1/data-quality/organisations",
    response_model=OrganisationQualityTable,
    responses=table_responses(OrganisationQualityTable),
    summary="Data quality per organisation and cycle: the mean of its submissions' scores",
)
def organisation_quality(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    out: OutputQuery,
    cycle: CycleFilter = None,
    organisation_id: OrgFilter = None,
) -> Response:
    rows = service.organisation_quality(session, principal, cycle, organisation_id)
    return table_response(
        request,
        out,
        OrganisationQualityTable,
        list(OrganisationQualityRow.model_fields),
        rows,
        "data-quality-organisations",
        cycle_year=cycle,
    )
