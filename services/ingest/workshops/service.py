"""Results workshops: a group of a cycle's participants who, for a set time, see each other
by name beside their anonymous codes (DOMAIN.md: "anonymity is waived during workshop
discussions but not divulged at other times").

- Admins create a workshop (title, cycle, window, members) and may end it early.
- A member is a participant of the workshop's cycle: an organisation with an anonymous
  code in it (drawn when its data were accepted or imported, or by an admin); a name is
  shown beside that code, so an organisation without one has nothing to name.
- Each member organisation's own staff (participants scoped to it) consent for it or
  decline; an admin cannot do it on its behalf. Consent may change, and be withdrawn, until
  the workshop starts; from then on the group is fixed, so metrics can decide each request
  from the stored state alone.
- Times are entered and shown in Europe/London; a time without an offset is London
  wall-clock time, and one that the clock change skips or repeats must carry an offset.

Metrics (``services/metrics/workshops``) reads these tables to decide who sees names.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from services.ingest.workshops import repository as repo
from services.ingest.workshops.exceptions import (
    ConsentClosed,
    ConsentNotYours,
    InvalidWindow,
    NotAMember,
    NotAParticipant,
    WorkshopNotFound,
    WorkshopOver,
)
from services.ingest.workshops.schemas import ConsentChoice, WorkshopCreate, london_iso
from shared.auth import Principal
from shared.clock import LONDON
from shared.errors import Unprocessable

MEMBER_FIELDS = ("organisation_id", "organisation_name", "consent", "consent_by", "consent_at")


def london_instant(value: datetime, field: str) -> datetime:
    """``value`` as an aware UTC instant: with an offset, that instant; without one, London
    wall-clock time, refused when the clocks skip it (spring) or pass it twice (autumn)."""
    if value.tzinfo is not None:
        return value.astimezone(UTC)
    first, second = value.replace(tzinfo=LONDON, fold=0), value.replace(tzinfo=LONDON, fold=1)
    if first.utcoffset() == second.utcoffset():
        return first.astimezone(UTC)
    wall = value.isoformat(timespec="minutes")
    if first.astimezone(UTC).astimezone(LONDON).replace(tzinfo=None) != value:
        message = (
            f"{wall} does not exist in Europe/London (the clocks go forward); "
            "give a time outside the skipped hour"
        )
    else:
        message = (
            f"{wall} happens twice in Europe/London (the clocks go back); add the offset: "
            "+01:00 for the first, +00:00 for the second"
        )
    raise InvalidWindow(f"{field}: {message}.", errors=[{"field": field, "message": message}])


def window_end(workshop: dict[str, Any]) -> datetime:
    """When the workshop stops (or stopped) showing names."""
    early: datetime | None = workshop["ended_early_at"]
    ends: datetime = workshop["ends_at"]
    return ends if early is None else min(ends, early)


def status(workshop: dict[str, Any], now: datetime) -> str:
    if now >= window_end(workshop):
        return "ended"
    return "in_progress" if now >= workshop["starts_at"] else "scheduled"


def _present(
    workshop: dict[str, Any], members: list[dict[str, Any]], principal: Principal, now: datetime
) -> dict[str, Any]:
    """The workshop as ``principal`` may see it: every member's name (the group meets
    together), but another organisation's answer only for admins."""

    def member(row: dict[str, Any]) -> dict[str, Any]:
        own = principal.is_admin or row["organisation_id"] in principal.organisations
        return {
            "organisation_id": row["organisation_id"],
            "organisation_name": row["organisation_name"],
            "consent": row["consent"] if own else None,
            "consent_by": row["consent_by"] if own else None,
            "consent_at": row["consent_at"] if own else None,
        }

    return {**workshop, "status": status(workshop, now), "members": [member(r) for r in members]}


def _visible(session: Session, principal: Principal, workshop_id: int) -> dict[str, Any]:
    """The workshop and its members, if ``principal`` is an admin or staff of a member."""
    workshop = repo.get_workshop(session, workshop_id)
    if workshop is None:
        raise WorkshopNotFound(workshop_id)
    members = repo.members(session, [workshop_id])
    if not principal.is_admin and not principal.organisations & {
        r["organisation_id"] for r in members
    }:
        raise WorkshopNotFound(workshop_id)  # not revealed to outsiders
    return {"workshop": workshop, "members": members}


def create(
    session: Session, principal: Principal, data: WorkshopCreate, now: datetime
) -> dict[str, Any]:
    starts = london_instant(data.starts_at, "starts_at")
    ends = london_instant(data.ends_at, "ends_at")
    if ends <= starts:
        raise InvalidWindow(
            f"The workshop would end ({london_iso(ends)}) before or when it starts "
            f"({london_iso(starts)}); set ends_at after starts_at.",
            errors=[{"field": "ends_at", "message": "must be after starts_at"}],
        )
    if starts <= now:
        raise InvalidWindow(
            f"starts_at ({london_iso(starts)}) has passed; members consent before a workshop "
            "starts, so give a start in the future.",
            errors=[{"field": "starts_at", "message": "must be in the future"}],
        )
    cycle = repo.get_cycle(session, data.cycle_id)
    if cycle is None:
        raise Unprocessable(
            f"There is no cycle {data.cycle_id}; give the id of an existing cycle "
            "(GET /api/v1/cycles).",
            code="unknown_cycle",
            errors=[{"field": "cycle_id", "message": "no such cycle"}],
        )
    wanted = list(dict.fromkeys(data.organisation_ids))  # in the order given, once each
    if len(wanted) < 2:
        raise Unprocessable(
            "A workshop needs at least two different member organisations.",
            code="too_few_members",
            errors=[{"field": "organisation_ids", "message": "at least two different ids"}],
        )
    found = repo.existing_organisations(session, wanted)
    coded = repo.organisations_with_code(session, cycle["id"], wanted)
    unknown = [i for i in wanted if i not in found]
    uncoded = [i for i in wanted if i in found and i not in coded]
    if unknown or uncoded:
        position = {org: n for n, org in enumerate(data.organisation_ids)}
        parts = []
        if unknown:
            parts.append(f"there is no organisation {', '.join(map(str, unknown))}")
        if uncoded:
            parts.append(
                f"organisation {', '.join(map(str, uncoded))} does not take part in cycle "
                f"{cycle['year']} (no anonymous code in it: accept its data for the cycle, "
                "or draw codes, first)"
            )
        raise NotAParticipant(
            "Every member must be a participant of the workshop's cycle: "
            + "; ".join(parts)
            + ". Remove them from organisation_ids or fix the cycle.",
            errors=[
                {
                    "field": f"organisation_ids[{position[org]}]",
                    "message": "no such organisation"
                    if org in unknown
                    else f"not a participant of cycle {cycle['year']}",
                }
                for org in unknown + uncoded
            ],
        )
    workshop_id = repo.insert_workshop(
        session,
        {
            "title": data.title,
            "cycle_id": cycle["id"],
            "starts_at": starts,
            "ends_at": ends,
            "created_by": principal.subject,
        },
        wanted,
    )
    return get(session, principal, workshop_id, now)


def get(session: Session, principal: Principal, workshop_id: int, now: datetime) -> dict[str, Any]:
    found = _visible(session, principal, workshop_id)
    return _present(found["workshop"], found["members"], principal, now)


def listing(
    session: Session,
    principal: Principal,
    cycle_id: int | None,
    limit: int,
    offset: int,
    now: datetime,
) -> tuple[list[dict[str, Any]], int]:
    """Admins: every workshop; others: those their organisations are members of."""
    only = None if principal.is_admin else principal.organisations
    rows, total = repo.list_workshops(
        session, member_of=only, cycle_id=cycle_id, limit=limit, offset=offset
    )
    by_workshop: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for member in repo.members(session, [r["id"] for r in rows]):
        by_workshop[member["workshop_id"]].append(member)
    return [_present(r, by_workshop[r["id"]], principal, now) for r in rows], total


def set_consent(
    session: Session,
    principal: Principal,
    workshop_id: int,
    organisation_id: int,
    consent: ConsentChoice,
    now: datetime,
) -> dict[str, Any]:
    """An organisation's own staff give, decline or withdraw its consent, until the start."""
    if not principal.has_any_role(("participant",)) or (
        organisation_id not in principal.organisations
    ):
        raise ConsentNotYours(
            f"Only staff of organisation {organisation_id} (participants scoped to it) can "
            "give, decline or withdraw its consent; an administrator cannot do it on its "
            "behalf. Ask someone at that organisation to answer.",
            errors=[{"field": "path.organisation_id", "message": "not your organisation"}],
        )
    workshop = repo.get_workshop(session, workshop_id, lock=True)  # serialise with end_early
    if workshop is None:
        raise WorkshopNotFound(workshop_id)
    if now >= workshop["starts_at"] or workshop["ended_early_at"] is not None:
        when = workshop["ended_early_at"] or workshop["starts_at"]
        raise ConsentClosed(
            f"Workshop {workshop_id} {'ended' if workshop['ended_early_at'] else 'started'} at "
            f"{london_iso(when)} (Europe/London); consent can be given, declined or withdrawn "
            "only before it starts.",
            starts_at=london_iso(workshop["starts_at"]),
        )
    if not repo.set_consent(session, workshop_id, organisation_id, consent, principal.subject, now):
        raise NotAMember(workshop_id, organisation_id)
    row = next(
        r for r in repo.members(session, [workshop_id]) if r["organisation_id"] == organisation_id
    )
    return {k: row[k] for k in MEMBER_FIELDS}


def end_early(
    session: Session, principal: Principal, workshop_id: int, now: datetime
) -> dict[str, Any]:
    """Stop showing names now (before the start: the workshop never shows any)."""
    workshop = repo.get_workshop(session, workshop_id, lock=True)
    if workshop is None:
        raise WorkshopNotFound(workshop_id)
    if now >= window_end(workshop):
        raise WorkshopOver(
            f"Workshop {workshop_id} already ended at {london_iso(window_end(workshop))} "
            "(Europe/London); there is nothing to end."
        )
    repo.end_early(session, workshop_id, principal.subject, now)
    return get(session, principal, workshop_id, now)
