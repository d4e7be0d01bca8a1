from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse

from services.ingest.cycles import service
from services.ingest.cycles.schemas import (
    Cycle,
    CycleCreate,
    CycleUpdate,
    OrganisationCode,
    OrganisationCodeAdmin,
)
from shared.auth import AdminPrincipal, CurrentPrincipal
from shared.db.tables.ingest import ingest_idempotency
from shared.deps import DbSession, IdPath
from shared.idempotency import idempotent_create
from shared.pagination import Page, PageParams, make_page, page_params

router = APIRouter(prefix="/api/v1/cycles", tags=["cycles"])


@router.post("", status_code=201, response_model=Cycle, summary="Create a benchmarking cycle")
def create_cycle(
    request: Request,
    body: CycleCreate,
    session: DbSession,
    principal: AdminPrincipal,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    return idempotent_create(
        request,
        session,
        ingest_idempotency,
        principal,
        idempotency_key,
        body,
        lambda: Cycle(**service.create(session, body)),
        location=lambda created: f"{router.prefix}/{created['id']}",
    )


@router.get("", response_model=Page[Cycle], summary="List cycles, newest first")
def list_cycles(
    request: Request,
    session: DbSession,
    _principal: CurrentPrincipal,
    params: Annotated[PageParams, Depends(page_params)],
) -> Page[Cycle]:
    rows, total = service.listing(session, params.limit, params.offset)
    return make_page(request, [Cycle(**r) for r in rows], total, params)


@router.get("/{cycle_id}", response_model=Cycle, summary="One cycle")
def get_cycle(cycle_id: IdPath, session: DbSession, _principal: CurrentPrincipal) -> Cycle:
    return Cycle(**service.get(session, cycle_id))


@router.patch(
    "/{cycle_id}", response_model=Cycle, summary="Change a cycle's status or release date"
)
def update_cycle(
    cycle_id: IdPath, body: CycleUpdate, session: DbSession, _principal: AdminPrincipal
) -> Cycle:
    return Cycle(**service.update(session, cycle_id, body))


@router.post(
    "/{cycle_id}/codes",
    response_model=list[OrganisationCodeAdmin],
    summary="Draw anonymous codes for organisations that have none in this cycle",
)
def assign_codes(
    cycle_id: IdPath, session: DbSession, _principal: AdminPrincipal
) -> list[OrganisationCodeAdmin]:
    return [OrganisationCodeAdmin(**r) for r in service.assign_codes(session, cycle_id)]


@router.get(
    "/{cycle_id}/codes",
    response_model=list[OrganisationCode],
    summary="Anonymous codes: all of them for admins, your own organisations' otherwise",
)
def list_codes(
    cycle_id: IdPath, session: DbSession, principal: CurrentPrincipal
) -> list[OrganisationCode]:
    only = None if principal.is_admin else set(principal.organisations)
    return [OrganisationCode(**r) for r in service.codes_for(session, cycle_id, only)]
