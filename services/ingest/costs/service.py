"""Cost tables of a shared service (such as the Covid-19 cost table): organisations ×
categories × period columns, imported whole (CSV, XLSX or JSON) for a financial year and
period, with the totals the source printed kept beside them.

A table is named by its title within its service, year and period; a new import of the
same title replaces it whole (one transaction; any bad row refuses the import and the
stored table stays as it was). Every organisation must be the service itself or one of
its partners, named by id, by full name, or by a distinctive part of its name ("Brent"
for "London Borough of Brent"). The file format is in the router's docstring.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from services.ingest.costs import repository as repo
from services.ingest.costs.exceptions import CostTableNotFound
from services.ingest.costs.schemas import CostTableIn
from services.ingest.organisations.service import governance_access, service_and_partners
from shared.auth import Principal
from shared.categories import category_rank, first_seen
from shared.money import MoneyError, parse_pence
from shared.sheets import Sheet, read_table, reject, row_error, text_cell

REQUIRED = ("organisation", "category")
ALIASES = {
    "council": "organisation",
    "partner": "organisation",
    "org": "organisation",
    "organisation_id": "organisation",
    "organization": "organisation",
    "cost_category": "category",
    "item": "category",
    "grand_total": "total",
    "row_total": "total",
}
_TOTAL = re.compile(r"^(grand\s+)?total\b|\btotal$", re.IGNORECASE)
_ALL_ORGANISATIONS = frozenset({"total", "grand total", "all", "all organisations"})

Resolver = Callable[[int | str], tuple[int | None, str | None]]


def organisation_resolver(members: list[dict[str, Any]]) -> Resolver:
    """Organisation id or name → (id, None), or (None, why not): only the service and its
    partners, by id, full name or a distinctive whole-word part of the name."""
    names = ", ".join(m["name"] for m in members)

    def resolve(ref: int | str) -> tuple[int | None, str | None]:
        text = str(ref).strip()
        if isinstance(ref, int) or (text.isascii() and text.isdigit()):
            wanted = int(text)
            if any(m["id"] == wanted for m in members):
                return wanted, None
            return None, f"organisation {wanted} is not the service or one of its partners"
        exact = [m for m in members if m["name"].casefold() == text.casefold()]
        if exact:
            return exact[0]["id"], None
        word = re.compile(rf"\b{re.escape(text.casefold())}\b") if text else None
        found = [m for m in members if word is not None and word.search(m["name"].casefold())]
        if len(found) == 1:
            return found[0]["id"], None
        if found:
            return None, f"{text!r} could be any of {', '.join(m['name'] for m in found)}"
        return None, (
            f"{text!r} is not the service or one of its partners ({names})"
            if text
            else "the organisation is empty"
        )

    return resolve


@dataclass
class _Parsed:
    columns: list[str]
    cells: list[dict[str, Any]]
    totals: list[dict[str, Any]]
    errors: list[dict[str, Any]]

    @property
    def categories(self) -> list[str]:
        """The categories in the order the source gave them (stored with the table)."""
        return first_seen(c["category"] for c in self.cells)


def parse_sheet(sheet: Sheet, resolve: Resolver) -> _Parsed:
    label = sheet.labels
    period_columns = [c for c in sheet.columns if c not in (*REQUIRED, "total")]
    errors: list[dict[str, Any]] = []
    if not period_columns:
        errors.append(
            row_error(
                sheet.header_row,
                "periods",
                "no period columns: after organisation and category, one column per period",
                "missing_column",
            )
        )
        return _Parsed([], [], [], errors)
    cells: list[dict[str, Any]] = []
    totals: list[dict[str, Any]] = []
    seen: dict[tuple[int, str], int] = {}
    seen_totals: dict[tuple[int | None, int | None], int] = {}
    for row in sheet.rows:
        n = row.number
        org_text = text_cell(row.cells.get("organisation"))
        category = text_cell(row.cells.get("category"))
        across_orgs = org_text.casefold() in _ALL_ORGANISATIONS
        is_total = across_orgs or bool(_TOTAL.search(category))
        amounts: dict[str, int] = {}
        for column in [*period_columns, *(["total"] if "total" in label else [])]:
            try:
                amounts[column] = parse_pence(row.cells.get(column))
            except MoneyError as exc:
                errors.append(row_error(n, label[column], str(exc), "not_an_amount"))
        org_id: int | None = None
        if not across_orgs:
            org_id, why = resolve(org_text)
            if why is not None:
                errors.append(row_error(n, label["organisation"], why, "unknown_organisation"))
                continue
        if across_orgs and category and not _TOTAL.search(category):
            errors.append(
                row_error(
                    n,
                    label["category"],
                    f"a total of {category!r} across organisations is not kept (the pack "
                    "computes it); leave the row out, or make it the grand total row",
                    "unsupported_total",
                )
            )
            continue
        if is_total:
            indexes: list[int | None] = [*range(len(period_columns))]
            if "total" in label:
                indexes.append(None)
            for index in indexes:
                column = "total" if index is None else period_columns[index]
                key = (org_id, index)
                if key in seen_totals:
                    errors.append(
                        row_error(
                            n,
                            label[column],
                            f"also totalled on row {seen_totals[key]}",
                            "duplicate_total",
                        )
                    )
                    continue
                seen_totals[key] = n
                if column in amounts:
                    totals.append(
                        {
                            "organisation_id": org_id,
                            "column_index": index,
                            "amount_pence": amounts[column],
                        }
                    )
            continue
        if not category:
            errors.append(row_error(n, label["category"], "the category is empty", "missing_value"))
            continue
        assert org_id is not None
        key2 = (org_id, category.casefold())
        if key2 in seen:
            errors.append(
                row_error(
                    n,
                    label["category"],
                    f"{category!r} for this organisation is also on row {seen[key2]}",
                    "duplicate_row",
                )
            )
            continue
        seen[key2] = n
        for index, column in enumerate(period_columns):
            cells.append(
                {
                    "organisation_id": org_id,
                    "category": category,
                    "column_index": index,
                    "amount_pence": amounts.get(column, 0),
                }
            )
    return _Parsed([label[c] for c in period_columns], cells, totals, errors)


def _check_body(body: CostTableIn, resolve: Resolver) -> _Parsed:
    errors: list[dict[str, Any]] = []
    index_of: dict[str, int] = {}
    for i, column in enumerate(body.columns):
        if column.casefold() in index_of:
            errors.append(
                row_error(
                    None, "columns", f"{column!r} is named twice", "duplicate", field=f"columns.{i}"
                )
            )
        index_of.setdefault(column.casefold(), i)
    cells: list[dict[str, Any]] = []
    seen: dict[tuple[int, str], int] = {}
    for i, item in enumerate(body.rows):
        org_id, why = resolve(item.organisation)
        if why is not None or org_id is None:
            errors.append(
                row_error(
                    i + 1,
                    "organisation",
                    why or "",
                    "unknown_organisation",
                    field=f"rows.{i}.organisation",
                )
            )
            continue
        if len(item.amounts_pence) != len(body.columns):
            errors.append(
                row_error(
                    i + 1,
                    "amounts_pence",
                    f"{len(item.amounts_pence)} amounts for {len(body.columns)} columns",
                    "invalid_value",
                    field=f"rows.{i}.amounts_pence",
                )
            )
            continue
        key = (org_id, item.category.casefold())
        if key in seen:
            errors.append(
                row_error(
                    i + 1,
                    "category",
                    f"also rows.{seen[key]}",
                    "duplicate_row",
                    field=f"rows.{i}.category",
                )
            )
            continue
        seen[key] = i
        cells.extend(
            {
                "organisation_id": org_id,
                "category": item.category,
                "column_index": index,
                "amount_pence": amount,
            }
            for index, amount in enumerate(item.amounts_pence)
        )
    totals: list[dict[str, Any]] = []
    seen_totals: set[tuple[int | None, int | None]] = set()
    for i, total in enumerate(body.printed_totals):
        org: int | None = None
        if total.organisation is not None:
            org, why = resolve(total.organisation)
            if why is not None:
                errors.append(
                    row_error(
                        i + 1,
                        "organisation",
                        why,
                        "unknown_organisation",
                        field=f"printed_totals.{i}.organisation",
                    )
                )
                continue
        index = None
        if total.column is not None:
            index = index_of.get(total.column.casefold())
            if index is None:
                errors.append(
                    row_error(
                        i + 1,
                        "column",
                        f"{total.column!r} is not one of the columns",
                        "unknown_column",
                        field=f"printed_totals.{i}.column",
                    )
                )
                continue
        if (org, index) in seen_totals:
            errors.append(
                row_error(
                    i + 1,
                    "column",
                    "this total is given twice",
                    "duplicate_total",
                    field=f"printed_totals.{i}",
                )
            )
            continue
        seen_totals.add((org, index))
        totals.append(
            {"organisation_id": org, "column_index": index, "amount_pence": total.amount_pence}
        )
    return _Parsed(list(body.columns), cells, totals, errors)


def import_file(
    session: Session,
    principal: Principal,
    service_id: int,
    financial_year: int,
    period: int,
    title: str,
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
        what="cost table",
    )
    members = service_and_partners(session, service_id)
    parsed = parse_sheet(sheet, organisation_resolver(members))
    if parsed.errors:
        raise reject("cost table", parsed.errors, len(sheet.rows))
    return _store(session, principal, service_id, financial_year, period, title, parsed)


def put_table(
    session: Session,
    principal: Principal,
    service_id: int,
    financial_year: int,
    period: int,
    body: CostTableIn,
) -> dict[str, Any]:
    governance_access(session, principal, service_id, write=True)
    members = service_and_partners(session, service_id)
    parsed = _check_body(body, organisation_resolver(members))
    if parsed.errors:
        raise reject("cost table", parsed.errors, len(body.rows))
    return _store(session, principal, service_id, financial_year, period, body.title, parsed)


def _store(
    session: Session,
    principal: Principal,
    service_id: int,
    financial_year: int,
    period: int,
    title: str,
    parsed: _Parsed,
) -> dict[str, Any]:
    table_id = repo.upsert_table(
        session,
        {
            "service_id": service_id,
            "financial_year": financial_year,
            "period": period,
            "title": title,
            "columns": parsed.columns,
            "categories": parsed.categories,
            "created_by": principal.subject,
        },
    )
    repo.replace_contents(session, table_id, parsed.cells, parsed.totals)
    return _table(session, service_id, table_id)


def _table(session: Session, service_id: int, table_id: int) -> dict[str, Any]:
    table = repo.get_table(session, service_id, table_id)
    if table is None:
        raise CostTableNotFound(service_id, table_id)
    members = service_and_partners(session, service_id)
    order = {m["id"]: i for i, m in enumerate(members)}
    names = {m["id"]: m["name"] for m in members}
    rows: dict[tuple[int, str], dict[str, Any]] = {}
    for cell in repo.cells(session, table_id):
        key = (cell["organisation_id"], cell["category"])
        row = rows.setdefault(
            key,
            {
                "organisation_id": cell["organisation_id"],
                # An organisation no longer a partner keeps its rows, shown by id.
                "organisation": names.get(cell["organisation_id"], str(cell["organisation_id"])),
                "category": cell["category"],
                "amounts_pence": [0] * len(table["columns"]),
            },
        )
        row["amounts_pence"][cell["column_index"]] = cell["amount_pence"]
    rank = category_rank((r["category"] for r in rows.values()), table["categories"])
    ordered = sorted(
        rows.values(),
        key=lambda r: (order.get(r["organisation_id"], len(order)), rank[r["category"]]),
    )
    totals = [
        {
            **x,
            "organisation": None
            if x["organisation_id"] is None
            else names.get(x["organisation_id"], str(x["organisation_id"])),
            "column": None if x["column_index"] is None else table["columns"][x["column_index"]],
        }
        for x in sorted(
            repo.totals(session, table_id),
            key=lambda x: (
                x["organisation_id"] is None,
                order.get(x["organisation_id"], len(order)),
                x["column_index"] is None,
                x["column_index"] or 0,
            ),
        )
    ]
    categories = table["categories"] or first_seen(sorted(rank, key=rank.__getitem__))
    return {**table, "categories": categories, "rows": ordered, "printed_totals": totals}


def get_table(
    session: Session, principal: Principal, service_id: int, table_id: int
) -> dict[str, Any]:
    governance_access(session, principal, service_id, write=False)
    return _table(session, service_id, table_id)


def list_tables(session: Session, principal: Principal, service_id: int) -> list[dict[str, Any]]:
    governance_access(session, principal, service_id, write=False)
    return repo.list_tables(session, service_id)


def delete_table(session: Session, principal: Principal, service_id: int, table_id: int) -> None:
    governance_access(session, principal, service_id, write=True)
    if not repo.delete_table(session, service_id, table_id):
        raise CostTableNotFound(service_id, table_id)
