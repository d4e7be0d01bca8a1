"""One JSON form for instants (UTC, whole seconds, ``Z``) and non-money decimals (numbers)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel

from shared.serialization import UTC_PATTERN, JsonDecimal, UtcDateTime, utc_iso


class _Row(BaseModel):
    at: UtcDateTime
    maybe: UtcDateTime | None = None
    share_pct: JsonDecimal
    hours: JsonDecimal | None = None


def test_an_instant_is_written_in_utc_with_z_and_whole_seconds() -> None:
    bst = timezone(timedelta(hours=1))
    row = _Row(at=datetime(2026, 6, 1, 0, 45, 20, 999_999, tzinfo=bst), share_pct=Decimal("1"))
    text = row.model_dump_json()
    assert json.loads(text)["at"] == "2026-05-31T23:45:20Z"  # truncated, never rounded up
    assert jsonable_encoder(row)["at"] == "2026-05-31T23:45:20Z"
    assert row.model_dump(mode="json")["at"] == "2026-05-31T23:45:20Z"
    # Python keeps the datetime itself
    assert row.at.microsecond == 999_999
    assert utc_iso(datetime(2026, 11, 29, 23, 45, 20)) == "2026-11-29T23:45:20Z"  # naive = UTC
    assert utc_iso(datetime(2026, 11, 29, 23, 45, 20, tzinfo=UTC)) == "2026-11-29T23:45:20Z"


def test_a_decimal_figure_is_a_json_number() -> None:
    row = _Row(at=datetime(2026, 1, 1, tzinfo=UTC), share_pct=Decimal("92.50"), hours=None)
    body = json.loads(row.model_dump_json())
    assert body["share_pct"] == 92.5 and isinstance(body["share_pct"], float)
    assert body["hours"] is None
    assert '"share_pct":92.5' in row.model_dump_json()
    assert jsonable_encoder(_Row(at=row.at, share_pct=Decimal("7.0000")))["share_pct"] == 7.0


def test_the_response_schema_says_so() -> None:
    schema = _Row.model_json_schema(mode="serialization")
    props = schema["properties"]
    assert props["at"]["format"] == "date-time" and props["at"]["pattern"] == UTC_PATTERN
    assert props["share_pct"] == {"title": "Share Pct", "type": "number"}
    assert {"type": "number"} in props["hours"]["anyOf"]
