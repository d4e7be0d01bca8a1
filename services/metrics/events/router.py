from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Response

from services.metrics.events import service
from services.metrics.events.schemas import Event, EventAck
from shared.auth import ServicePrincipal
from shared.deps import AppSettings, DbSession

router = APIRouter(prefix="/internal", tags=["internal"], include_in_schema=False)


@router.post("/events", response_model=EventAck, responses={202: {"model": EventAck}})
def receive_event(
    body: Event,
    response: Response,
    session: DbSession,
    settings: AppSettings,
    _principal: ServicePrincipal,
    idempotency_key: Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=200)],
) -> EventAck:
    receipt = service.receive(session, settings, idempotency_key, body.event_type, body.payload)
    if receipt.job_id is not None:
        # Accepted: the job row commits with the inbox record; the work runs after.
        response.status_code = 202
    return EventAck(event_key=idempotency_key, handled=receipt.handled, job_id=receipt.job_id)
