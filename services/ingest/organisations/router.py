from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse, Response

from services.ingest.organisations import service
from services.ingest.organisations.schemas import (
    Organisation,
    OrganisationCreate,
    OrganisationUpdate,
    OrgType,
    Partner,
    PartnersIn,
)
from shared.auth import AdminPrincipal, CurrentPrincipal
from shared.db.tables.ingest import ingest_idempotency
from shared.deps import DbSession, IdPath
from shared.idempotency import idempotent_create, location_responses
from shared.pagination import Page, PageParams, make_page, page_params
from shared.tabular import OutputQuery, table_response, table_responses

router = APIRouter(prefix="/api/v1/organisations", tags=["organisations"])


@router.post(
    "",
    status_code=201,
    response_model=Organisation,
    summary="Create an organisation",
    responses=location_responses(),
)
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


PARTNER_COLUMNS = list(Partner.model_fields)


@router.get(
    "/{organisation_id}/partners",
    response_model=Page[Partner],
    responses=table_responses(Page[Partner]),
    summary="A shared service's partner organisations",
    description="The organisations a shared service serves, in the order its reports list "
    "them. Readable by administrators, the service's own principals and its partners' "
    "principals. `format=csv` gives the same columns as CSV.",
)
def list_partners(
    request: Request,
    organisation_id: IdPath,
    session: DbSession,
    principal: CurrentPrincipal,
    out: OutputQuery,
) -> Response:
    rows = service.partners(session, principal, organisation_id)
    return table_response(
        request, out, Page[Partner], PARTNER_COLUMNS, rows, f"partners-{organisation_id}"
    )


@router.put(
    "/{organisation_id}/partners",
    response_model=Page[Partner],
    summary="Set a shared service's partner organisations (admins)",
    description="Replaces the list whole, in the order given. An organisation cannot be "
    "its own partner; an unknown or repeated id is a 422 naming it (`partner_ids.N`), and "
    "nothing changes.",
)
def replace_partners(
    request: Request,
    organisation_id: IdPath,
    body: PartnersIn,
    session: DbSession,
    _principal: AdminPrincipal,
) -> Page[Partner]:
    rows = service.replace_partners(session, organisation_id, body.partner_ids)
    params = PageParams(limit=max(len(rows), 1), offset=0)
    return make_page(request, [Partner(**r) for r in rows], len(rows), params)
