"""One error model for every service: RFC 9457 ``application/problem+json``.

Every error carries a stable machine ``code`` and a ``detail`` a person can act on.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError
from starlette.exceptions import HTTPException as StarletteHTTPException

from shared.routing import allowed_methods

log = logging.getLogger("yardstick.errors")

PROBLEM_JSON = "application/problem+json"


class ProblemError(Exception):
    """A domain error with its HTTP status and a stable code."""

    status: int = 400
    code: str = "bad_request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        code: str | None = None,
        title: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            self.status = status
        if code is not None:
            self.code = code
        if title is not None:
            self.title = title
        self.errors = errors
        self.headers = headers
        self.extra = extra


class NotFound(ProblemError):
    status, code, title = 404, "not_found", "Not found"


class Conflict(ProblemError):
    status, code, title = 409, "conflict", "Conflict"


class Unprocessable(ProblemError):
    status, code, title = 422, "validation_error", "Invalid input"


# Both schemes the API accepts, so a client that sends credentials only once challenged
# (HTTP Basic with an API key as the password: Power BI, Excel, curl --anyauth) sends them.
AUTH_CHALLENGE = 'Bearer realm="yardstick", Basic realm="yardstick", charset="UTF-8"'


class Unauthorized(ProblemError):
    status, code, title = 401, "unauthorized", "Authentication required"

    def __init__(self, detail: str, **kw: Any) -> None:
        kw.setdefault("headers", {"WWW-Authenticate": AUTH_CHALLENGE})
        super().__init__(detail, **kw)


class Forbidden(ProblemError):
    status, code, title = 403, "forbidden", "Forbidden"


def problem_response(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    instance: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://yardstick.example/problems/{code}",
        "title": title,
        "status": status,
        "code": code,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if errors:
        body["errors"] = errors
    if extra:
        body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _loc_to_field(loc: tuple[Any, ...] | list[Any]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header", "cookie"}:
        where, rest = parts[0], parts[1:]
        return ".".join(rest) if rest and where == "body" else ".".join([where, *rest])
    return ".".join(parts)


_STATUS_CODES = {
    400: ("bad_request", "Bad request"),
    401: ("unauthorized", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not_found", "Not found"),
    405: ("method_not_allowed", "Method not allowed"),
    406: ("not_acceptable", "Not acceptable"),
    409: ("conflict", "Conflict"),
    413: ("payload_too_large", "Payload too large"),
    415: ("unsupported_media_type", "Unsupported media type"),
    422: ("validation_error", "Invalid input"),
}

# SQLSTATE classes a client can cause; anything else is our bug (500).
_SQLSTATE = {
    "23505": (409, "duplicate", "Already exists"),
    "23503": (409, "referenced_row", "Conflicts with related data"),
    "23514": (422, "constraint_violation", "Invalid input"),
    "23502": (422, "missing_value", "Invalid input"),
    "22001": (422, "value_too_long", "Invalid input"),
    "22003": (422, "number_out_of_range", "Invalid input"),
    "22007": (422, "invalid_datetime", "Invalid input"),
    "22008": (422, "invalid_datetime", "Invalid input"),
    "22P02": (422, "invalid_value", "Invalid input"),
    "40001": (409, "serialization_failure", "Please retry"),
    "40P01": (409, "deadlock", "Please retry"),
}


def sqlstate_of(exc: DBAPIError) -> str | None:
    orig = exc.orig
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)


def _is_client_data_error(exc: DBAPIError) -> bool:
    """A DataError with no SQLSTATE was raised by psycopg while adapting a parameter,
    before anything reached the server: the value came from the client."""
    import psycopg

    return isinstance(exc.orig, psycopg.DataError)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ProblemError)
    async def _problem(request: Request, exc: ProblemError) -> JSONResponse:
        return problem_response(
            exc.status,
            exc.code,
            exc.title,
            exc.detail,
            instance=request.url.path,
            errors=exc.errors,
            headers=exc.headers,
            extra=exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"field": _loc_to_field(e.get("loc", ())), "message": e.get("msg", "invalid")}
            for e in exc.errors()
        ]
        fields = ", ".join(sorted({e["field"] for e in errors})) or "request"
        return problem_response(
            422,
            "validation_error",
            "Invalid input",
            f"Fix these fields and try again: {fields}.",
            instance=request.url.path,
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code, title = _STATUS_CODES.get(exc.status_code, ("error", "Error"))
        detail = exc.detail if isinstance(exc.detail, str) else title
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"There is no resource at {request.url.path}; check the path."
        if exc.status_code == 400 and detail == "There was an error parsing the body":
            detail = "The request body could not be parsed; send UTF-8 JSON or the form it expects."
        headers = getattr(exc, "headers", None)
        if exc.status_code == 405:
            allow = ", ".join(allowed_methods(request.scope))
            detail = f"{request.method} is not allowed on {request.url.path}; use {allow}."
            headers = {**(headers or {}), "Allow": allow}
        return problem_response(
            exc.status_code,
            code,
            title,
            detail,
            instance=request.url.path,
            headers=headers,
        )

    @app.exception_handler(IntegrityError)
    @app.exception_handler(DBAPIError)
    async def _db(request: Request, exc: DBAPIError) -> JSONResponse:
        state = sqlstate_of(exc)
        if state in _SQLSTATE:
            status, code, title = _SQLSTATE[state]
            diag = getattr(exc.orig, "diag", None)
            constraint = getattr(diag, "constraint_name", None)
            detail = {
                "duplicate": "A record with these values already exists"
                + (f" (constraint {constraint})" if constraint else "")
                + "; change the conflicting field or update the existing record.",
                "referenced_row": "This refers to, or is referred to by, another record"
                + (f" (constraint {constraint})" if constraint else "")
                + "; fix the reference first.",
            }.get(
                code,
                "The database rejected a value"
                + (f" (constraint {constraint})" if constraint else "")
                + "; check the values you sent.",
            )
            return problem_response(status, code, title, detail, instance=request.url.path)
        if state is None and _is_client_data_error(exc):
            # psycopg refuses some values before they reach the server (e.g. a NUL byte in
            # text): the client sent them, so it is a 422, not our 500. Decided by the
            # exception class and the missing SQLSTATE, never by the message text.
            return problem_response(
                422,
                "invalid_value",
                "Invalid input",
                "A value cannot be stored as sent (text must not contain NUL characters); "
                "check the values you sent.",
                instance=request.url.path,
            )
        log.exception("database error on %s %s", request.method, request.url.path)
        return problem_response(
            500,
            "internal_error",
            "Internal error",
            "Something went wrong on our side; it has been logged. Please retry later.",
            instance=request.url.path,
        )

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(
            500,
            "internal_error",
            "Internal error",
            "Something went wrong on our side; it has been logged. Please retry later.",
            instance=request.url.path,
        )
