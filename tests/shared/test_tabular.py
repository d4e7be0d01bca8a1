from datetime import UTC, date, datetime
from decimal import Decimal

from shared.tabular import csv_cell, csv_text


def test_text_cells_that_a_spreadsheet_would_run_are_escaped():
    for raw in ("=1+1", "+44", "-2+3", "-0.35", "@SUM(A1)", "\tx", "\rx"):
        assert csv_cell(raw) == "'" + raw
    assert csv_cell("a=b") == "a=b"


def test_numbers_stay_numbers_negatives_included():
    assert csv_cell(-0.35) == "-0.35"
    assert csv_cell(-1) == "-1" and csv_cell(-2.0) == "-2"
    assert csv_cell(Decimal("-3.0")) == "-3.0"
    assert csv_cell(Decimal("1E+2")) == "100" and csv_cell(Decimal("-1E-3")) == "-0.001"


def test_values_are_written_the_same_way_everywhere():
    assert csv_cell(None) == ""
    assert csv_cell(True) == "true" and csv_cell(False) == "false"
    assert csv_cell(2.0) == "2" and csv_cell(0.1 + 0.2) == "0.3"
    assert csv_cell(Decimal("95.00")) == "95.00"
    assert csv_cell(date(2021, 3, 5)) == "2021-03-05"
    assert csv_cell(datetime(2021, 3, 5, 9, 30, tzinfo=UTC)) == "2021-03-05T09:30:00+00:00"
    assert csv_cell({"a": "£"}) == '{"a": "£"}'


def test_rows_by_name_or_position_give_the_same_document():
    by_name = csv_text(["a", "b"], [{"b": 2, "a": "x"}])
    by_position = csv_text(["a", "b"], [("x", 2)])
    assert by_name == by_position == "a,b\r\nx,2\r\n"
