"""Request bodies checked as they arrive: a size limit per endpoint, and no NUL character
anywhere inside a JSON document.

The limit of an endpoint is FastAPI's own ``max_body_size`` of its route (set on the route
decorator, e.g. ``@router.post(..., max_body_size=16 * MiB)``), else the
``max_body_bytes`` setting. A declared ``Content-Length`` over the limit is answered 413
before a single byte of the body is read; a body without one (chunked) is counted as the
application reads it and refused the moment it passes the limit. Either way the answer
is an ``application/problem+json`` 413 (FastAPI's own limit answers ``text/plain``,
which is why this middleware checks first).

JSON is checked on the way in too: PostgreSQL cannot store U+0000 in ``text`` or
``jsonb``, and a ``\\u0000`` escape nested anywhere in a document used to reach the
database as a 500. The body is scanned for a NUL escape (a byte search; a full parse only
when one is there) and refused with a 422 whose ``errors`` name the path of each field.
Both refusals are raised from ``receive``, so the endpoint decides when a body is read
(the respondent endpoints resolve their link first) and its exception handlers render
the problem.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.errors import ProblemError, problem_response
from shared.routing import find_route, route_table
from shared.types import nul_paths

MiB = 1024 * 1024
# For an endpoint that streams its body to disk and enforces its own limit as it goes.
STREAMED = 1 << 40


class BodyRefused(ProblemError, HTTPException):  # type: ignore[misc]  # headers: same use
    """Raised from ``receive``. An HTTPException too, so FastAPI's body reading passes
    it on instead of turning it into a 400; rendered by the ProblemError handler (first
    in the MRO) with its ``errors``."""

    def __init__(
        self,
        detail: str,
        *,
        status: int,
        code: str,
        title: str,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        ProblemError.__init__(self, detail, status=status, code=code, title=title, errors=errors)
        self.status_code = status


def too_large(limit: int) -> BodyRefused:
    return BodyRefused(
        f"The request body is larger than this endpoint accepts ({_size(limit)}); "
        "send less in one request.",
        status=413,
        code="payload_too_large",
        title="Payload too large",
    )


def _size(n: int) -> str:
    if n >= MiB and n % MiB == 0:
        return f"{n // MiB} MiB"
    if n >= 1024 and n % 1024 == 0:
        return f"{n // 1024} KiB"
    return f"{n} bytes"


def _field(path: tuple[str | int, ...]) -> str:
    return ".".join(str(p) for p in path) or "body"


def nul_refused(paths: list[tuple[str | int, ...]]) -> BodyRefused:
    fields = [_field(p) for p in paths]
    return BodyRefused(
        "Text cannot contain NUL characters (U+0000); remove them from: " + ", ".join(fields) + ".",
        status=422,
        code="validation_error",
        title="Invalid input",
        errors=[
            {"field": f, "message": "Contains a NUL character (U+0000), which cannot be stored"}
            for f in fields
        ],
    )


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def check_json_nul(body: bytes) -> None:
    """Raise :func:`nul_refused` if the JSON document in ``body`` holds a NUL anywhere.

    A raw 0x00 byte is either invalid JSON (FastAPI answers that) or part of a UTF-16/32
    document, so both it and the ``\\u0000`` escape lead to a parse; anything that does
    not parse is left for the endpoint to refuse.
    """
    if b"\\u0000" not in body and b"\x00" not in body:
        return
    try:
        document = json.loads(body)
    except ValueError:
        return
    paths = list(nul_paths(document))
    if paths:
        raise nul_refused(paths)


class BodyGuardMiddleware:
    def __init__(self, app: ASGIApp, *, default_limit: int) -> None:
        self.app = app
        self.default_limit = default_limit
        self._smallest: int | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        declared = _content_length(headers)
        is_json = _is_json(headers.get("content-type"))
        if declared == 0 or (declared is None and "transfer-encoding" not in headers):
            await self.app(scope, receive, send)  # no body (HTTP/1.1)
            return
        # Looking the route up is only needed when the body might be over some limit.
        if declared is not None and declared <= self._smallest_limit(scope):
            limit = declared
        else:
            limit = self._limit_for(scope)
        if declared is not None and declared > limit:
            response = problem_response(
                413,
                "payload_too_large",
                "Payload too large",
                too_large(limit).detail,
                instance=scope.get("path"),
            )
            await response(scope, receive, send)
            return
        await self.app(scope, _Counted(receive, limit, is_json), send)

    def _smallest_limit(self, scope: Scope) -> int:
        if self._smallest is None:
            declared = [
                e.max_body_size for e in route_table(scope["app"]) if e.max_body_size is not None
            ]
            self._smallest = min([self.default_limit, *declared])
        return self._smallest

    def _limit_for(self, scope: Scope) -> int:
        route = find_route(scope)
        if route is None or route.max_body_size is None:
            return self.default_limit
        return route.max_body_size


class _Counted:
    """``receive`` that counts the body and, for JSON, keeps it to check for NUL."""

    def __init__(self, receive: Receive, limit: int, is_json: bool) -> None:
        self._receive = receive
        self._limit = limit
        self._seen = 0
        self._chunks: list[bytes] | None = [] if is_json else None

    async def __call__(self) -> Message:
        message = await self._receive()
        if message["type"] != "http.request":
            return message
        chunk: bytes = message.get("body", b"")
        self._seen += len(chunk)
        if self._seen > self._limit:
            raise too_large(self._limit)
        if self._chunks is not None:
            self._chunks.append(chunk)
            if not message.get("more_body", False):
                body, self._chunks = b"".join(self._chunks), None
                check_json_nul(body)
        return message


def _content_length(headers: Headers) -> int | None:
    raw = headers.get("content-length")
    if raw is None:
        return None
    try:
        value = int(raw)
    except ValueError:
        return None
    return value if value >= 0 else None
