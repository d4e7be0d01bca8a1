"""Money as finance staff write it, read into integer pence, exactly.

The one parser of amounts in Yardstick (finance outturns, cost tables; metrics may read
printed figures with it too). Never a float on the way: text goes through ``Decimal``; a
number a spreadsheet stored as a float goes through ``Decimal(str(value))`` (the shortest
text that round-trips, so 1234.56 stays 1234.56) and must then have at most two decimal
places.

Forms read (spaces, including non-breaking ones, anywhere around the parts):

====================  ===========  =========================================
written               pence        why
====================  ===========  =========================================
``£ 1,234``           123400       thousands separators, pound sign
``£1,234.56``         123456       pence after the point (at most two places)
``-£ 30,000``         -3000000     minus before or after the pound sign
``£ -`` / ``-``       0            accounting format's zero
``(1,234)``           -123400      brackets: negative
blank / None          0            an empty cell is nothing spent
====================  ===========  =========================================

Anything else (letters, two signs, a misplaced comma, three decimal places) is refused
with a :class:`MoneyError` whose message says what is wrong, for the row error.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from typing import Annotated

from pydantic import Field, StrictInt

# Minus signs a spreadsheet or a word processor may use.
_MINUS = "-\u2212\u2013\u2014"
_NUMBER = re.compile(r"(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+")
_SPACES = re.compile(r"[\s\u00a0\u202f]+")


class MoneyError(ValueError):
    """The text is not an amount of money; the message says why, for a person."""


def pence_from_decimal(amount: Decimal) -> int:
    """Pounds as a Decimal → pence; more than two decimal places is refused (never rounded)."""
    if not amount.is_finite():
        raise MoneyError("is not a finite amount")
    pence = amount * 100
    if pence != pence.to_integral_value():
        raise MoneyError(f"{amount} has more than two decimal places (pence)")
    return int(pence)


def parse_pence(value: object) -> int:
    """An amount as a finance export writes it (text, or a spreadsheet's number) → pence."""
    return check_range(_parse(value))


def _parse(value: object) -> int:
    if value is None:
        return 0
    if isinstance(value, bool):
        raise MoneyError("is true/false, not an amount")
    if isinstance(value, int):
        return value * 100
    if isinstance(value, float):
        # str() gives the shortest decimal that reads back as this float: the figure as
        # the spreadsheet shows it, not its binary expansion.
        try:
            return pence_from_decimal(Decimal(str(value)))
        except InvalidOperation:
            raise MoneyError("is not a finite amount") from None
    if isinstance(value, Decimal):
        return pence_from_decimal(value)
    if not isinstance(value, str):
        raise MoneyError(f"is a {type(value).__name__}, not an amount")
    return _parse_text(value)


def _parse_text(raw: str) -> int:
    shown = raw.strip()
    text = _SPACES.sub("", raw)
    if text == "":
        return 0
    bracketed = text.startswith("(") and text.endswith(")")
    if bracketed:
        text = text[1:-1]
    signs = 0
    if text[:1] != "" and text[0] in _MINUS:
        signs, text = 1, text[1:]
    pound = text.startswith("£")
    if pound:
        text = text[1:]
        if not bracketed and text.startswith("(") and text.endswith(")"):
            bracketed, text = True, text[1:-1]
    if text[:1] != "" and text[0] in _MINUS:
        if text[1:] == "" and pound and not signs and not bracketed:
            return 0  # "£ -": the accounting format's zero
        signs, text = signs + 1, text[1:]
    if text == "" and signs == 1 and not pound and not bracketed:
        return 0  # "-" alone
    if signs + bracketed > 1:
        raise MoneyError(f"{shown!r} is negative twice over (a minus sign and brackets)")
    if not _NUMBER.fullmatch(text):
        raise MoneyError(
            f"{shown!r} is not an amount (write it like £1,234.56, -£30,000, (1,234) "
            "or £ - for zero)"
        )
    try:
        pence = pence_from_decimal(Decimal(text.replace(",", "")))
    except MoneyError:
        raise MoneyError(f"{shown!r} has more than two decimal places (pence)") from None
    return -pence if signs or bracketed else pence


# Ten thousand million pounds either way: beyond any public body's budget line, and far
# inside PostgreSQL's bigint, so an absurd figure is a 422 naming it, never an overflow.
MAX_PENCE = 10**15

Pence = Annotated[
    StrictInt, Field(ge=-MAX_PENCE, le=MAX_PENCE, description="Pence (integer; £1,234.56 = 123456)")
]


def check_range(pence: int) -> int:
    if abs(pence) > MAX_PENCE:
        raise MoneyError(f"£{pence // 100:,} is beyond the largest amount accepted")
    return pence
