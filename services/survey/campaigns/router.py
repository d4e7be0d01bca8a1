from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from services.survey.campaigns import service
from services.survey.campaigns.schemas import (
    BounceReport,
    BounceResult,
    Campaign,
    CampaignCreate,
    CampaignUpdate,
    RecipientUploadResult,
    SendResult,
)
from shared.auth import Principal, require_roles
from shared.bodies import MiB
from shared.db.tables.survey import survey_idempotency
from shared.deps import AppSettings, DbSession, IdPath
from shared.idempotency import idempotent_create
from shared.pagination import Page, PageParams, make_page, page_params

router = APIRouter(prefix="/api/v1/campaigns", tags=["campaigns"])
Staff = Annotated[Principal, Depends(require_roles("admin", "participant"))]

UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "description": "A CSV file (header row with email, optionally location and role) or "
        "a JSON list of objects with the same keys.",
        "content": {
            "text/csv": {"schema": {"type": "string"}},
            "application/json": {
                "schema": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "email": {"type": "string"},
                            "location": {"type": "string"},
                            "role": {"type": "string"},
                        },
                    },
                }
            },
        },
    }
}


@router.post("", status_code=201, response_model=Campaign, summary="Create a survey campaign")
def create_campaign(
    request: Request,
    body: CampaignCreate,
    session: DbSession,
    settings: AppSettings,
    principal: Staff,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    return idempotent_create(
        request,
        session,
        survey_idempotency,
        principal,
        idempotency_key,
        body,
        lambda: Campaign(**service.create(session, settings, principal, body)),
        location=lambda created: f"{router.prefix}/{created['id']}",
    )


@router.get("", response_model=Page[Campaign], summary="List campaigns you can see")
def list_campaigns(
    request: Request,
    session: DbSession,
    principal: Staff,
    params: Annotated[PageParams, Depends(page_params)],
    organisation_id: Annotated[int | None, Query(ge=1, le=2_147_483_647)] = None,
) -> Page[Campaign]:
    rows, total = service.listing(session, principal, organisation_id, params.limit, params.offset)
    return make_page(request, [Campaign(**r) for r in rows], total, params)


@router.get("/{campaign_id}", response_model=Campaign, summary="One campaign")
def get_campaign(campaign_id: IdPath, session: DbSession, principal: Staff) -> Campaign:
    return Campaign(**service.get(session, principal, campaign_id))


@router.patch(
    "/{campaign_id}",
    response_model=Campaign,
    summary="Change a campaign (anonymity settings only tighten once invitations are sent)",
)
def update_campaign(
    campaign_id: IdPath,
    body: CampaignUpdate,
    session: DbSession,
    settings: AppSettings,
    principal: Staff,
) -> Campaign:
    return Campaign(**service.update(session, settings, principal, campaign_id, body))


@router.post(
    "/{campaign_id}/recipients",
    response_model=RecipientUploadResult,
    summary="Upload recipients (CSV or JSON); merged with earlier uploads by keyed hash",
    max_body_size=service.MAX_UPLOAD_BYTES,
    openapi_extra=UPLOAD_BODY,
)
async def upload_recipients(
    request: Request,
    campaign_id: IdPath,
    session: DbSession,
    settings: AppSettings,
    principal: Staff,
) -> RecipientUploadResult:
    data = await request.body()
    return await run_in_threadpool(
        service.upload_recipients,
        session,
        settings,
        principal,
        campaign_id,
        data,
        request.headers.get("content-type", ""),
    )


@router.post(
    "/{campaign_id}/send",
    status_code=202,
    response_model=SendResult,
    summary="Queue invitations to every recipient not yet invited",
)
def send_invitations(campaign_id: IdPath, session: DbSession, principal: Staff) -> SendResult:
    return service.send(session, principal, campaign_id)


@router.post(
    "/{campaign_id}/close",
    response_model=Campaign,
    summary="Close the campaign now (idempotent): no more answers are accepted",
)
def close_campaign(campaign_id: IdPath, session: DbSession, principal: Staff) -> Campaign:
    return Campaign(**service.close(session, principal, campaign_id))


@router.post(
    "/{campaign_id}/bounces",
    response_model=BounceResult,
    summary="Report bounced or opted-out addresses: no more mail goes to them",
    max_body_size=4 * MiB,  # 10,000 addresses
)
def report_bounces(
    campaign_id: IdPath,
    body: BounceReport,
    session: DbSession,
    settings: AppSettings,
    principal: Staff,
) -> BounceResult:
    return service.report_bounces(session, settings, principal, campaign_id, body)
