from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header

from services.metrics.events import service
from services.metrics.events.schemas import Event, EventAck
from shared.auth import ServicePrincipal
from shared.deps import AppSettings, DbSession

router = APIRouter(prefix="/internal", tags=["internal"], include_in_schema=False)


@router.post("/events", response_model=EventAck)
def receive_event(
    body: Event,
    session: DbSession,
    settings: AppSettings,
    _principal: ServicePrincipal,
    idempotency_key: Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=200)],
) -> EventAck:
    handled = service.receive(session, settings, idempotency_key, body.event_type, body.payload)
    return EventAck(event_key=idempotency_key, handled=handled)
