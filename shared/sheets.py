"""Tables uploaded as CSV or XLSX, read into rows of cells, and the problem that names the
rows and columns a file got wrong.

What a finance system, a risk log or a spreadsheet exports is read the same way whatever
the format:

- the format is the file name's extension (``.xlsx``/``.xlsm`` or ``.csv``) or its media
  type, else what the bytes are (a ZIP container is a workbook); a file that claims to be
  a workbook and is not one is refused, as is the old binary ``.xls``;
- CSV is UTF-8 (with or without a BOM), UTF-16 with a BOM, or Windows-1252 (what Excel's
  plain "CSV" writes on a UK machine, where ``£`` is the byte A3);
- XLSX is read with openpyxl, read-only and ``data_only`` (a formula's cached value, never
  the formula), first worksheet; cells keep their types (a number stays an int or a float,
  a date a datetime) so each column's parser decides what it accepts;
- the header is the first row, among the first 20 non-blank ones, that names every
  required column, so title lines above it ("Outturn 2024/25 P3") are skipped; column
  names are matched case- and punctuation-blind (``Budget (£)`` is ``budget``);
- blank rows are skipped; rows are numbered as the spreadsheet numbers them.

Every refusal is an :class:`ImportRejected` (422, ``application/problem+json``) whose
``errors`` are ``{field, row, column, code, message}``, one per problem, all of them, so
a file is fixed in one round; nothing is stored when one is raised.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from shared.errors import Unprocessable

Cell = str | int | float | Decimal | date | datetime | bool | None
Kind = Literal["csv", "xlsx"]

XLSX_MEDIA_TYPES = frozenset(
    {
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.ms-excel.sheet.macroenabled.12",
    }
)
MAX_ROWS = 50_000
MAX_ERRORS = 200
# A workbook is a ZIP of XML: refuse one that would inflate past this before reading it.
MAX_UNZIPPED_BYTES = 200 * 1024 * 1024
HEADER_SEARCH_ROWS = 20
_ZIP_MAGIC = b"PK\x03\x04"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls (Excel 97-2003)
_NOT_NAME = re.compile(r"[^a-z0-9]+")
_BRACKETED = re.compile(r"\([^)]*\)")


class ImportRejected(Unprocessable):
    """A file or a body whose rows break the rules: nothing was stored."""

    code = "import_rejected"
    title = "Import rejected"


class FileUnreadable(Unprocessable):
    """The upload cannot be read as the table it claims to be."""

    code = "file_unreadable"
    title = "File unreadable"


def row_error(
    row: int | None,
    column: str,
    message: str,
    code: str = "invalid_value",
    *,
    field: str | None = None,
) -> dict[str, Any]:
    """One problem of an import: where (``row`` as the file numbers it, or the item's
    position from 1 in a JSON list; ``column`` as the file or the JSON names it) and what.
    ``field`` is the JSON path for a body (``lines.3.group``), else "row R, column C"."""
    where = field or (f"row {row}, column {column}" if row is not None else f"column {column}")
    return {"field": where, "row": row, "column": column, "code": code, "message": message}


def reject(what: str, errors: list[dict[str, Any]], rows: int) -> ImportRejected:
    """The problem for ``errors`` (sorted by row), at most :data:`MAX_ERRORS` listed."""
    errors = sorted(errors, key=lambda e: (e["row"] is not None, e["row"] or 0))
    shown = errors[:MAX_ERRORS]
    more = f" (first {MAX_ERRORS} listed)" if len(errors) > MAX_ERRORS else ""
    where = "; ".join(f"{e['field']}: {e['message']}" for e in shown[:5])
    return ImportRejected(
        f"The {what} was rejected and nothing was stored: {len(errors)} problem(s) in "
        f"{rows} row(s){more}. {where}",
        errors=shown,
    )


def column_name(label: object) -> str:
    """``"Budget (£)"`` → ``budget``; ``"Recharge flag"`` → ``recharge_flag``."""
    text = _BRACKETED.sub(" ", str(label or "").strip().lower().replace("£", " "))
    return _NOT_NAME.sub("_", text).strip("_")


@dataclass(frozen=True)
class Row:
    number: int  # as the spreadsheet numbers it (the header row included)
    cells: dict[str, Cell]  # by column name (after aliases)


@dataclass(frozen=True)
class Sheet:
    kind: Kind
    header_row: int
    columns: list[str]  # column names in file order (after aliases)
    labels: dict[str, str]  # column name → as the file wrote it
    rows: list[Row]


def detect_kind(content: bytes, filename: str | None, content_type: str | None) -> Kind:
    name = (filename or "").lower()
    media = (content_type or "").split(";")[0].strip().lower()
    if name.endswith(".xls") or content.startswith(_OLE_MAGIC):
        raise FileUnreadable(
            "The file is an Excel 97-2003 workbook (.xls), which is not read; save it as "
            "Excel Workbook (.xlsx) or CSV UTF-8 and send it again.",
            errors=[{"field": "file", "message": "XLS (Excel 97-2003), not XLSX or CSV"}],
        )
    if name.endswith((".xlsx", ".xlsm")) or media in XLSX_MEDIA_TYPES:
        return "xlsx"
    if name.endswith((".csv", ".txt")) or media in {"text/csv", "text/plain"}:
        return "xlsx" if content.startswith(_ZIP_MAGIC) else "csv"
    return "xlsx" if content.startswith(_ZIP_MAGIC) else "csv"


def _raw_rows_xlsx(content: bytes) -> list[tuple[int, list[Cell]]]:
    import openpyxl

    def unreadable(reason: str) -> FileUnreadable:
        return FileUnreadable(
            f"The file is not a readable XLSX workbook ({reason}); save it from Excel as "
            "Excel Workbook (.xlsx), or send CSV.",
            errors=[{"field": "file", "message": f"not a readable XLSX workbook: {reason}"}],
        )

    if not content.startswith(_ZIP_MAGIC):
        raise unreadable("it is not a ZIP container, as every .xlsx is")
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            inflated = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise unreadable(f"a damaged ZIP container: {exc}") from None
    if inflated > MAX_UNZIPPED_BYTES:
        raise unreadable(f"it would unpack to {inflated // (1024 * 1024)} MB")
    rows: list[tuple[int, list[Cell]]] = []
    try:
        workbook = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        try:
            sheet = workbook.worksheets[0]
            for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
                if number > MAX_ROWS + HEADER_SEARCH_ROWS:
                    raise FileUnreadable(
                        f"The workbook has more than {MAX_ROWS} rows; split it.",
                        errors=[{"field": "file", "message": f"more than {MAX_ROWS} rows"}],
                    )
                rows.append((number, [_xlsx_cell(v) for v in values]))
        finally:
            workbook.close()
    except FileUnreadable:
        raise
    except Exception as exc:  # a parser of untrusted bytes: any failure is the file's
        raise unreadable(f"{type(exc).__name__}: {exc}") from None
    return rows


def _xlsx_cell(value: Any) -> Cell:
    if value is None or isinstance(value, str | int | float | Decimal | date | datetime | bool):
        return value.strip() if isinstance(value, str) else value
    return str(value)  # a time or a timedelta: shown as text, refused by a typed column


def _decode(content: bytes) -> str:
    if content.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return content.decode("utf-16")
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        # Excel's plain "CSV (Comma delimited)" on a UK machine: Windows-1252.
        try:
            return content.decode("cp1252")
        except UnicodeDecodeError:
            raise FileUnreadable(
                "The file is neither UTF-8 nor Windows-1252 text; save it as CSV UTF-8.",
                errors=[{"field": "file", "message": "not UTF-8 or Windows-1252 text"}],
            ) from None


def _raw_rows_csv(content: bytes) -> list[tuple[int, list[Cell]]]:
    text = _decode(content)
    if "\x00" in text:
        raise FileUnreadable(
            "The file holds a NUL character, so it is not CSV text; save it as CSV UTF-8, "
            "or name a workbook .xlsx.",
            errors=[{"field": "file", "message": "NUL character: not CSV text"}],
        )
    reader = csv.reader(io.StringIO(text, newline=""))
    rows: list[tuple[int, list[Cell]]] = []
    number = 0
    while True:
        try:
            record = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise ImportRejected(
                f"Row {number + 1} cannot be read as CSV ({exc}); nothing was stored.",
                errors=[row_error(number + 1, "file", f"cannot be read as CSV: {exc}")],
            ) from None
        number += 1
        if number > MAX_ROWS + HEADER_SEARCH_ROWS:
            raise FileUnreadable(
                f"The file has more than {MAX_ROWS} rows; split it.",
                errors=[{"field": "file", "message": f"more than {MAX_ROWS} rows"}],
            )
        rows.append((number, [c.strip() for c in record]))
    return rows


def _blank(values: Sequence[Cell]) -> bool:
    return all(v is None or (isinstance(v, str) and v == "") for v in values)


def read_table(
    content: bytes,
    *,
    filename: str | None,
    content_type: str | None,
    required: Sequence[str],
    aliases: Mapping[str, str] | None = None,
    what: str = "file",
) -> Sheet:
    """The upload as a :class:`Sheet`: header found, columns named, blank rows dropped."""
    if not content:
        raise FileUnreadable(
            "The uploaded file is empty.", errors=[{"field": "file", "message": "empty"}]
        )
    kind = detect_kind(content, filename, content_type)
    raw = _raw_rows_xlsx(content) if kind == "xlsx" else _raw_rows_csv(content)
    aliases = aliases or {}

    def name(label: Cell) -> str:
        key = column_name(label)
        return aliases.get(key, key)

    candidates = [(n, values) for n, values in raw if not _blank(values)][:HEADER_SEARCH_ROWS]
    if not candidates:
        raise FileUnreadable(
            f"The {what} has no rows.", errors=[{"field": "file", "message": "no rows"}]
        )
    header: tuple[int, list[Cell]] | None = None
    for number, values in candidates:
        if set(required) <= {name(v) for v in values}:
            header = (number, values)
            break
    if header is None:
        first_number, first = candidates[0]
        missing = [c for c in required if c not in {name(v) for v in first}]
        raise ImportRejected(
            f"No header row names the columns {', '.join(required)}; the first row misses "
            f"{', '.join(missing)}. Nothing was stored.",
            errors=[
                row_error(first_number, c, "missing column", "missing_column") for c in missing
            ],
        )
    header_number, header_values = header
    columns: list[str] = []
    labels: dict[str, str] = {}
    errors = []
    for label in header_values:
        key = name(label)
        if key in labels and key:
            errors.append(
                row_error(header_number, key, f"the column {key!r} is named twice", "duplicate")
            )
        if key:
            labels[key] = str(label).strip()
        columns.append(key)
    if errors:
        raise reject(what, errors, 0)
    rows: list[Row] = []
    for number, values in raw:
        if number <= header_number or _blank(values):
            continue
        # Every column present (a workbook row may stop at its last filled cell).
        cells: dict[str, Cell] = dict.fromkeys(labels)
        for index, value in enumerate(values):
            key = columns[index] if index < len(columns) else ""
            if key:
                cells[key] = value
            elif not _blank([value]):
                errors.append(
                    row_error(number, f"#{index + 1}", "a value in a column with no header")
                )
        rows.append(Row(number, cells))
    if errors:
        raise reject(what, errors, len(rows))
    if not rows:
        raise ImportRejected(
            f"The {what} has a header but no rows; nothing was stored.",
            errors=[row_error(header_number + 1, required[0], "no rows", "no_rows")],
        )
    return Sheet(kind, header_number, [c for c in columns if c], labels, rows)


# -------------------------------------------------------------------- cell readers


def text_cell(value: Cell) -> str:
    """A cell as text: numbers as a spreadsheet shows them (``2.0`` → ``2``)."""
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() else str(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


_DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%d/%m/%y", "%d-%m-%Y", "%d.%m.%Y", "%d %b %Y", "%d %B %Y")


def date_cell(value: Cell) -> date | None:
    """A date written as ISO 8601 or the UK way (day first), or a workbook's date cell;
    None for a blank cell; ValueError for anything else."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = text_cell(value)
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"{text!r} is not a date (write 2024-06-30 or 30/06/2024)")


def int_cell(value: Cell) -> int | None:
    """A whole number; None for a blank cell; ValueError for anything else."""
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError("is true/false, not a number")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    text = text_cell(value)
    if text.isascii() and text.lstrip("-").isdigit():
        return int(text)
    raise ValueError(f"{text!r} is not a whole number")


_TRUE = frozenset({"yes", "y", "true", "1", "x", "recharge"})
_FALSE = frozenset({"no", "n", "false", "0", ""})


def flag_cell(value: Cell) -> bool:
    """yes/no, true/false, y/n, 1/0, x; blank is no."""
    if isinstance(value, bool):
        return value
    text = text_cell(value).lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ValueError(f"{text_cell(value)!r} is not yes or no")


# Pydantic's error types → the codes of an import's row errors, so a file row checked by
# the same model as a JSON item is refused with the same rule, named the file's way.
_CODES = {
    "missing": "missing_value",
    "greater_than_equal": "out_of_range",
    "less_than_equal": "out_of_range",
    "greater_than": "out_of_range",
    "less_than": "out_of_range",
    "int_parsing": "not_a_number",
    "int_type": "not_a_number",
    "string_too_short": "missing_value",
    "literal_error": "invalid_value",
    "date_from_datetime_parsing": "not_a_date",
    "date_parsing": "not_a_date",
}
M = TypeVar("M", bound=BaseModel)


def validate_row(
    model: type[M], item: dict[str, Any], row: int, labels: Mapping[str, str]
) -> tuple[M | None, list[dict[str, Any]]]:
    """``item`` (a file row's cells, read per column; None for blank) as ``model``, or the
    row's problems naming the file's columns (``labels``: field → column as written)."""
    try:
        return model.model_validate({k: v for k, v in item.items() if v is not None}), []
    except ValidationError as exc:
        problems = []
        for e in exc.errors():
            name = str(e["loc"][0]) if e["loc"] else "row"
            column = labels.get(name, name)
            message = f"{column} is empty" if e["type"] == "missing" else e["msg"]
            problems.append(row_error(row, column, message, _CODES.get(e["type"], "invalid_value")))
        return None, problems
