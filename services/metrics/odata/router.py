"""The OData v4 feed, read-only, at one static root: ``/odata/v4/`` (service document),
``/odata/v4/$metadata`` (CSDL XML; JSON CSDL with ``$format=json``), ``/odata/v4/{set}``
and ``/odata/v4/{set}/$count``. Parameters go in query options, never in the path, so
Power BI's scheduled refresh works with one static URL per table.

Not in the OpenAPI documents (``include_in_schema=False``): an OData feed describes itself
with ``$metadata``, which is what BI tools read; OpenAPI clients use ``/api/v1``.

Auth: ``Authorization: Basic`` with an API key as the password (any user name: what Power
BI, Excel and Tableau send), or a bearer JWT or API key. A 401 carries the
``WWW-Authenticate`` challenge (Basic among the schemes). Every error, the 401 and 403 too,
is the OData error body ``{"error": {"code", "message", "target"}}``.

Pages: ``Prefer: odata.maxpagesize=n`` (1-50,000; 5,000 by default) is honoured and said
so in ``Preference-Applied``; ``@odata.nextLink`` carries a signed ``$skiptoken``. A whole
table in one call: ``$format=csv`` or ``$format=parquet`` (every row the query matches,
streamed for per-ticket outcomes). ``ETag``/``If-None-Match`` (304) and gzip on every answer.
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Callable, Coroutine, Iterator
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session

from services.metrics.odata import engine, service
from services.metrics.odata import repository as repo
from services.metrics.odata.engine import Options, Position
from services.metrics.odata.exceptions import NotImplementedOption, ODataError
from services.metrics.odata.repository import copy_csv
from services.metrics.odata.schemas import (
    BY_NAME,
    JSON_MEDIA_TYPE,
    ODATA_VERSION,
    XML_MEDIA_TYPE,
    EntitySet,
    csdl_json,
    csdl_xml,
    service_document,
)
from shared.auth import CurrentPrincipal, Principal
from shared.conditional import body_response, stream_response, weak_etag
from shared.deps import AppSettings, ReadSession
from shared.errors import ProblemError
from shared.settings import Settings
from shared.tabular import CSV_MEDIA_TYPE, csv_chunks

ROOT = "/odata/v4"
PARQUET_MEDIA_TYPE = "application/vnd.apache.parquet"
_HEADERS = {"OData-Version": ODATA_VERSION}


def odata_error(exc: ODataError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status, headers={**_HEADERS, **exc.headers})


class ODataRoute(APIRoute):
    """Errors raised anywhere in a feed request (authentication, access, query options)
    answer as OData error bodies, with the status and headers they carry."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handle(request)
            except ODataError as exc:
                return odata_error(exc)
            except ProblemError as exc:
                return odata_error(
                    ODataError(exc.detail, code=exc.code, status=exc.status, headers=exc.headers)
                )
            except RequestValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {}
                where = ".".join(str(p) for p in first.get("loc", ()))
                return odata_error(
                    ODataError(f"{where}: {first.get('msg', 'invalid')}", target=where or None)
                )

        return route


router = APIRouter(prefix=ROOT, route_class=ODataRoute, include_in_schema=False)


def _root(request: Request) -> str:
    # The request's own URL: the app sees every request as addressed to the configured
    # public URL (shared/app.py PublicOriginMiddleware), so a client's Host is never echoed.
    return f"{str(request.base_url).rstrip('/')}{ROOT}"


# ------------------------------------------------------------------ service document


@router.get("")
@router.get("/")
def service_root(request: Request, _principal: CurrentPrincipal) -> Response:
    body = json.dumps(service_document(f"{_root(request)}/$metadata")).encode()
    return body_response(request, body, JSON_MEDIA_TYPE, _HEADERS)


_XML = csdl_xml().encode()
_JSON = csdl_json().encode()


@router.get("/$metadata")
def metadata(request: Request, _principal: CurrentPrincipal) -> Response:
    params = request.query_params
    extra = set(params) - {"$format"}
    if extra:
        raise ODataError(
            f"$metadata takes no query option but $format; remove {', '.join(sorted(extra))}.",
            target=sorted(extra)[0],
        )
    fmt = params.get("$format", "").split(";")[0].lower()
    accept = request.headers.get("accept", "")
    wants_json = fmt in ("json", "application/json") or (
        not fmt and "application/json" in accept and "xml" not in accept
    )
    if fmt and fmt not in ("json", "application/json", "xml", "application/xml"):
        raise ODataError(
            f"$metadata comes as xml or json; not {fmt!r}.", target="$format", code="format"
        )
    if wants_json:
        return body_response(request, _JSON, "application/json", _HEADERS)
    return body_response(request, _XML, XML_MEDIA_TYPE, _HEADERS)


# ------------------------------------------------------------------ entity sets


def _entity_set(name: str) -> EntitySet:
    if "(" in name:
        raise NotImplementedOption(
            "Addressing one entity by its key is not supported; filter the set instead "
            "(e.g. $filter=organisation_id eq 12).",
            target=name,
        )
    es = BY_NAME.get(name)
    if es is None:
        raise ODataError(
            f"There is no entity set {name!r}; the feed has {', '.join(BY_NAME)}.",
            code="not_found",
            status=404,
            target=name,
        )
    return es


def _page_size(request: Request) -> tuple[int, bool]:
    """The page size Prefer asks for (bounded), and whether it was asked for."""
    for item in request.headers.get("prefer", "").split(","):
        name, _, value = item.strip().partition("=")
        if name.strip().lower() in ("odata.maxpagesize", "maxpagesize"):
            if not value.strip().isdigit():
                raise ODataError(
                    f"Prefer: odata.maxpagesize must be a whole number; got {value!r}.",
                    target="Prefer",
                )
            return max(1, min(int(value), service.MAX_PAGE)), True
    return service.DEFAULT_PAGE, False


def _secret(request: Request) -> bytes:
    settings = request.app.state.settings
    return hashlib.sha256(
        b"odata-skiptoken" + settings.service_token_secret.get_secret_value().encode()
    ).digest()


def _query(request: Request) -> list[tuple[str, str]]:
    return list(request.query_params.multi_items())


def _next_link(request: Request, es: EntitySet, token: str) -> str:
    params = [(k, v) for k, v in _query(request) if k != "$skiptoken"]
    params.append(("$skiptoken", token))
    query = urlencode(params, quote_via=quote, safe="$'(),")
    return f"{_root(request)}/{es.name}?{query}"


@router.get("/{entity_set}")
def entity_set(
    entity_set: str,
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    principal: CurrentPrincipal,
) -> Response:
    es = _entity_set(entity_set)
    service.check_role(principal, es)
    options = engine.parse_options(es, _query(request))
    if options.format != "json":
        return _download(request, session, settings, principal, es, options)
    digest = options.digest(es.name)
    size, asked = _page_size(request)
    position = Position()
    if options.skiptoken is not None:
        position = engine.read_skiptoken(_secret(request), digest, options.skiptoken)
        size = position.page_size or size
    page = service.page(session, settings, principal, es, options, position, size)
    context = f"{_root(request)}/$metadata#{es.name}"
    if options.select:
        context += f"({','.join(options.select)})"
    parts = [b'{"@odata.context":', json.dumps(context).encode()]
    if page.count is not None:
        parts += [b',"@odata.count":', str(page.count).encode()]
    parts += [b',"value":', page.json_array()]
    if page.next is not None:
        nxt = Position(page.next.sent, page.next.last_key, size)
        link = _next_link(request, es, engine.make_skiptoken(_secret(request), digest, nxt))
        parts += [b',"@odata.nextLink":', json.dumps(link).encode()]
    parts.append(b"}")
    headers = dict(_HEADERS)
    if asked:
        headers["Preference-Applied"] = f"odata.maxpagesize={size}"
    return body_response(request, b"".join(parts), JSON_MEDIA_TYPE, headers)


@router.get("/{entity_set}/$count")
def entity_count(
    entity_set: str,
    request: Request,
    session: ReadSession,
    settings: AppSettings,
    principal: CurrentPrincipal,
) -> Response:
    es = _entity_set(entity_set)
    service.check_role(principal, es)
    options = engine.parse_options(es, _query(request))
    n = service.count(session, settings, principal, es, options)
    return body_response(request, str(n).encode(), "text/plain", _HEADERS)


# ------------------------------------------------------------------ whole downloads


def crlf_records(blocks: Iterator[bytes]) -> Iterator[bytes]:
    """PostgreSQL's CSV ends records with LF; RFC 4180 with CRLF. A LF ends a record only
    outside quotes (an even number of quote characters before it): one inside a quoted
    value is data and stays as it is."""
    quoted = False
    for block in blocks:
        out = bytearray()
        lines = block.split(b"\n")
        for i, line in enumerate(lines):
            out += line
            quoted ^= line.count(b'"') % 2 == 1
            if i < len(lines) - 1:
                out += b"\n" if quoted else b"\r\n"
        yield bytes(out)


def _download(
    request: Request,
    session: Session,
    settings: Settings,
    principal: Principal,
    es: EntitySet,
    options: Options,
) -> Response:
    """Every row the query matches in one answer: CSV (RFC 4180, the One-shape CSV) or
    Parquet. Per-ticket outcomes stream from the database with bounded memory: the CSV
    straight from a COPY, the Parquet written by Polars' streaming engine from a COPY
    spooled to a temporary file."""
    if options.skiptoken is not None:
        raise ODataError("$skiptoken is for JSON pages; a download is whole.", target="$skiptoken")
    disposition = {
        "Content-Disposition": f'attachment; filename="{es.name}.{options.format}"',
        **_HEADERS,
    }
    columns = list(options.select or es.columns)
    if es.name == "SlaTickets":
        csv = options.format == "csv"
        stmt, version = service.table_download(session, settings, principal, es, options, csv=csv)
        etag = weak_etag(es.name, str(request.query_params), version, str(principal))
        engine_ = request.app.state.engine
        if csv:

            def body() -> Iterator[bytes]:
                yield ",".join(columns).encode() + b"\r\n"
                yield from crlf_records(copy_csv(engine_, stmt))

            return stream_response(request, body(), CSV_MEDIA_TYPE, disposition, etag=etag)
        schema = {n: service.frame_schema(es)[n] for n in columns}  # in $select order
        return stream_response(
            request,
            repo.parquet_stream(engine_, stmt, schema),
            PARQUET_MEDIA_TYPE,
            disposition,
            etag=etag,
        )
    if es.name == "BenchmarkStatistics":
        stmt, _version = service.table_download(
            session, settings, principal, es, options, csv=False
        )
        schema = {n: service.frame_schema(es)[n] for n in columns}  # in $select order
        frame = repo.read_frame(session, stmt, schema)
    else:
        frame = service.whole(session, settings, principal, es, options)
    if options.format == "parquet":
        buf = io.BytesIO()
        frame.write_parquet(buf, compression="zstd")
        return body_response(request, buf.getvalue(), PARQUET_MEDIA_TYPE, disposition)
    text = "".join(csv_chunks(frame.columns, frame.iter_rows()))
    return body_response(request, text.encode(), CSV_MEDIA_TYPE, disposition)
