"""Survey figures: response rate, factor gaps, breakdowns with disclosure control, NPS,
user-skills and SDMA summaries (DOMAIN.md, "Surveys").

Input: one row per response, **wide** format, columns named by the survey's canonical answer
keys (the same strings as the survey form field names)::

    response_id       str
    organisation_id   str (or any hashable dtype)
    campaign_id       str
    response_date     date (no time: responses carry their date only)
    S1.satisfaction … S20.satisfaction, S1.importance … S20.importance   int, null = no answer
    overall, improvement                                                 int 1–7
    nps                                                                  int 0–10
    attr.location, attr.device_type, attr.mode_of_working, attr.role     str, null = not stated
    L1…, P1… (user skills, 1–5); M1…M9 (SDMA, 1–5)

Wide was chosen over long because each response is one record in the survey service, every
figure here is a column aggregate, and a wide frame keeps one row per respondent, which is
what disclosure control counts. Columns absent from the frame are treated as unanswered.

Rounding: everything is computed at full precision; rounding happens only in the ``*_2dp``
/ ``nps`` presentation columns, half up (away from zero) on the exact ratio of sums and
counts, by the one rule every family uses (``services.metrics.figures``), so 2.675 rounds
to 2.68 and -0.125 to -0.13. Those columns are Float64 (survey results are kept as JSON
numbers): the nearest float to the rounded decimal.

This module does not import the survey service (services are independent); the factor keys
are repeated here and checked against the instrument by a test.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

import polars as pl

from services.metrics import figures
from services.metrics.surveys import confidence

FACTOR_KEYS: tuple[str, ...] = tuple(f"S{i}" for i in range(1, 21))
FACTOR_MEASURES: tuple[str, str] = ("satisfaction", "importance")
ATTRIBUTES: tuple[str, ...] = (
    "attr.location",
    "attr.device_type",
    "attr.mode_of_working",
    "attr.role",
)
NOT_STATED = "Not stated"
DEFAULT_SUPPRESSION_THRESHOLD = 10
MIN_SUPPRESSION_THRESHOLD = 5
IMPORTANCE_SCALE_MAX = 7

Frame = pl.DataFrame | pl.LazyFrame


def _lazy(frame: Frame) -> pl.LazyFrame:
    return frame.lazy()


def _columns(frame: pl.LazyFrame) -> list[str]:
    return frame.collect_schema().names()


def _with_missing(frame: pl.LazyFrame, columns: Sequence[str], dtype: pl.DataType) -> pl.LazyFrame:
    missing = [c for c in columns if c not in _columns(frame)]
    return frame.with_columns(pl.lit(None, dtype=dtype).alias(c) for c in missing)


def round_half_up(numerator: pl.Expr, denominator: pl.Expr, decimals: int) -> pl.Expr:
    """:func:`services.metrics.figures.half_up` as Float64; a zero denominator gives null."""
    return figures.half_up(numerator, denominator, decimals).cast(pl.Float64)


def _ratio(numerator: pl.Expr, denominator: pl.Expr) -> pl.Expr:
    return pl.when(denominator > 0).then(numerator.cast(pl.Float64) / denominator).otherwise(None)


# ------------------------------------------------------------------------- response rate


@dataclass(frozen=True, slots=True)
class ResponseRate:
    responses: int
    in_scope: int
    percent: Decimal | None  # one decimal place, half up; None when nobody was in scope
    text: str  # "6.4% (20 out of 313)"


def response_rate(responses: int, in_scope: int) -> ResponseRate:
    """Responses as a share of users in scope, e.g. ``6.4% (20 out of 313)``.

    One decimal place, half up (20/313 = 6.3897…% → 6.4%). More responses than users in
    scope is reported as it is (over 100%), not capped: it means the count of users in scope
    is out of date, which the reader should see.
    """
    if responses < 0 or in_scope < 0:
        raise ValueError("responses and users in scope cannot be negative")
    if in_scope == 0:
        return ResponseRate(
            responses, in_scope, None, f"no users in scope ({responses:,} responses)"
        )
    percent = figures.half_up_value(responses * 100, in_scope, 1)
    return ResponseRate(
        responses, in_scope, percent, f"{percent}% ({responses:,} out of {in_scope:,})"
    )


# ------------------------------------------------------------------------------ factors


def factor_summary(
    responses: Frame,
    *,
    by: Sequence[str] = (),
    factors: Sequence[str] = FACTOR_KEYS,
) -> pl.DataFrame:
    """Per factor: counts, sums and means of satisfaction and importance, gap, weight gap.

    ``gap = mean satisfaction − mean importance`` (negative: expectations not met);
    ``weight_gap = gap × mean importance / 7``. Each mean is over the responses that rated
    that measure (a blank is not a zero). Full-precision Float64 columns plus ``*_2dp``
    presentation columns. Rows are ordered by ``by`` then factor number.
    """
    lf = _lazy(responses)
    cols = [f"{f}.{m}" for f in factors for m in FACTOR_MEASURES]
    lf = _with_missing(lf, cols, pl.Int64())
    long = (
        lf.select([*by, *(pl.col(c).cast(pl.Int64) for c in cols)])
        .unpivot(on=cols, index=list(by), variable_name="key", value_name="value")
        .with_columns(
            pl.col("key").str.extract(r"^([^.]+)\.", 1).alias("factor"),
            pl.col("key").str.extract(r"\.([^.]+)$", 1).alias("measure"),
        )
    )
    sat = pl.col("value").filter(pl.col("measure") == "satisfaction")
    imp = pl.col("value").filter(pl.col("measure") == "importance")
    order = {f: i for i, f in enumerate(factors)}
    agg = long.group_by([*by, "factor"]).agg(
        sat.count().cast(pl.Int64).alias("n_satisfaction"),
        sat.sum().alias("sum_satisfaction"),
        imp.count().cast(pl.Int64).alias("n_importance"),
        imp.sum().alias("sum_importance"),
    )
    n_s, s_s = pl.col("n_satisfaction"), pl.col("sum_satisfaction")
    n_i, s_i = pl.col("n_importance"), pl.col("sum_importance")
    # gap = s_s/n_s − s_i/n_i = (s_s·n_i − s_i·n_s) / (n_s·n_i); kept as integers for rounding
    gap_num = s_s.cast(pl.Int128) * n_i - s_i.cast(pl.Int128) * n_s
    gap_den = n_s.cast(pl.Int128) * n_i
    wg_num = gap_num * s_i
    wg_den = gap_den * n_i * IMPORTANCE_SCALE_MAX
    return (
        agg.with_columns(
            _ratio(s_s, n_s).alias("mean_satisfaction"),
            _ratio(s_i, n_i).alias("mean_importance"),
            round_half_up(s_s, n_s, 2).alias("mean_satisfaction_2dp"),
            round_half_up(s_i, n_i, 2).alias("mean_importance_2dp"),
            round_half_up(gap_num, gap_den, 2).alias("gap_2dp"),
            round_half_up(wg_num, wg_den, 2).alias("weight_gap_2dp"),
            pl.col("factor").replace_strict(order, return_dtype=pl.Int32).alias("_order"),
        )
        .with_columns(
            (pl.col("mean_satisfaction") - pl.col("mean_importance")).alias("gap"),
        )
        .with_columns(
            (pl.col("gap") * pl.col("mean_importance") / IMPORTANCE_SCALE_MAX).alias("weight_gap")
        )
        .sort([*by, "_order"])
        .select(
            *by,
            "factor",
            "n_satisfaction",
            "sum_satisfaction",
            "mean_satisfaction",
            "n_importance",
            "sum_importance",
            "mean_importance",
            "gap",
            "weight_gap",
            "mean_satisfaction_2dp",
            "mean_importance_2dp",
            "gap_2dp",
            "weight_gap_2dp",
        )
        .collect()
    )


def question_means(
    responses: Frame, keys: Sequence[str], *, by: Sequence[str] = ()
) -> pl.DataFrame:
    """Per question key: n (answers given), sum, mean and mean_2dp, in the order given."""
    lf = _with_missing(_lazy(responses), keys, pl.Int64())
    order = {k: i for i, k in enumerate(keys)}
    return (
        lf.select([*by, *(pl.col(k).cast(pl.Int64) for k in keys)])
        .unpivot(on=list(keys), index=list(by), variable_name="key", value_name="value")
        .group_by([*by, "key"])
        .agg(pl.col("value").count().cast(pl.Int64).alias("n"), pl.col("value").sum().alias("sum"))
        .with_columns(
            _ratio(pl.col("sum"), pl.col("n")).alias("mean"),
            round_half_up(pl.col("sum"), pl.col("n"), 2).alias("mean_2dp"),
            pl.col("key").replace_strict(order, return_dtype=pl.Int32).alias("_order"),
        )
        .sort([*by, "_order"])
        .drop("_order")
        .collect()
    )


def overall_summary(responses: Frame, *, by: Sequence[str] = ()) -> pl.DataFrame:
    """Responses, overall satisfaction and improvement (1–7; below 4 = worse) means.

    ``n_worse`` counts improvement ratings below 4 (the service got worse for them).
    """
    lf = _with_missing(_lazy(responses), ["overall", "improvement"], pl.Int64())
    overall, improvement = pl.col("overall").cast(pl.Int64), pl.col("improvement").cast(pl.Int64)
    aggregations = [
        pl.len().cast(pl.Int64).alias("responses"),
        overall.count().cast(pl.Int64).alias("n_overall"),
        overall.sum().alias("sum_overall"),
        improvement.count().cast(pl.Int64).alias("n_improvement"),
        improvement.sum().alias("sum_improvement"),
        (improvement < 4).sum().cast(pl.Int64).alias("n_worse"),
    ]
    grouped = (
        lf.group_by(list(by)).agg(aggregations).sort(list(by)) if by else lf.select(aggregations)
    )
    return grouped.with_columns(
        _ratio(pl.col("sum_overall"), pl.col("n_overall")).alias("mean_overall"),
        round_half_up(pl.col("sum_overall"), pl.col("n_overall"), 2).alias("mean_overall_2dp"),
        _ratio(pl.col("sum_improvement"), pl.col("n_improvement")).alias("mean_improvement"),
        round_half_up(pl.col("sum_improvement"), pl.col("n_improvement"), 2).alias(
            "mean_improvement_2dp"
        ),
    ).collect()


# -------------------------------------------------------------------- disclosure control


def check_threshold(threshold: int) -> int:
    if threshold < MIN_SUPPRESSION_THRESHOLD:
        raise ValueError(
            f"the suppression threshold is {threshold}; it can never be below "
            f"{MIN_SUPPRESSION_THRESHOLD}"
        )
    return threshold


def suppression_flags(
    cells: pl.LazyFrame, *, threshold: int, by: Sequence[str] = (), label: str = "value"
) -> pl.LazyFrame:
    """Add ``suppressed`` and ``suppression`` (primary | complementary | null) to cells.

    ``cells`` has one row per cell of a breakdown with its response count ``n``;
    ``by`` names the columns that identify one breakdown (each gets its own suppression).

    Rule (DOMAIN.md): a cell with fewer than ``threshold`` responses is suppressed
    (primary), and so is the next smallest cell, so that no suppressed value can be
    recovered by subtraction. The breakdown's total is always known (it is the response
    count, published beside it), so what is published must leave the suppressed cells,
    taken together, as safe as one cell. Hence, with cells sorted by size (ties by label):

    * no cell under the threshold → nothing is suppressed;
    * otherwise the suppressed set is the smallest cells, as few as possible such that it
      holds every primary cell, **at least two cells**, and **at least ``threshold``
      responses between them** (else total − visible cells would disclose a group smaller
      than the threshold); if no such set exists every cell is suppressed.

    Examples with threshold 10: cells 12, 3, 8, 20 → 3 and 8 suppressed (together 11);
    12, 30, 9, 15 → 9 and the next smallest, 12; 3, 4, 50 → all three (3 + 4 = 7 < 10).
    Computed with window expressions, no Python loop over cells.
    """
    check_threshold(threshold)
    part = list(by)

    def w(expr: pl.Expr) -> pl.Expr:
        return expr.over(part) if part else expr

    ranked = cells.sort([*part, "n", label], nulls_last=True).with_columns(
        w(pl.int_range(1, pl.len() + 1)).alias("_rank"),
        w(pl.col("n").cum_sum()).alias("_cum"),
        w((pl.col("n") < threshold).sum()).alias("_primary_count"),
        w(pl.len()).alias("_cells"),
    )
    enough = (pl.col("_rank") >= pl.max_horizontal(pl.col("_primary_count"), pl.lit(2))) & (
        pl.col("_cum") >= threshold
    )
    return (
        ranked.with_columns(
            w(pl.when(enough).then(pl.col("_rank")).min()).fill_null(pl.col("_cells")).alias("_cut")
        )
        .with_columns(
            ((pl.col("_primary_count") > 0) & (pl.col("_rank") <= pl.col("_cut"))).alias(
                "suppressed"
            )
        )
        .with_columns(
            pl.when(pl.col("n") < threshold)
            .then(pl.lit("primary"))
            .when(pl.col("suppressed"))
            .then(pl.lit("complementary"))
            .otherwise(None)
            .alias("suppression")
        )
        .drop("_rank", "_cum", "_primary_count", "_cells", "_cut")
    )


def breakdown(
    responses: Frame,
    attribute: str,
    *,
    measures: Sequence[str] = ("overall", "improvement"),
    threshold: int = DEFAULT_SUPPRESSION_THRESHOLD,
    by: Sequence[str] = (),
) -> pl.DataFrame:
    """Response count and means of ``measures`` per value of one attribute, with suppression.

    Respondents who did not state the attribute form their own cell, ``Not stated``: they
    are part of the known total, so leaving them out would let them be recovered. A
    suppressed cell shows null for ``n`` and every mean, ``suppressed`` true and a
    ``reason``. Shown cells come first by descending size; suppressed cells follow in label
    order, since ordering them by size would tell which one is the smaller.
    """
    check_threshold(threshold)
    lf = _with_missing(_lazy(responses), [attribute], pl.String())
    lf = _with_missing(lf, measures, pl.Int64())
    value = pl.col(attribute).cast(pl.String).fill_null(NOT_STATED).alias("value")
    aggs: list[pl.Expr] = [pl.len().cast(pl.Int64).alias("n")]
    for m in measures:
        aggs += [
            pl.col(m).cast(pl.Int64).count().cast(pl.Int64).alias(f"_n_{m}"),
            pl.col(m).cast(pl.Int64).sum().alias(f"_sum_{m}"),
        ]
    cells = lf.group_by([*by, value]).agg(aggs)
    flagged = suppression_flags(cells, threshold=threshold, by=by)
    hide = pl.col("suppressed")
    outputs: list[pl.Expr] = [
        pl.lit(attribute).alias("attribute"),
        pl.when(hide).then(None).otherwise(pl.col("n")).alias("n"),
    ]
    for m in measures:
        n_m, s_m = pl.col(f"_n_{m}"), pl.col(f"_sum_{m}")
        outputs += [
            pl.when(hide).then(None).otherwise(_ratio(s_m, n_m)).alias(f"mean_{m}"),
            pl.when(hide).then(None).otherwise(round_half_up(s_m, n_m, 2)).alias(f"mean_{m}_2dp"),
        ]
    reason = (
        pl.when(pl.col("suppression") == "primary")
        .then(pl.lit(f"fewer than {threshold} responses"))
        .when(pl.col("suppression") == "complementary")
        .then(
            pl.lit("hidden so that a smaller group's figures cannot be worked out from the total")
        )
        .otherwise(None)
        .alias("reason")
    )
    return (
        flagged.with_columns(outputs)
        .with_columns(reason)
        .sort(
            [*by, "suppressed", "n", "value"],
            descending=[*(False for _ in by), False, True, False],
            nulls_last=True,
        )
        .select(
            *by,
            "attribute",
            "value",
            "n",
            *(c for m in measures for c in (f"mean_{m}", f"mean_{m}_2dp")),
            "suppressed",
            "suppression",
            "reason",
        )
        .collect()
    )


def breakdowns(
    responses: Frame,
    attributes: Sequence[str] = ATTRIBUTES,
    *,
    measures: Sequence[str] = ("overall", "improvement"),
    threshold: int = DEFAULT_SUPPRESSION_THRESHOLD,
    by: Sequence[str] = (),
) -> pl.DataFrame:
    """:func:`breakdown` for each attribute, stacked; each is suppressed on its own."""
    return pl.concat(
        [
            breakdown(responses, a, measures=measures, threshold=threshold, by=by)
            for a in attributes
        ],
        how="vertical",
    )


# ----------------------------------------------------------------------------------- NPS


def nps_counts(column: str = "nps") -> list[pl.Expr]:
    """Aggregations: ratings, promoters (9–10), passives (7–8), detractors (0–6), nps.

    :func:`services.metrics.figures.nps` (the one NPS rule), with ``nps`` as Float64.
    """
    *counts, score = figures.nps(pl.col(column))
    return [*counts, score.cast(pl.Float64)]


def nps_summary(
    responses: Frame,
    *,
    by: Sequence[str] = (),
    monthly: bool = False,
    column: str = "nps",
) -> pl.DataFrame:
    """NPS overall, or per ``by`` (e.g. ``organisation_id``), and per month if ``monthly``.

    The month is ``response_date`` truncated to the first of the month (a Date column
    ``month``). A group appears if it has responses at all; with no NPS ratings its score is
    null.
    """
    lf = _with_missing(_lazy(responses), [column], pl.Int64())
    keys: list[str | pl.Expr] = list(by)
    if monthly:
        keys.append(pl.col("response_date").cast(pl.Date).dt.truncate("1mo").alias("month"))
    names = [*by, *(["month"] if monthly else [])]
    if not keys:
        return lf.select(nps_counts(column)).collect()
    return lf.group_by(keys).agg(nps_counts(column)).sort(names).collect()


def nps_score(ratings: Sequence[int]) -> float | None:
    """NPS of a list of 0–10 ratings (convenience for one small set)."""
    frame = pl.DataFrame({"nps": list(ratings)}, schema={"nps": pl.Int64})
    value = frame.select(nps_counts("nps")).item(0, "nps")
    return None if value is None else float(value)


# ------------------------------------------------------------------ skills and SDMA


def _keys_like(frame: pl.LazyFrame, prefix: str) -> list[str]:
    pattern = re.compile(rf"^{prefix}(\d+)$")
    found = [(int(m.group(1)), c) for c in _columns(frame) if (m := pattern.match(c))]
    return [c for _, c in sorted(found)]


SKILLS_AREAS = {"L": "it_literacy", "P": "it_policies"}


def skills_summary(
    responses: Frame,
    *,
    by: Sequence[str] = (),
    keys: Sequence[str] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """User-skills survey: (per-question means, per-area means).

    Areas: ``it_literacy`` (L1…) and ``it_policies`` (P1…); an area's mean pools all its
    ratings (sum of ratings / number of ratings). Keys default to the L*/P* columns present.
    """
    lf = _lazy(responses)
    if keys is None:
        keys = _keys_like(lf, "L") + _keys_like(lf, "P")
    per_question = question_means(lf, keys, by=by).with_columns(
        pl.col("key").str.slice(0, 1).replace_strict(SKILLS_AREAS, default=None).alias("area")
    )
    per_area = (
        per_question.lazy()
        .group_by([*by, "area"])
        .agg(pl.col("n").sum(), pl.col("sum").sum())
        .with_columns(
            _ratio(pl.col("sum"), pl.col("n")).alias("mean"),
            round_half_up(pl.col("sum"), pl.col("n"), 2).alias("mean_2dp"),
        )
        .sort([*by, "area"])
        .collect()
    )
    return per_question, per_area


def sdma_summary(
    responses: Frame,
    *,
    by: Sequence[str] = ("organisation_id",),
    keys: Sequence[str] | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """SDMA: (per-area mean maturity, overall maturity) for each ``by`` group.

    Pass e.g. ``by=("organisation_id", "cycle")`` to follow progress across cycles (no peer
    comparison: the domain forbids it). Overall maturity is the mean of the area means, so
    each of the nine areas weighs the same whatever the number of answers to it.
    """
    lf = _lazy(responses)
    if keys is None:
        keys = _keys_like(lf, "M")
    per_area = question_means(lf, keys, by=by).rename({"key": "area"})
    overall_aggs = [
        pl.col("mean").mean().alias("mean_maturity"),
        pl.col("mean").count().cast(pl.Int64).alias("areas_rated"),
    ]
    grouped = (
        per_area.lazy().group_by(list(by)).agg(overall_aggs).sort(list(by))
        if by
        else per_area.lazy().select(overall_aggs)
    )
    # A mean of rational means: the one figure rounded from a float (as it prints).
    overall = grouped.with_columns(
        figures.half_up_float(pl.col("mean_maturity"), 2)
        .cast(pl.Float64)
        .alias("mean_maturity_2dp")
    ).collect()
    return per_area, overall


# ------------------------------------------------------------- confidence (issue 15)


def mean_intervals(
    responses: Frame,
    keys: Sequence[str],
    *,
    by: Sequence[str] = (),
    population: int | str | None = None,
) -> pl.DataFrame:
    """Per ``by`` group and answer key: ``n``, ``mean``, ``ci_low``, ``ci_high`` (95%,
    t-interval, :mod:`confidence`) and their ``*_2dp``; ``population`` (users in scope) is
    the finite-population correction's N (None: no correction, as for breakdown cells; a
    column name of ``by``: each group's own N)."""
    lf = _with_missing(_lazy(responses), keys, pl.Int64())
    order = {k: i for i, k in enumerate(keys)}
    sums = (
        lf.select([*by, *(pl.col(k).cast(pl.Int64) for k in keys)])
        .unpivot(on=list(keys), index=list(by), variable_name="key", value_name="x")
        .group_by([*by, "key"])
        .agg(
            pl.col("x").count().cast(pl.Int64).alias("n"),
            pl.col("x").sum().alias("_s1"),
            (pl.col("x") * pl.col("x")).sum().alias("_s2"),
        )
        .with_columns(
            pl.col(population).cast(pl.Int64).alias("__N")
            if isinstance(population, str)
            else pl.lit(population, pl.Int64).alias("__N")
        )
        .collect()
    )
    out = confidence.mean_interval(
        sums, n="n", s1="_s1", s2="_s2", population="__N", prefix=""
    ).drop("__N")
    return (
        out.rename({"_ci_low": "ci_low", "_ci_high": "ci_high"})
        .with_columns(
            _ratio(pl.col("_s1"), pl.col("n")).alias("mean"),
            pl.col("key").replace_strict(order, return_dtype=pl.Int32).alias("_order"),
        )
        .with_columns(confidence.round_2dp(["ci_low", "ci_high"]))
        .sort([*by, "_order"])
        .drop("_order", "_s1", "_s2")
    )


def ratio_intervals(
    responses: Frame,
    areas: Mapping[str, Sequence[str]],
    *,
    by: Sequence[str] = (),
    population: int | str | None = None,
) -> pl.DataFrame:
    """Per ``by`` group and area (several questions pooled, e.g. the skills survey's IT
    literacy L1…): ``respondents``, ``n`` (ratings), ``mean`` = Σ ratings / n and its 95%
    interval treating the respondent as the unit (:func:`confidence.ratio_interval`)."""
    lf = _lazy(responses)
    frames = []
    for area, keys in areas.items():
        lf_a = _with_missing(lf, keys, pl.Int64())
        y = pl.sum_horizontal(pl.col(k).cast(pl.Int64) for k in keys)
        m = pl.sum_horizontal(pl.col(k).is_not_null().cast(pl.Int64) for k in keys)
        frames.append(
            lf_a.select(*by, y.alias("y"), m.alias("m"))
            .filter(pl.col("m") > 0)
            .with_columns(pl.lit(area).alias("area"))
        )
    if not frames:
        return pl.DataFrame()
    per = (
        pl.concat(frames, how="vertical")
        .group_by([*by, "area"])
        .agg(
            pl.len().cast(pl.Int64).alias("respondents"),
            pl.col("y").sum().alias("_sy"),
            pl.col("m").sum().cast(pl.Int64).alias("n"),
            (pl.col("y") * pl.col("y")).sum().alias("_sy2"),
            (pl.col("m") * pl.col("m")).sum().alias("_sm2"),
            (pl.col("y") * pl.col("m")).sum().alias("_sym"),
        )
    )
    sums = per.with_columns(
        pl.col(population).cast(pl.Int64).alias("__N")
        if isinstance(population, str)
        else pl.lit(population, pl.Int64).alias("__N")
    ).collect()
    out = confidence.ratio_interval(
        sums,
        respondents="respondents",
        sy="_sy",
        sm="n",
        sy2="_sy2",
        sm2="_sm2",
        sym="_sym",
        population="__N",
        prefix="",
    ).drop("__N")
    return (
        out.rename({"_ci_low": "ci_low", "_ci_high": "ci_high"})
        .with_columns(
            _ratio(pl.col("_sy"), pl.col("n")).alias("mean"),
            round_half_up(pl.col("_sy"), pl.col("n"), 2).alias("mean_2dp"),
        )
        .with_columns(confidence.round_2dp(["ci_low", "ci_high"]))
        .sort([*by, "area"])
        .drop("_sy", "_sy2", "_sm2", "_sym")
    )


def proportion_interval(
    k: int, n: int, population: int | None
) -> tuple[float | None, float | None]:
    """The 95% Wilson interval of k/n as percentages (0–100), with the finite-population
    correction from ``population``; (None, None) when n = 0."""
    frame = pl.DataFrame(
        {"k": [k], "n": [n], "N": [population]},
        schema={"k": pl.Int64, "n": pl.Int64, "N": pl.Int64},
    )
    low, high = confidence.wilson(pl.col("k"), pl.col("n"), pl.col("N"))
    row = frame.select((low * 100).alias("low"), (high * 100).alias("high")).row(0)
    return row[0], row[1]
