from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header
from pydantic import BaseModel, Field

from services.survey.mail import service
from shared.auth import ServicePrincipal
from shared.deps import AppSettings, DbSession

router = APIRouter(prefix="/internal", tags=["internal"], include_in_schema=False)


class MailEvent(BaseModel):
    event_type: str = Field(max_length=100)
    payload: dict[str, Any]


class MailAck(BaseModel):
    outcome: str


@router.post("/mail", response_model=MailAck)
def deliver_mail(
    body: MailEvent,
    session: DbSession,
    settings: AppSettings,
    _principal: ServicePrincipal,
    idempotency_key: Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=200)],
) -> MailAck:
    return MailAck(
        outcome=service.deliver(session, settings, idempotency_key, body.event_type, body.payload)
    )
