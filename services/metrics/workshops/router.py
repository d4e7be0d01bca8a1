from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from services.metrics.workshops import service
from services.metrics.workshops.schemas import NamedViewRow, NamedViews
from shared.auth import AdminPrincipal
from shared.deps import MAX_INT32, DbSession
from shared.tabular import OutputQuery, table_response, table_responses

# Not under /api/v1/workshops: that prefix is ingest's, and the proxy routes by prefix.
router = APIRouter(prefix="/api/v1/named-views", tags=["workshops"])


@router.get(
    "",
    response_model=NamedViews,
    responses=table_responses(NamedViews),
    summary="The audit trail of named views: who saw names in a workshop, when (admins)",
    description="Oldest first. JSON: a page of `limit` rows (500 unless asked); CSV "
    "(`format=csv`): every row with the same columns (`named_organisations` as a JSON array).",
)
def list_named_views(
    request: Request,
    session: DbSession,
    _principal: AdminPrincipal,
    out: OutputQuery,
    workshop_id: Annotated[
        int | None, Query(ge=1, le=MAX_INT32, description="Only this workshop's (ingest's id)")
    ] = None,
) -> Response:
    rows = service.trail(session, workshop_id)
    name = f"workshop-{workshop_id}-named-views" if workshop_id else "named-views"
    return table_response(request, out, NamedViews, list(NamedViewRow.model_fields), rows, name)
