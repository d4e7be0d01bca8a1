"""Organisation value mappings: how one organisation's exports from one source system name
organisations ("Brent", "LBS"), so a shared service's export lands per partner.

A mapping belongs to the organisation that pushes the exports (usually the shared service)
and to one source system. Each value maps to an organisation the caller may push tickets
for: its own, or a partner of a shared service it belongs to (admins: any). An import for
that organisation and source system translates its organisation column through the
mapping; a value not in it is refused by row (``unmapped_organisation``), and a value
mapped to an organisation the uploader may not push for is refused by row
(``organisation_forbidden``), so a mapping made by someone else never widens an upload.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from services.ingest.organisation_values import repository as repo
from services.ingest.organisation_values.exceptions import (
    InvalidValueMapping,
    ValueMappingNotFound,
)
from services.ingest.organisation_values.schemas import ValueMappingIn
from services.ingest.tickets import repository as tickets_repo
from services.ingest.tickets.exceptions import OrganisationNotFound
from services.ingest.tickets.service import pushable_organisations
from shared.auth import Principal


def value_key(value: str) -> str:
    return value.strip().lower()


def listing(
    session: Session, principal: Principal, organisation_id: int, source_system: str | None
) -> list[dict[str, Any]]:
    principal.require_organisation(organisation_id)
    return repo.listing(session, organisation_id, source_system)


def replace(
    session: Session,
    principal: Principal,
    organisation_id: int,
    source_system: str,
    body: ValueMappingIn,
) -> list[dict[str, Any]]:
    """Replace the mapping for one source system; every entry is checked and a bad one
    is named (``values.<value>``) with nothing changed."""
    principal.require_organisation(organisation_id)
    if not tickets_repo.organisation_exists(session, organisation_id):
        raise OrganisationNotFound(organisation_id)
    known = tickets_repo.organisation_ids(session)
    allowed = pushable_organisations(session, principal)
    errors: list[dict[str, str]] = []
    seen: dict[str, str] = {}
    for value, target in body.values.items():
        field = f"values.{value}"
        key = value_key(value)
        if key in seen:
            errors.append(
                {"field": field, "message": f"the same value as {seen[key]!r} (case and "
                 "surrounding spaces are ignored)"}
            )  # fmt: skip
        elif target not in known:
            errors.append({"field": field, "message": f"there is no organisation {target}"})
        elif allowed is not None and target not in allowed:
            errors.append(
                {"field": field, "message": f"organisation {target} is not one you may push "
                 "tickets for (yours, or a partner of your shared service)"}
            )  # fmt: skip
        seen.setdefault(key, value)
    if errors:
        raise InvalidValueMapping(
            "The mapping was not changed: "
            + "; ".join(f"{e['field']}: {e['message']}" for e in errors[:20])
            + ("…" if len(errors) > 20 else "")
            + ".",
            errors=errors[:100],
        )
    repo.replace(
        session,
        organisation_id,
        source_system,
        [
            {
                "organisation_id": organisation_id,
                "source_system": source_system,
                "value": value.strip(),
                "value_key": value_key(value),
                "target_organisation_id": target,
                "created_by": principal.subject,
            }
            for value, target in body.values.items()
        ],
    )
    return repo.listing(session, organisation_id, source_system)


def remove(
    session: Session, principal: Principal, organisation_id: int, source_system: str
) -> None:
    principal.require_organisation(organisation_id)
    if not repo.remove(session, organisation_id, source_system):
        raise ValueMappingNotFound(organisation_id, source_system)
