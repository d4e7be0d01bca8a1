from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse

from services.ingest.feedback import service
from services.ingest.feedback.schemas import FeedbackAccepted, FeedbackBatch
from shared.auth import Principal, require_roles
from shared.bodies import MiB
from shared.db.tables.ingest import ingest_idempotency
from shared.deps import DbSession
from shared.idempotency import idempotent_create

router = APIRouter(prefix="/api/v1/feedback", tags=["feedback"])
Sender = Annotated[Principal, Depends(require_roles("admin", "partner", "participant"))]


@router.post(
    "",
    status_code=200,
    response_model=FeedbackAccepted,
    summary="Store post-interaction ratings (satisfaction 1-7, recommendation 0-10)",
    max_body_size=8 * MiB,  # 10,000 ratings
    description="A batch lands whole or not at all; each refusal names the item index "
    "(ratings.<index>.<field>). Send an Idempotency-Key to retry safely. Answers 200 with "
    "what was stored: a batch is not a resource of its own (its ratings feed the feedback "
    "figures), so there is nothing to GET and no Location.",
)
def post_feedback(
    request: Request,
    body: FeedbackBatch,
    session: DbSession,
    principal: Sender,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    return idempotent_create(
        request,
        session,
        ingest_idempotency,
        principal,
        idempotency_key,
        body,
        lambda: FeedbackAccepted(**service.store(session, principal, body)),
        status_code=200,
    )
