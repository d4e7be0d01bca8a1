from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse

from services.ingest.workshops import service
from services.ingest.workshops.schemas import ConsentBody, Workshop, WorkshopCreate, WorkshopMember
from shared.auth import AdminPrincipal, CurrentPrincipal
from shared.clock import Now
from shared.db.tables.ingest import ingest_idempotency
from shared.deps import MAX_INT32, DbSession, IdPath
from shared.idempotency import idempotent_create, location_responses
from shared.pagination import Page, PageParams, make_page, page_params

router = APIRouter(prefix="/api/v1/workshops", tags=["workshops"])


@router.post(
    "",
    status_code=201,
    response_model=Workshop,
    summary="Create a results workshop: members, cycle and window (admins)",
    responses=location_responses(),
)
def create_workshop(
    request: Request,
    body: WorkshopCreate,
    session: DbSession,
    principal: AdminPrincipal,
    now: Now,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    return idempotent_create(
        request,
        session,
        ingest_idempotency,
        principal,
        idempotency_key,
        body,
        lambda: Workshop(**service.create(session, principal, body, now)),
        location=lambda created: f"{router.prefix}/{created['id']}",
    )


@router.get(
    "",
    response_model=Page[Workshop],
    summary="Workshops: all for admins, your organisations' otherwise; newest first",
)
def list_workshops(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    now: Now,
    params: Annotated[PageParams, Depends(page_params)],
    cycle_id: Annotated[
        int | None, Query(ge=1, le=MAX_INT32, description="Only this cycle's")
    ] = None,
) -> Page[Workshop]:
    rows, total = service.listing(session, principal, cycle_id, params.limit, params.offset, now)
    return make_page(request, [Workshop(**r) for r in rows], total, params)


@router.get("/{workshop_id}", response_model=Workshop, summary="One workshop")
def get_workshop(
    workshop_id: IdPath, session: DbSession, principal: CurrentPrincipal, now: Now
) -> Workshop:
    return Workshop(**service.get(session, principal, workshop_id, now))


@router.put(
    "/{workshop_id}/members/{organisation_id}/consent",
    response_model=WorkshopMember,
    summary="Consent, decline or withdraw consent for your organisation, until the start",
)
def set_consent(
    workshop_id: IdPath,
    organisation_id: IdPath,
    body: ConsentBody,
    session: DbSession,
    principal: CurrentPrincipal,
    now: Now,
) -> WorkshopMember:
    return WorkshopMember(
        **service.set_consent(session, principal, workshop_id, organisation_id, body.consent, now)
    )


@router.post(
    "/{workshop_id}/end",
    response_model=Workshop,
    summary="End a workshop now, before its end time (admins)",
)
def end_workshop(
    workshop_id: IdPath, session: DbSession, principal: AdminPrincipal, now: Now
) -> Workshop:
    return Workshop(**service.end_early(session, principal, workshop_id, now))
