"""How figures read in charts and packs: money from integer pence, percentages, counts.

Money is exact: pence become pounds through ``Decimal`` (never float), so £1,234.56 prints
as written; whole pounds print without pence (£1,234), a negative as -£1,234. ``None`` (a
figure that cannot be computed) is a dash everywhere.
"""

from __future__ import annotations

from decimal import Decimal

from services.metrics.figures import half_up_decimal

DASH = "–"
_HUNDRED = Decimal(100)


def pounds(pence: int) -> Decimal:
    """Pence as an exact Decimal of pounds (123456 → Decimal('1234.56'))."""
    return Decimal(pence) / _HUNDRED


def money(pence: int | None) -> str:
    """``£1,234`` for whole pounds, ``£1,234.56`` otherwise, ``-£1,234`` below zero."""
    if pence is None:
        return DASH
    sign = "-" if pence < 0 else ""
    whole, rest = divmod(abs(pence), 100)
    text = f"£{whole:,}" if rest == 0 else f"£{whole:,}.{rest:02d}"
    return sign + text


def money_compact(pence: int | None) -> str:
    """A short money label for a chart (£1.23M, £566k, £950), rounded half up on the
    exact Decimal; the tables beside the chart hold the exact figure."""
    if pence is None:
        return DASH
    value = abs(pounds(pence))
    sign = "-" if pence < 0 else ""
    if value >= 1_000_000:
        text = f"£{half_up_decimal(value / 1_000_000, 2)}M"
    elif value >= 10_000:
        text = f"£{half_up_decimal(value / 1_000, 0)}k"
    elif value >= 1_000:
        text = f"£{half_up_decimal(value / 1_000, 1)}k"
    else:
        text = f"£{half_up_decimal(value, 0)}"
    return sign + text


def number(value: Decimal | int | None) -> str:
    """A count or figure (thousands separated), a dash for None.

    Trailing zeros after the point are dropped (92.50 → 92.5, 95.0 → 95): the value is the
    same, and a figure read back from JSON (where 95 may arrive as 95.0) prints the same
    text as the figure it was written from. Rounding happened once, where it was computed.
    """
    if value is None:
        return DASH
    if isinstance(value, int):
        return f"{value:,}"
    if value == value.to_integral_value():
        return f"{int(value):,}"
    text = f"{value.normalize():,f}"
    return text


def canonical(value: Decimal) -> str:
    """One text per value, for machine-readable attributes: 95 for 95, 95.0 and 95.00."""
    if value == value.to_integral_value():
        return str(int(value))
    return f"{value.normalize():f}"


def percent(value: Decimal | None) -> str:
    return DASH if value is None else f"{number(value)}%"


def signed(value: Decimal | None, unit: str = "") -> str:
    """A change with its sign (+1.5, -2, 0), for "change since the previous pack"."""
    if value is None:
        return DASH
    sign = "+" if value > 0 else ""
    return f"{sign}{number(value)}{unit}"
