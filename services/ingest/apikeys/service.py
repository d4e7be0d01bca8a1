"""API keys for machines and BI tools.

Admins may create keys of any role for any organisations. A participant may create
``reader`` or ``participant`` keys for their own organisations only (e.g. for their
Power BI workspace), and sees and revokes only keys they created.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from services.ingest.apikeys import repository as repo
from services.ingest.apikeys.schemas import ApiKeyCreate
from shared.auth import Principal, generate_api_key
from shared.errors import Forbidden, NotFound, Unprocessable
from shared.settings import Settings


def create(
    session: Session, settings: Settings, principal: Principal, data: ApiKeyCreate, created_by: str
) -> dict[str, Any]:
    orgs = sorted(set(data.organisations))
    if not principal.is_admin:
        if data.role not in ("reader", "participant"):
            raise Forbidden(
                "Only administrators can create admin or partner keys.", code="role_forbidden"
            )
        outside = [o for o in orgs if o not in principal.organisations]
        if outside or not orgs:
            raise Forbidden(
                "A key you create must be scoped to your own organisations "
                f"({', '.join(map(str, sorted(principal.organisations))) or 'none'}).",
                code="organisation_forbidden",
            )
    unknown = sorted(set(orgs) - repo.existing_organisations(session, orgs)) if orgs else []
    if unknown:
        raise Unprocessable(
            f"Unknown organisation ids: {', '.join(map(str, unknown))}.",
            errors=[{"field": "organisations", "message": f"unknown ids {unknown}"}],
        )
    if data.expires_at is not None:
        expires = data.expires_at if data.expires_at.tzinfo else data.expires_at.replace(tzinfo=UTC)
        if expires <= datetime.now(UTC):
            raise Unprocessable(
                "expires_at must be in the future.",
                errors=[{"field": "expires_at", "message": "must be in the future"}],
            )
    new = generate_api_key(settings)
    row = repo.insert_key(
        session,
        {
            "id": new.id,
            "prefix": new.prefix,
            "secret_hash": new.secret_hash,
            "name": data.name,
            "role": data.role,
            "organisations": orgs,
            "created_by": created_by,
            "expires_at": data.expires_at,
        },
    )
    return {**row, "key": new.plaintext}


def listing(
    session: Session, principal: Principal, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    return repo.list_keys(session, None if principal.is_admin else principal.subject, limit, offset)


def visible(session: Session, principal: Principal, key_id: uuid.UUID) -> dict[str, Any]:
    """A key its caller manages: any for an admin, their own otherwise."""
    row = repo.get_key(session, key_id)
    if row is None or (not principal.is_admin and row["created_by"] != principal.subject):
        raise NotFound(
            f"There is no API key {key_id} that you manage; list yours at /api/v1/api-keys.",
            code="api_key_not_found",
        )
    return row


def revoke(session: Session, principal: Principal, key_id: uuid.UUID) -> dict[str, Any]:
    visible(session, principal, key_id)
    return repo.revoke_key(session, key_id)
