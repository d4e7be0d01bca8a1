from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse

from services.ingest.apikeys import service
from services.ingest.apikeys.schemas import ApiKey, ApiKeyCreate, ApiKeyCreated
from shared.auth import Principal, require_roles
from shared.db.tables.ingest import ingest_idempotency
from shared.deps import AppSettings, DbSession
from shared.idempotency import idempotent_create
from shared.pagination import Page, PageParams, make_page, page_params

router = APIRouter(prefix="/api/v1/api-keys", tags=["api keys"])
KeyManager = Annotated[Principal, Depends(require_roles("admin", "participant"))]


@router.post(
    "",
    status_code=201,
    response_model=ApiKeyCreated,
    summary="Create an API key (the key is shown once)",
)
def create_api_key(
    request: Request,
    body: ApiKeyCreate,
    session: DbSession,
    settings: AppSettings,
    principal: KeyManager,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    return idempotent_create(
        request,
        session,
        ingest_idempotency,
        principal,
        idempotency_key,
        body,
        lambda: ApiKeyCreated(
            **service.create(session, settings, principal, body, principal.subject)
        ),
        location=lambda created: f"{router.prefix}/{created['id']}",
    )


@router.get("", response_model=Page[ApiKey], summary="List API keys (never their secrets)")
def list_api_keys(
    request: Request,
    session: DbSession,
    principal: KeyManager,
    params: Annotated[PageParams, Depends(page_params)],
) -> Page[ApiKey]:
    rows, total = service.listing(session, principal, params.limit, params.offset)
    return make_page(request, [ApiKey(**r) for r in rows], total, params)


@router.delete("/{key_id}", response_model=ApiKey, summary="Revoke an API key")
def revoke_api_key(key_id: uuid.UUID, session: DbSession, principal: KeyManager) -> ApiKey:
    return ApiKey(**service.revoke(session, principal, key_id))
