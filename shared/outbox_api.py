"""The admin view of an outbox, served by the service that owns it (ingest owns
``ingest_outbox``, survey ``survey_outbox``): list events by status, re-drive a dead one.

One router shape for every outbox; each owning service mounts it from its ``outbox``
package with its own table (services.ingest.outbox, services.survey.outbox).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Table

from shared import outbox
from shared.auth import AdminPrincipal
from shared.deps import DbSession, IdPath
from shared.pagination import Page, PageParams, make_page, page_params
from shared.serialization import UtcDateTime

OutboxStatus = Literal["pending", "delivering", "delivered", "dead"]


class OutboxEvent(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 118,
                    "event_type": "cycle.status_changed",
                    "target": "metrics",
                    "path": "/internal/events",
                    "payload": {"cycle_id": 3, "year": 2021, "status": "closed"},
                    "status": "dead",
                    "attempts": 12,
                    "next_attempt_at": "2024-05-01T10:42:00Z",
                    "leased_until": None,
                    "last_error": "metrics answered 503: the database is not reachable",
                    "created_at": "2024-05-01T09:30:00Z",
                    "delivered_at": None,
                    "redriven_by": None,
                    "redriven_at": None,
                    "request_id": "9f1c2d3e4b5a46978877665544332211",
                }
            ]
        }
    )

    id: int
    event_type: str
    target: str = Field(description="The service it is delivered to")
    path: str
    payload: dict[str, Any]
    status: OutboxStatus = Field(
        description="pending (due at next_attempt_at), delivering (claimed until "
        "leased_until), delivered, or dead (out of attempts: re-drive it once fixed)"
    )
    attempts: int
    next_attempt_at: UtcDateTime
    leased_until: UtcDateTime | None
    last_error: str | None
    created_at: UtcDateTime
    delivered_at: UtcDateTime | None
    redriven_by: str | None = Field(description="The admin who last re-drove it")
    redriven_at: UtcDateTime | None
    request_id: str | None = Field(
        default=None,
        description="X-Request-ID of the request that queued it: search the logs for it",
    )


def admin_router(table: Table) -> APIRouter:
    # Named after the table (/api/v1/ingest-outbox-events): one origin routes by path.
    prefix = "/api/v1/" + table.name.replace("_", "-") + "-events"
    router = APIRouter(prefix=prefix, tags=["operations"])

    @router.get(
        "",
        response_model=Page[OutboxEvent],
        summary=f"Events in {table.name}, newest first",
    )
    def list_outbox_events(
        request: Request,
        session: DbSession,
        _principal: AdminPrincipal,
        params: Annotated[PageParams, Depends(page_params)],
        status: Annotated[OutboxStatus | None, Query(description="Only this status")] = None,
    ) -> Page[OutboxEvent]:
        rows, total = outbox.list_events(session, table, status, params.limit, params.offset)
        return make_page(request, [OutboxEvent(**r) for r in rows], total, params)

    @router.get("/{event_id}", response_model=OutboxEvent, summary="One outbox event")
    def get_outbox_event(
        event_id: IdPath, session: DbSession, _principal: AdminPrincipal
    ) -> OutboxEvent:
        return OutboxEvent(**outbox.get_event(session, table, event_id))

    @router.post(
        "/{event_id}/redrive",
        response_model=OutboxEvent,
        summary="Deliver a dead event again (attempts reset); 409 unless it is dead",
    )
    def redrive_outbox_event(
        event_id: IdPath, session: DbSession, principal: AdminPrincipal
    ) -> OutboxEvent:
        return OutboxEvent(**outbox.redrive(session, table, event_id, principal.subject))

    return router
