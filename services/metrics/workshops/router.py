from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from services.metrics.workshops import service
from services.metrics.workshops.schemas import NamedViewRow, NamedViews
from shared.auth import AdminPrincipal
from shared.deps import DbSession, IdPath
from shared.tabular import OutputQuery, table_response, table_responses

router = APIRouter(prefix="/api/v1/workshops", tags=["workshops"])


@router.get(
    "/{workshop_id}/named-views",
    response_model=NamedViews,
    responses=table_responses(NamedViews),
    summary="The audit trail of a workshop's named views: who saw names, when (admins)",
    description="Oldest first. JSON: a page of `limit` rows (500 unless asked); CSV "
    "(`format=csv`): every row with the same columns (`named_organisations` as a JSON array).",
)
def named_views(
    request: Request,
    workshop_id: IdPath,
    session: DbSession,
    _principal: AdminPrincipal,
    out: OutputQuery,
) -> Response:
    rows = service.trail(session, workshop_id)
    columns = list(NamedViewRow.model_fields)
    return table_response(
        request, out, NamedViews, columns, rows, f"workshop-{workshop_id}-named-views"
    )
