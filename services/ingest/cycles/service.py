"""Cycles and anonymous codes.

A code is ``T`` (type letter) + ``YY`` (data year: the collection year minus one) + a
number drawn at random per cycle from those not yet used (10-99, then 100-999 once the
two-digit numbers run out), with `` (P)`` for a partnership. The number is never the
database id and never follows the alphabet; once drawn, a code is stable for the cycle.
"""

from __future__ import annotations

import secrets
from typing import Any

from sqlalchemy.orm import Session

from services.ingest.cycles import repository as repo
from services.ingest.cycles.exceptions import CodesExhausted, CycleNotFound, ReleaseDateRequired
from services.ingest.cycles.schemas import CycleCreate, CycleUpdate
from shared.db.tables.ingest import ingest_outbox
from shared.events import CycleStatusChanged
from shared.outbox import enqueue_event

_rng = secrets.SystemRandom()


def format_code(org_type: str, cycle_year: int, number: int, partnership: bool) -> str:
    code = f"{org_type}{(cycle_year - 1) % 100:02d}{number:02d}"
    return f"{code} (P)" if partnership else code


def draw_numbers(used: set[int], count: int) -> list[int]:
    drawn: list[int] = []
    for low, high in ((10, 99), (100, 999)):
        free = [n for n in range(low, high + 1) if n not in used]
        take = min(count - len(drawn), len(free))
        drawn.extend(_rng.sample(free, take))
        if len(drawn) == count:
            return drawn
    raise CodesExhausted("This cycle has run out of anonymous code numbers (990 in use).")


def create(session: Session, data: CycleCreate) -> dict[str, Any]:
    if data.status == "published" and data.results_release_date is None:
        raise ReleaseDateRequired(
            "A published cycle needs a results_release_date.",
            errors=[{"field": "results_release_date", "message": "required when published"}],
        )
    return repo.insert_cycle(session, data.model_dump())


def get(session: Session, cycle_id: int) -> dict[str, Any]:
    cycle = repo.get_cycle(session, cycle_id)
    if cycle is None:
        raise CycleNotFound(cycle_id)
    return cycle


def listing(session: Session, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    return repo.list_cycles(session, limit, offset)


def update(session: Session, cycle_id: int, data: CycleUpdate) -> dict[str, Any]:
    current = repo.get_cycle(session, cycle_id, lock=True)
    if current is None:
        raise CycleNotFound(cycle_id)
    changes = data.model_dump(exclude_unset=True)
    if "status" in changes and changes["status"] is None:
        del changes["status"]
    merged = {**current, **changes}
    if merged["status"] == "published" and merged["results_release_date"] is None:
        raise ReleaseDateRequired(
            "Set results_release_date before publishing the cycle.",
            errors=[{"field": "results_release_date", "message": "required when published"}],
        )
    if not changes:
        return current
    updated = repo.update_cycle(session, cycle_id, changes)
    if current["status"] != updated["status"]:
        enqueue_event(
            session,
            ingest_outbox,
            CycleStatusChanged(cycle_id=cycle_id, year=updated["year"], status=updated["status"]),
        )
    return updated


def assign_codes(session: Session, cycle_id: int) -> list[dict[str, Any]]:
    """Draw codes for every organisation that has none in this cycle; return all codes."""
    cycle = repo.get_cycle(session, cycle_id, lock=True)  # serialise concurrent draws
    if cycle is None:
        raise CycleNotFound(cycle_id)
    missing = repo.organisations_without_code(session, cycle_id)
    numbers = draw_numbers(repo.used_numbers(session, cycle_id), len(missing))
    repo.insert_codes(
        session,
        [
            {
                "cycle_id": cycle_id,
                "organisation_id": org["id"],
                "number": number,
                "code": format_code(org["type"], cycle["year"], number, org["partnership"]),
            }
            for org, number in zip(missing, numbers, strict=True)
        ],
    )
    return repo.list_codes(session, cycle_id)


def codes_for(
    session: Session, cycle_id: int, organisation_ids: set[int] | None
) -> list[dict[str, Any]]:
    get(session, cycle_id)
    return repo.list_codes(session, cycle_id, organisation_ids)


def ensure_codes(session: Session, cycle: dict[str, Any], organisation_ids: set[int]) -> None:
    """Draw a code in ``cycle`` for each of ``organisation_ids`` that has none yet (on
    acceptance and import, so every organisation in a benchmark has its code)."""
    have = repo.organisations_with_code(session, cycle["id"])
    missing = sorted(organisation_ids - have)
    if not missing:
        return
    repo.lock_cycle_codes(session, cycle["id"])  # serialise draws in this cycle
    have = repo.organisations_with_code(session, cycle["id"])
    orgs = [o for o in repo.organisations_by_id(session, set(missing)) if o["id"] not in have]
    numbers = draw_numbers(repo.used_numbers(session, cycle["id"]), len(orgs))
    repo.insert_codes(
        session,
        [
            {
                "cycle_id": cycle["id"],
                "organisation_id": org["id"],
                "number": number,
                "code": format_code(org["type"], cycle["year"], number, org["partnership"]),
            }
            for org, number in zip(orgs, numbers, strict=True)
        ],
    )
