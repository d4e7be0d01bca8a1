"""A shared service's risk register: each risk (reference, section, title with its cause,
event and consequence, owner) and its assessment per financial year and period
(developments, impact and probability 1-5, the source's own priority if it has one,
actions, owner), so the pack can show the trend across periods.

A register import (CSV, XLSX or JSON) is one row per risk for one period: the risk is
created or updated by its reference, and its assessment for the period is created or
replaced. Risks the import does not name are left as they are. Every row is checked
first; any problem refuses the whole import (422 naming each row and column) and nothing
changes. The file format is in the router's docstring.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from services.ingest.organisations.service import governance_access
from services.ingest.risks import repository as repo
from services.ingest.risks.exceptions import RiskNotFound
from services.ingest.risks.schemas import RiskRegisterIn, RiskRowIn
from shared.auth import Principal
from shared.db.tables.ingest_governance import STANDARD_RISK_SECTIONS
from shared.sheets import (
    Sheet,
    flag_cell,
    int_cell,
    read_table,
    reject,
    row_error,
    text_cell,
    validate_row,
)

REQUIRED = ("reference", "section", "title", "impact", "probability")
ALIASES = {
    "ref": "reference",
    "risk_ref": "reference",
    "risk_reference": "reference",
    "risk_no": "reference",
    "category": "section",
    "risk_section": "section",
    "risk": "title",
    "risk_title": "title",
    "effect": "consequence",
    "risk_owner": "owner",
    "recent_developments": "developments",
    "update": "developments",
    "progress": "developments",
    "likelihood": "probability",
    "score": "priority",
    "risk_score": "priority",
    "rating": "priority",
    "mitigation": "actions",
    "mitigations": "actions",
    "mitigating_actions": "actions",
    "status": "closed",
}
_SECTION_NAMES = {
    **{key: key for key in STANDARD_RISK_SECTIONS},
    **{key.replace("_", " "): key for key in STANDARD_RISK_SECTIONS},
}
_TEXT = ("title", "cause", "event", "consequence", "owner", "developments", "actions")


def section_key(text: str) -> str:
    """A standard section by key or label ("Loss of service" → ``loss_of_service``), else
    the service's own section as written."""
    return _SECTION_NAMES.get(" ".join(text.replace("_", " ").casefold().split()), text.strip())


def _closed(value: Any) -> bool:
    text = text_cell(value).casefold()
    if text in ("open", "active", "live"):
        return False
    if text == "closed":
        return True
    return flag_cell(value)


def parse_sheet(sheet: Sheet) -> tuple[list[tuple[int, RiskRowIn]], list[dict[str, Any]]]:
    """Each row as the JSON item it stands for (checked by the same model, so the same
    rules), with its row number; or the problems, naming the file's columns."""
    label = sheet.labels
    rows: list[tuple[int, RiskRowIn]] = []
    errors: list[dict[str, Any]] = []
    for row in sheet.rows:
        n, cells = row.number, row.cells
        item: dict[str, Any] = {}
        problems = []
        for name in ("reference", "section", *_TEXT):
            if name in label:
                item[name] = text_cell(cells.get(name)) or None
        for name in ("impact", "probability", "priority"):
            if name not in label:
                continue
            try:
                item[name] = int_cell(cells.get(name))
            except ValueError as exc:
                problems.append(row_error(n, label[name], str(exc), "not_a_number"))
        if "closed" in label:
            try:
                item["closed"] = _closed(cells.get("closed"))
            except ValueError:
                problems.append(
                    row_error(
                        n,
                        label["closed"],
                        f"{text_cell(cells.get('closed'))!r} is not open or closed",
                        "invalid_value",
                    )
                )
        # A cell already refused is not reported again as missing.
        failing = {p["column"] for p in problems}
        kept = {k: v for k, v in item.items() if label.get(k) not in failing}
        validated, invalid = validate_row(RiskRowIn, kept, n, label)
        problems += [p for p in invalid if p["column"] not in failing]
        if validated is not None and not problems:
            rows.append((n, validated))
        errors.extend(problems)
    return rows, errors


def _duplicates(rows: list[tuple[int, RiskRowIn]], *, json: bool) -> list[dict[str, Any]]:
    seen: dict[str, int] = {}
    errors = []
    for n, item in rows:
        key = item.reference.strip().casefold()
        if key in seen:
            where = f"item {seen[key]}" if json else f"row {seen[key]}"
            errors.append(
                row_error(
                    n,
                    "reference" if json else "Reference",
                    f"{item.reference!r} is also {where}",
                    "duplicate_reference",
                    field=f"risks.{n - 1}.reference" if json else None,
                )
            )
        seen.setdefault(key, n)
    return errors


def _store(
    session: Session,
    service_id: int,
    financial_year: int,
    period: int,
    rows: list[tuple[int, RiskRowIn]],
) -> dict[str, Any]:
    created = 0
    for _n, item in rows:
        risk_id, new = repo.upsert_risk(
            session,
            {
                "service_id": service_id,
                "reference": item.reference.strip(),
                "section": section_key(item.section),
                "title": item.title,
                "cause": item.cause,
                "event": item.event,
                "consequence": item.consequence,
                "owner": item.owner,
                "closed": item.closed,
            },
        )
        created += new
        repo.upsert_assessment(
            session,
            {
                "risk_id": risk_id,
                "financial_year": financial_year,
                "period": period,
                "developments": item.developments,
                "impact": item.impact,
                "probability": item.probability,
                "imported_priority": item.priority,
                "actions": item.actions,
                "owner": item.owner,
            },
        )
    return {
        "financial_year": financial_year,
        "period": period,
        "rows": len(rows),
        "risks_created": created,
        "risks_updated": len(rows) - created,
    }


def import_file(
    session: Session,
    principal: Principal,
    service_id: int,
    financial_year: int,
    period: int,
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
        what="risk register",
    )
    rows, errors = parse_sheet(sheet)
    errors += _duplicates(rows, json=False)
    if errors:
        raise reject("risk register", errors, len(sheet.rows))
    return _store(session, service_id, financial_year, period, rows)


def put_register(
    session: Session,
    principal: Principal,
    service_id: int,
    financial_year: int,
    period: int,
    body: RiskRegisterIn,
) -> dict[str, Any]:
    governance_access(session, principal, service_id, write=True)
    rows = [(i + 1, item) for i, item in enumerate(body.risks)]
    errors = _duplicates(rows, json=True)
    if errors:
        raise reject("risk register", errors, len(rows))
    return _store(session, service_id, financial_year, period, rows)


def _order(row: dict[str, Any]) -> tuple[int, str, str]:
    section = row["section"]
    standard = (
        STANDARD_RISK_SECTIONS.index(section)
        if section in STANDARD_RISK_SECTIONS
        else len(STANDARD_RISK_SECTIONS)
    )
    return standard, section, row["reference"]


def list_risks(session: Session, principal: Principal, service_id: int) -> list[dict[str, Any]]:
    governance_access(session, principal, service_id, write=False)
    return sorted(repo.list_risks(session, service_id), key=_order)


def get_risk(
    session: Session, principal: Principal, service_id: int, risk_id: int
) -> dict[str, Any]:
    governance_access(session, principal, service_id, write=False)
    risk = repo.get_risk(session, service_id, risk_id)
    if risk is None:
        raise RiskNotFound(service_id, risk_id)
    return {**risk, "assessments": repo.assessments(session, risk_id)}


def register(
    session: Session, principal: Principal, service_id: int, financial_year: int, period: int
) -> list[dict[str, Any]]:
    governance_access(session, principal, service_id, write=False)
    return sorted(repo.register(session, service_id, financial_year, period), key=_order)
