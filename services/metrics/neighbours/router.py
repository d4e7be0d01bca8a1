from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from services.metrics.neighbours import service
from services.metrics.neighbours.schemas import (
    NeighbourRow,
    Neighbours,
    SavedPeerGroup,
    SavePeerGroup,
)
from shared.auth import CurrentPrincipal
from shared.deps import MAX_INT32, AppSettings, DbSession, IdPath
from shared.pagination import Page, PageParams, make_page, page_params
from shared.tabular import OutputQuery, table_response, table_responses

router = APIRouter(tags=["peers"])


@router.get(
    "/api/v1/peers/nearest",
    response_model=Neighbours,
    responses=table_responses(Neighbours),
    summary="My nearest peers by statistical distance, with each variable's contribution",
)
def nearest(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    principal: CurrentPrincipal,
    organisation_id: Annotated[int, Query(ge=1, le=MAX_INT32)],
    cycle: Annotated[int, Query(ge=2000, le=2100, description="Cycle (collection year)")],
    out: OutputQuery,
    count: Annotated[int, Query(ge=1, le=100, description="Neighbours to suggest")] = 15,
) -> Response:
    access = service.access_for(session, settings, principal, organisation_id, cycle)
    data = service.nearest(session, access, organisation_id, count)
    rows = data.pop("rows")
    return table_response(
        request, out, Neighbours, list(NeighbourRow.model_fields), rows, f"nearest-{cycle}", **data
    )


@router.post(
    "/api/v1/saved-peer-groups",
    status_code=201,
    response_model=SavedPeerGroup,
    summary="Save my nearest neighbours as a custom peer group (use it as peer_group=saved:<id>)",
)
def save(
    body: SavePeerGroup, session: DbSession, settings: AppSettings, principal: CurrentPrincipal
) -> JSONResponse:
    access = service.access_for(session, settings, principal, body.organisation_id, body.cycle)
    saved = SavedPeerGroup(
        **service.save(session, access, principal, body.organisation_id, body.name, body.count)
    )
    return JSONResponse(
        saved.model_dump(mode="json"),
        status_code=201,
        headers={"Location": f"/api/v1/saved-peer-groups/{saved.id}"},
    )


@router.get(
    "/api/v1/saved-peer-groups",
    response_model=Page[SavedPeerGroup],
    summary="Saved peer groups: all for admins, your organisations' otherwise",
)
def list_saved(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    params: Annotated[PageParams, Depends(page_params)],
    organisation_id: Annotated[int | None, Query(ge=1, le=MAX_INT32)] = None,
) -> Page[SavedPeerGroup]:
    rows, total = service.listing(session, principal, organisation_id, params.limit, params.offset)
    return make_page(request, [SavedPeerGroup(**r) for r in rows], total, params)


@router.get(
    "/api/v1/saved-peer-groups/{group_id}",
    response_model=SavedPeerGroup,
    summary="One saved peer group: its members as codes",
)
def get_saved(group_id: IdPath, session: DbSession, principal: CurrentPrincipal) -> SavedPeerGroup:
    return SavedPeerGroup(**service.get(session, principal, group_id))
