"""How response values are written in JSON (and CSV): one form for every service.

- ``UtcDateTime``: an instant, written in UTC with ``Z`` and whole seconds,
  ``2026-11-29T23:45:20Z``. Fractions of a second are dropped (truncated, never rounded up
  into the next second), always: every timestamp in every response has the same length and
  form, and no endpoint takes a timestamp from an earlier response as a cursor or filter,
  so nothing needs the microseconds. A naive value (none should reach a response: every
  column is ``timestamptz``) is read as UTC.
- ``JsonDecimal``: a non-money figure held as ``Decimal`` (a percentage, hours, days)
  written as a JSON number (``92.5``), not pydantic's default string (``"92.50"``).
  Money is pence (an integer) and needs neither.

Both change only the JSON (and JSON schema) form: in Python a model still holds a
``datetime``/``Decimal``. ``utc_iso`` is the same text for code that writes JSON or CSV
without a model.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import PlainSerializer, WithJsonSchema

UTC_PATTERN = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$"


def utc_iso(value: datetime) -> str:
    """``2026-11-29T23:45:20Z``: the instant in UTC, whole seconds, ``Z``."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def decimal_number(value: Decimal) -> float:
    """A Decimal as a JSON number: the float whose shortest repr is the decimal's own digits
    (``Decimal("92.50")`` -> ``92.5``, ``Decimal("7")`` -> ``7.0``); every figure these
    fields hold has at most 15 significant digits, so nothing is lost."""
    return float(value)


UtcDateTime = Annotated[
    datetime,
    PlainSerializer(utc_iso, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "pattern": UTC_PATTERN,
            "examples": ["2026-11-29T23:45:20Z"],
        },
        mode="serialization",
    ),
]
"""An instant; JSON ``2026-11-29T23:45:20Z`` (UTC, whole seconds)."""

JsonDecimal = Annotated[
    Decimal,
    PlainSerializer(decimal_number, return_type=float, when_used="json"),
    WithJsonSchema({"type": "number"}, mode="serialization"),
]
"""A non-money Decimal figure; JSON number (``92.5``), never a string."""
