from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request, Response

from services.ingest.imports import service
from services.ingest.imports.schemas import ImportBatch
from shared.auth import AdminPrincipal
from shared.deps import DbSession, IdPath
from shared.errors import ProblemError
from shared.pagination import Page, PageParams, make_page, page_params

router = APIRouter(prefix="/api/v1/imports", tags=["imports"])

MAX_BYTES = 20 * 1024 * 1024


@router.post(
    "",
    status_code=201,
    response_model=ImportBatch,
    summary="Import past cycles' values from CSV (admins; all or nothing)",
    max_body_size=MAX_BYTES,
    description=(
        "CSV, UTF-8, header row: organisation (id or name), cycle (year), module, question, "
        "value, optional comment. Any bad row: 422 naming each row and column; nothing stored."
    ),
)
def create_import(
    body: Annotated[bytes, Body(media_type="text/csv")],
    session: DbSession,
    principal: AdminPrincipal,
    response: Response,
    filename: Annotated[str | None, Query(max_length=200, description="For the record")] = None,
) -> ImportBatch:
    if len(body) > MAX_BYTES:
        raise ProblemError(
            f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB; split it.",
            status=413,
            code="payload_too_large",
            title="Payload too large",
        )
    created = ImportBatch(**service.run_import(session, principal, body, filename))
    response.headers["Location"] = f"{router.prefix}/{created.id}"
    return created


@router.get("", response_model=Page[ImportBatch], summary="Imports, newest first (admins)")
def list_imports(
    request: Request,
    session: DbSession,
    _principal: AdminPrincipal,
    params: Annotated[PageParams, Depends(page_params)],
) -> Page[ImportBatch]:
    rows, total = service.listing(session, params.limit, params.offset)
    return make_page(request, [ImportBatch(**r) for r in rows], total, params)


@router.get("/{import_id}", response_model=ImportBatch, summary="One import (admins)")
def get_import(import_id: IdPath, session: DbSession, _principal: AdminPrincipal) -> ImportBatch:
    return ImportBatch(**service.get(session, import_id))
