"""``Idempotency-Key`` for POSTs that create: a retry gets the first answer again.

The record is written in the same transaction as the change, so either both land or
neither does. Two concurrent requests with the same key: the second waits on the primary
key, then sees a unique violation and is told to retry (409), never a second record.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import Table, insert, select
from sqlalchemy.orm import Session

from shared.auth import Principal
from shared.errors import Unprocessable

# Set on an answer that is the stored first answer to an earlier request with the same key.
REPLAYED_HEADER = "Idempotent-Replayed"
IDEMPOTENCY_KEY = "Idempotency-Key"
MAX_KEY_LENGTH = 200


def location_responses(
    status: int = 201, what: str = "the created resource"
) -> dict[int | str, Any]:
    """The OpenAPI ``responses`` entry of an operation answering ``status`` (201 created,
    202 accepted) with a ``Location`` header: a path on this service (a relative reference,
    never an absolute URL built from the request) that answers GET with 200."""
    return {
        status: {
            "description": "Created" if status == 201 else "Accepted",
            "headers": {
                "Location": {
                    "description": f"Path of {what} on this service; GET it",
                    "schema": {"type": "string", "format": "uri-reference", "pattern": "^/"},
                }
            },
        }
    }


def idempotent_create(
    request: Request,
    session: Session,
    table: Table,
    principal: Principal,
    key: str | None,
    payload: BaseModel | dict[str, Any] | None,
    create: Callable[[], Any],
    *,
    status_code: int = 201,
    location: Callable[[dict[str, Any]], str] | None = None,
) -> JSONResponse:
    """``location`` gives the URL path of the created resource from the answer's body; it
    is sent as ``Location``, on a replay too."""

    def _headers(result: Any) -> dict[str, str]:
        return {"Location": location(result)} if location is not None else {}

    body = jsonable_encoder(payload)
    request_hash = hashlib.sha256(
        json.dumps([request.method, request.url.path, body], sort_keys=True).encode()
    ).hexdigest()
    if key is not None:
        if not 1 <= len(key) <= MAX_KEY_LENGTH:
            raise Unprocessable(
                "Idempotency-Key must be 1 to 200 characters.",
                errors=[{"field": "header.Idempotency-Key", "message": "1 to 200 characters"}],
            )
        found = (
            session.execute(
                select(table).where(table.c.principal == principal.subject, table.c.key == key)
            )
            .mappings()
            .first()
        )
        if found is not None:
            if found["request_hash"] != request_hash:
                raise Unprocessable(
                    "This Idempotency-Key was already used with a different request; "
                    "use a new key for a new request.",
                    code="idempotency_key_reused",
                )
            return JSONResponse(
                found["response_body"],
                status_code=found["status_code"],
                headers={REPLAYED_HEADER: "true", **_headers(found["response_body"])},
            )
    result = jsonable_encoder(create())
    if key is not None:
        session.execute(
            insert(table).values(
                principal=principal.subject,
                key=key,
                method=request.method,
                path=request.url.path,
                request_hash=request_hash,
                status_code=status_code,
                response_body=result,
            )
        )
    return JSONResponse(result, status_code=status_code, headers=_headers(result))
