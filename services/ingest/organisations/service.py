"""Rules for organisations: type and nation must agree; a shared service's partners; who
may read and write a shared service's governance data."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from services.ingest.organisations import repository as repo
from services.ingest.organisations.exceptions import (
    GovernanceReadOnly,
    InvalidPartners,
    NationMismatch,
    OrganisationNotFound,
)
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
    # Only population may be set to null (not known); for the rest null means unchanged.
    changes = {
        k: v
        for k, v in data.model_dump(exclude_unset=True).items()
        if v is not None or k == "population"
    }
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


# ------------------------------------------------------------ shared services and partners

# The role a service's own staff need to write its governance data (admins always may).
GOVERNANCE_WRITER_ROLE = "participant"


def governance_access(
    session: Session, principal: Principal, service_id: int, *, write: bool
) -> dict[str, Any]:
    """The shared service ``service_id`` if ``principal`` may read (or, with ``write``,
    write) its governance data; otherwise the refusal.

    Admins: everything (an unknown id is a 404). The service's own principals (its id in
    their organisations): read; write with the participant role. A principal of one of
    its partner organisations: read only. Anyone else: 403 ``organisation_forbidden``,
    the codebase's answer for another organisation's data, which does not reveal whether
    the id exists.
    """
    if principal.is_admin:
        org = repo.get_organisation(session, service_id)
        if org is None:
            raise OrganisationNotFound(service_id)
        return org
    own = service_id in principal.organisations
    if not own and not (
        principal.organisations and repo.is_partner_of(session, service_id, principal.organisations)
    ):
        principal.require_organisation(service_id)  # raises: not theirs, not a partner's
    if write and not own:
        raise GovernanceReadOnly(
            f"Partner organisations read shared service {service_id}'s governance data; only "
            "the service's own staff (participant role) and administrators change it."
        )
    if write and not principal.has_any_role((GOVERNANCE_WRITER_ROLE,)):
        raise GovernanceReadOnly(
            f"Changing service {service_id}'s governance data needs the participant role; "
            f"you have {', '.join(sorted(principal.roles))}."
        )
    org = repo.get_organisation(session, service_id)
    if org is None:
        raise OrganisationNotFound(service_id)
    return org


def partners(session: Session, principal: Principal, service_id: int) -> list[dict[str, Any]]:
    governance_access(session, principal, service_id, write=False)
    return repo.partners(session, service_id)


def partner_ids(session: Session, service_id: int) -> list[int]:
    """The service's partners, in order (no access check: for the governance packages)."""
    return [r["id"] for r in repo.partners(session, service_id)]


def replace_partners(
    session: Session, service_id: int, partner_ids: list[int]
) -> list[dict[str, Any]]:
    """Make ``partner_ids`` (in this order) the service's partners (admins only)."""
    if repo.get_organisation(session, service_id) is None:
        raise OrganisationNotFound(service_id)
    known = repo.organisation_names(session, set(partner_ids))
    errors = []
    seen: set[int] = set()
    for i, pid in enumerate(partner_ids):
        field = f"partner_ids.{i}"
        if pid == service_id:
            errors.append({"field": field, "message": "a service cannot be its own partner"})
        elif pid not in known:
            errors.append({"field": field, "message": f"there is no organisation {pid}"})
        elif pid in seen:
            errors.append({"field": field, "message": f"organisation {pid} is listed twice"})
        seen.add(pid)
    if errors:
        raise InvalidPartners(
            "The partners were not changed: "
            + "; ".join(f"{e['field']}: {e['message']}" for e in errors)
            + ".",
            errors=errors,
        )
    repo.replace_partners(session, service_id, partner_ids)
    return repo.partners(session, service_id)


def service_and_partners(session: Session, service_id: int) -> list[dict[str, Any]]:
    """The service first, then its partners in order: ``{id, name}`` each (no access check:
    for the governance packages, after theirs)."""
    service = repo.get_organisation(session, service_id)
    if service is None:
        raise OrganisationNotFound(service_id)
    members = [{"id": service["id"], "name": service["name"]}]
    return members + [
        {"id": p["id"], "name": p["name"]} for p in repo.partners(session, service_id)
    ]
