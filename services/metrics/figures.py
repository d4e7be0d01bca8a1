"""Rules every figure family shares: half-up rounding and the Net Promoter Score.

Rounding (DOMAIN.md; CONVENTIONS.md "one function, used everywhere"): figures are computed
at full precision and rounded once, for presentation, **half up, away from zero** on the
decimal value (Python's ``ROUND_HALF_UP``): 0.125 → 0.13, 2.675 → 2.68, -0.125 → -0.13.
Float arithmetic cannot promise that (2.675 is stored as 2.67499999…), so :func:`half_up`
works on integers: a ratio of integer sums and counts is rounded exactly. A figure that
only exists as a float (a mean of means, a quantile) is first read as the decimal it
prints as (its shortest round-tripping form, the number a reader sees) and then rounded
by the same function (:func:`half_up_float`).

NPS (DOMAIN.md): ratings 0–10; promoters 9–10, passives 7–8, detractors 0–6; NPS =
% promoters − % detractors, one decimal, half up; no ratings gives no score (null), not 0.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

import polars as pl

# Decimal places kept when a float is read as the decimal it prints as: enough for the
# shortest form of any figure below 10^21 (38 digits in all).
_FLOAT_SCALE = 17


def half_up(numerator: pl.Expr, denominator: pl.Expr, decimals: int) -> pl.Expr:
    """``numerator / denominator`` rounded half away from zero to ``decimals``, exactly.

    Both are integer expressions; the result is a ``Decimal(38, decimals)``, null when the
    denominator is 0 or null. Cast it to Float64 where a float is wanted: the cast gives
    the nearest float to the rounded decimal (2.68, not 2.6799999…).
    """
    scale = 10**decimals
    num = numerator.cast(pl.Int128) * scale
    den = denominator.cast(pl.Int128)
    # |num| / den rounded half up is floor((2·|num| + den) / (2·den)); the sign goes back on.
    magnitude = (num.abs() * 2 + den) // (den * 2)
    scaled = num.sign() * magnitude  # (Int128 has no negation in Polars)
    value = scaled.cast(pl.Decimal(38, decimals)) / scale
    return pl.when(den > 0).then(value).otherwise(None).cast(pl.Decimal(38, decimals))


def half_up_pct(numerator: pl.Expr, denominator: pl.Expr, decimals: int = 2) -> pl.Expr:
    """100 × ``numerator / denominator``, half up to ``decimals`` (a share in %)."""
    return half_up(numerator.cast(pl.Int128) * 100, denominator, decimals)


def half_up_float(value: pl.Expr, decimals: int) -> pl.Expr:
    """A float figure rounded half up on the decimal it prints as (2.675 → 2.68), as a
    ``Decimal(38, decimals)``; null stays null."""
    exact = value.cast(pl.String).cast(pl.Decimal(38, _FLOAT_SCALE)).to_physical()
    return half_up(exact, pl.lit(10**_FLOAT_SCALE, pl.Int128), decimals)


def half_up_value(numerator: int, denominator: int, decimals: int) -> Decimal | None:
    """:func:`half_up` of one pair of integers (None when the denominator is 0)."""
    value: Decimal | None = pl.select(
        half_up(pl.lit(numerator, pl.Int64), pl.lit(denominator, pl.Int64), decimals)
    ).item()
    return value


def half_up_decimal(value: Decimal, decimals: int) -> Decimal:
    """An exact Decimal rounded half up, away from zero, to ``decimals`` places (a chart's
    short label: £1.235M -> £1.24M); the same rule as :func:`half_up`, for one value."""
    return value.quantize(Decimal(1).scaleb(-decimals), ROUND_HALF_UP)


def nps(rating: pl.Expr, *, ratings: str = "ratings") -> list[pl.Expr]:
    """Aggregations of one 0–10 rating column: the count of ratings (named ``ratings``),
    promoters, passives, detractors (Int64) and ``nps`` (Decimal, 1 dp; null when there
    are no ratings). Values outside 0–10 are not ratings and are not counted."""
    valid = rating.cast(pl.Int64).filter(rating.cast(pl.Int64).is_between(0, 10))
    # Counts come back unsigned (u32); cast before subtracting or 2 − 3 wraps round.
    n = valid.count().cast(pl.Int64)
    promoters = (valid >= 9).sum().cast(pl.Int64)
    detractors = (valid <= 6).sum().cast(pl.Int64)
    return [
        n.alias(ratings),
        promoters.alias("promoters"),
        valid.is_between(7, 8).sum().cast(pl.Int64).alias("passives"),
        detractors.alias("detractors"),
        half_up_pct(promoters - detractors, n, 1).alias("nps"),
    ]
