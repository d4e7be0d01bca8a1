"""CSV for spreadsheets and BI tools: UTF-8, a header row, the row model's field names as
stable snake_case columns, ISO 8601 dates, and no cell that a spreadsheet would run as a
formula: a cell starting with = + - @ (or tab / carriage return) is prefixed with '.
That includes negative numbers (``'-0.35``); the flat JSON keeps them as numbers."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel

_DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        text = value.isoformat()
    elif isinstance(value, float):
        text = repr(round(value, 10)).removesuffix(".0") if value.is_integer() else repr(value)
    else:
        text = str(value)
    return "'" + text if text.startswith(_DANGEROUS) else text


def to_csv(model: type[BaseModel], rows: Iterable[dict[str, Any]]) -> str:
    columns = list(model.model_fields)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([cell(row.get(c)) for c in columns])
    return out.getvalue()
