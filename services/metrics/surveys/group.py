"""Group views: survey figures across every participating organisation of a cycle, or of a
pooled set of cycles (issue 15; DOMAIN.md "Surveys", "Survey confidence and weighting").

Input: one row per response (wide, as :mod:`engine`), with ``organisation_id``, ``cycle``
(the collection year) and ``weight`` (from :mod:`weighting`; 1.0 for unweighted data).

- :func:`breakdowns`: overall satisfaction and improvement by each attribute (device type,
  location, mode of working, role) across the group, unweighted and weighted side by side,
  each mean with its n, 95% interval and (weighted) effective sample size; disclosure
  control on every cell (:mod:`disclosure`).
- :func:`factors`: each factor's satisfaction, importance, gap and weight gap for a cycle
  against a baseline pooled over earlier cycles.
- :func:`response_rates`: the response-rate benchmark pooled over cycles.
- :func:`sdma_progress`, :func:`skills_against_group`.

Everything is one pass of Polars expressions over the responses (unpivoted where a figure
family is long), then small frames of sums; intervals come from the sums
(:mod:`confidence`).
"""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

from services.metrics import figures
from services.metrics.surveys import confidence as ci
from services.metrics.surveys import disclosure
from services.metrics.surveys.engine import (
    ATTRIBUTES,
    FACTOR_KEYS,
    IMPORTANCE_SCALE_MAX,
    NOT_STATED,
)

MEASURES: tuple[str, ...] = ("overall", "improvement")
ALL = "all"
ALL_VALUE = "All respondents"
ORG = "organisation_id"


def _sums(x: pl.Expr, w: pl.Expr, name: str) -> list[pl.Expr]:
    """Additive sums of one measure: count, Σx, Σx², Σw, Σwx, Σwx², Σw² (over answers)."""
    xf = x.cast(pl.Float64)
    wm = pl.when(xf.is_not_null()).then(w)
    return [
        xf.count().cast(pl.Int64).alias(f"{name}__n"),
        x.cast(pl.Int64).sum().alias(f"{name}__s1"),
        (x.cast(pl.Int64) * x.cast(pl.Int64)).sum().alias(f"{name}__s2"),
        wm.sum().alias(f"{name}__sw"),
        (wm * xf).sum().alias(f"{name}__swx"),
        (wm * xf * xf).sum().alias(f"{name}__swx2"),
        (wm * wm).sum().alias(f"{name}__sw2"),
    ]


SUM_PARTS = ("n", "s1", "s2", "sw", "swx", "swx2", "sw2")


def _sum_columns(names: Sequence[str]) -> list[str]:
    return [f"{m}__{p}" for m in names for p in SUM_PARTS]


def _figures(frame: pl.DataFrame, measures: Sequence[str], population: str | None) -> pl.DataFrame:
    """Means, intervals, weighted means and effective sizes from the sums of each measure."""
    for m in measures:
        n, s1, s2 = f"{m}__n", f"{m}__s1", f"{m}__s2"
        frame = frame.with_columns(
            pl.when(pl.col(n) > 0).then(pl.col(s1).cast(pl.Float64) / pl.col(n)).alias(f"mean_{m}"),
            figures.half_up(pl.col(s1), pl.col(n), 2).cast(pl.Float64).alias(f"mean_{m}_2dp"),
        )
        frame = ci.mean_interval(frame, n=n, s1=s1, s2=s2, population=population, prefix=m)
        frame = ci.weighted_interval(
            frame,
            n=n,
            sw=f"{m}__sw",
            swx=f"{m}__swx",
            swx2=f"{m}__swx2",
            sw2=f"{m}__sw2",
            population=population,
            prefix=f"weighted_{m}",
        )
    return frame


def _presentation(measures: Sequence[str]) -> list[pl.Expr]:
    out: list[pl.Expr] = []
    for m in measures:
        out += ci.round_2dp(
            [
                f"{m}_ci_low",
                f"{m}_ci_high",
                f"weighted_{m}_mean",
                f"weighted_{m}_ci_low",
                f"weighted_{m}_ci_high",
            ]
        )
        out.append(
            figures.half_up_float(pl.col(f"weighted_{m}_n_eff"), 1)
            .cast(pl.Float64)
            .alias(f"weighted_{m}_n_eff_1dp")
        )
    return out


def breakdown_columns(measures: Sequence[str] = MEASURES) -> list[str]:
    cols = ["scope", "attribute", "value", "n"]
    for m in measures:
        cols += [
            f"n_{m}",
            f"mean_{m}_2dp",
            f"{m}_ci_low_2dp",
            f"{m}_ci_high_2dp",
            f"weighted_{m}_mean_2dp",
            f"weighted_{m}_ci_low_2dp",
            f"weighted_{m}_ci_high_2dp",
            f"weighted_{m}_n_eff_1dp",
        ]
    return [*cols, "suppressed", "reason", "threshold_met"]


def breakdowns(
    responses: pl.DataFrame,
    *,
    cycles: Sequence[int],
    users_in_scope: dict[int, int],
    threshold: int,
    min_orgs: int,
    attributes: Sequence[str] = ATTRIBUTES,
    measures: Sequence[str] = MEASURES,
) -> pl.DataFrame:
    """The group's breakdowns for ``cycles`` (one cycle, or several pooled), with the
    group's overall row first (attribute ``all``).

    Suppression is decided per cycle (:func:`disclosure.group_suppression`); a pooled cell
    is shown only when it is shown in every cycle it pools (:func:`disclosure.pooled_flags`).
    Hidden cells carry null figures; shown cells come first by descending size, hidden
    cells after them in label order. ``users_in_scope`` (per cycle) is the overall row's N
    for the finite-population correction; cells get none.
    """
    attrs = list(attributes)
    lf = responses.lazy().filter(pl.col("cycle").is_in(list(cycles)))
    w = pl.col("weight").cast(pl.Float64)
    aggs = [pl.len().cast(pl.Int64).alias("n")] + [
        e for m in measures for e in _sums(pl.col(m), w, m)
    ]
    long = lf.select("cycle", ORG, "weight", *measures, *attrs).unpivot(
        on=attrs,
        index=["cycle", ORG, "weight", *measures],
        variable_name="attribute",
        value_name="value",
    )
    per_org_cells = (
        long.with_columns(pl.col("value").fill_null(NOT_STATED))
        .group_by(["cycle", "attribute", "value", ORG])
        .agg(aggs)
    )
    per_org_all = (
        lf.group_by(["cycle", ORG])
        .agg(aggs)
        .with_columns(pl.lit(ALL).alias("attribute"), pl.lit(ALL_VALUE).alias("value"))
    )
    per_org = pl.concat(
        [per_org_all.select(per_org_cells.collect_schema().names()), per_org_cells],
        how="vertical",
    ).collect()
    sum_cols = ["n", *_sum_columns(measures)]
    contributions = per_org.select("cycle", "attribute", "value", ORG, "n")
    cells_flags = disclosure.group_suppression(
        contributions.filter(pl.col("attribute") != ALL),
        by=["cycle", "attribute"],
        threshold=threshold,
        min_orgs=min_orgs,
    )
    all_flags = disclosure.primary_only(
        contributions.filter(pl.col("attribute") == ALL),
        by=["cycle", "attribute", "value"],
        threshold=threshold,
        min_orgs=min_orgs,
    ).select(
        "cycle", "attribute", "value", "suppressed", pl.lit(None, pl.String).alias("suppression")
    )
    # A group too small to show at all hides every cell of that cycle.
    flags = pl.concat([all_flags, cells_flags.drop("n")], how="vertical").with_columns(
        (
            pl.col("suppressed")
            | pl.col("suppressed").filter(pl.col("attribute") == ALL).any().over("cycle")
        ).alias("suppressed")
    )
    per_cycle = (
        per_org.group_by(["cycle", "attribute", "value"])
        .agg(pl.col(c).sum() for c in sum_cols)
        .join(flags, on=["cycle", "attribute", "value"], how="left")
    )
    pooled = len(set(cycles)) > 1
    if pooled:
        scope = "+".join(str(c) for c in sorted(set(cycles)))
        cells = (
            per_cycle.group_by(["attribute", "value"])
            .agg(*(pl.col(c).sum() for c in sum_cols), pl.col("suppressed").any())
            .with_columns(
                pl.lit(scope).alias("scope"),
                pl.when(pl.col("suppressed")).then(pl.lit("pooled")).alias("suppression"),
            )
        )
        population = sum(users_in_scope.get(c, 0) for c in set(cycles))
    else:
        scope = str(cycles[0])
        cells = per_cycle.drop("cycle").with_columns(pl.lit(scope).alias("scope"))
        population = users_in_scope.get(cycles[0], 0)
    cells = cells.with_columns(
        pl.when(pl.col("attribute") == ALL)
        .then(pl.lit(population if population > 0 else None, pl.Int64))
        .alias("_N")
    )
    cells = _figures(cells, measures, "_N").with_columns(_presentation(measures))
    hide = pl.col("suppressed")
    reason = (
        pl.when(~hide)
        .then(None)
        .when(pl.col("suppression") == "pooled")
        .then(pl.lit(disclosure.REASON_POOLED))
        .otherwise(pl.lit(disclosure.REASON_SUPPRESSED.format(t=threshold, k=min_orgs)))
    )
    shown = [c for c in breakdown_columns(measures) if c not in ("scope", "attribute", "value")]
    shown = [c for c in shown if c not in ("suppressed", "reason", "threshold_met")]
    order = {a: i for i, a in enumerate([ALL, *attrs])}
    return (
        cells.with_columns(
            *(
                pl.when(hide).then(None).otherwise(pl.col(f"{m}__n")).alias(f"n_{m}")
                for m in measures
            ),
            # Hidden cells go last, in label order: by size would say which is smaller.
            pl.when(hide).then(None).otherwise(pl.col("n")).alias("_size"),
            pl.col("attribute").replace_strict(order, return_dtype=pl.Int32).alias("_order"),
        )
        .with_columns(
            *(pl.when(hide).then(None).otherwise(pl.col(c)).alias(c) for c in shown),
            reason.alias("reason"),
            pl.when(hide)
            .then(None)
            .otherwise(pl.lit(disclosure.PUBLICATION))
            .alias("threshold_met"),
        )
        .sort(
            ["_order", "suppressed", "_size", "value"],
            descending=[False, False, True, False],
            nulls_last=True,
        )
        .select(breakdown_columns(measures))
    )


# --------------------------------------------------------------------------- factors


def factor_columns() -> list[str]:
    cols = ["factor"]
    for part in ("", "baseline_"):
        for m in ("satisfaction", "importance"):
            cols += [
                f"{part}n_{m}",
                f"{part}mean_{m}_2dp",
                f"{part}{m}_ci_low_2dp",
                f"{part}{m}_ci_high_2dp",
            ]
        cols += [f"{part}gap_2dp", f"{part}weight_gap_2dp"]
        if not part:
            cols += [
                "weighted_mean_satisfaction_2dp",
                "weighted_mean_importance_2dp",
                "weighted_gap_2dp",
                "weighted_weight_gap_2dp",
                "weighted_satisfaction_n_eff_1dp",
            ]
    return [
        *cols,
        "change_satisfaction_2dp",
        "change_gap_2dp",
        "suppressed",
        "baseline_suppressed",
        "reason",
        "threshold_met",
    ]


def factor_sums(responses: pl.DataFrame, factors: Sequence[str] = FACTOR_KEYS) -> pl.DataFrame:
    """Per cycle, organisation, factor and measure: the additive sums (one long pass)."""
    cols = [f"{f}.{m}" for f in factors for m in ("satisfaction", "importance")]
    present = [c for c in cols if c in responses.columns]
    lf = responses.lazy().select("cycle", ORG, "weight", *present)
    return (
        lf.unpivot(on=present, index=["cycle", ORG, "weight"], variable_name="key", value_name="x")
        .drop_nulls("x")
        .group_by(["cycle", ORG, "key"])
        .agg(_sums(pl.col("x"), pl.col("weight").cast(pl.Float64), "v"))
        .with_columns(
            pl.col("key").str.extract(r"^([^.]+)\.", 1).alias("factor"),
            pl.col("key").str.extract(r"\.([^.]+)$", 1).alias("measure"),
        )
        .drop("key")
        .collect()
    )


def _factor_block(
    sums: pl.DataFrame,
    *,
    threshold: int,
    min_orgs: int,
    population: int | None,
    factors: Sequence[str],
) -> pl.DataFrame:
    """One row per factor for the cycles in ``sums`` pooled: figures, intervals, and
    ``suppressed`` (withheld in any of its cycles, for either measure)."""
    per_cycle_flags = disclosure.primary_only(
        sums.select("cycle", "factor", "measure", ORG, pl.col("v__n").alias("n")),
        by=["cycle", "factor", "measure"],
        threshold=threshold,
        min_orgs=min_orgs,
    )
    hidden = disclosure.pooled_flags(per_cycle_flags, keys=["factor"])
    parts = [f"v__{p}" for p in SUM_PARTS]
    pooled = sums.group_by(["factor", "measure"]).agg(pl.col(c).sum() for c in parts)
    wide = None
    for m in ("satisfaction", "importance"):
        block = (
            pooled.filter(pl.col("measure") == m)
            .drop("measure")
            .rename({c: c.replace("v__", f"{m}__") for c in parts})
        )
        wide = block if wide is None else wide.join(block, on="factor", how="full", coalesce=True)
    frame = pl.DataFrame({"factor": list(factors)}).join(
        wide if wide is not None else pl.DataFrame({"factor": []}, schema={"factor": pl.String}),
        on="factor",
        how="left",
    )
    for m in ("satisfaction", "importance"):
        for p in SUM_PARTS:
            col = f"{m}__{p}"
            if col not in frame.columns:
                frame = frame.with_columns(pl.lit(None, pl.Float64).alias(col))
        frame = frame.with_columns(
            pl.col(f"{m}__n").fill_null(0).cast(pl.Int64),
            pl.col(f"{m}__s1").fill_null(0).cast(pl.Int64),
        )
    frame = frame.with_columns(pl.lit(population, pl.Int64).alias("_N"))
    frame = _figures(frame, ("satisfaction", "importance"), "_N")
    ns, ss = pl.col("satisfaction__n"), pl.col("satisfaction__s1")
    ni, si = pl.col("importance__n"), pl.col("importance__s1")
    gap_num = ss.cast(pl.Int128) * ni - si.cast(pl.Int128) * ns
    gap_den = ns.cast(pl.Int128) * ni
    ws, wi = pl.col("weighted_satisfaction_mean"), pl.col("weighted_importance_mean")
    return (
        frame.join(hidden, on="factor", how="left")
        .with_columns(
            pl.col("suppressed").fill_null(True),
            figures.half_up(gap_num, gap_den, 2).cast(pl.Float64).alias("gap_2dp"),
            figures.half_up(gap_num * si, gap_den * ni * IMPORTANCE_SCALE_MAX, 2)
            .cast(pl.Float64)
            .alias("weight_gap_2dp"),
            (pl.col("mean_satisfaction") - pl.col("mean_importance")).alias("gap"),
            (ws - wi).alias("weighted_gap"),
            ((ws - wi) * wi / IMPORTANCE_SCALE_MAX).alias("weighted_weight_gap"),
        )
        .with_columns(
            ci.round_2dp(
                [
                    "satisfaction_ci_low",
                    "satisfaction_ci_high",
                    "importance_ci_low",
                    "importance_ci_high",
                    "weighted_satisfaction_mean",
                    "weighted_importance_mean",
                    "weighted_gap",
                    "weighted_weight_gap",
                ]
            )
        )
        .with_columns(
            figures.half_up_float(pl.col("weighted_satisfaction_n_eff"), 1)
            .cast(pl.Float64)
            .alias("weighted_satisfaction_n_eff_1dp")
        )
        .rename(
            {
                "satisfaction__n": "n_satisfaction",
                "importance__n": "n_importance",
                "weighted_satisfaction_mean_2dp": "weighted_mean_satisfaction_2dp",
                "weighted_importance_mean_2dp": "weighted_mean_importance_2dp",
            }
        )
    )


def factors(
    responses: pl.DataFrame,
    *,
    cycle: int,
    baseline: Sequence[int],
    users_in_scope: dict[int, int],
    threshold: int,
    min_orgs: int,
    factor_keys: Sequence[str] = FACTOR_KEYS,
) -> pl.DataFrame:
    """Each factor for ``cycle`` beside the same factor pooled over ``baseline`` cycles.

    A figure is withheld when its n, organisations or the n outside its largest
    organisation fall short (:func:`disclosure.primary_only`); a baseline figure also when
    it is withheld in any baseline cycle. ``change_*`` = this cycle − baseline.
    """
    sums = factor_sums(responses.filter(pl.col("cycle").is_in([cycle, *baseline])), factor_keys)
    now = _factor_block(
        sums.filter(pl.col("cycle") == cycle),
        threshold=threshold,
        min_orgs=min_orgs,
        population=users_in_scope.get(cycle) or None,
        factors=factor_keys,
    )
    base = _factor_block(
        sums.filter(pl.col("cycle").is_in(list(baseline))),
        threshold=threshold,
        min_orgs=min_orgs,
        population=sum(users_in_scope.get(c, 0) for c in baseline) or None,
        factors=factor_keys,
    )
    keep = [
        "n_satisfaction",
        "mean_satisfaction",
        "mean_satisfaction_2dp",
        "satisfaction_ci_low_2dp",
        "satisfaction_ci_high_2dp",
        "n_importance",
        "mean_importance_2dp",
        "importance_ci_low_2dp",
        "importance_ci_high_2dp",
        "gap",
        "gap_2dp",
        "weight_gap_2dp",
        "suppressed",
    ]
    base = base.select(
        "factor",
        *(pl.col(c).alias(f"baseline_{c}") for c in keep),
    )
    joined = now.join(base, on="factor", how="left")
    hide, bhide = pl.col("suppressed"), pl.col("baseline_suppressed")
    both = hide | bhide
    change_s = pl.col("mean_satisfaction") - pl.col("baseline_mean_satisfaction")
    change_g = pl.col("gap") - pl.col("baseline_gap")
    current_cols = [
        "n_satisfaction",
        "mean_satisfaction_2dp",
        "satisfaction_ci_low_2dp",
        "satisfaction_ci_high_2dp",
        "n_importance",
        "mean_importance_2dp",
        "importance_ci_low_2dp",
        "importance_ci_high_2dp",
        "gap_2dp",
        "weight_gap_2dp",
        "weighted_mean_satisfaction_2dp",
        "weighted_mean_importance_2dp",
        "weighted_gap_2dp",
        "weighted_weight_gap_2dp",
        "weighted_satisfaction_n_eff_1dp",
    ]
    baseline_cols = [
        f"baseline_{c}" for c in keep if c not in ("mean_satisfaction", "gap", "suppressed")
    ]
    reason = (
        pl.when(hide)
        .then(
            pl.lit(
                f"withheld: fewer than {threshold} ratings, fewer than {min_orgs} organisations, "
                f"or fewer than {threshold} outside the largest organisation"
            )
        )
        .when(bhide)
        .then(pl.lit("baseline withheld: " + disclosure.REASON_POOLED))
    )
    return joined.with_columns(
        *(pl.when(hide).then(None).otherwise(pl.col(c)).alias(c) for c in current_cols),
        *(pl.when(bhide).then(None).otherwise(pl.col(c)).alias(c) for c in baseline_cols),
        pl.when(both)
        .then(None)
        .otherwise(figures.half_up_float(change_s, 2).cast(pl.Float64))
        .alias("change_satisfaction_2dp"),
        pl.when(both)
        .then(None)
        .otherwise(figures.half_up_float(change_g, 2).cast(pl.Float64))
        .alias("change_gap_2dp"),
        reason.alias("reason"),
        pl.when(hide).then(None).otherwise(pl.lit(disclosure.PUBLICATION)).alias("threshold_met"),
    ).select(factor_columns())


# ------------------------------------------------------------ weighted beside unweighted


WEIGHTED_COLUMNS = [
    "figure",
    "attribute",
    "value",
    "n",
    "mean_2dp",
    "ci_low_2dp",
    "ci_high_2dp",
    "weighted_mean_2dp",
    "weighted_ci_low_2dp",
    "weighted_ci_high_2dp",
    "effective_n_1dp",
]


def weighted_figures(
    responses: pl.DataFrame,
    keys: Sequence[str],
    *,
    attributes: Sequence[str] = (),
    cell_keys: Sequence[str] = MEASURES,
    population: int | None = None,
) -> pl.DataFrame:
    """Unweighted and weighted means side by side, each with its 95% interval, for each
    answer key over all responses (finite-population correction from ``population``) and
    for ``cell_keys`` in each cell of each attribute (no correction). ``responses`` has a
    ``weight`` column. Rows: the whole-campaign figures in key order, then the cells."""
    w = pl.col("weight").cast(pl.Float64)
    lf = responses.lazy()
    whole = (
        lf.select("weight", *keys)
        .unpivot(on=list(keys), index=["weight"], variable_name="figure", value_name="x")
        .group_by("figure")
        .agg(_sums(pl.col("x"), w, "v"))
        .with_columns(
            pl.lit(None, pl.String).alias("attribute"), pl.lit(None, pl.String).alias("value")
        )
    )
    parts = [whole]
    attrs = [a for a in attributes if a in responses.columns]
    if attrs:
        cells = (
            lf.select("weight", *cell_keys, *attrs)
            .unpivot(on=attrs, index=["weight", *cell_keys], variable_name="attribute")
            .with_columns(pl.col("value").fill_null(NOT_STATED))
            .unpivot(
                on=list(cell_keys),
                index=["weight", "attribute", "value"],
                variable_name="figure",
                value_name="x",
            )
            .group_by("figure", "attribute", "value")
            .agg(_sums(pl.col("x"), w, "v"))
        )
        parts.append(cells.select(whole.collect_schema().names()))
    sums = pl.concat(parts, how="vertical").collect()
    sums = sums.with_columns(
        pl.when(pl.col("attribute").is_null()).then(pl.lit(population, pl.Int64)).alias("_N")
    )
    out = _figures(sums, ["v"], "_N")
    order = {k: i for i, k in enumerate(keys)}
    attr_order = {a: i for i, a in enumerate(attrs)}
    return (
        out.with_columns(
            *ci.round_2dp(
                [
                    "v_ci_low",
                    "v_ci_high",
                    "weighted_v_mean",
                    "weighted_v_ci_low",
                    "weighted_v_ci_high",
                ]
            ),
            figures.half_up_float(pl.col("weighted_v_n_eff"), 1)
            .cast(pl.Float64)
            .alias("effective_n_1dp"),
            pl.col("figure").replace_strict(order, default=None, return_dtype=pl.Int32).alias("_k"),
            pl.col("attribute")
            .replace_strict(attr_order, default=-1, return_dtype=pl.Int32)
            .alias("_a"),
        )
        .rename(
            {
                "v__n": "n",
                "mean_v_2dp": "mean_2dp",
                "v_ci_low_2dp": "ci_low_2dp",
                "v_ci_high_2dp": "ci_high_2dp",
                "weighted_v_mean_2dp": "weighted_mean_2dp",
                "weighted_v_ci_low_2dp": "weighted_ci_low_2dp",
                "weighted_v_ci_high_2dp": "weighted_ci_high_2dp",
            }
        )
        .sort(["_a", "value", "_k"])
        .select(WEIGHTED_COLUMNS)
    )
