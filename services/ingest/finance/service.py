"""A shared service's financial outturn: the finance system's report of the year to a
period, imported whole (CSV, XLSX or JSON) and kept as printed.

One report per (service, financial year, period). A new import for the same three
replaces the report whole in the request's one transaction: every row is checked first,
and any problem refuses the import (422 naming each row and column) with the stored
report untouched.

The file format is documented once, in the router's docstring (also the upload's OpenAPI
description).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from services.ingest.finance import repository as repo
from services.ingest.finance.exceptions import (
    FinanceGroupInUse,
    FinanceGroupNotFound,
    FinanceReportNotFound,
    StandardFinanceGroup,
)
from services.ingest.finance.schemas import FinanceGroupIn, FinanceReportIn
from services.ingest.organisations.service import governance_access
from shared.auth import Principal
from shared.db.tables.ingest_governance import STANDARD_FINANCE_GROUPS
from shared.money import MoneyError, parse_pence
from shared.sheets import Cell, Sheet, flag_cell, read_table, reject, row_error, text_cell

STANDARD_LABELS = {key: key.capitalize() for key in STANDARD_FINANCE_GROUPS}
AMOUNTS = ("budget", "forecast", "actuals")
PRINTED = ("variance", "remaining")
REQUIRED = ("group", "line", *AMOUNTS)
_MONTHS = ("apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec", "jan", "feb", "mar")
ALIASES = {
    "budget_line": "line",
    "description": "line",
    "actual": "actuals",
    "ytd_actuals": "actuals",
    "actuals_to_date": "actuals",
    "annual_budget": "budget",
    "full_year_forecast": "forecast",
    "printed_variance": "variance",
    "printed_remaining": "remaining",
    "remaining_budget": "remaining",
    "recharge_flag": "recharge",
    "is_recharge": "recharge",
    "type": "row_type",
    **{f"period_{n}": f"p{n}" for n in range(1, 13)},
    **{month: f"p{n}" for n, month in enumerate(_MONTHS, start=1)},
}
_PERIOD_COLUMN = re.compile(r"^p(\d+)$")
_TOTAL_LINE = re.compile(r"^(grand\s+)?total\b|\btotal$|^sub-?total\b", re.IGNORECASE)
_GRAND_LINE = re.compile(r"grand|service\s+charge|overall", re.IGNORECASE)
_ROW_TYPES = {
    "": "line",
    "line": "line",
    "budget line": "line",
    "total": "total",
    "group total": "total",
    "subtotal": "total",
    "sub-total": "total",
    "grand total": "grand",
}
GRAND = ""  # group_key of the grand total in finance_printed_totals


# ----------------------------------------------------------------------------- groups


def _groups(session: Session, service_id: int) -> list[dict[str, Any]]:
    standard = [
        {"key": key, "label": STANDARD_LABELS[key], "position": i, "standard": True}
        for i, key in enumerate(STANDARD_FINANCE_GROUPS)
    ]
    own = [{**g, "standard": False} for g in repo.own_groups(session, service_id)]
    return standard + own


def groups(session: Session, principal: Principal, service_id: int) -> list[dict[str, Any]]:
    governance_access(session, principal, service_id, write=False)
    return _groups(session, service_id)


def put_group(
    session: Session, principal: Principal, service_id: int, key: str, body: FinanceGroupIn
) -> dict[str, Any]:
    governance_access(session, principal, service_id, write=True)
    if key in STANDARD_FINANCE_GROUPS:
        raise StandardFinanceGroup(
            f"{key!r} is a standard group every service has; choose another key.",
            errors=[{"field": "path.key", "message": "a standard group"}],
        )
    clash = [
        g
        for g in _groups(session, service_id)
        if g["key"] != key and g["label"].casefold() == body.label.casefold()
    ]
    if clash:
        raise StandardFinanceGroup(
            f"The label {body.label!r} is already group {clash[0]['key']!r}'s; a file names "
            "groups by key or label, so each label belongs to one group.",
            code="finance_group_label_taken",
            errors=[{"field": "label", "message": f"already group {clash[0]['key']!r}"}],
        )
    row = repo.upsert_group(session, service_id, key, body.label, body.position)
    return {**row, "standard": False}


def delete_group(session: Session, principal: Principal, service_id: int, key: str) -> None:
    governance_access(session, principal, service_id, write=True)
    if key in STANDARD_FINANCE_GROUPS:
        raise StandardFinanceGroup(
            f"{key!r} is a standard group and cannot be removed.",
            errors=[{"field": "path.key", "message": "a standard group"}],
        )
    used = repo.reports_using_group(session, service_id, key)
    if used:
        periods = ", ".join(f"{y} P{p}" for y, p in used)
        raise FinanceGroupInUse(
            f"Group {key!r} is used by the outturn of {periods}; re-import those without it first.",
            reports=[{"financial_year": y, "period": p} for y, p in used],
        )
    if not repo.delete_group(session, service_id, key):
        raise FinanceGroupNotFound(f"Service {service_id} has no finance group {key!r}.")


def _lookup(session: Session, service_id: int) -> tuple[dict[str, str], str]:
    """Group key or label (case-blind) → key; and the list for messages."""
    found: dict[str, str] = {}
    for g in _groups(session, service_id):
        found[g["key"].casefold()] = g["key"]
        found[g["label"].casefold()] = g["key"]
    names = ", ".join(g["key"] for g in _groups(session, service_id))
    return found, names


# ---------------------------------------------------------------------- parsing rows


@dataclass
class _Parsed:
    lines: list[dict[str, Any]]
    totals: list[dict[str, Any]]
    errors: list[dict[str, Any]]


def _unknown_group(text: str, names: str) -> str:
    return (
        f"unknown group {text!r}; the groups are {names} (add the service's own with "
        "PUT /api/v1/organisations/{id}/finance-groups/{key})"
    )


def parse_sheet(sheet: Sheet, period: int, lookup: dict[str, str], names: str) -> _Parsed:
    """The file's lines and printed totals, or the problems of every row."""
    label = sheet.labels
    errors: list[dict[str, Any]] = []
    period_columns: dict[int, str] = {}
    for column in sheet.columns:
        match = _PERIOD_COLUMN.fullmatch(column)
        if match is None:
            continue
        n = int(match.group(1))
        if 1 <= n <= 12:
            period_columns[n] = column
        else:
            errors.append(
                row_error(
                    sheet.header_row,
                    label[column],
                    f"{label[column]!r} is not a period of the year: P1 (April) … P12 (March)",
                    "period_out_of_range",
                )
            )
    lines: list[dict[str, Any]] = []
    totals: list[dict[str, Any]] = []
    seen_lines: dict[tuple[str, str], int] = {}
    seen_totals: dict[str, int] = {}

    for row in sheet.rows:
        cells = row.cells
        n = row.number

        def err(column: str, message: str, code: str = "invalid_value", n: int = n) -> None:
            errors.append(row_error(n, label.get(column, column), message, code))

        def amount(column: str, cells: dict[str, Cell] = cells) -> int | None:
            try:
                return parse_pence(cells.get(column))
            except MoneyError as exc:
                err(column, str(exc), "not_an_amount")
                return None

        line_text = text_cell(cells.get("line"))
        group_text = text_cell(cells.get("group"))
        kind = _row_kind(cells, line_text, group_text)
        if kind is None:
            err(
                "row_type",
                f"{text_cell(cells.get('row_type'))!r} is not line, total or grand total",
                "unknown_row_type",
            )
            continue
        if kind in ("total", "grand"):
            key = GRAND if kind == "grand" else lookup.get(group_text.casefold())
            if key is None:
                err("group", _unknown_group(group_text, names), "unknown_group")
                continue
            if key in seen_totals:
                what = "the grand total" if key == GRAND else f"the {key} total"
                err("line", f"{what} is also on row {seen_totals[key]}", "duplicate_total")
                continue
            seen_totals[key] = n
            values = {c: amount(c) for c in (*AMOUNTS, *PRINTED) if c in cells}
            totals.append(
                {
                    "group_key": key,
                    **{f"{c}_pence": values.get(c) for c in (*AMOUNTS, *PRINTED)},
                    "source_row": n,
                }
            )
            continue
        key = lookup.get(group_text.casefold()) if group_text else None
        if key is None:
            err(
                "group",
                _unknown_group(group_text, names) if group_text else "the group is empty",
                "unknown_group" if group_text else "missing_value",
            )
        if not line_text:
            err("line", "the budget line has no name", "missing_value")
        budget, forecast, actuals = (amount(c) for c in AMOUNTS)
        variance = amount("variance") if "variance" in cells else None
        remaining = amount("remaining") if "remaining" in cells else None
        try:
            recharge = flag_cell(cells.get("recharge"))
        except ValueError as exc:
            err("recharge", str(exc))
            recharge = False
        by_period: list[int] | None = None
        if period_columns:
            found = {p: amount(column) for p, column in period_columns.items()}
            for p, value in sorted(found.items()):
                if p > period and value:
                    err(
                        period_columns[p],
                        f"P{p} is after the report's period (P{period}): the report is the "
                        f"year to P{period}",
                        "period_after_report",
                    )
            by_period = [found.get(p) or 0 for p in range(1, period + 1)]
        if key is not None and line_text:
            duplicate = (key, line_text.casefold())
            if duplicate in seen_lines:
                err(
                    "line",
                    f"{line_text!r} in {key} is also on row {seen_lines[duplicate]}",
                    "duplicate_line",
                )
            seen_lines.setdefault(duplicate, n)
        lines.append(
            {
                "group_key": key,
                "category": text_cell(cells.get("category")) or None,
                "line": line_text,
                "budget_pence": budget,
                "forecast_pence": forecast,
                "actuals_pence": actuals,
                "printed_variance_pence": variance,
                "printed_remaining_pence": remaining,
                "is_recharge": recharge,
                "period_actuals_pence": by_period,
                "source_row": n,
            }
        )
    if not lines and not errors:
        errors.append(
            row_error(
                sheet.header_row + 1, label["line"], "the file has no budget lines", "no_rows"
            )
        )
    return _Parsed(lines, totals, errors)


def _row_kind(cells: dict[str, Cell], line: str, group: str) -> str | None:
    """``line``, ``total`` (a group's), ``grand``, or None for an unknown row type."""
    if "row_type" in cells:
        declared = _ROW_TYPES.get(text_cell(cells.get("row_type")).casefold())
        if declared is None:
            return None
        if text_cell(cells.get("row_type")):
            if declared == "total" and not group:
                return "grand"
            return declared
    if not _TOTAL_LINE.search(line):
        return "line"
    if not group or group.casefold() in ("total", "grand total") or _GRAND_LINE.search(line):
        return "grand"
    return "total"


def _check_body(body: FinanceReportIn, period: int, lookup: dict[str, str], names: str) -> _Parsed:
    errors: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], int] = {}
    for i, item in enumerate(body.lines):

        def err(column: str, message: str, code: str, i: int = i) -> None:
            errors.append(row_error(i + 1, column, message, code, field=f"lines.{i}.{column}"))

        key = lookup.get(item.group.casefold())
        if key is None:
            err("group", _unknown_group(item.group, names), "unknown_group")
        elif (key, item.line.casefold()) in seen:
            err(
                "line",
                f"{item.line!r} in {key} is also line {seen[(key, item.line.casefold())]}",
                "duplicate_line",
            )
        else:
            seen[(key, item.line.casefold())] = i + 1
        by_period = item.period_actuals_pence
        if by_period is not None and len(by_period) != period:
            err(
                "period_actuals_pence",
                f"has {len(by_period)} period(s); a report to P{period} has exactly {period}",
                "period_after_report" if len(by_period) > period else "invalid_value",
            )
        lines.append(
            {
                "group_key": key,
                "category": item.category,
                "line": item.line,
                "budget_pence": item.budget_pence,
                "forecast_pence": item.forecast_pence,
                "actuals_pence": item.actuals_pence,
                "printed_variance_pence": item.printed_variance_pence,
                "printed_remaining_pence": item.printed_remaining_pence,
                "is_recharge": item.is_recharge,
                "period_actuals_pence": by_period,
                "source_row": None,
            }
        )
    totals: list[dict[str, Any]] = []
    seen_totals: dict[str, int] = {}
    for i, total in enumerate(body.printed_totals):
        field = f"printed_totals.{i}.group"
        group_key = GRAND if not total.group else lookup.get(total.group.casefold())
        if group_key is None:
            errors.append(
                row_error(
                    i + 1,
                    "group",
                    _unknown_group(total.group or "", names),
                    "unknown_group",
                    field=field,
                )
            )
            continue
        if group_key in seen_totals:
            errors.append(
                row_error(
                    i + 1,
                    "group",
                    f"also printed_totals.{seen_totals[group_key]}",
                    "duplicate_total",
                    field=field,
                )
            )
            continue
        seen_totals[group_key] = i
        totals.append(
            {
                "group_key": group_key,
                **total.model_dump(exclude={"group"}),
                "source_row": None,
            }
        )
    return _Parsed(lines, totals, errors)


# ------------------------------------------------------------------------- reports


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
        what="outturn",
    )
    lookup, names = _lookup(session, service_id)
    parsed = parse_sheet(sheet, period, lookup, names)
    if parsed.errors:
        raise reject("outturn", parsed.errors, len(sheet.rows))
    return _store(
        session, principal, service_id, financial_year, period, sheet.kind, filename, parsed
    )


def put_report(
    session: Session,
    principal: Principal,
    service_id: int,
    financial_year: int,
    period: int,
    body: FinanceReportIn,
) -> dict[str, Any]:
    governance_access(session, principal, service_id, write=True)
    lookup, names = _lookup(session, service_id)
    parsed = _check_body(body, period, lookup, names)
    if parsed.errors:
        raise reject("outturn", parsed.errors, len(body.lines))
    return _store(session, principal, service_id, financial_year, period, "api", None, parsed)


def _store(
    session: Session,
    principal: Principal,
    service_id: int,
    financial_year: int,
    period: int,
    source: str,
    filename: str | None,
    parsed: _Parsed,
) -> dict[str, Any]:
    report_id = repo.upsert_report(
        session,
        {
            "service_id": service_id,
            "financial_year": financial_year,
            "period": period,
            "source": source,
            "file_name": filename,
            "created_by": principal.subject,
        },
    )
    lines = [{"position": i, **line} for i, line in enumerate(parsed.lines, start=1)]
    repo.replace_contents(session, report_id, lines, parsed.totals)
    return _report(session, service_id, financial_year, period)


def _line_out(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "group": row["group_key"]}


def _total_out(row: dict[str, Any]) -> dict[str, Any]:
    return {**row, "group": row["group_key"] or None}


def _report(session: Session, service_id: int, financial_year: int, period: int) -> dict[str, Any]:
    report = repo.get_report(session, service_id, financial_year, period)
    if report is None:
        raise FinanceReportNotFound(service_id, financial_year, period)
    return {
        **report,
        "lines": [_line_out(r) for r in repo.lines(session, report["id"])],
        "printed_totals": [_total_out(r) for r in repo.printed_totals(session, report["id"])],
    }


def get_report(
    session: Session, principal: Principal, service_id: int, financial_year: int, period: int
) -> dict[str, Any]:
    governance_access(session, principal, service_id, write=False)
    return _report(session, service_id, financial_year, period)


def list_reports(session: Session, principal: Principal, service_id: int) -> list[dict[str, Any]]:
    governance_access(session, principal, service_id, write=False)
    return repo.list_reports(session, service_id)


def delete_report(
    session: Session, principal: Principal, service_id: int, financial_year: int, period: int
) -> None:
    governance_access(session, principal, service_id, write=True)
    if not repo.delete_report(session, service_id, financial_year, period):
        raise FinanceReportNotFound(service_id, financial_year, period)
