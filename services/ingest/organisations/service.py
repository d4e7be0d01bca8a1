"""Rules for organisations: type and nation must agree."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from services.ingest.organisations import repository as repo
from services.ingest.organisations.exceptions import NationMismatch, OrganisationNotFound
from services.ingest.organisations.schemas import OrganisationCreate, OrganisationUpdate
from shared.auth import Principal

NATION_OF_TYPE = {
    "S": "Scotland",
    "W": "Wales",
    "E": "England",
    "C": "England",
    "D": "England",
    "L": "England",
    "M": "England",
}


def check_type_nation(org_type: str, nation: str) -> None:
    expected = NATION_OF_TYPE.get(org_type)
    if expected is not None and expected != nation:
        raise NationMismatch(
            f"An organisation of type {org_type} is in {expected}, not {nation}; "
            "fix 'type' or 'nation'.",
            errors=[{"field": "nation", "message": f"must be {expected} for type {org_type}"}],
        )


def create(session: Session, data: OrganisationCreate) -> dict[str, Any]:
    check_type_nation(data.type, data.nation)
    return repo.insert_organisation(session, data.model_dump())


def get(session: Session, principal: Principal, organisation_id: int) -> dict[str, Any]:
    org = repo.get_organisation(session, organisation_id)
    if org is None:
        if principal.is_admin:
            raise OrganisationNotFound(organisation_id)
        # Do not reveal to non-admins whether another organisation id exists.
        principal.require_organisation(organisation_id)
        raise OrganisationNotFound(organisation_id)
    principal.require_organisation(organisation_id)
    return org


def update(session: Session, organisation_id: int, data: OrganisationUpdate) -> dict[str, Any]:
    current = repo.get_organisation(session, organisation_id)
    if current is None:
        raise OrganisationNotFound(organisation_id)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    check_type_nation(
        changes.get("type", current["type"]), changes.get("nation", current["nation"])
    )
    if not changes:
        return current
    updated = repo.update_organisation(session, organisation_id, changes)
    assert updated is not None
    return updated


def listing(
    session: Session, principal: Principal, org_type: str | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    only = None if principal.is_admin else principal.organisations
    return repo.list_organisations(
        session, only_ids=only, org_type=org_type, limit=limit, offset=offset
    )
