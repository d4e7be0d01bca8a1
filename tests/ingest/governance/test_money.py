"""The one money parser: every form finance staff write, into exact pence."""

from __future__ import annotations

from decimal import Decimal

import pytest

from shared.money import MoneyError, parse_pence


@pytest.mark.parametrize(
    ("written", "pence"),
    [
        ("£ 1,234", 123400),
        ("£1,234.56", 123456),
        ("-£ 30,000", -3000000),
        ("£ -", 0),
        ("£-", 0),
        ("-", 0),
        ("\u2013", 0),
        ("(1,234)", -123400),
        ("(£1,234.50)", -123450),
        ("£(1,234)", -123400),
        ("", 0),
        ("   ", 0),
        (None, 0),
        ("1234", 123400),
        ("1234.5", 123450),
        ("0.01", 1),
        (".5", 50),
        ("£ -30,000", -3000000),
        ("- £ 5", -500),
        ("\u2212£5", -500),
        ("£\u00a01,234", 123400),
        ("£ 1 234", 123400),
        ("1,234,567.89", 123456789),
        (1234, 123400),
        (-5, -500),
        (1234.56, 123456),
        (0.1, 10),
        (-30000.0, -3000000),
        (Decimal("12.30"), 1230),
    ],
)
def test_the_forms_finance_staff_write(written, pence):
    assert parse_pence(written) == pence


@pytest.mark.parametrize(
    ("written", "message"),
    [
        ("12x", "'12x' is not an amount"),
        ("£", "'£' is not an amount"),
        ("12,34", "'12,34' is not an amount"),
        ("1,2345", "'1,2345' is not an amount"),
        ("1.234", "'1.234' has more than two decimal places (pence)"),
        ("--1", "'--1' is negative twice over"),
        ("(-1)", "'(-1)' is negative twice over"),
        ("1e5", "'1e5' is not an amount"),
        ("NaN", "'NaN' is not an amount"),
        (0.1 + 0.2, "0.30000000000000004 has more than two decimal places (pence)"),
        (True, "is true/false, not an amount"),
        ("£10,000,000,000,001", "is beyond the largest amount accepted"),
    ],
)
def test_what_is_not_money_is_refused_saying_why(written, message):
    with pytest.raises(MoneyError) as caught:
        parse_pence(written)
    assert message in str(caught.value)
