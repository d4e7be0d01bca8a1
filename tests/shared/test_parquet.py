"""``format=parquet`` (shared/tabular.py): any row a table endpoint gives becomes a typed
Parquet column, never a 500: identifiers as text, decimals exact, instants UTC, nested
lists as lists, a column of nulls as nulls, whole numbers and fractions together as
floats."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

import polars as pl

from shared.tabular import parquet_bytes


def test_odd_values_become_typed_columns():
    ident = uuid.uuid4()
    rows = [
        {"id": ident, "n": 1, "d": Decimal("1.25"), "at": datetime(2021, 1, 1, tzinfo=UTC),
         "day": date(2021, 3, 1), "none": None, "values": [{"code": "A7", "value": 1.5}]},
        {"id": uuid.uuid4(), "n": 2.5, "d": Decimal("3.10"), "at": None, "day": None,
         "none": None, "values": []},
    ]  # fmt: skip
    frame = pl.read_parquet(io.BytesIO(parquet_bytes(list(rows[0]), rows)))
    assert frame.columns == ["id", "n", "d", "at", "day", "none", "values"]
    assert frame["id"].to_list()[0] == str(ident)
    assert frame["n"].to_list() == [1.0, 2.5]
    assert frame["d"].to_list() == [Decimal("1.25"), Decimal("3.10")]
    assert frame["at"].dtype == pl.Datetime("us", "UTC")
    assert frame["day"].to_list() == [date(2021, 3, 1), None]
    assert frame["none"].to_list() == [None, None]
    assert frame["values"].to_list() == [[{"code": "A7", "value": 1.5}], []]
    # rows as sequences in column order, and no rows at all
    assert pl.read_parquet(io.BytesIO(parquet_bytes(["a"], [[1], [2]])))["a"].to_list() == [1, 2]
    assert pl.read_parquet(io.BytesIO(parquet_bytes(["a", "b"], []))).columns == ["a", "b"]
