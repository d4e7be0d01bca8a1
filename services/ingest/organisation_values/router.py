from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import Response

from services.ingest.organisation_values import service
from services.ingest.organisation_values.schemas import ValueMapping, ValueMappingIn
from shared.auth import CurrentPrincipal, Principal, require_roles
from shared.deps import DbSession, IdPath
from shared.pagination import Page, PageParams, make_page
from shared.tabular import OutputQuery, table_response, table_responses

router = APIRouter(
    prefix="/api/v1/organisations/{organisation_id}/organisation-values",
    tags=["organisation values"],
)
Editor = Annotated[Principal, Depends(require_roles("admin", "participant", "partner"))]
SourceSystem = Annotated[
    str,
    Path(min_length=1, max_length=100, pattern=r"^[^\x00]*$", description="The source system"),
]
COLUMNS = list(ValueMapping.model_fields)


@router.get(
    "",
    response_model=Page[ValueMapping],
    responses=table_responses(Page[ValueMapping]),
    summary="How this organisation's exports name organisations (value mappings)",
    description="Every value mapping of the organisation, by source system and value. "
    "`format=csv` gives the same columns as CSV.",
)
def list_values(
    request: Request,
    organisation_id: IdPath,
    session: DbSession,
    principal: CurrentPrincipal,
    out: OutputQuery,
    source_system: Annotated[
        str | None, Query(min_length=1, max_length=100, description="Only this source system")
    ] = None,
) -> Response:
    rows = service.listing(session, principal, organisation_id, source_system)
    return table_response(
        request, out, Page[ValueMapping], COLUMNS, rows, f"organisation-values-{organisation_id}"
    )


@router.put(
    "/{source_system}",
    response_model=Page[ValueMapping],
    summary="Set how one source system's exports name organisations",
    description="Replaces the mapping for the source system whole. Each value must map to "
    "an organisation you may push tickets for (yours, or a partner of your shared "
    "service); a bad entry is a 422 naming it (`values.<value>`) and nothing changes. "
    "Imports for this organisation and source system then translate their organisation "
    "column through it; a value not in it is refused by row.",
)
def replace_values(
    request: Request,
    organisation_id: IdPath,
    source_system: SourceSystem,
    body: ValueMappingIn,
    session: DbSession,
    principal: Editor,
) -> Page[ValueMapping]:
    rows = service.replace(session, principal, organisation_id, source_system, body)
    params = PageParams(limit=max(len(rows), 1), offset=0)
    return make_page(request, [ValueMapping(**r) for r in rows], len(rows), params)


@router.delete(
    "/{source_system}",
    status_code=204,
    summary="Remove one source system's value mapping",
)
def delete_values(
    organisation_id: IdPath, source_system: SourceSystem, session: DbSession, principal: Editor
) -> Response:
    service.remove(session, principal, organisation_id, source_system)
    return Response(status_code=204)
