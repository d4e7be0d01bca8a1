from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from services.ingest.sla_config import service
from services.ingest.sla_config.schemas import Calendar, CalendarIn, Policy, PolicyIn
from shared.auth import CurrentPrincipal, Principal, require_roles
from shared.deps import DbSession, IdPath

router = APIRouter(prefix="/api/v1/organisations/{organisation_id}", tags=["sla configuration"])
Editor = Annotated[Principal, Depends(require_roles("admin", "participant"))]


@router.post(
    "/calendars", status_code=201, response_model=Calendar, summary="Add a business calendar"
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


@router.get("/calendars", response_model=list[Calendar], summary="This organisation's calendars")
def list_calendars(
    organisation_id: IdPath, session: DbSession, principal: CurrentPrincipal
) -> list[Calendar]:
    return [Calendar(**c) for c in service.list_calendars(session, principal, organisation_id)]


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


@router.get("/sla-policies", response_model=list[Policy], summary="This organisation's policies")
def list_policies(
    organisation_id: IdPath, session: DbSession, principal: CurrentPrincipal
) -> list[Policy]:
    return [Policy(**p) for p in service.list_policies(session, principal, organisation_id)]


@router.delete("/sla-policies/{policy_id}", status_code=204, summary="Delete a policy")
def delete_policy(
    organisation_id: IdPath, policy_id: IdPath, session: DbSession, principal: Editor
) -> Response:
    service.delete_policy(session, principal, organisation_id, policy_id)
    return Response(status_code=204)
