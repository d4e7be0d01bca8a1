from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse

from services.ingest.organisations import service
from services.ingest.organisations.schemas import (
    Organisation,
    OrganisationCreate,
    OrganisationUpdate,
    OrgType,
)
from shared.auth import AdminPrincipal, CurrentPrincipal
from shared.db.tables.ingest import ingest_idempotency
from shared.deps import DbSession, IdPath
from shared.idempotency import idempotent_create
from shared.pagination import Page, PageParams, make_page, page_params

router = APIRouter(prefix="/api/v1/organisations", tags=["organisations"])


@router.post("", status_code=201, response_model=Organisation, summary="Create an organisation")
def create_organisation(
    request: Request,
    body: OrganisationCreate,
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
        lambda: Organisation(**service.create(session, body)),
        location=lambda created: f"{router.prefix}/{created['id']}",
    )


@router.get("", response_model=Page[Organisation], summary="List organisations you can see")
def list_organisations(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    params: Annotated[PageParams, Depends(page_params)],
    type: Annotated[OrgType | None, Query(description="Only this type")] = None,
) -> Page[Organisation]:
    rows, total = service.listing(session, principal, type, params.limit, params.offset)
    return make_page(request, [Organisation(**r) for r in rows], total, params)


@router.get("/{organisation_id}", response_model=Organisation, summary="One organisation")
def get_organisation(
    organisation_id: IdPath, session: DbSession, principal: CurrentPrincipal
) -> Organisation:
    return Organisation(**service.get(session, principal, organisation_id))


@router.patch("/{organisation_id}", response_model=Organisation, summary="Edit an organisation")
def update_organisation(
    organisation_id: IdPath, body: OrganisationUpdate, session: DbSession, principal: AdminPrincipal
) -> Organisation:
    return Organisation(**service.update(session, organisation_id, body))
