"""95% confidence intervals for survey figures (DOMAIN.md, "Survey confidence and weighting").

- A **mean** (a rating on a 1–7 or 1–5 scale): Student's t-interval,
  ``mean ± t(0.975, n − 1) · s / √n · fpc``, with ``s`` the sample standard deviation
  (divisor n − 1). Needs n ≥ 2; with fewer there is no interval (null).
- A **proportion** (a percentage of respondents): the Wilson score interval, with the
  correction applied through the effective size ``n / fpc²`` (the variance p(1 − p)/n
  times fpc² is the variance of a sample of n / fpc²).
- The **finite-population correction** ``fpc = √((N − n) / (N − 1))``, N = users in scope:
  a survey that reached most of the people it asks about knows their view better than a
  sample of the same size from an endless population. It is applied where N is known (an
  organisation's whole result: its users in scope; a group's: the sum of them). A cell of a
  breakdown has no known N, so no correction (fpc = 1, the wider, safe interval). More
  responses than users in scope means the count in scope is out of date: no correction.
- A **weighted** mean: the t-interval with Kish's effective sample size
  ``n_eff = (Σw)² / Σw²`` in place of n: ``se = √(v_w / (n_eff − 1)) · fpc`` where
  ``v_w = Σw(x − x̄_w)² / Σw``; degrees of freedom n_eff − 1. With equal weights this is
  exactly the unweighted interval.
- A **ratio mean** (an area of the skills survey: all ratings of several questions pooled,
  ``r = Σy / Σm`` over respondents, y a respondent's ratings total and m their number):
  the linearised interval, ``se = √(Σ(y − r·m)² / (n − 1) / n) / m̄ · fpc`` over the n
  respondents with at least one rating, which treats each respondent (not each rating) as
  the unit sampled; with one question it is the t-interval above.

Everything here works on aggregated sums (count, Σx, Σx²), so one ``group_by`` gives
every interval. The t quantile is computed here (the regularised incomplete beta function,
to 1e-12), not taken from a table: weighted intervals need it for fractional degrees of
freedom.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from functools import lru_cache

import polars as pl

from services.metrics import figures

LEVEL = 0.95
Z_975 = 1.959963984540054  # the standard normal's 0.975 quantile
MEAN_METHOD = "95% Student t-interval (t with n - 1 degrees of freedom, sample standard deviation)"
WEIGHTED_METHOD = (
    "95% t-interval with Kish's effective sample size n_eff = (sum w)^2 / sum w^2 in place of n"
)
PROPORTION_METHOD = "95% Wilson score interval"
FPC_METHOD = (
    "finite-population correction sqrt((N - n) / (N - 1)), N = users in scope, on an "
    "organisation's or group's whole result; none on breakdown cells (their N is not known)"
)


# --------------------------------------------------------------------------- t quantile


def _beta_continued_fraction(a: float, b: float, x: float) -> float:
    # Lentz's method for the continued fraction of the incomplete beta function.
    tiny, eps = 1e-300, 1e-16
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 10_000):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < eps:
            break
    return h


def _incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularised incomplete beta function I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x < (a + 1.0) / (a + b + 2.0):
        return math.exp(log_front) * _beta_continued_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_continued_fraction(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T ≤ t) for Student's t with ``df`` degrees of freedom (df > 0, may be fractional)."""
    tail = 0.5 * _incomplete_beta(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


@lru_cache(maxsize=4096)
def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile (p > 0.5) of Student's t with ``df`` degrees of freedom, to 1e-12.

    ``t_quantile(0.975, 4)`` = 2.7764451051977987 (the printed tables' 2.776).
    """
    if not 0.5 < p < 1.0 or df <= 0:
        raise ValueError("t_quantile needs 0.5 < p < 1 and df > 0")
    if df > 1e4 and p == 0.975:
        # The incomplete beta loses digits for huge df; the Cornish-Fisher expansion in 1/df
        # (Abramowitz & Stegun 26.7.5) is exact to double precision there.
        z = Z_975
        g1 = (z**3 + z) / 4
        g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
        g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
        return z + g1 / df + g2 / df**2 + g3 / df**3
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        lo, hi = hi, hi * 2.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-13 * max(1.0, hi):
            break
    return (lo + hi) / 2.0


def t_975(frame: pl.DataFrame, df: str, out: str = "_t") -> pl.DataFrame:
    """``frame`` with ``out`` = t(0.975, ``df``) for each row (null where df < 1 or null).

    The quantile is computed once per distinct df and joined back: no Python per row.
    """
    values = [d for d in frame.get_column(df).unique().to_list() if d is not None and d >= 1]
    table = pl.DataFrame(
        {df: values, out: [t_quantile(0.975, float(d)) for d in values]},
        schema={df: frame.schema[df], out: pl.Float64},
    )
    return frame.join(table, on=df, how="left", nulls_equal=False)


# ------------------------------------------------------------------- expressions on sums


def fpc(n: pl.Expr, population: pl.Expr | None) -> pl.Expr:
    """√((N − n)/(N − 1)); 1 where N is unknown (null), N ≤ 1, or n > N (out of date)."""
    if population is None:
        return pl.lit(1.0)
    big_n = population.cast(pl.Float64)
    small_n = n.cast(pl.Float64)
    usable = big_n.is_not_null() & (big_n > 1) & (small_n <= big_n)
    return pl.when(usable).then(((big_n - small_n) / (big_n - 1.0)).sqrt()).otherwise(pl.lit(1.0))


def mean_sd(n: pl.Expr, s1: pl.Expr, s2: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """(mean, sample standard deviation) from count, Σx and Σx²; sd null when n < 2."""
    nf, a, b = n.cast(pl.Float64), s1.cast(pl.Float64), s2.cast(pl.Float64)
    mean = pl.when(nf > 0).then(a / nf)
    var = pl.when(nf > 1).then(((b - a * a / nf) / (nf - 1.0)).clip(lower_bound=0.0))
    return mean, var.sqrt()


def mean_interval(
    frame: pl.DataFrame,
    *,
    n: str,
    s1: str,
    s2: str,
    population: str | None = None,
    prefix: str,
) -> pl.DataFrame:
    """Add ``{prefix}_ci_low``/``_ci_high`` (Float64, null when n < 2) for the mean s1/n."""
    mean, sd = mean_sd(pl.col(n), pl.col(s1), pl.col(s2))
    pop = None if population is None else pl.col(population)
    staged = frame.with_columns(
        (pl.col(n).cast(pl.Float64) - 1.0).alias("_df"),
        mean.alias("_mean"),
        (sd / pl.col(n).cast(pl.Float64).sqrt() * fpc(pl.col(n), pop)).alias("_se"),
    )
    return _bounds(t_975(staged, "_df"), prefix)


def weighted_interval(
    frame: pl.DataFrame,
    *,
    n: str,
    sw: str,
    swx: str,
    swx2: str,
    sw2: str,
    population: str | None = None,
    prefix: str,
) -> pl.DataFrame:
    """Add ``{prefix}_mean``, ``{prefix}_n_eff``, ``{prefix}_ci_low``/``_ci_high`` for the
    weighted mean Σwx/Σw (Kish's effective sample size; see the module docstring)."""
    w, wx, wx2, w2 = (pl.col(c).cast(pl.Float64) for c in (sw, swx, swx2, sw2))
    mean = pl.when(w > 0).then(wx / w)
    n_eff = pl.when(w2 > 0).then(w * w / w2)
    var = pl.when(w > 0).then((wx2 / w - (wx / w) ** 2).clip(lower_bound=0.0))
    pop = None if population is None else pl.col(population)
    staged = frame.with_columns(
        mean.alias(f"{prefix}_mean"), n_eff.alias(f"{prefix}_n_eff")
    ).with_columns(
        (pl.col(f"{prefix}_n_eff") - 1.0).alias("_df"),
        pl.col(f"{prefix}_mean").alias("_mean"),
        pl.when(pl.col(f"{prefix}_n_eff") > 1.0)
        .then((var / (pl.col(f"{prefix}_n_eff") - 1.0)).sqrt() * fpc(pl.col(n), pop))
        .alias("_se"),
    )
    return _bounds(t_975(staged, "_df"), prefix)


def ratio_interval(
    frame: pl.DataFrame,
    *,
    respondents: str,
    sy: str,
    sm: str,
    sy2: str,
    sm2: str,
    sym: str,
    population: str | None = None,
    prefix: str,
) -> pl.DataFrame:
    """Add ``{prefix}_ci_low``/``_ci_high`` for the ratio mean Σy/Σm over respondents (the
    linearised interval; see the module docstring). Sums are over respondents."""
    k = pl.col(respondents).cast(pl.Float64)
    y, m, y2, m2, ym = (pl.col(c).cast(pl.Float64) for c in (sy, sm, sy2, sm2, sym))
    r = pl.when(m > 0).then(y / m)
    # Σ(y − r·m)² = Σy² − 2rΣym + r²Σm²
    resid = (y2 - 2.0 * r * ym + r * r * m2).clip(lower_bound=0.0)
    m_bar = m / k
    pop = None if population is None else pl.col(population)
    staged = frame.with_columns(
        (k - 1.0).alias("_df"),
        r.alias("_mean"),
        pl.when(k > 1)
        .then((resid / (k - 1.0) / k).sqrt() / m_bar * fpc(pl.col(respondents), pop))
        .alias("_se"),
    )
    return _bounds(t_975(staged, "_df"), prefix)


def _bounds(staged: pl.DataFrame, prefix: str) -> pl.DataFrame:
    half = pl.col("_t") * pl.col("_se")
    return staged.with_columns(
        (pl.col("_mean") - half).alias(f"{prefix}_ci_low"),
        (pl.col("_mean") + half).alias(f"{prefix}_ci_high"),
    ).drop("_df", "_mean", "_se", "_t")


def wilson(k: pl.Expr, n: pl.Expr, population: pl.Expr | None = None) -> tuple[pl.Expr, pl.Expr]:
    """(low, high) of the 95% Wilson interval for the proportion k/n (0–1), with the
    finite-population correction through n / fpc²; null when n = 0."""
    nf, kf = n.cast(pl.Float64), k.cast(pl.Float64)
    f = fpc(n, population)
    p = kf / nf
    z2 = Z_975 * Z_975
    # n' = n / fpc²; with fpc = 0 (a census) the interval is the point itself.
    n_adj = nf / (f * f)
    denom = 1.0 + z2 / n_adj
    centre = (p + z2 / (2.0 * n_adj)) / denom
    half = Z_975 * (p * (1.0 - p) / n_adj + z2 / (4.0 * n_adj * n_adj)).sqrt() / denom
    ok = nf > 0
    census = f == 0.0
    low = pl.when(~ok).then(None).when(census).then(p).otherwise(centre - half)
    high = pl.when(~ok).then(None).when(census).then(p).otherwise(centre + half)
    return low, high


def round_2dp(columns: Iterable[str]) -> list[pl.Expr]:
    """Float columns rounded half up to 2 dp as they print (``*_2dp`` presentation)."""
    return [figures.half_up_float(pl.col(c), 2).cast(pl.Float64).alias(f"{c}_2dp") for c in columns]
