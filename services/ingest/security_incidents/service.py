"""A shared service's security incidents log: title, reference, opened and closed dates,
severity (low, medium, high, critical), OS, assets affected and status. Written one at a
time through the API or imported from CSV/XLSX (a row per incident, created or replaced
by its reference; any bad row refuses the whole file and nothing changes)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from services.ingest.organisations.service import governance_access
from services.ingest.security_incidents import repository as repo
from services.ingest.security_incidents.exceptions import ClosedBeforeOpened, IncidentNotFound
from services.ingest.security_incidents.schemas import IncidentIn, IncidentUpdate
from shared.auth import Principal
from shared.sheets import date_cell, read_table, reject, row_error, text_cell, validate_row

REQUIRED = ("reference", "title", "opened", "severity")
ALIASES = {
    "ref": "reference",
    "incident_ref": "reference",
    "incident_reference": "reference",
    "incident": "title",
    "summary": "title",
    "description": "title",
    "opened_on": "opened",
    "date_opened": "opened",
    "opened_date": "opened",
    "date_reported": "opened",
    "reported": "opened",
    "closed_on": "closed",
    "date_closed": "closed",
    "closed_date": "closed",
    "operating_system": "os",
    "assets": "assets_affected",
    "affected_assets": "assets_affected",
}
# File column → the field of IncidentIn it fills.
_FIELD = {"opened": "opened_on", "closed": "closed_on"}


def _check_dates(opened: date, closed: date | None) -> str | None:
    if closed is not None and closed < opened:
        return f"closed on {closed.isoformat()}, before it was opened ({opened.isoformat()})"
    return None


def create(
    session: Session, principal: Principal, service_id: int, body: IncidentIn
) -> dict[str, Any]:
    governance_access(session, principal, service_id, write=True)
    why = _check_dates(body.opened_on, body.closed_on)
    if why is not None:
        raise ClosedBeforeOpened(
            f"The incident is {why}; fix closed_on.",
            errors=[{"field": "closed_on", "message": why}],
        )
    return repo.insert_incident(session, {"service_id": service_id, **body.model_dump()})


def update(
    session: Session,
    principal: Principal,
    service_id: int,
    incident_id: int,
    body: IncidentUpdate,
) -> dict[str, Any]:
    governance_access(session, principal, service_id, write=True)
    current = repo.get_incident(session, service_id, incident_id)
    if current is None:
        raise IncidentNotFound(service_id, incident_id)
    changes = body.model_dump(exclude_unset=True)
    for required in ("title", "opened_on", "severity", "status"):
        if required in changes and changes[required] is None:
            raise ClosedBeforeOpened(
                f"{required} cannot be emptied.",
                code="missing_value",
                errors=[{"field": required, "message": "cannot be null"}],
            )
    why = _check_dates(
        changes.get("opened_on", current["opened_on"]),
        changes.get("closed_on", current["closed_on"]),
    )
    if why is not None:
        raise ClosedBeforeOpened(
            f"The incident would be {why}.", errors=[{"field": "closed_on", "message": why}]
        )
    if not changes:
        return current
    return repo.update_incident(session, service_id, incident_id, changes)


def get(
    session: Session, principal: Principal, service_id: int, incident_id: int
) -> dict[str, Any]:
    governance_access(session, principal, service_id, write=False)
    row = repo.get_incident(session, service_id, incident_id)
    if row is None:
        raise IncidentNotFound(service_id, incident_id)
    return row


def listing(
    session: Session,
    principal: Principal,
    service_id: int,
    opened_from: date | None,
    opened_to: date | None,
    severities: Sequence[str] | None,
) -> list[dict[str, Any]]:
    governance_access(session, principal, service_id, write=False)
    return repo.list_incidents(session, service_id, opened_from, opened_to, severities)


def delete(session: Session, principal: Principal, service_id: int, incident_id: int) -> None:
    governance_access(session, principal, service_id, write=True)
    if not repo.delete_incident(session, service_id, incident_id):
        raise IncidentNotFound(service_id, incident_id)


def import_file(
    session: Session,
    principal: Principal,
    service_id: int,
    content: bytes,
    filename: str | None,
    content_type: str | None,
) -> dict[str, Any]:
    governance_access(session, principal, service_id, write=True)
    sheet = read_table(
        content,
        filename=filename,
        content_type=content_type,
        required=REQUIRED,
        aliases=ALIASES,
        what="security incidents file",
    )
    label = sheet.labels
    labels = {_FIELD.get(k, k): v for k, v in label.items()}
    errors: list[dict[str, Any]] = []
    good: list[IncidentIn] = []
    seen: dict[str, int] = {}
    for row in sheet.rows:
        n, cells = row.number, row.cells
        problems = []
        item: dict[str, Any] = {}
        for column in ("reference", "title", "os", "assets_affected", "status"):
            if column in label:
                item[column] = text_cell(cells.get(column)) or None
        if item.get("severity") is None:
            item["severity"] = text_cell(cells.get("severity")).casefold() or None
        for column in ("opened", "closed"):
            if column not in label:
                continue
            try:
                item[_FIELD[column]] = date_cell(cells.get(column))
            except ValueError as exc:
                problems.append(row_error(n, label[column], str(exc), "not_a_date"))
        if item.get("status") is None:
            item["status"] = "closed" if item.get("closed_on") else "open"
        failing = {p["column"] for p in problems}
        kept = {k: v for k, v in item.items() if labels.get(k) not in failing}
        incident, invalid = validate_row(IncidentIn, kept, n, labels)
        problems += [p for p in invalid if p["column"] not in failing]
        if incident is not None and not problems:
            why = _check_dates(incident.opened_on, incident.closed_on)
            if why is not None:
                problems.append(row_error(n, label["closed"], why, "closed_before_opened"))
            key = incident.reference.casefold()
            if key in seen:
                problems.append(
                    row_error(
                        n,
                        label["reference"],
                        f"{incident.reference!r} is also row {seen[key]}",
                        "duplicate_reference",
                    )
                )
            seen.setdefault(key, n)
            if not problems:
                good.append(incident)
        errors.extend(problems)
    if errors:
        raise reject("security incidents file", errors, len(sheet.rows))
    created = sum(
        repo.upsert_incident(session, {"service_id": service_id, **incident.model_dump()})
        for incident in good
    )
    return {"rows": len(good), "created": created, "updated": len(good) - created}
