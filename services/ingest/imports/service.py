"""Bulk import of past cycles' values by admins, so trends have history.

CSV (UTF-8, header row) with columns ``organisation`` (id or exact name), ``cycle``
(collection year of an existing cycle), ``module``, ``question``, ``value`` and an
optional ``comment``. All or nothing: every row is checked first (organisation, cycle,
module, question, the value's type and range, duplicates, an existing submission for
the same organisation, cycle and module, and error-severity cross-field rules per
submission); any problem gives 422 naming each row and column, and nothing is stored.
A good file creates one accepted submission per (organisation, cycle, module), flagged
``imported``, with an audit entry each, draws missing anonymous codes and asks the
metrics service (through the outbox) to recompute the cycles it touched.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from sqlalchemy.orm import Session

from services.ingest.catalogue.service import catalogue_for
from services.ingest.cycles.service import ensure_codes
from services.ingest.imports import repository as repo
from services.ingest.submissions import repository as sub_repo
from services.ingest.submissions.service import (
    SHAPE_CODES,
    audit_value,
    coerce,
    storage_row,
)
from shared.auth import Principal
from shared.catalogue import available_cycles
from shared.db.tables.ingest import ingest_outbox
from shared.errors import Unprocessable
from shared.events import BenchmarkInputsChanged
from shared.outbox import enqueue_event

REQUIRED = ("organisation", "cycle", "module", "question", "value")
MAX_ERRORS = 200
_TRUE = {"true", "yes", "y", "1"}
_FALSE = {"false", "no", "n", "0"}


class ImportRejected(Unprocessable):
    code = "import_rejected"


def _err(row: int, column: str, message: str) -> dict[str, Any]:
    return {
        "field": f"row {row}, column {column}",
        "row": row,
        "column": column,
        "message": message,
    }


def _reject(errors: list[dict[str, Any]], total_rows: int) -> ImportRejected:
    shown = errors[:MAX_ERRORS]
    more = f" (first {MAX_ERRORS} shown)" if len(errors) > MAX_ERRORS else ""
    where = "; ".join(f"{e['field']}: {e['message']}" for e in shown[:5])
    return ImportRejected(
        f"The import was rejected and nothing was stored: {len(errors)} problem(s) in "
        f"{total_rows} row(s){more}. {where}",
        errors=shown,
    )


def _is_number(cell: str) -> bool:
    """ASCII digits only: ``str.isdigit`` also takes "²", which ``int`` refuses."""
    return cell.isascii() and cell.isdigit()


def _records(reader: csv.DictReader[str]) -> Iterator[dict[str | Any, str | Any]]:
    """The reader's records; a record the csv module cannot read is a 422 naming it."""
    while True:
        try:
            record = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise ImportRejected(
                f"Line {reader.line_num} cannot be read as CSV ({exc}); nothing was stored.",
                errors=[_err(reader.line_num, "organisation", f"cannot be read as CSV: {exc}")],
            ) from None
        yield record


def run_import(
    session: Session, principal: Principal, content: bytes, filename: str | None
) -> dict[str, Any]:
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ImportRejected(
            "The file is UTF-16 text; save it as CSV UTF-8 and try again.",
            errors=[{"field": "body", "message": "UTF-16, not UTF-8"}],
        )
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportRejected(
            "The file is not UTF-8 text; save it as CSV UTF-8 and try again.",
            errors=[{"field": "body", "message": "not UTF-8"}],
        ) from None
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise ImportRejected(
            f"The file holds a NUL character (line {line}), so it is not a CSV text export; "
            "save it as CSV UTF-8 and try again.",
            errors=[{"field": "body", "message": "NUL character"}],
        )
    # The csv module reads CR, LF and CRLF line ends alike (newline="").
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in (reader.fieldnames or [])]
    except csv.Error as exc:
        raise ImportRejected(
            f"The header row cannot be read as CSV ({exc}).",
            errors=[_err(1, "organisation", f"cannot be read as CSV: {exc}")],
        ) from None
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise ImportRejected(
            f"The header row must name the columns {', '.join(REQUIRED)}; missing: "
            f"{', '.join(missing)}.",
            errors=[_err(1, c, "missing column") for c in missing],
        )
    reader.fieldnames = header
    orgs = repo.organisations(session)
    by_id = {o["id"]: o for o in orgs}
    by_name = {o["name"].casefold(): o for o in orgs}
    cycles = {c["year"]: c for c in repo.cycles(session)}
    known_years = set(available_cycles())

    errors: list[dict[str, Any]] = []
    seen: dict[tuple[int, int, str], int] = {}
    # (org id, cycle year, module) -> {question: (value, comment, row)}
    groups: dict[tuple[int, int, str], dict[str, tuple[object, str | None, int]]] = defaultdict(
        dict
    )
    rows = 0
    for line, record in enumerate(_records(reader), start=2):
        rows += 1
        if None in record:
            errors.append(_err(line, "value", "more cells than header columns"))
            continue
        cells = {k: (record.get(k) or "").strip() for k in header}
        org_cell = cells["organisation"]
        org = by_id.get(int(org_cell)) if _is_number(org_cell) else by_name.get(org_cell.casefold())
        if org is None:
            errors.append(_err(line, "organisation", f"no organisation {org_cell!r}"))
        year_cell = cells["cycle"]
        year = int(year_cell) if _is_number(year_cell) else None
        if year is None or year not in cycles:
            errors.append(_err(line, "cycle", f"no cycle with year {year_cell!r}"))
            continue
        if year not in known_years:
            errors.append(_err(line, "cycle", f"there is no catalogue for cycle {year}"))
            continue
        catalogue = catalogue_for(year)
        module = cells["module"]
        if module not in catalogue.modules:
            errors.append(_err(line, "module", f"{module!r} is not a module in {year}"))
            continue
        qkey = cells["question"]
        question = catalogue.questions.get(qkey)
        if question is None or question.module != module:
            errors.append(
                _err(line, "question", f"{qkey!r} is not a question of {module} in {year}")
            )
            continue
        raw = cells["value"]
        if raw == "":
            errors.append(_err(line, "value", "the value is empty"))
            continue
        value: object = raw
        if question.type == "boolean":
            low = raw.lower()
            value = True if low in _TRUE else False if low in _FALSE else raw
        else:
            value = coerce(question, raw)
        issues = [
            i for i in catalogue.validate_answers(module, {qkey: value}) if i.code in SHAPE_CODES
        ]
        for issue in issues:
            errors.append(_err(line, "value", issue.message))
        if issues or org is None:
            continue
        key = (org["id"], year, qkey)
        if key in seen:
            errors.append(
                _err(
                    line,
                    "question",
                    f"{qkey!r} for this organisation and cycle is also on row {seen[key]}",
                )
            )
            continue
        seen[key] = line
        groups[(org["id"], year, module)][qkey] = (value, cells.get("comment") or None, line)
    if rows == 0:
        raise ImportRejected(
            "The file has a header but no rows.", errors=[_err(2, "organisation", "no rows")]
        )

    # Whole-submission checks: existing submissions and error-severity rules.
    existing = repo.existing_submissions(session, {(o, cycles[y]["id"], m) for (o, y, m) in groups})
    for (org_id, year, module), answers in groups.items():
        first_row = min(line for _v, _c, line in answers.values())
        state = existing.get((org_id, cycles[year]["id"], module))
        if state is not None:
            errors.append(
                _err(
                    first_row,
                    "module",
                    f"organisation {org_id} already has a {state} {module} submission in {year}",
                )
            )
            continue
        catalogue = catalogue_for(year)
        values = {k: v for k, (v, _c, _l) in answers.items()}
        for issue in catalogue.validate_answers(module, values):
            if issue.severity == "error" and issue.code == "rule_violated":
                lines = [answers[k][2] for k in issue.question_keys if k in answers]
                errors.append(_err(max(lines or [first_row]), "value", issue.message))
    if errors:
        raise _reject(sorted(errors, key=lambda e: e["row"]), rows)

    years = sorted({y for (_o, y, _m) in groups})
    batch = repo.insert_batch(
        session,
        {
            "filename": filename,
            "created_by": principal.subject,
            "rows": rows,
            "submissions": len(groups),
            "cycle_years": years,
        },
    )
    ids = repo.insert_submissions(
        session,
        [
            {
                "organisation_id": org_id,
                "cycle_id": cycles[year]["id"],
                "module": module,
                "state": "accepted",
                "imported": True,
                "import_batch_id": batch["id"],
                "created_by": principal.subject,
            }
            for (org_id, year, module) in groups
        ],
    )
    answer_rows, audit_rows = [], []
    for (org_id, year, module), answers in groups.items():
        sub_id = ids[(org_id, cycles[year]["id"], module)]
        catalogue = catalogue_for(year)
        for qkey, (value, comment, _line) in answers.items():
            row = storage_row(sub_id, catalogue.questions[qkey], value)
            row["comment"] = comment
            answer_rows.append(row)
        audit_rows.append(
            {
                "submission_id": sub_id,
                "actor": principal.subject,
                "action": "imported",
                "question_key": None,
                "old_value": None,
                "new_value": {
                    "state": "accepted",
                    "import_batch_id": batch["id"],
                    "answers": {k: audit_value(v) for k, (v, _c, _l) in answers.items()},
                },
                "reason": f"bulk import {batch['id']}" + (f" ({filename})" if filename else ""),
            }
        )
    sub_repo.upsert_answers(session, answer_rows)
    sub_repo.insert_audit(session, audit_rows)
    for year in years:
        orgs_in_year = {o for (o, y, _m) in groups if y == year}
        ensure_codes(session, cycles[year], orgs_in_year)
    enqueue_event(
        session,
        ingest_outbox,
        BenchmarkInputsChanged(cycle_years=years, reason="import.completed", import_id=batch["id"]),
    )
    return batch


def get(session: Session, batch_id: int) -> dict[str, Any]:
    from shared.errors import NotFound

    batch = repo.get_batch(session, batch_id)
    if batch is None:
        raise NotFound(f"There is no import {batch_id}.", code="import_not_found")
    return batch


def listing(session: Session, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    return repo.list_batches(session, limit, offset)
