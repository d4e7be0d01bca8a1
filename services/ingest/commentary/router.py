from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from services.ingest.commentary import service
from services.ingest.commentary.schemas import Comment, CommentaryIn, Measure, Section
from shared.auth import CurrentPrincipal
from shared.bodies import MiB
from shared.deps import DbSession, IdPath
from shared.pagination import Page, PageParams, make_page
from shared.periods import FinancialYearPath, PeriodPath
from shared.tabular import OutputQuery, table_response, table_responses

router = APIRouter(prefix="/api/v1/organisations/{organisation_id}", tags=["commentary"])

ACCESS = (
    " Readable by administrators, the service's own principals and its partners' "
    "principals; written by administrators and the service's participants."
)


@router.get(
    "/commentary/{financial_year}/{period}",
    response_model=Page[Comment],
    responses=table_responses(Page[Comment]),
    summary="The service's commentary for a period, in the pack's section order",
    description=ACCESS.strip(),
)
def list_commentary(
    request: Request,
    organisation_id: IdPath,
    financial_year: FinancialYearPath,
    period: PeriodPath,
    session: DbSession,
    principal: CurrentPrincipal,
    out: OutputQuery,
    section: Annotated[Section | None, Query(description="Only this section")] = None,
) -> Response:
    rows = service.listing(session, principal, organisation_id, financial_year, period, section)
    return table_response(
        request,
        out,
        Page[Comment],
        list(Comment.model_fields),
        rows,
        f"commentary-{financial_year}-p{period}",
    )


@router.put(
    "/commentary/{financial_year}/{period}",
    response_model=Page[Comment],
    summary="Write section summaries and measure comments for a period",
    max_body_size=16 * MiB,  # 200 entries of up to 10,000 characters
    description="Each entry is created or replaced (by section and measure; measure '' is "
    "the section's summary); entries not sent stay. Answers with the period's whole "
    "commentary." + ACCESS,
)
def put_commentary(
    request: Request,
    organisation_id: IdPath,
    financial_year: FinancialYearPath,
    period: PeriodPath,
    body: CommentaryIn,
    session: DbSession,
    principal: CurrentPrincipal,
) -> Page[Comment]:
    rows = service.put(session, principal, organisation_id, financial_year, period, body)
    params = PageParams(limit=max(len(rows), 1), offset=0)
    return make_page(request, [Comment(**r) for r in rows], len(rows), params)


@router.delete(
    "/commentary/{financial_year}/{period}/{section}",
    status_code=204,
    summary="Remove a section summary (or, with ?measure=, a measure's comment)",
)
def delete_comment(
    organisation_id: IdPath,
    financial_year: FinancialYearPath,
    period: PeriodPath,
    section: Annotated[Section, Path(description="The pack section")],
    session: DbSession,
    principal: CurrentPrincipal,
    measure: Annotated[Measure, Query(description="The measure; empty: the summary")] = "",
) -> Response:
    service.remove(session, principal, organisation_id, financial_year, period, section, measure)
    return Response(status_code=204)
