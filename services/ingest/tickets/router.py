from __future__ import annotations

import uuid
from functools import partial
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from services.ingest.tickets import service
from services.ingest.tickets.exceptions import EmptyFile
from services.ingest.tickets.schemas import (
    ImportProgress,
    IntervalsReplace,
    IntervalsResult,
    Mapping,
    MappingCreate,
    ProfileInfo,
    RowError,
    TicketImport,
)
from shared.auth import CurrentPrincipal, Principal, ServicePrincipal, require_roles
from shared.bodies import STREAMED, MiB
from shared.deps import MAX_INT32, DbSession, IdPath
from shared.idempotency import location_responses
from shared.pagination import Page, PageParams, make_page, page_of, page_params

router = APIRouter(tags=["tickets"])
internal = APIRouter(prefix="/internal", tags=["internal"], include_in_schema=False)

Pusher = Annotated[Principal, Depends(require_roles("admin", "partner", "participant"))]
Editor = Annotated[Principal, Depends(require_roles("admin", "participant", "partner"))]

_PROGRESS = tuple(ImportProgress.model_fields)


def _job(request: Request, row: dict[str, Any]) -> TicketImport:
    return TicketImport(
        **{k: row[k] for k in TicketImport.model_fields if k in row},
        progress=ImportProgress(**{k: row[k] for k in _PROGRESS}),
        errors_url=request.app.url_path_for("list_import_errors", import_id=row["id"]),
    )


_UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "description": "The export, streamed: CSV (UTF-8, UTF-8 with BOM, Windows-1252 or "
        "UTF-16 with BOM; CR, LF or CRLF line ends) or JSON lines (one object per line). Send "
        "it as the raw body (Content-Type text/csv, application/x-ndjson or "
        "application/octet-stream). A workbook, binary data or UTF-16 without a BOM ends the "
        "job failed with the reason; a last row cut off (no line break, cells missing) is a "
        "row error.",
        "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
    }
}


@router.post(
    "/api/v1/ticket-imports",
    status_code=202,
    response_model=TicketImport,
    summary="Push a ticket export; answers 202 with an import job to poll",
    openapi_extra=_UPLOAD_BODY,
    max_body_size=STREAMED,
    responses=location_responses(202, "the import job to poll"),
)
async def upload(
    request: Request,
    session: DbSession,
    principal: Pusher,
    organisation_id: Annotated[
        int | None,
        Query(ge=1, le=MAX_INT32, description="The organisation of rows with none of their own"),
    ] = None,
    profile: Annotated[
        str | None,
        Query(max_length=50, description="A ready profile (see /api/v1/ticket-profiles)"),
    ] = "yardstick",
    mapping_id: Annotated[
        int | None, Query(ge=1, le=MAX_INT32, description="A saved custom mapping instead")
    ] = None,
    source_system: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=100,
            pattern=r"^[^\x00]*$",
            description="Defaults to the profile's name",
        ),
    ] = None,
    file_format: Annotated[
        Literal["csv", "jsonl", "json"] | None,
        Query(
            alias="format",
            description="csv, jsonl (one record a line) or json (one array of records, as a "
            "TMF621 list answer); by default from the Content-Type",
        ),
    ] = None,
    content: Annotated[
        Literal["tickets", "history"],
        Query(
            description="tickets (JSON records may carry their history in an `events` list, "
            "or TMF621's statusChangeHistory), or history: a second file of events of "
            "tickets already pushed (ticket_ref, kind, at, value, end_at)"
        ),
    ] = "tickets",
) -> JSONResponse:
    await run_in_threadpool(
        service.check_upload, session, principal, organisation_id, profile, mapping_id
    )
    if file_format is None:
        ctype = request.headers.get("content-type", "")
        file_format = (
            "jsonl"
            if ("ndjson" in ctype or "jsonl" in ctype)
            else "json"
            if "application/json" in ctype
            else "csv"
        )
    spool = service.spool_dir(request.app.state.settings) / f"{uuid.uuid4().hex}.upload"
    size = 0
    try:
        with spool.open("wb") as fh:
            async for chunk in request.stream():
                if chunk:
                    fh.write(chunk)
                    size += len(chunk)
    except BaseException:
        spool.unlink(missing_ok=True)
        raise
    if size == 0 or (size <= 3 and spool.read_bytes() == b"\xef\xbb\xbf"):
        spool.unlink(missing_ok=True)
        raise EmptyFile(
            "The uploaded file is empty; send the export as the request body.",
            errors=[{"field": "body", "message": "empty"}],
        )
    try:
        job = await run_in_threadpool(
            service.create_import,
            session,
            principal,
            organisation_id=organisation_id,
            source_system=source_system,
            profile=profile,
            mapping_id=mapping_id,
            file_format=file_format,
            spool_path=spool,
            size=size,
            content=content,
        )
    except BaseException:
        spool.unlink(missing_ok=True)
        raise
    body = _job(request, job)
    return JSONResponse(
        body.model_dump(mode="json"),
        status_code=202,
        headers={"Location": request.app.url_path_for("get_import", import_id=job["id"])},
    )


@router.get(
    "/api/v1/ticket-imports",
    response_model=Page[TicketImport],
    summary="Import jobs you can see, newest first",
)
def list_imports(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    params: Annotated[PageParams, Depends(page_params)],
) -> Page[TicketImport]:
    rows, total = service.list_imports(session, principal, params.limit, params.offset)
    return make_page(request, [_job(request, r) for r in rows], total, params)


@router.get(
    "/api/v1/ticket-imports/{import_id}",
    response_model=TicketImport,
    summary="One import job: status and progress",
)
def get_import(
    request: Request, import_id: IdPath, session: DbSession, principal: CurrentPrincipal
) -> TicketImport:
    return _job(request, service.visible_import(session, principal, import_id))


@router.get(
    "/api/v1/ticket-imports/{import_id}/errors",
    response_model=Page[RowError],
    summary="Row-level errors and warnings of an import, by row",
)
def list_import_errors(
    request: Request,
    import_id: IdPath,
    session: DbSession,
    principal: CurrentPrincipal,
    params: Annotated[PageParams, Depends(page_params)],
    severity: Literal["error", "warning"] | None = None,
) -> Page[RowError]:
    rows, total = service.errors(
        session, principal, import_id, severity, params.limit, params.offset
    )
    items = [
        RowError(
            row=r["row_number"],
            column=r["column_name"],
            code=r["code"],
            message=r["message"],
            severity=r["severity"],
            related_row=r["related_row"],
        )
        for r in rows
    ]
    return make_page(request, items, total, params)


@router.get(
    "/api/v1/ticket-profiles",
    response_model=Page[ProfileInfo],
    summary="Ready column-mapping profiles for common service-desk tools",
)
def list_profiles(
    request: Request,
    _principal: CurrentPrincipal,
    params: Annotated[PageParams, Depends(page_params)],
) -> Page[ProfileInfo]:
    profiles = [
        ProfileInfo(
            name=name,
            columns={k: list(v) for k, v in p.columns.items()},
            default_type=p.default_type,
        )
        for name, p in service.READY_PROFILES.items()
    ]
    return page_of(request, profiles, params)


@router.post(
    "/api/v1/ticket-intervals",
    response_model=IntervalsResult,
    summary="Replace the on-hold and reopen intervals of the tickets named",
    max_body_size=32 * MiB,  # 50,000 intervals
)
def replace_intervals(
    body: IntervalsReplace, session: DbSession, principal: Pusher
) -> IntervalsResult:
    return IntervalsResult(**service.replace_intervals(session, principal, body))


@router.post(
    "/api/v1/organisations/{organisation_id}/ticket-mappings",
    status_code=201,
    responses=location_responses(),
    response_model=Mapping,
    summary="Save a custom column mapping for this organisation's exports",
)
def create_mapping(
    organisation_id: IdPath,
    body: MappingCreate,
    session: DbSession,
    principal: Editor,
    response: Response,
) -> Mapping:
    created = Mapping(**service.create_mapping(session, principal, organisation_id, body))
    response.headers["Location"] = (
        f"/api/v1/organisations/{organisation_id}/ticket-mappings/{created.id}"
    )
    return created


@router.get(
    "/api/v1/organisations/{organisation_id}/ticket-mappings",
    response_model=Page[Mapping],
    summary="This organisation's custom column mappings",
)
def list_mappings(
    request: Request,
    organisation_id: IdPath,
    session: DbSession,
    principal: CurrentPrincipal,
    params: Annotated[PageParams, Depends(page_params)],
) -> Page[Mapping]:
    rows = service.list_mappings(session, principal, organisation_id)
    return page_of(request, [Mapping(**r) for r in rows], params)


@router.get(
    "/api/v1/organisations/{organisation_id}/ticket-mappings/{mapping_id}",
    response_model=Mapping,
    summary="One custom column mapping",
)
def get_mapping(
    organisation_id: IdPath, mapping_id: IdPath, session: DbSession, principal: CurrentPrincipal
) -> Mapping:
    return Mapping(**service.get_mapping(session, principal, organisation_id, mapping_id))


@router.delete(
    "/api/v1/organisations/{organisation_id}/ticket-mappings/{mapping_id}",
    status_code=204,
    summary="Delete a custom mapping",
)
def delete_mapping(
    organisation_id: IdPath, mapping_id: IdPath, session: DbSession, principal: Editor
) -> Response:
    service.delete_mapping(session, principal, organisation_id, mapping_id)
    return Response(status_code=204)


@internal.post("/ticket-imports/{import_id}/process")
def process_import(
    request: Request, import_id: IdPath, session: DbSession, _principal: ServicePrincipal
) -> JSONResponse:
    """Acknowledged at once: an import still to process is handed to the ingest app's
    background executor (202); one already over answers 200 with its status. Running it
    twice is harmless (a running import holds its lock; a finished one is left alone)."""
    status = service.accept_import(session, import_id)
    if status is not None:
        return JSONResponse({"import_id": import_id, "status": status})
    app = request.app
    app.state.background.submit(
        ("ticket-import", import_id),
        partial(service.run_import, app.state.engine, app.state.settings, import_id),
    )
    return JSONResponse({"import_id": import_id, "status": "accepted"}, status_code=202)


@internal.post("/jobs/ticket-imports")
def resume_stalled_imports(
    request: Request, session: DbSession, _principal: ServicePrincipal
) -> dict[str, list[int]]:
    """The watchdog, called by the worker's periodic jobs; idempotent."""
    return service.resume_stalled_imports(session, request.app.state.settings)


__all__ = ["internal", "router"]
