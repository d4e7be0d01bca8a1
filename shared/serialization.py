"""How response values are written, the same in every service.

- :data:`UtcDateTime`: an instant as ISO 8601 in UTC with ``Z`` (``2026-11-29T23:45:20Z``;
  fractions of a second when there are any). A naive value is taken as UTC.
- :data:`JsonDecimal`: a ``Decimal`` written as a JSON number (pydantic writes a string by
  default). For figures, not money.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from pydantic import PlainSerializer, WithJsonSchema


def utc_iso(value: datetime) -> str:
    """``value`` in UTC, ISO 8601, ``Z`` for the offset."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().removesuffix("+00:00") + "Z"


UtcDateTime = Annotated[
    datetime,
    PlainSerializer(utc_iso, return_type=str, when_used="json"),
    WithJsonSchema({"type": "string", "format": "date-time"}, mode="serialization"),
]
JsonDecimal = Annotated[
    Decimal,
    PlainSerializer(float, return_type=float, when_used="json"),
    WithJsonSchema({"type": "number"}, mode="serialization"),
]
