from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response

from services.ingest.sla_config import service
from services.ingest.sla_config.schemas import (
    Calendar,
    CalendarIn,
    OlaPolicy,
    OlaPolicyIn,
    Policy,
    PolicyIn,
)
from shared.auth import CurrentPrincipal, Principal, require_roles
from shared.deps import DbSession, IdPath
from shared.idempotency import location_responses
from shared.pagination import Page, PageParams, page_of, page_params

router = APIRouter(prefix="/api/v1/organisations/{organisation_id}", tags=["sla configuration"])
Editor = Annotated[Principal, Depends(require_roles("admin", "participant"))]


@router.post(
    "/calendars",
    status_code=201,
    response_model=Calendar,
    summary="Add a business calendar",
    responses=location_responses(),
)
def create_calendar(
    organisation_id: IdPath,
    body: CalendarIn,
    session: DbSession,
    principal: Editor,
    response: Response,
) -> Calendar:
    created = Calendar(**service.create_calendar(session, principal, organisation_id, body))
    response.headers["Location"] = f"/api/v1/organisations/{organisation_id}/calendars/{created.id}"
    return created


@router.get("/calendars", response_model=Page[Calendar], summary="This organisation's calendars")
def list_calendars(
    request: Request,
    organisation_id: IdPath,
    session: DbSession,
    principal: CurrentPrincipal,
    params: Annotated[PageParams, Depends(page_params)],
) -> Page[Calendar]:
    rows = service.list_calendars(session, principal, organisation_id)
    return page_of(request, [Calendar(**c) for c in rows], params)


@router.get("/calendars/{calendar_id}", response_model=Calendar, summary="One calendar")
def get_calendar(
    organisation_id: IdPath, calendar_id: IdPath, session: DbSession, principal: CurrentPrincipal
) -> Calendar:
    return Calendar(**service.get_calendar(session, principal, organisation_id, calendar_id))


@router.put(
    "/calendars/{calendar_id}",
    response_model=Calendar,
    summary="Replace a calendar (recomputes the organisation's SLA outcomes)",
)
def replace_calendar(
    organisation_id: IdPath,
    calendar_id: IdPath,
    body: CalendarIn,
    session: DbSession,
    principal: Editor,
) -> Calendar:
    return Calendar(
        **service.replace_calendar(session, principal, organisation_id, calendar_id, body)
    )


@router.delete(
    "/calendars/{calendar_id}", status_code=204, summary="Delete a calendar no policy uses"
)
def delete_calendar(
    organisation_id: IdPath, calendar_id: IdPath, session: DbSession, principal: Editor
) -> Response:
    service.delete_calendar(session, principal, organisation_id, calendar_id)
    return Response(status_code=204)


@router.post(
    "/sla-policies",
    status_code=201,
    responses=location_responses(),
    response_model=Policy,
    summary="Add an effective-dated SLA policy for a priority (and request type)",
)
def create_policy(
    organisation_id: IdPath,
    body: PolicyIn,
    session: DbSession,
    principal: Editor,
    response: Response,
) -> Policy:
    created = Policy(**service.create_policy(session, principal, organisation_id, body))
    response.headers["Location"] = (
        f"/api/v1/organisations/{organisation_id}/sla-policies/{created.id}"
    )
    return created


@router.get("/sla-policies", response_model=Page[Policy], summary="This organisation's policies")
def list_policies(
    request: Request,
    organisation_id: IdPath,
    session: DbSession,
    principal: CurrentPrincipal,
    params: Annotated[PageParams, Depends(page_params)],
) -> Page[Policy]:
    rows = service.list_policies(session, principal, organisation_id)
    return page_of(request, [Policy(**p) for p in rows], params)


@router.get("/sla-policies/{policy_id}", response_model=Policy, summary="One SLA policy")
def get_policy(
    organisation_id: IdPath, policy_id: IdPath, session: DbSession, principal: CurrentPrincipal
) -> Policy:
    return Policy(**service.get_policy(session, principal, organisation_id, policy_id))


@router.delete("/sla-policies/{policy_id}", status_code=204, summary="Delete a policy")
def delete_policy(
    organisation_id: IdPath, policy_id: IdPath, session: DbSession, principal: Editor
) -> Response:
    service.delete_policy(session, principal, organisation_id, policy_id)
    return Response(status_code=204)


@router.post(
    "/ola-policies",
    status_code=201,
    responses=location_responses(),
    response_model=OlaPolicy,
    summary="Add an OLA: a target per resolver group, timed while a ticket is assigned to it",
)
def create_ola_policy(
    organisation_id: IdPath,
    body: OlaPolicyIn,
    session: DbSession,
    principal: Editor,
    response: Response,
) -> OlaPolicy:
    created = OlaPolicy(**service.create_ola_policy(session, principal, organisation_id, body))
    response.headers["Location"] = (
        f"/api/v1/organisations/{organisation_id}/ola-policies/{created.id}"
    )
    return created


@router.get(
    "/ola-policies", response_model=Page[OlaPolicy], summary="This organisation's OLA policies"
)
def list_ola_policies(
    request: Request,
    organisation_id: IdPath,
    session: DbSession,
    principal: CurrentPrincipal,
    params: Annotated[PageParams, Depends(page_params)],
) -> Page[OlaPolicy]:
    rows = service.list_ola_policies(session, principal, organisation_id)
    return page_of(request, [OlaPolicy(**p) for p in rows], params)


@router.get("/ola-policies/{policy_id}", response_model=OlaPolicy, summary="One OLA policy")
def get_ola_policy(
    organisation_id: IdPath, policy_id: IdPath, session: DbSession, principal: CurrentPrincipal
) -> OlaPolicy:
    return OlaPolicy(**service.get_ola_policy(session, principal, organisation_id, policy_id))


@router.delete("/ola-policies/{policy_id}", status_code=204, summary="Delete an OLA policy")
def delete_ola_policy(
    organisation_id: IdPath, policy_id: IdPath, session: DbSession, principal: Editor
) -> Response:
    service.delete_ola_policy(session, principal, organisation_id, policy_id)
    return Response(status_code=204)
