"""Conditional and compressed answers for results, downloads and feeds.

- ``ETag``: a strong validator of the exact bytes of a body (a hash), or, for a download
  streamed before its bytes exist, a weak one built from a data version the caller reads
  first. ``If-None-Match`` with a matching tag (or ``*``) is answered ``304 Not Modified``
  with no body, so a BI tool's scheduled refresh of unchanged figures costs no transfer.
- gzip, when the client's ``Accept-Encoding`` allows it and the body is worth it (above
  1 KiB): whole bodies compressed at once, streamed ones chunk by chunk (bounded memory).
  ``Vary: Accept-Encoding`` goes on every answer that could have been compressed.
"""

from __future__ import annotations

import gzip
import hashlib
import zlib
from collections.abc import AsyncIterator, Iterable, Iterator, Mapping

from fastapi import Request
from fastapi.responses import Response, StreamingResponse

MIN_GZIP_BYTES = 1024
GZIP_LEVEL = 6
# Above this, the fastest level: a feed page of tens of megabytes at level 6 costs more
# CPU time than sending it; level 1 still shrinks JSON about fivefold.
FAST_GZIP_BYTES = 1 << 20


def strong_etag(body: bytes, *salt: str) -> str:
    digest = hashlib.sha256()
    for part in salt:
        digest.update(part.encode())
        digest.update(b"\x00")
    digest.update(body)
    return f'"{digest.hexdigest()[:32]}"'


def weak_etag(*parts: str) -> str:
    return f'W/"{hashlib.sha256(chr(31).join(parts).encode()).hexdigest()[:32]}"'


def _opaque(tag: str) -> str:
    return tag.strip().removeprefix("W/")


def matches(request: Request, etag: str) -> bool:
    """Whether ``If-None-Match`` names ``etag`` (weak comparison, as RFC 9110 asks)."""
    header = request.headers.get("if-none-match")
    if not header:
        return False
    if header.strip() == "*":
        return True
    return _opaque(etag) in {_opaque(t) for t in header.split(",")}


def not_modified(etag: str, headers: Mapping[str, str] | None = None) -> Response:
    return Response(status_code=304, headers={**(headers or {}), "ETag": etag})


def accepts_gzip(request: Request) -> bool:
    for item in request.headers.get("accept-encoding", "").split(","):
        name, _, params = item.strip().partition(";")
        if name.strip().lower() in ("gzip", "*"):
            q = params.strip().removeprefix("q=")
            return not (params and q.replace(".", "", 1).isdigit() and float(q) == 0)
    return False


def body_response(
    request: Request,
    body: bytes,
    media_type: str,
    headers: Mapping[str, str] | None = None,
    *,
    etag: str | None = None,
) -> Response:
    """``body`` with its ETag (a hash of it unless given), 304 when the client has it,
    gzipped when asked and worth it."""
    tag = etag or strong_etag(body, media_type)
    out = {**(headers or {}), "ETag": tag, "Vary": "Accept-Encoding"}
    if matches(request, tag):
        return not_modified(tag, {k: v for k, v in out.items() if k != "Content-Disposition"})
    if len(body) >= MIN_GZIP_BYTES and accepts_gzip(request):
        level = 1 if len(body) > FAST_GZIP_BYTES else GZIP_LEVEL
        body = gzip.compress(body, level, mtime=0)
        out["Content-Encoding"] = "gzip"
    return Response(body, media_type=media_type, headers=out)


def _gzip_chunks(chunks: Iterable[bytes]) -> Iterator[bytes]:
    z = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)  # 31: a gzip header and trailer
    for chunk in chunks:
        out = z.compress(chunk)
        if out:
            yield out
    yield z.flush()


def stream_response(
    request: Request,
    chunks: Iterable[bytes] | AsyncIterator[bytes],
    media_type: str,
    headers: Mapping[str, str] | None = None,
    *,
    etag: str | None = None,
) -> Response:
    """A streamed body (written as it is made), with a weak ``etag`` the caller built from
    a data version, gzipped chunk by chunk when asked."""
    out = {**(headers or {}), "Vary": "Accept-Encoding"}
    if etag is not None:
        out["ETag"] = etag
        if matches(request, etag):
            return not_modified(etag)
    if accepts_gzip(request) and not isinstance(chunks, AsyncIterator):
        out["Content-Encoding"] = "gzip"
        return StreamingResponse(_gzip_chunks(chunks), media_type=media_type, headers=out)
    return StreamingResponse(chunks, media_type=media_type, headers=out)
