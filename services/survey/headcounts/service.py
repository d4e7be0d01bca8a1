"""A campaign's headcount by breakdown attribute (DOMAIN.md, "Survey confidence and
weighting"): checked against the campaign's questionnaire and the responses received, then
kept for the metrics service, which weights the results with it.

Two shapes, as HR may hold them: ``cells``, the full cross-classification of some
attributes (role × location: one headcount per combination), which gives cell weighting;
or ``margins``, each attribute's totals only, which gives raking. Nothing is stored unless
the whole upload is usable; every problem is reported at once, each naming the cell or
value to fix.
"""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError
from sqlalchemy.orm import Session

from services.survey.campaigns.service import campaign_instrument, visible_campaign
from services.survey.headcounts import repository as repo
from services.survey.headcounts.exceptions import HeadcountNotFound, InvalidHeadcount
from services.survey.headcounts.schemas import HeadcountUpload
from shared.auth import Principal

MAX_UPLOAD_BYTES = 2 * 1024 * 1024
WEIGHTING = {
    "cells": "cell weighting: weight = cell headcount / cell responses (a cell with fewer "
    "responses than the campaign's threshold is merged with a stated neighbour)",
    "margins": "raking (iterative proportional fitting) to each attribute's totals: only the "
    "margins are known, so the cross-classification is estimated from the responses",
}


def _describe(cell: Mapping[str, str | None]) -> str:
    return ", ".join(f"{k} = {v}" for k, v in cell.items())


def _parse_csv(text: str) -> HeadcountUpload:
    reader = csv.reader(io.StringIO(text))
    rows = [row for row in reader if any(c.strip() for c in row)]
    if not rows:
        raise InvalidHeadcount(
            "The file is empty: give a header row and one row per cell.",
            errors=[{"field": "body", "row": 0, "message": "no rows"}],
        )
    header = [h.strip() for h in rows[0]]
    lower = [h.casefold() for h in header]
    if "headcount" not in lower:
        raise InvalidHeadcount(
            "The header row has no headcount column: name the attribute columns (e.g. role, "
            "location) and a headcount column, or use attribute, value, headcount for margins.",
            errors=[{"field": "row 1", "row": 1, "message": "no headcount column"}],
        )
    at = lower.index("headcount")
    errors: list[dict[str, Any]] = []
    parsed: list[tuple[int, list[str], int]] = []
    for number, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            errors.append(
                {"field": f"row {number}", "row": number, "message": "wrong number of columns"}
            )
            continue
        try:
            count = int(row[at].strip())
        except ValueError:
            errors.append(
                {
                    "field": f"row {number}",
                    "row": number,
                    "message": f"headcount {row[at].strip()!r} is not a whole number",
                }
            )
            continue
        parsed.append((number, [c.strip() for c in row], count))
    if errors:
        raise InvalidHeadcount(
            f"{len(errors)} row(s) of the file could not be read; nothing was stored.",
            errors=errors,
        )
    if sorted(lower) == ["attribute", "headcount", "value"]:
        a, v = lower.index("attribute"), lower.index("value")
        return HeadcountUpload.model_validate(
            {"margins": [{"attribute": r[a], "value": r[v], "headcount": n} for _, r, n in parsed]}
        )
    names = [(i, h) for i, h in enumerate(header) if i != at]
    return HeadcountUpload.model_validate(
        {
            "cells": [
                {"attributes": {h: r[i] for i, h in names}, "headcount": n} for _, r, n in parsed
            ]
        }
    )


def parse(data: bytes, content_type: str) -> HeadcountUpload:
    if len(data) > MAX_UPLOAD_BYTES:
        raise InvalidHeadcount(
            f"The upload is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.",
            errors=[{"field": "body", "message": "too large"}],
        )
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidHeadcount(
            "The upload is not UTF-8 text.", errors=[{"field": "body", "message": "not UTF-8"}]
        ) from None
    try:
        if "csv" in content_type:
            return _parse_csv(text)
        return HeadcountUpload.model_validate(json.loads(text))
    except json.JSONDecodeError as exc:
        raise InvalidHeadcount(
            f"The body is not JSON ({exc.msg} at line {exc.lineno}); send JSON or text/csv.",
            errors=[{"field": "body", "message": "not JSON"}],
        ) from None
    except ValidationError as exc:
        errors = [
            {"field": ".".join(str(p) for p in e["loc"]) or "body", "message": e["msg"]}
            for e in exc.errors(include_url=False, include_input=False)
        ]
        raise InvalidHeadcount(
            "The headcount could not be read: "
            + "; ".join(f"{e['field']}: {e['message']}" for e in errors[:5])
            + ".",
            errors=errors,
        ) from None


def _normalise(
    upload: HeadcountUpload, options: dict[str, dict[str, str]], errors: list[dict[str, Any]]
) -> tuple[str, list[str], list[dict[str, Any]]]:
    """(kind, attributes, rows of {cell, headcount}) with option values in their canonical
    spelling; problems are appended to ``errors``."""
    if (upload.cells is None) == (upload.margins is None):
        errors.append(
            {
                "field": "body",
                "message": "give either cells (a cross-classification) or margins (totals "
                "per attribute), not both and not neither",
            }
        )
        return "cells", [], []
    asked = ", ".join(options) or "no attributes"
    raw: list[tuple[str, dict[str, str], int]] = (
        [(f"cells.{i}", dict(c.attributes), c.headcount) for i, c in enumerate(upload.cells)]
        if upload.cells is not None
        else [
            (f"margins.{i}", {m.attribute: m.value}, m.headcount)
            for i, m in enumerate(upload.margins or [])
        ]
    )
    kind = "cells" if upload.cells is not None else "margins"
    attributes: list[str] = []
    rows: list[dict[str, Any]] = []
    unknown: set[str] = set()
    for field, cell, count in raw:
        clean: dict[str, str] = {}
        for name, value in cell.items():
            key = name.strip().casefold().removeprefix("attr.")
            if key not in options:
                if key in unknown:
                    continue  # named once, not once per row
                unknown.add(key)
                errors.append(
                    {
                        "field": f"{field}.attributes",
                        "message": f"unknown attribute {name!r}: this campaign asks about {asked}",
                    }
                )
                continue
            canonical = options[key].get(value.strip().casefold())
            if canonical is None:
                errors.append(
                    {
                        "field": f"{field}.attributes.{key}",
                        "message": f"{value!r} is not an option of {key}: use one of "
                        + ", ".join(options[key].values()),
                    }
                )
                continue
            clean[key] = canonical
            if key not in attributes:
                attributes.append(key)
        if count < 0:
            errors.append(
                {
                    "field": f"{field}.headcount",
                    "message": f"the headcount of {_describe(clean) or 'this row'} is {count}; "
                    "a headcount cannot be negative",
                }
            )
        rows.append({"cell": clean, "headcount": count, "field": field})
    return kind, attributes, rows


def _check_shape(
    kind: str, attributes: list[str], rows: list[dict[str, Any]], errors: list[dict[str, Any]]
) -> int:
    """Cells: every row names every attribute, each combination once. Margins: each value
    once, every attribute's totals equal. Returns the total headcount."""
    seen: dict[tuple[tuple[str, str], ...], str] = {}
    for row in rows:
        cell = row["cell"]
        if kind == "cells" and set(cell) != set(attributes):
            missing = [a for a in attributes if a not in cell]
            if missing:
                errors.append(
                    {
                        "field": row["field"],
                        "message": f"{_describe(cell)} gives no value for {', '.join(missing)}: "
                        "every cell names the same attributes",
                    }
                )
                continue
        key = tuple(sorted(cell.items()))
        if key in seen:
            errors.append(
                {
                    "field": row["field"],
                    "message": f"{_describe(cell)} is listed twice (first at {seen[key]})",
                }
            )
        seen.setdefault(key, row["field"])
    if kind == "cells":
        return sum(max(r["headcount"], 0) for r in rows)
    totals: dict[str, int] = defaultdict(int)
    for row in rows:
        for name in row["cell"]:
            totals[name] += max(row["headcount"], 0)
    if len(set(totals.values())) > 1:
        errors.append(
            {
                "field": "margins",
                "message": "the attributes' totals disagree ("
                + ", ".join(f"{a} totals {n}" for a, n in totals.items())
                + "): each attribute's margins must add up to the same headcount",
            }
        )
    return max(totals.values(), default=0)


def _check_responses(
    kind: str,
    attributes: list[str],
    rows: list[dict[str, Any]],
    total: int,
    counts: dict[tuple[str | None, ...], int],
    errors: list[dict[str, Any]],
) -> int:
    """The headcount may not be below the responses received: in all, and in each cell or
    margin value (respondents who did not state a value count only in the total)."""
    responses = sum(counts.values())
    if total < responses:
        errors.append(
            {
                "field": "total",
                "message": f"the headcount totals {total} but {responses} responses have been "
                "received: upload the whole headcount of the people in scope",
            }
        )
    if kind == "cells":
        stated = {k: n for k, n in counts.items() if None not in k}
        listed: dict[tuple[str | None, ...], dict[str, Any]] = {
            tuple(r["cell"][a] for a in attributes): r
            for r in rows
            if len(r["cell"]) == len(attributes)
        }
        for key, n in sorted(stated.items(), key=lambda kv: tuple(str(x) for x in kv[0])):
            row = listed.get(key)
            cell = dict(zip(attributes, key, strict=True))
            if row is None:
                errors.append(
                    {
                        "field": "cells",
                        "message": f"{n} responses stated {_describe(cell)}, which the headcount "
                        "does not list: add that cell",
                    }
                )
            elif row["headcount"] < n:
                errors.append(
                    {
                        "field": row["field"],
                        "message": f"the headcount of {_describe(cell)} is {row['headcount']} but "
                        f"{n} responses stated it",
                    }
                )
        return responses
    for index, name in enumerate(attributes):
        per_value: dict[str, int] = defaultdict(int)
        for key, n in counts.items():
            if key[index] is not None:
                per_value[str(key[index])] += n
        listed_values = {r["cell"][name]: r for r in rows if name in r["cell"]}
        for value, n in sorted(per_value.items()):
            row = listed_values.get(value)
            if row is None:
                errors.append(
                    {
                        "field": "margins",
                        "message": f"{n} responses stated {name} = {value}, which the "
                        "headcount does not list: add that value",
                    }
                )
            elif row["headcount"] < n:
                errors.append(
                    {
                        "field": row["field"],
                        "message": f"the headcount of {name} = {value} is {row['headcount']} "
                        f"but {n} responses stated it",
                    }
                )
    return responses


def _options(campaign: dict[str, Any]) -> dict[str, dict[str, str]]:
    return {
        name: {o.value.casefold(): o.value for o in opts}
        for name, opts in campaign_instrument(campaign).attributes.items()
    }


def upload(
    session: Session, principal: Principal, campaign_id: int, data: bytes, content_type: str
) -> dict[str, Any]:
    campaign = visible_campaign(session, principal, campaign_id, lock=True)
    body = parse(data, content_type)
    errors: list[dict[str, Any]] = []
    kind, attributes, rows = _normalise(body, _options(campaign), errors)
    if not errors:
        total = _check_shape(kind, attributes, rows, errors)
    if not errors:
        counts = repo.response_counts(session, campaign_id, attributes)
        _check_responses(kind, attributes, rows, total, counts, errors)
    if errors:
        raise InvalidHeadcount(
            f"The headcount cannot be used ({len(errors)} problem(s)); nothing was stored: "
            + "; ".join(e["message"] for e in errors[:3])
            + ("; …" if len(errors) > 3 else "."),
            errors=errors,
        )
    repo.replace(
        session,
        campaign_id,
        {"kind": kind, "attributes": attributes, "total": total, "uploaded_by": principal.subject},
        rows,
    )
    return get(session, principal, campaign_id)


def get(session: Session, principal: Principal, campaign_id: int) -> dict[str, Any]:
    visible_campaign(session, principal, campaign_id)
    found = repo.get(session, campaign_id)
    if found is None:
        raise HeadcountNotFound(campaign_id)
    head, rows = found
    attributes = list(head["attributes"])
    counts = repo.response_counts(session, campaign_id, attributes)
    out_rows = []
    for row in rows:
        cell = row["cell"]
        n = sum(
            c
            for key, c in counts.items()
            if all(key[attributes.index(a)] == v for a, v in cell.items())
        )
        out_rows.append({"attributes": cell, "headcount": row["headcount"], "responses": n})
    return head | {
        "weighting": WEIGHTING[head["kind"]],
        "responses": sum(counts.values()),
        "rows": out_rows,
    }


def delete(session: Session, principal: Principal, campaign_id: int) -> None:
    visible_campaign(session, principal, campaign_id, lock=True)
    if repo.remove(session, campaign_id) == 0:
        raise HeadcountNotFound(campaign_id)
