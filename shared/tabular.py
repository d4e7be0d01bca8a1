"""CSV for spreadsheets and BI tools, the same in every service: RFC 4180, UTF-8, a header
row, stable snake_case column names, ISO 8601 dates.

Numbers stay numbers: an int, float or Decimal is written plainly (``-0.35``), so pandas,
Polars, Excel, Power BI and Tableau read a numeric column as numbers, negatives included.
Formula-injection escaping applies to text cells only: text that starts with = + - @ (or
tab / carriage return) gets a leading apostrophe, so a spreadsheet shows it instead of
running it. A number cannot run as a formula, so it is never escaped.

``?bom=1`` on any CSV download (:data:`CsvBom`) puts a UTF-8 byte order mark first, for a
file that is double-clicked into Excel (without it, Excel reads the file as the local
ANSI code page and ``Ŵ`` becomes ``Å´``).

A download is the whole result, written in chunks as it goes out, unless the endpoint says
it is a page (``Link: <…>; rel="next"`` and ``X-Total-Count``; see :func:`page_headers`).

One way to ask for a format: ``?format=json`` (the default), ``?format=csv`` or
``?format=parquet``, read by the one dependency :data:`OutputQuery` with ``bom``, ``limit``
and ``offset``. JSON is the page envelope (shared/pagination.py: ``items``, ``total``,
``limit`` 500 unless asked, max 10,000, ``offset``, ``next``); CSV and Parquet (the same
columns, typed, for BI tools and data pipelines; written by Polars) are every row unless
``limit`` or ``offset`` is in the query (then that page, with ``X-Total-Count`` and
``Link: <…>; rel="next"``). See :func:`table_response`.

Every table answer carries an ``ETag`` and answers ``If-None-Match`` with 304, and is
gzipped when the client accepts it (shared/conditional.py).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

import polars as pl
from fastapi import Depends, Query, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel

from shared.conditional import body_response, stream_response, weak_etag
from shared.pagination import next_link
from shared.serialization import utc_iso

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
PARQUET_MEDIA_TYPE = "application/vnd.apache.parquet"
UTF8_BOM = b"\xef\xbb\xbf"
# Rows per chunk of a streamed download: large enough that writing is not per row, small
# enough that a 15,000-row report is never held as one string.
CHUNK_ROWS = 1000

CsvBom = Annotated[
    bool,
    Query(
        description="CSV only: start the file with a UTF-8 byte order mark (bom=1), so "
        "Excel opens a double-clicked download with accents and Welsh letters intact"
    ),
]


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # round away binary noise (0.30000000000000004) and write 2.0 as 2
        text = repr(round(value, 10))
        return text.removesuffix(".0") if value.is_integer() else text
    if isinstance(value, Decimal):
        # fixed-point, never exponent form (Decimal("1E+2") is written 100)
        return format(value, "f")
    if isinstance(value, datetime):
        # the JSON form: UTC with Z (shared/serialization.py); a naive value is as stored
        return utc_iso(value) if value.tzinfo is not None else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    # text: escaped when a spreadsheet would run it
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, list | dict) else str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _values(row: Mapping[str, Any] | Sequence[Any], columns: Sequence[str]) -> Sequence[Any]:
    return [row.get(c) for c in columns] if isinstance(row, Mapping) else row


def csv_chunks(
    columns: Sequence[str],
    rows: Iterable[Mapping[str, Any] | Sequence[Any]],
    *,
    chunk_rows: int = CHUNK_ROWS,
) -> Iterator[str]:
    """The document in pieces of ``chunk_rows`` rows, the header row first."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    pending = 0
    for row in rows:
        writer.writerow([csv_cell(v) for v in _values(row, columns)])
        pending += 1
        if pending >= chunk_rows:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
            pending = 0
    if out.tell():
        yield out.getvalue()


def csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, Any] | Sequence[Any]]) -> str:
    """Rows are mappings (read by column name) or sequences in column order."""
    return "".join(csv_chunks(columns, rows))


def with_bom(body: bytes, bom: bool) -> bytes:
    return UTF8_BOM + body if bom else body


def content_disposition(filename: str, extension: str = "csv") -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{filename}.{extension}"'}


_PARQUET_NATIVE = (bool, int, float, str, date, datetime, Decimal, list, dict)


def _parquet_value(value: Any) -> Any:
    if value is None or isinstance(value, _PARQUET_NATIVE):
        return value
    return str(value)


def parquet_bytes(
    columns: Sequence[str], rows: Iterable[Mapping[str, Any] | Sequence[Any]]
) -> bytes:
    """The rows as one Parquet file (Polars), columns in order, types from the values:
    numbers stay numbers (decimals exact), dates dates, instants UTC, a nested list a
    Parquet list; anything else (an identifier, an enum) as its text."""
    frame = pl.DataFrame(
        [[_parquet_value(v) for v in _values(r, columns)] for r in rows],
        schema=list(columns),
        orient="row",
        infer_schema_length=None,
        strict=False,
    )
    out = io.BytesIO()
    frame.write_parquet(out, compression="zstd")
    return out.getvalue()


def csv_bytes(
    columns: Sequence[str],
    rows: Iterable[Mapping[str, Any] | Sequence[Any]],
    *,
    bom: bool = False,
) -> Iterator[bytes]:
    """The CSV document encoded, in chunks (a BOM first when asked)."""
    if bom:
        yield UTF8_BOM
    for chunk in csv_chunks(columns, rows):
        yield chunk.encode("utf-8")


def csv_response(
    columns: Sequence[str],
    rows: Iterable[Mapping[str, Any] | Sequence[Any]],
    filename: str,
    *,
    bom: bool = False,
    headers: Mapping[str, str] | None = None,
) -> StreamingResponse:
    """Every row of ``rows`` as a CSV download, encoded and sent in chunks."""
    return StreamingResponse(
        csv_bytes(columns, rows, bom=bom),
        media_type=CSV_MEDIA_TYPE,
        headers={**content_disposition(filename), **(headers or {})},
    )


def page_headers(request: Request, *, total: int, offset: int, limit: int) -> dict[str, str]:
    """Headers saying a download is one page of ``total`` rows: ``X-Total-Count`` and, when
    rows remain, ``Link: <…>; rel="next"``. The link is relative (path and query only), so
    a client's ``Host`` header is never reflected into it."""
    headers = {"X-Total-Count": str(total)}
    if offset + limit < total:
        query = [(k, v) for k, v in request.query_params.multi_items() if k != "offset"]
        query.append(("offset", str(offset + limit)))
        headers["Link"] = f'<{request.url.path}?{urlencode(query)}>; rel="next"'
    return headers


# ------------------------------------------------------------------ the format switch

Format = Literal["json", "csv", "parquet"]
REPORT_LIMIT = 500
REPORT_MAX_LIMIT = 10_000


@dataclass(frozen=True)
class Output:
    """What the client asked for: the format, a BOM for CSV, and the page."""

    format: Format
    bom: bool
    limit: int
    offset: int
    paged: bool  # limit or offset was in the query (a CSV is then that page only)

    def window(self, rows: Sequence[Any]) -> Sequence[Any]:
        return rows[self.offset : self.offset + self.limit]


async def output(
    request: Request,
    format: Annotated[
        Format,
        Query(
            description="json (the default: a page envelope), or csv or parquet with the "
            "same columns (every row unless limit or offset is given)"
        ),
    ] = "json",
    bom: CsvBom = False,
    limit: Annotated[
        int,
        Query(
            ge=1,
            le=REPORT_MAX_LIMIT,
            description="Rows per page (JSON: 500 unless asked; CSV: every row unless asked)",
        ),
    ] = REPORT_LIMIT,
    offset: Annotated[int, Query(ge=0, le=10_000_000, description="Rows to skip")] = 0,
) -> Output:
    paged = "limit" in request.query_params or "offset" in request.query_params
    return Output(format=format, bom=bom, limit=limit, offset=offset, paged=paged)


OutputQuery = Annotated[Output, Depends(output)]


def csv_download_headers(request: Request, out: Output, total: int) -> dict[str, str]:
    """``X-Total-Count`` always; for a paged CSV, ``Link: <…>; rel="next"`` too."""
    if out.paged:
        return page_headers(request, total=total, offset=out.offset, limit=out.limit)
    return {"X-Total-Count": str(total)}


def table_response(
    request: Request,
    out: Output,
    envelope: type[BaseModel],
    csv_columns: Sequence[str],
    rows: Sequence[Mapping[str, Any]],
    filename: str,
    **meta: Any,
) -> Response:
    """``rows`` as the client asked: a CSV or Parquet download (see module doc) or the JSON
    ``envelope`` (a :class:`shared.pagination.Page` subclass) of ``out``'s page, with
    ``meta`` beside the page fields. Row fields a row does not carry are left out of the
    JSON (a row model may declare columns only some reports have). Each with its ETag."""
    total = len(rows)
    if out.format in ("csv", "parquet"):
        chosen = out.window(rows) if out.paged else rows
        headers = csv_download_headers(request, out, total)
        if out.format == "parquet":
            headers.update(content_disposition(filename, "parquet"))
            return body_response(
                request, parquet_bytes(csv_columns, chosen), PARQUET_MEDIA_TYPE, headers
            )
        # Streamed, so the ETag is of the rows (a hash of their text), not of the bytes.
        digest = hashlib.sha256(repr((list(csv_columns), chosen)).encode()).hexdigest()
        etag = weak_etag("csv", digest, str(out.bom))
        return stream_response(
            request,
            csv_bytes(csv_columns, chosen, bom=out.bom),
            CSV_MEDIA_TYPE,
            {**content_disposition(filename), **headers},
            etag=etag,
        )
    body = envelope.model_validate(
        {
            "items": list(out.window(rows)),
            "total": total,
            "limit": out.limit,
            "offset": out.offset,
            "next": next_link(request, offset=out.offset, limit=out.limit, total=total),
            **meta,
        }
    )
    return body_response(
        request, body.model_dump_json(exclude_unset=True).encode(), "application/json"
    )


def table_responses(envelope: type[BaseModel]) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` of a table endpoint: the envelope as JSON, or CSV."""
    return {
        200: {
            "model": envelope,
            "description": "A page of rows as JSON (format=json), or the rows as CSV "
            "(format=csv) or Parquet (format=parquet), with the same columns",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                PARQUET_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}},
            },
        }
    }
