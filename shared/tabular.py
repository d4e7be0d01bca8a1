"""CSV for spreadsheets and BI tools, the same in every service: UTF-8, a header row,
stable snake_case column names, ISO 8601 dates, and no cell that a spreadsheet would run as
a formula. A cell whose text starts with = + - @ (or tab / carriage return) gets a leading
apostrophe; that includes negative numbers (``'-0.35``), as the API promises no cell
starting with those characters. The JSON forms of the same tables keep numbers as numbers.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Any

from fastapi.responses import Response

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"


def csv_cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, datetime | date):
        text = value.isoformat()
    elif isinstance(value, float):
        # round away binary noise (0.30000000000000004) and write 2.0 as 2
        text = repr(round(value, 10))
        text = text.removesuffix(".0") if value.is_integer() else text
    elif isinstance(value, list | dict):
        text = json.dumps(value, ensure_ascii=False)
    else:
        text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_text(columns: Sequence[str], rows: Iterable[Mapping[str, Any] | Sequence[Any]]) -> str:
    """Rows are mappings (read by column name) or sequences in column order."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(columns)
    for row in rows:
        values = [row.get(c) for c in columns] if isinstance(row, Mapping) else row
        writer.writerow([csv_cell(v) for v in values])
    return out.getvalue()


def csv_response(
    columns: Sequence[str], rows: Iterable[Mapping[str, Any] | Sequence[Any]], filename: str
) -> Response:
    return Response(
        csv_text(columns, rows).encode("utf-8"),
        media_type=CSV_MEDIA_TYPE,
        headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
    )
