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
from sqlalchemy.exc import TimeoutError as PoolTimeoutError
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


# How long a client is asked to wait before retrying while the database is unreachable: a
# PostgreSQL restart or fail-over usually takes a few seconds.
RETRY_AFTER_SECONDS = 5


class DatabaseUnavailable(ProblemError):
    """The database cannot be reached (down, restarting, connection lost): a 503 with
    ``Retry-After``, on every endpoint, whatever it was doing."""

    status, code, title = 503, "database_unavailable", "Service unavailable"

    def __init__(
        self,
        detail: str = "The database is not reachable right now; retry in a few seconds.",
        **kw: Any,
    ) -> None:
        kw.setdefault("headers", {"Retry-After": str(RETRY_AFTER_SECONDS)})
        super().__init__(detail, **kw)


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

# SQLSTATEs outside class 23 that a client can cause; anything unmapped is our bug (500).
_SQLSTATE = {
    "22001": (422, "value_too_long", "Invalid input"),
    "22003": (422, "number_out_of_range", "Invalid input"),
    "22007": (422, "invalid_datetime", "Invalid input"),
    "22008": (422, "invalid_datetime", "Invalid input"),
    "22P02": (422, "invalid_value", "Invalid input"),
    "40001": (409, "serialization_failure", "Please retry"),
    "40P01": (409, "deadlock", "Please retry"),
}

# The database is unreachable or going away: class 08 (connection exception), 57P01
# admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now (starting up or in
# recovery), 53300 too_many_connections.
_OUTAGE_STATES = frozenset({"57P01", "57P02", "57P03", "53300"})

# Integrity-constraint violations (class 23) whose row is still referred to from elsewhere.
STILL_REFERENCED_STATES = frozenset({"23001", "23503"})


def sqlstate_of(exc: BaseException) -> str | None:
    """The SQLSTATE of a database error: a SQLAlchemy ``DBAPIError`` or a psycopg error
    raised on a driver connection used directly (COPY, bulk work)."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return str(state) if state else None


def is_database_outage(exc: BaseException) -> bool:
    """Whether ``exc`` says the database is unreachable rather than that a statement failed.

    Decided by SQLSTATE and exception class, never by message text: the SQLSTATEs above; an
    ``OperationalError`` without SQLSTATE (refused or timed-out connect, connection lost
    mid-query: psycopg raises those client-side); a connection SQLAlchemy found dead; a
    pool with no connection to give within its timeout.
    """
    import psycopg

    if isinstance(exc, PoolTimeoutError):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    state = sqlstate_of(exc)
    if state is not None:
        return state.startswith("08") or state in _OUTAGE_STATES
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    return isinstance(orig, psycopg.OperationalError)


def _is_client_data_error(exc: BaseException) -> bool:
    """A DataError with no SQLSTATE was raised by psycopg while adapting a parameter,
    before anything reached the server: the value came from the client."""
    import psycopg

    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    return isinstance(orig, psycopg.DataError)


# ------------------------------------------------------------ integrity (class 23)


def _noun(table: str, *, singular: bool = False) -> str:
    """``sla_policies`` → "SLA policies" / "SLA policy": table names as a person says them."""
    words = table.split("_")
    if singular and words:
        last = words[-1]
        if last.endswith("ies"):
            last = last[:-3] + "y"
        elif last.endswith(("ches", "shes", "sses", "xes")):
            last = last[:-2]
        elif last.endswith("s") and not last.endswith("ss"):
            last = last[:-1]
        words[-1] = last
    return " ".join(w.upper() if w in {"sla", "nps", "api"} else w for w in words)


def _a(noun: str) -> str:
    return f"{'an' if noun[:1].lower() in 'aeiou' else 'a'} {noun}"


def _first_upper(text: str) -> str:
    return text[:1].upper() + text[1:]


def _constraint(name: str | None) -> Any:
    """The constraint (or unique index) called ``name`` in the schema's metadata, if any."""
    if not name:
        return None
    import shared.db.tables  # noqa: F401  (registers every table)
    from shared.db.metadata import metadata

    for table in metadata.tables.values():
        for constraint in table.constraints:
            if constraint.name == name:
                return constraint
        for index in table.indexes:
            if index.name == name:
                return index
    return None


def _statement_verb(exc: BaseException) -> str:
    """The first keyword of the SQL we sent (our own statement, not the server's message)."""
    statement = getattr(exc, "statement", None) or ""
    return statement.lstrip().split(None, 1)[0].upper() if statement.strip() else ""


def integrity_problem(exc: BaseException) -> ProblemError:
    """A class-23 (integrity constraint) violation as a problem naming what conflicts.

    Everything that depends on other stored data is a 409: the request is fine in itself
    but conflicts with what is stored (23000, 23001 restrict_violation, 23503 foreign key,
    23505 unique, 23P01 exclusion, any other 23xxx). 23502 (not null) and 23514 (check)
    are 422: the value the client sent breaks a rule of its own row, and sending a
    different value is the fix. The detail is built from the diagnostics' table,
    column and constraint names and the schema metadata, never from the message text.
    """
    from sqlalchemy import ForeignKeyConstraint

    state = sqlstate_of(exc) or "23000"
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    diag = getattr(orig, "diag", None)
    table: str | None = getattr(diag, "table_name", None)
    column: str | None = getattr(diag, "column_name", None)
    name: str | None = getattr(diag, "constraint_name", None)
    found = _constraint(name)
    named = f" (constraint {name})" if name else ""
    extra: dict[str, Any] = {k: v for k, v in (("constraint", name), ("table", table)) if v}

    if state in STILL_REFERENCED_STATES:
        referring = table or (found.table.name if found is not None else None)
        referred = found.referred_table.name if isinstance(found, ForeignKeyConstraint) else None
        verb = _statement_verb(exc)
        if state == "23001" or verb == "DELETE":
            what = f"This {_noun(referred, singular=True)}" if referred else "This record"
            by = _noun(referring) if referring else "other records"
            detail = (
                f"{what} is still used by {by}{named}; delete those or point them elsewhere first."
            )
            return Conflict(detail, code="still_referenced", **extra)
        if verb == "INSERT":
            what = _noun(referred, singular=True) if referred else "record"
            detail = (
                f"The {what} this refers to does not exist{named}; check the identifier you sent."
            )
            return Conflict(detail, code="reference_not_found", **extra)
        detail = (
            "This conflicts with a reference between "
            f"{_noun(referring or 'records')} and {_noun(referred or 'records')}{named}; "
            "fix the reference first."
        )
        return Conflict(detail, code="referenced_row", **extra)
    if state == "23505":
        columns = [c.name for c in getattr(found, "columns", [])]
        what = _first_upper(_a(_noun(table, singular=True))) if table else "A record"
        same = f" with the same {', '.join(columns)}" if columns else " with these values"
        detail = (
            f"{what}{same} already exists{named}; change the conflicting field or update "
            "the existing record."
        )
        return Conflict(detail, code="duplicate", title="Already exists", **extra)
    if state == "23P01":
        what = f"an existing {_noun(table, singular=True) if table else 'record'}"
        detail = f"This overlaps {what}{named}; change it so the two no longer overlap."
        return Conflict(detail, code="overlaps", **extra)
    if state == "23502":
        where = f" of {_noun(table, singular=True)}" if table else ""
        detail = f"{column or 'A field'}{where} must have a value; send one."
        if column:
            extra["field"] = column
        return Unprocessable(detail, code="missing_value", **extra)
    if state == "23514":
        rule = getattr(found, "sqltext", None)
        says = f": {rule}" if rule is not None else ""
        detail = f"A value breaks the rule{named}{says}; check the values you sent."
        return Unprocessable(detail, code="constraint_violation", **extra)
    detail = f"This conflicts with stored data{named}; check the values you sent."
    return Conflict(detail, code="integrity_conflict", **extra)


def database_problem(exc: BaseException) -> ProblemError | None:
    """The problem a database error means for the client, or None for our own bug (500)."""
    if isinstance(exc, PoolTimeoutError):
        return DatabaseUnavailable("Every database connection is busy; retry in a few seconds.")
    if is_database_outage(exc):
        return DatabaseUnavailable()
    state = sqlstate_of(exc)
    if state is not None and state.startswith("23"):
        return integrity_problem(exc)
    if state in _SQLSTATE:
        status, code, title = _SQLSTATE[state]
        orig = exc.orig if isinstance(exc, DBAPIError) else exc
        constraint = getattr(getattr(orig, "diag", None), "constraint_name", None)
        return ProblemError(
            "The database rejected a value"
            + (f" (constraint {constraint})" if constraint else "")
            + "; check the values you sent.",
            status=status,
            code=code,
            title=title,
        )
    if state is None and _is_client_data_error(exc):
        # psycopg refuses some values before they reach the server (e.g. a NUL byte in
        # text): the client sent them, so it is a 422, not our 500. Decided by the
        # exception class and the missing SQLSTATE, never by the message text.
        return Unprocessable(
            "A value cannot be stored as sent (text must not contain NUL characters); "
            "check the values you sent.",
            code="invalid_value",
        )
    return None


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
    @app.exception_handler(PoolTimeoutError)
    async def _db(request: Request, exc: Exception) -> JSONResponse:
        return _database_error(request, exc)

    # psycopg errors raised on a driver connection used directly (COPY, bulk loads), which
    # SQLAlchemy never wraps.
    import psycopg

    @app.exception_handler(psycopg.Error)
    async def _driver(request: Request, exc: Exception) -> JSONResponse:
        return _database_error(request, exc)

    @app.exception_handler(Exception)
    async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
        import psycopg

        # Raised outside the routing layer (a middleware's own query) a database error
        # lands here rather than in its own handler.
        if isinstance(exc, DBAPIError | PoolTimeoutError | psycopg.Error):
            return _database_error(request, exc)
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(
            500,
            "internal_error",
            "Internal error",
            "Something went wrong on our side; it has been logged. Please retry later.",
            instance=request.url.path,
        )


def _database_error(request: Request, exc: Exception) -> JSONResponse:
    problem = database_problem(exc)
    if problem is None:
        log.exception("database error on %s %s", request.method, request.url.path, exc_info=exc)
        return problem_response(
            500,
            "internal_error",
            "Internal error",
            "Something went wrong on our side; it has been logged. Please retry later.",
            instance=request.url.path,
        )
    if problem.status == 503:
        log.warning(
            "database unavailable on %s %s: %s",
            request.method,
            request.url.path,
            type(getattr(exc, "orig", None) or exc).__name__,
        )
    return problem_response(
        problem.status,
        problem.code,
        problem.title,
        problem.detail,
        instance=request.url.path,
        errors=problem.errors,
        headers=problem.headers,
        extra=problem.extra,
    )
