from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from services.metrics.explain.links import pack_links
from services.metrics.packs import render, service
from services.metrics.packs.examples import example_pack
from services.metrics.packs.schemas import (
    Pack,
    PackChange,
    PackChangeList,
    PackCheck,
    PackCheckList,
    PackCreate,
    PackVersion,
    PackVersionList,
)
from shared.auth import Principal, require_roles
from shared.db.tables.metrics import metrics_idempotency
from shared.deps import MAX_INT32, AppSettings, DbSession, IdPath, ReadSession
from shared.idempotency import (
    IDEMPOTENCY_KEY,
    REPLAYED_HEADER,
    idempotent_create,
    location_responses,
)
from shared.page_headers import COMMON_HEADERS, page_headers
from shared.tabular import OutputQuery, table_response, table_responses

router = APIRouter(prefix="/api/v1/committee-packs", tags=["committee packs"])
Reader = Annotated[Principal, Depends(require_roles("admin", "participant", "partner", "reader"))]
Writer = Annotated[Principal, Depends(require_roles("admin", "participant"))]
PackFormat = Literal["json", "html", "pdf"]

ServiceId = Annotated[int, Query(ge=1, le=MAX_INT32, description="The shared service")]
Year = Annotated[int, Query(ge=2000, le=2100, description="Financial year (2024 = 2024/25)")]
Period = Annotated[int, Query(ge=1, le=12, description="Period: P1 = April … P12 = March")]
Format = Annotated[
    PackFormat,
    Query(description="json (every figure, table and check), html (a complete page) or pdf"),
]

PACK_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The pack as JSON, as an accessible HTML page, or as a tagged PDF",
        "content": {
            "application/json": {"example": example_pack()},
            "text/html": {"schema": {"type": "string"}},
            "application/pdf": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}
_ACCESS = (
    "Admins and the shared service's staff read it, and so does any principal of one of its "
    "partner organisations; nobody else (403)."
)


def pack_response(
    pack: Pack,
    fmt: PackFormat,
    *,
    html: str | None = None,
    pdf: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    """The pack in the format asked for; a stored version's own HTML and PDF when given."""
    extra = headers or {}
    if fmt == "json":
        # Beside the figures (not in them: a stored version's figures stay as frozen), where
        # each total is explained (issue 14).
        raw = pack.model_dump_json()[:-1] + ',"explanations":' + json.dumps(pack_links(pack))
        return Response(raw + "}", media_type="application/json", headers=extra)
    if fmt == "html":
        if html is not None:  # stored when issued: its own styles, found in it
            return HTMLResponse(html, headers={**page_headers(html), **extra})
        page, policy = render.render_page(pack)
        policy_header = {"Content-Security-Policy": policy}
        return HTMLResponse(page, headers={**COMMON_HEADERS, **policy_header, **extra})
    h = pack.header
    name = (
        f"committee-pack-{h.service.id}-{h.financial_year_label.replace('/', '-')}-P{h.period}"
        f"-{'draft' if h.version is None else f'v{h.version}'}.pdf"
    )
    body = pdf if pdf is not None else render.render_pdf(pack)
    return Response(
        body,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}"', **extra},
    )


@router.get(
    "/draft",
    response_model=Pack,
    responses=PACK_RESPONSES,
    summary="The live draft of a shared service's pack for a period, computed now",
    description="Every figure is computed from the live data on each request (status "
    "`draft`, no version). Checks include late data when the period already has an issued "
    "version. " + _ACCESS,
)
def get_draft(
    session: ReadSession,
    settings: AppSettings,
    principal: Reader,
    service_id: ServiceId,
    financial_year: Year,
    period: Period,
    format: Format = "json",
) -> Response:
    pack = service.draft(session, settings, principal, service_id, financial_year, period)
    return pack_response(pack, format)


@router.get(
    "/draft/checks",
    response_model=PackCheckList,
    responses=table_responses(PackCheckList),
    summary="The live draft's consistency checks",
    description="Each check names the row, the printed value, the computed value and the "
    "difference (printed − computed). JSON: the page envelope; CSV (`format=csv`): every "
    "row. " + _ACCESS,
)
def list_draft_checks(
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    principal: Reader,
    out: OutputQuery,
    service_id: ServiceId,
    financial_year: Year,
    period: Period,
) -> Response:
    pack = service.draft(session, settings, principal, service_id, financial_year, period)
    rows = [c.model_dump() for c in service.draft_checks(pack)]
    return table_response(
        request, out, PackCheckList, list(PackCheck.model_fields), rows, "committee-pack-checks"
    )


@router.get(
    "",
    response_model=PackVersionList,
    responses=table_responses(PackVersionList),
    summary="Stored versions of the packs you can read (in review, issued, superseded)",
    description="Newest first per service. JSON: the page envelope; CSV (`format=csv`): every row.",
)
def list_packs(
    request: Request,
    session: ReadSession,
    principal: Reader,
    out: OutputQuery,
    service_id: Annotated[
        int | None, Query(ge=1, le=MAX_INT32, description="Only this shared service")
    ] = None,
    financial_year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    period: Annotated[int | None, Query(ge=1, le=12)] = None,
    status: Annotated[
        Literal["in_review", "issued", "superseded", "withdrawn"] | None, Query()
    ] = None,
) -> Response:
    rows = service.listing(session, principal, service_id, financial_year, period, status)
    return table_response(
        request, out, PackVersionList, list(PackVersion.model_fields), rows, "committee-packs"
    )


@router.post(
    "",
    status_code=201,
    response_model=PackVersion,
    responses=location_responses(what="the version in review"),
    summary="Freeze the live draft as a version in review",
    description="Stores the draft's figures and checks with the sha256 of the source data "
    "(`data_version`). With an `Idempotency-Key`, the same key and body get the first "
    "answer again (`Idempotent-Replayed: true`), whatever changed since; the same key with "
    "another body is refused (422 `idempotency_key_reused`). Asked again while that version "
    "is still in review and the data has not changed, the answer is the same version "
    "(`Idempotent-Replayed: true`); if the data changed, the version in review is withdrawn "
    "and a new one made. Only the service's staff (role participant) and admins.",
)
def create_pack(
    request: Request,
    session: DbSession,
    settings: AppSettings,
    principal: Writer,
    body: PackCreate,
    idempotency_key: Annotated[str | None, Header(alias=IDEMPOTENCY_KEY)] = None,
) -> JSONResponse:
    # Two ways to get the first answer again: the same Idempotency-Key and body (the stored
    # answer, nothing recomputed), or, without a key, the same request while the version is
    # still in review and the data unchanged (the service finds it).
    same_version = False

    def freeze() -> PackVersion:
        nonlocal same_version
        found, same_version = service.create(
            session, settings, principal, body.service_id, body.financial_year, body.period
        )
        return PackVersion(**found)

    response = idempotent_create(
        request,
        session,
        metrics_idempotency,
        principal,
        idempotency_key,
        body,
        freeze,
        location=lambda created: f"{router.prefix}/{created['id']}",
    )
    if same_version:
        response.headers[REPLAYED_HEADER] = "true"
    return response


@router.post(
    "/{pack_id}/issue",
    response_model=PackVersion,
    summary="Issue a version in review: render and freeze it",
    description="Renders the frozen figures as HTML and PDF and stores them; from then on "
    "the version never changes. The version issued before it for the same period becomes "
    "`superseded` and this one lists what changed. Only the service's staff (role "
    "participant) and admins.",
)
def issue_pack(
    pack_id: IdPath, session: DbSession, settings: AppSettings, principal: Writer
) -> PackVersion:
    return PackVersion(**service.issue(session, settings, principal, pack_id))


@router.get(
    "/{pack_id}",
    response_model=Pack,
    responses=PACK_RESPONSES,
    summary="A stored version of a pack, as JSON, HTML or PDF",
    description="An issued (or superseded) version answers with exactly what was stored "
    "when it was issued, byte for byte; a superseded one links to its successor (`Link: "
    '<…>; rel="successor-version"`). A version in review is rendered from its frozen '
    "figures. " + _ACCESS,
)
def get_pack(
    pack_id: IdPath, session: ReadSession, principal: Reader, format: Format = "json"
) -> Response:
    columns = {"json": (), "html": ("html",), "pdf": ("pdf",)}[format]
    row = service.stored(session, principal, pack_id, "figures", *columns)
    successor = service.successor(session, row)
    headers = (
        {"Link": f'<{router.prefix}/{successor}>; rel="successor-version"'} if successor else {}
    )
    return pack_response(
        service.stored_pack(row),
        format,
        html=row.get("html"),
        pdf=row.get("pdf"),
        headers=headers,
    )


@router.get(
    "/{pack_id}/checks",
    response_model=PackCheckList,
    responses=table_responses(PackCheckList),
    summary="A stored version's checks: frozen with it, then late data checked now",
    description="`origin` says which: `frozen` checks were stored with the version; `live` "
    "ones (late data: source rows of the period changed after the issued figures were "
    "taken) are computed on each request and never change the stored pack. " + _ACCESS,
)
def list_pack_checks(
    request: Request, pack_id: IdPath, session: ReadSession, principal: Reader, out: OutputQuery
) -> Response:
    rows = [c.model_dump() for c in service.checks(session, principal, pack_id)]
    return table_response(
        request, out, PackCheckList, list(PackCheck.model_fields), rows, "committee-pack-checks"
    )


@router.get(
    "/{pack_id}/changes",
    response_model=PackChangeList,
    responses=table_responses(PackChangeList),
    summary="The figures that changed since the issued version this one replaces",
    description="Each figure's path in the pack's JSON, its value before and after. " + _ACCESS,
)
def list_pack_changes(
    request: Request, pack_id: IdPath, session: ReadSession, principal: Reader, out: OutputQuery
) -> Response:
    rows = service.stored(session, principal, pack_id, "changes")["change_list"]
    return table_response(
        request,
        out,
        PackChangeList,
        list(PackChange.model_fields),
        rows,
        "committee-pack-changes",
    )
