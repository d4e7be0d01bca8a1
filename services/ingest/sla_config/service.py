"""Business calendars and SLA policies, per organisation, effective-dated.

Any change enqueues a full SLA recompute of the organisation (``sla.recompute``), since
a calendar or policy can change the outcome of any of its tickets, past ones included:
history is restated on purpose, as DOMAIN.md allows.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from services.ingest.sla_config import repository as repo
from services.ingest.sla_config.exceptions import (
    CalendarInUse,
    CalendarNotFound,
    InvalidCalendar,
    InvalidOlaPolicy,
    InvalidPolicy,
    OlaPolicyNotFound,
    PolicyNotFound,
)
from services.ingest.sla_config.schemas import WEEKDAYS, CalendarIn, OlaPolicyIn, PolicyIn, Window
from services.ingest.tickets.exceptions import OrganisationNotFound
from services.ingest.tickets.repository import organisation_exists
from shared.auth import Principal
from shared.db.tables.ingest import ingest_outbox
from shared.errors import STILL_REFERENCED_STATES, sqlstate_of
from shared.events import SlaRecompute
from shared.outbox import enqueue_event


def _minutes(w: Window) -> tuple[int, int]:
    s = int(w.start[:2]) * 60 + int(w.start[3:])
    e = int(w.end[:2]) * 60 + int(w.end[3:])
    return s, (24 * 60 if e == 0 else e)


def _validate_hours(body: CalendarIn) -> dict[str, list[list[str]]]:
    errors = []
    stored: dict[str, list[list[str]]] = {}
    for day, windows in body.hours.items():
        prev = -1
        for n, w in sorted(enumerate(windows), key=lambda x: _minutes(x[1])):
            s, e = _minutes(w)
            if e <= s:
                errors.append({"field": f"hours.{day}.{n}", "message": "end must be after start"})
            elif s < prev:
                errors.append({"field": f"hours.{day}.{n}", "message": "overlaps another window"})
            prev = max(prev, e)
        if windows:
            stored[str(WEEKDAYS.index(day))] = [
                [w.start, w.end] for w in sorted(windows, key=lambda w: _minutes(w))
            ]
    if not stored and not errors:
        errors.append({"field": "hours", "message": "at least one working window is needed"})
    if errors:
        raise InvalidCalendar("The working hours are not valid.", errors=errors)
    return stored


def working_day_seconds(hours: dict[str, list[list[str]]]) -> int:
    """Same rule as the SLA engine: the most common day length, ties → the longest."""

    def mins(t: str) -> int:
        h, m = t.split(":")
        return int(h) * 60 + int(m)

    lengths = [
        sum(((mins(e) or 24 * 60) - mins(s)) * 60 for s, e in windows)
        for windows in hours.values()
        if windows
    ]
    counts = Counter(lengths)
    return max(counts, key=lambda n: (counts[n], n)) if counts else 0


def _recompute(session: Session, organisation_id: int, reason: str) -> None:
    enqueue_event(
        session, ingest_outbox, SlaRecompute(organisation_id=organisation_id, reason=reason)
    )


def _check_org(session: Session, principal: Principal, organisation_id: int) -> None:
    principal.require_organisation(organisation_id)
    if not organisation_exists(session, organisation_id):
        raise OrganisationNotFound(organisation_id)


def _calendar_out(row: dict[str, Any], closures: list[dict[str, Any]]) -> dict[str, Any]:
    hours = {
        WEEKDAYS[int(k)]: [{"start": s, "end": e} for s, e in v] for k, v in row["hours"].items()
    }
    wds = working_day_seconds(row["hours"])
    return {
        **row,
        "hours": hours,
        "closures": closures,
        "working_day_hours": (Decimal(wds) / 3600).quantize(Decimal("0.01")),
    }


def create_calendar(
    session: Session, principal: Principal, organisation_id: int, body: CalendarIn
) -> dict[str, Any]:
    _check_org(session, principal, organisation_id)
    hours = _validate_hours(body)
    row = repo.insert_calendar(
        session,
        {
            "organisation_id": organisation_id,
            "name": body.name,
            "nation": body.nation,
            "hours": hours,
        },
    )
    closures = [{"closed_on": c.date, "reason": c.reason} for c in body.closures]
    repo.replace_closures(session, row["id"], _dedupe(closures))
    _recompute(session, organisation_id, "calendar")
    return get_calendar(session, principal, organisation_id, row["id"])


def _dedupe(closures: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return list({c["closed_on"]: c for c in closures}.values())


def replace_calendar(
    session: Session, principal: Principal, organisation_id: int, calendar_id: int, body: CalendarIn
) -> dict[str, Any]:
    principal.require_organisation(organisation_id)
    if repo.get_calendar(session, organisation_id, calendar_id) is None:
        raise CalendarNotFound(calendar_id)
    hours = _validate_hours(body)
    repo.update_calendar(
        session, calendar_id, {"name": body.name, "nation": body.nation, "hours": hours}
    )
    closures = [{"closed_on": c.date, "reason": c.reason} for c in body.closures]
    repo.replace_closures(session, calendar_id, _dedupe(closures))
    _recompute(session, organisation_id, "calendar")
    return get_calendar(session, principal, organisation_id, calendar_id)


def get_calendar(
    session: Session, principal: Principal, organisation_id: int, calendar_id: int
) -> dict[str, Any]:
    principal.require_organisation(organisation_id)
    row = repo.get_calendar(session, organisation_id, calendar_id)
    if row is None:
        raise CalendarNotFound(calendar_id)
    return _calendar_out(row, repo.closures(session, [calendar_id])[calendar_id])


def list_calendars(
    session: Session, principal: Principal, organisation_id: int
) -> list[dict[str, Any]]:
    principal.require_organisation(organisation_id)
    rows = repo.list_calendars(session, organisation_id)
    closures = repo.closures(session, [r["id"] for r in rows])
    return [_calendar_out(r, closures[r["id"]]) for r in rows]


def delete_calendar(
    session: Session, principal: Principal, organisation_id: int, calendar_id: int
) -> None:
    principal.require_organisation(organisation_id)
    if repo.get_calendar(session, organisation_id, calendar_id) is None:
        raise CalendarNotFound(calendar_id)
    try:
        repo.delete_calendar(session, calendar_id)
    except IntegrityError as exc:
        # The database decides (no check-then-delete race); we only say who still uses it.
        if sqlstate_of(exc) not in STILL_REFERENCED_STATES:
            raise
        raise CalendarInUse(
            calendar_id,
            repo.policies_using(session, organisation_id, calendar_id),
            repo.ola_policies_using(session, organisation_id, calendar_id),
        ) from None
    _recompute(session, organisation_id, "calendar")


def _hours(seconds: int | None) -> Decimal | None:
    return None if seconds is None else (Decimal(seconds) / 3600).quantize(Decimal("0.0001"))


def _seconds(hours: Decimal | None) -> int | None:
    return None if hours is None else int((hours * 3600).to_integral_value())


def _named(row: dict[str, Any]) -> list[str]:
    """The statuses a policy names (pause statuses, then known ones), first spelling kept."""
    return _statuses([*row.get("pause_statuses", []), *row.get("known_statuses", [])])


def _never_seen(
    session: Session, organisation_id: int, rows: list[dict[str, Any]]
) -> list[list[str]]:
    """Per policy, the statuses it names that no status event of its organisation's
    ticket histories carries (a misspelt pause status never pauses anything)."""
    keys = [s.lower() for r in rows for s in _named(r)]
    seen = repo.seen_statuses(session, organisation_id, keys)
    return [[s for s in _named(r) if s.lower() not in seen] for r in rows]


def _policy_out(row: dict[str, Any], never_seen: list[str]) -> dict[str, Any]:
    return {
        **row,
        "statuses_never_seen": never_seen,
        "target_hours": _hours(row["target_seconds"]),
        "response_target_hours": _hours(row.get("response_target_seconds")),
        "target_share_pct": (row["target_share"] * 100).quantize(Decimal("0.01")),
        "clock": "24x7"
        if row["calendar_id"] is None
        else f"business calendar {row['calendar_id']}",
    }


def _statuses(values: list[str]) -> list[str]:
    """Stripped, the first spelling of each status kept (they match ignoring case)."""
    seen: dict[str, str] = {}
    for v in values:
        seen.setdefault(v.strip().lower(), v.strip())
    return list(seen.values())


def _check_target(
    session: Session,
    organisation_id: int,
    target_hours: Decimal | None,
    target_working_days: Decimal | None,
    calendar_id: int | None,
    error: type[InvalidPolicy | InvalidOlaPolicy] = InvalidPolicy,
) -> None:
    if (target_hours is None) == (target_working_days is None):
        raise error(
            "Give exactly one of target_hours and target_working_days.",
            errors=[{"field": "target_hours", "message": "exactly one target"}],
        )
    if target_working_days is not None and calendar_id is None:
        raise error(
            "A target in working days needs a business calendar (calendar_id).",
            errors=[{"field": "calendar_id", "message": "required for working days"}],
        )
    if calendar_id is not None and repo.get_calendar(session, organisation_id, calendar_id) is None:
        raise error(
            f"Calendar {calendar_id} is not one of this organisation's calendars.",
            errors=[{"field": "calendar_id", "message": "unknown calendar"}],
        )


def create_policy(
    session: Session, principal: Principal, organisation_id: int, body: PolicyIn
) -> dict[str, Any]:
    _check_org(session, principal, organisation_id)
    _check_target(
        session, organisation_id, body.target_hours, body.target_working_days, body.calendar_id
    )
    row = repo.insert_policy(
        session,
        {
            "organisation_id": organisation_id,
            "priority": body.priority,
            "request_type": body.request_type,
            "target_seconds": _seconds(body.target_hours),
            "target_working_days": body.target_working_days,
            "calendar_id": body.calendar_id,
            "target_share": body.target_share_pct / 100,
            "effective_from": body.effective_from,
            "pause_statuses": _statuses(body.pause_statuses),
            "known_statuses": _statuses(body.known_statuses),
            "priority_change": body.priority_change,
            "reopen_rule": body.reopen_rule,
            "response_target_seconds": _seconds(body.response_target_hours),
            "warning_pcts": sorted(set(body.warning_pcts)),
        },
    )
    _recompute(session, organisation_id, "policy")
    return _policy_out(row, *_never_seen(session, organisation_id, [row]))


def list_policies(
    session: Session, principal: Principal, organisation_id: int
) -> list[dict[str, Any]]:
    principal.require_organisation(organisation_id)
    rows = repo.list_policies(session, organisation_id)
    unseen = _never_seen(session, organisation_id, rows)
    return [_policy_out(r, u) for r, u in zip(rows, unseen, strict=True)]


def get_policy(
    session: Session, principal: Principal, organisation_id: int, policy_id: int
) -> dict[str, Any]:
    principal.require_organisation(organisation_id)
    row = repo.get_policy(session, organisation_id, policy_id)
    if row is None:
        raise PolicyNotFound(policy_id)
    return _policy_out(row, *_never_seen(session, organisation_id, [row]))


def delete_policy(
    session: Session, principal: Principal, organisation_id: int, policy_id: int
) -> None:
    principal.require_organisation(organisation_id)
    if not repo.delete_policy(session, organisation_id, policy_id):
        raise PolicyNotFound(policy_id)
    _recompute(session, organisation_id, "policy")


# ------------------------------------------------------------------------------ OLAs


def _ola_out(row: dict[str, Any], never_seen: list[str]) -> dict[str, Any]:
    return {
        **row,
        "statuses_never_seen": never_seen,
        "target_hours": _hours(row["target_seconds"]),
        "target_share_pct": (row["target_share"] * 100).quantize(Decimal("0.01")),
        "clock": "24x7"
        if row["calendar_id"] is None
        else f"business calendar {row['calendar_id']}",
    }


def create_ola_policy(
    session: Session, principal: Principal, organisation_id: int, body: OlaPolicyIn
) -> dict[str, Any]:
    """An OLA for a resolver group (OLA figures are computed when asked for: nothing to
    recompute)."""
    _check_org(session, principal, organisation_id)
    _check_target(
        session,
        organisation_id,
        body.target_hours,
        body.target_working_days,
        body.calendar_id,
        InvalidOlaPolicy,
    )
    row = repo.insert_ola_policy(
        session,
        {
            "organisation_id": organisation_id,
            "resolver_group": body.resolver_group.strip(),
            "priority": body.priority,
            "target_seconds": _seconds(body.target_hours),
            "target_working_days": body.target_working_days,
            "calendar_id": body.calendar_id,
            "target_share": body.target_share_pct / 100,
            "pause_statuses": _statuses(body.pause_statuses),
            "effective_from": body.effective_from,
        },
    )
    return _ola_out(row, *_never_seen(session, organisation_id, [row]))


def list_ola_policies(
    session: Session, principal: Principal, organisation_id: int
) -> list[dict[str, Any]]:
    principal.require_organisation(organisation_id)
    rows = repo.list_ola_policies(session, organisation_id)
    unseen = _never_seen(session, organisation_id, rows)
    return [_ola_out(r, u) for r, u in zip(rows, unseen, strict=True)]


def get_ola_policy(
    session: Session, principal: Principal, organisation_id: int, policy_id: int
) -> dict[str, Any]:
    principal.require_organisation(organisation_id)
    row = repo.get_ola_policy(session, organisation_id, policy_id)
    if row is None:
        raise OlaPolicyNotFound(policy_id)
    return _ola_out(row, *_never_seen(session, organisation_id, [row]))


def delete_ola_policy(
    session: Session, principal: Principal, organisation_id: int, policy_id: int
) -> None:
    principal.require_organisation(organisation_id)
    if not repo.delete_ola_policy(session, organisation_id, policy_id):
        raise OlaPolicyNotFound(policy_id)
