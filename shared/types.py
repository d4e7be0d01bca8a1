"""Field types for request schemas: text that cannot smuggle control characters into a
mail header, a CSV cell or a PostgreSQL ``text`` column, and dates that are ISO strings.

Each type says what it refuses in its JSON schema too (``pattern``, ``format``), so a
client generating data from the OpenAPI document (schemathesis, a form builder) sends
values the API accepts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, BeforeValidator, GetCoreSchemaHandler, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

# C0 controls, DEL and C1 controls, plus the Unicode line and paragraph separators that
# str.splitlines() (and so the email package folding a header) treats as line breaks.
_SINGLE_LINE_BAD = "\x00-\x1f\x7f-\x9f\u2028\u2029"
# Multi-line text keeps tab, LF and CR (a comment typed in a textarea).
_MULTI_LINE_BAD = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"

# The same classes written with \uXXXX escapes for the JSON schema (ECMA-262 regex).
_SINGLE_LINE_PATTERN = r"^[^\u0000-\u001f\u007f-\u009f\u2028\u2029]*$"
_MULTI_LINE_PATTERN = r"^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$"


@dataclass(frozen=True)
class _NoControlCharacters:
    """Refuses control characters in a ``str`` (after its own checks) with a message that
    names the character, and adds the matching ``pattern`` to the JSON schema."""

    multiline: bool

    @property
    def _bad(self) -> re.Pattern[str]:
        return _MULTI_BAD_RE if self.multiline else _SINGLE_BAD_RE

    def __get_pydantic_core_schema__(
        self, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.no_info_after_validator_function(self._check, handler(source))

    def __get_pydantic_json_schema__(
        self, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        json_schema["pattern"] = _MULTI_LINE_PATTERN if self.multiline else _SINGLE_LINE_PATTERN
        return json_schema

    def _check(self, value: str) -> str:
        found = self._bad.search(value)
        if found is None:
            return value
        char = found.group()
        kind = "text" if self.multiline else "a single line"
        raise PydanticCustomError(
            "control_character",
            "Must be {kind} without control characters; found U+{code} at position {pos}",
            {"kind": kind, "code": f"{ord(char):04X}", "pos": found.start()},
        )


_SINGLE_BAD_RE = re.compile(f"[{_SINGLE_LINE_BAD}]")
_MULTI_BAD_RE = re.compile(f"[{_MULTI_LINE_BAD}]")

SingleLine = Annotated[str, _NoControlCharacters(multiline=False)]
"""A name or title: no CR, LF, NUL or any other C0/C1 control character, no U+2028/9."""

MultiLine = Annotated[str, _NoControlCharacters(multiline=True)]
"""Free text that may span lines: tab, CR and LF allowed; NUL and other controls refused."""

_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_date(value: Any) -> Any:
    # Pydantic's lax date accepts 0, 0.0 and "0" as 1970-01-01 and a datetime string as
    # its day: a client that sends those has a bug worth telling it about.
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DATE.fullmatch(value):
        return value
    raise PydanticCustomError(
        "date_format", "Must be a date as an ISO 8601 string, YYYY-MM-DD (e.g. 2025-04-01)"
    )


IsoDate = Annotated[date, BeforeValidator(_iso_date)]
"""A calendar date sent as ``YYYY-MM-DD``; numbers and datetimes are refused."""

_ISO_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}.*")


def _iso_datetime(value: Any) -> Any:
    # Pydantic's lax datetime reads 0 and "0" as a Unix time (1970-01-01T00:00Z).
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and _ISO_DATETIME.fullmatch(value):
        return value
    raise PydanticCustomError(
        "datetime_format",
        "Must be a date and time as an ISO 8601 string (e.g. 2025-04-01T09:30:00+01:00)",
    )


IsoDateTime = Annotated[datetime, BeforeValidator(_iso_datetime)]
"""A moment sent as an ISO 8601 string; numbers (Unix times) are refused."""

IsoAwareDateTime = Annotated[AwareDatetime, BeforeValidator(_iso_datetime)]
"""A moment sent as an ISO 8601 string with an offset; numbers (Unix times) are refused."""


def nul_paths(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[str | int, ...]]:
    """Where a decoded JSON document holds a NUL character: the path of every string value
    (and every object key) containing U+0000, depth first. PostgreSQL's ``text`` and
    ``jsonb`` cannot store NUL, so these are refused at the edge, wherever they are nested.
    """
    stack: list[tuple[tuple[str | int, ...], Any]] = [(path, value)]
    while stack:
        where, item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                yield where
        elif isinstance(item, Mapping):
            children = []
            for key, child in item.items():
                if "\x00" in key:
                    yield (*where, key)
                else:
                    children.append(((*where, key), child))
            stack.extend(reversed(children))
        elif isinstance(item, Sequence) and not isinstance(item, bytes | bytearray):
            stack.extend(reversed([((*where, i), child) for i, child in enumerate(item)]))
