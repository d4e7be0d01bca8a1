"""Reviewer checks on one submission's metric values: pure functions, numbers in, flags out.

The rules (DOMAIN.md "Reviewer checks and peers"), with the thresholds of each metric
from the catalogue (``OutlierThresholds``):

- Against peers, the peer group's distribution in the last published cycle (median, MAD,
  Q1, Q3, computed by the metrics service):
  - modified z-score z = 0.6745 × (x − median) / MAD, flagged when |z| > ``modified_z``;
    with MAD = 0 (most peers share one value) z is undefined and x is flagged when it
    differs from the median;
  - Tukey's far fences: flagged below Q1 − k·IQR or above Q3 + k·IQR, k = ``iqr_fence``,
    IQR = Q3 − Q1.
- Against the organisation's own history (its values in earlier cycles):
  - outside mean ± ``history_sd`` × SD of the earlier values (needs at least three; SD is
    the sample standard deviation, n − 1); with SD = 0, any other value is outside;
  - a change from the previous cycle's value of more than ``year_on_year_pct`` per cent of
    its size; from a previous value of 0, any change.

A value exactly on a threshold is not flagged (the rules say "beyond").
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import polars as pl

from shared.catalogue import Metric
from shared.catalogue.model import OutlierThresholds

Check = Literal["modified_z", "iqr_fence", "history_sd", "year_on_year"]
MODIFIED_Z_FACTOR = 0.6745
MIN_HISTORY = 3


@dataclass(frozen=True)
class Reference:
    """A peer group's distribution of one metric in one cycle."""

    cycle_year: int
    peer_group_key: str
    n_organisations: int
    median: float
    mad: float
    q1: float
    q3: float


@dataclass(frozen=True)
class Flag:
    """One check that flagged one value, with the numbers behind it (``detail``). The
    reason a person reads is written from them when first asked for."""

    metric_key: str
    check: Check
    value: float
    detail: dict[str, Any] = field(default_factory=dict)
    metric_name: str = ""

    @functools.cached_property
    def reason(self) -> str:
        return reason(self)

    def to_row(self) -> dict[str, Any]:
        return {
            "metric_key": self.metric_key,
            "check": self.check,
            "value": self.value,
            "reason": self.reason,
            "detail": self.detail,
        }


def fmt(value: float | None) -> str:
    """A number as a reason shows it: up to 4 significant figures, thousands separated."""
    if value is None:
        return "?"
    if float(value).is_integer() and abs(value) < 1e15:
        return f"{value:,.0f}"
    return f"{value:,.4g}" if abs(value) >= 1 else f"{value:.4g}"


# ---------------------------------------------------------------- the rules, vectorised
#
# One implementation of the rules, in Polars: a whole cycle's values are checked in one
# pass (validation monitoring), a single submission's with the same code on frames of a
# few rows (on save and on submit).

VALUES_SCHEMA: Final = pl.Schema(
    {
        "submission_id": pl.Int64,
        "organisation_id": pl.Int64,
        "organisation_type": pl.String,
        "metric_key": pl.String,
        "value": pl.Float64,
        "peer_checks": pl.Boolean,  # the metric's module is compared with peers
    }
)
REFERENCES_SCHEMA: Final = pl.Schema(
    {
        "peer_group_key": pl.String,
        "metric_key": pl.String,
        "reference_cycle_year": pl.Int64,
        "n_organisations": pl.Int64,
        "median": pl.Float64,
        "mad": pl.Float64,
        "q1": pl.Float64,
        "q3": pl.Float64,
    }
)
HISTORY_SCHEMA: Final = pl.Schema(
    {
        "organisation_id": pl.Int64,
        "metric_key": pl.String,
        "cycle_year": pl.Int64,
        "value": pl.Float64,
    }
)
THRESHOLDS_SCHEMA: Final = pl.Schema(
    {
        "metric_key": pl.String,
        "t_modified_z": pl.Float64,
        "t_iqr_fence": pl.Float64,
        "t_history_sd": pl.Float64,
        "t_year_on_year_pct": pl.Float64,
    }
)
_REF = ("peer_group_key", "reference_cycle_year", "n_organisations", "median", "mad", "q1", "q3")


def frame(rows: list[dict[str, Any]] | list[tuple[Any, ...]], schema: pl.Schema) -> pl.DataFrame:
    if rows and isinstance(rows[0], tuple):
        return pl.DataFrame(rows, schema=schema, orient="row")
    return pl.DataFrame(rows, schema=schema)


def thresholds_frame(thresholds: Mapping[str, OutlierThresholds]) -> pl.DataFrame:
    return frame(
        [
            (k, t.modified_z, t.iqr_fence, t.history_sd, t.year_on_year_pct)
            for k, t in thresholds.items()
        ],
        THRESHOLDS_SCHEMA,
    )


def flag_frame(
    values: pl.DataFrame,
    references: pl.DataFrame,
    history: pl.DataFrame,
    thresholds: pl.DataFrame,
    cycle_year: int,
) -> pl.DataFrame:
    """Every check that flags a value: one row per (value, check), with the numbers behind
    it (columns of the other checks null). ``references``: the last published cycle's,
    all groups; each value is compared with its organisation's type group where there is
    one, else ``all``. ``history``: the organisations' values in earlier cycles."""
    v = values.lazy().join(thresholds.lazy(), on="metric_key", how="left")
    refs = references.lazy()
    own = refs.rename({c: f"own_{c}" for c in _REF})
    every = refs.filter(pl.col("peer_group_key") == "all").rename({c: f"all_{c}" for c in _REF})
    v = (
        v.with_columns(("type:" + pl.col("organisation_type")).alias("own_peer_group_key"))
        .join(own, on=["metric_key", "own_peer_group_key"], how="left")
        .join(every, on="metric_key", how="left")
    )
    use_own = pl.col("own_median").is_not_null()
    v = v.with_columns(
        [
            pl.when(~pl.col("peer_checks"))
            .then(None)
            .when(use_own)
            .then(pl.col(f"own_{c}"))
            .otherwise(pl.col(f"all_{c}"))
            .alias(c)
            for c in _REF
        ]
    )
    earlier = history.lazy().filter(pl.col("cycle_year") < cycle_year)
    stats = earlier.group_by("organisation_id", "metric_key").agg(
        pl.len().cast(pl.Int64).alias("history_n"),
        pl.col("value").mean().alias("history_mean"),
        pl.col("value").std(ddof=1).alias("history_sd"),
        pl.col("cycle_year").min().alias("history_from"),
        pl.col("cycle_year").max().alias("history_to"),
    )
    previous = earlier.filter(pl.col("cycle_year") == cycle_year - 1).select(
        "organisation_id", "metric_key", pl.col("value").alias("previous_value")
    )
    x = pl.col("value")
    v = (
        v.join(stats, on=["organisation_id", "metric_key"], how="left")
        .join(previous, on=["organisation_id", "metric_key"], how="left")
        .with_columns(
            pl.when(pl.col("mad") > 0)
            .then(MODIFIED_Z_FACTOR * (x - pl.col("median")) / pl.col("mad"))
            .otherwise(None)
            .alias("modified_z"),
            (pl.col("q3") - pl.col("q1")).alias("iqr"),
            (pl.col("history_mean") - pl.col("t_history_sd") * pl.col("history_sd")).alias("lower"),
            (pl.col("history_mean") + pl.col("t_history_sd") * pl.col("history_sd")).alias("upper"),
            pl.when(pl.col("previous_value") != 0)
            .then(100.0 * (x - pl.col("previous_value")) / pl.col("previous_value").abs())
            .otherwise(None)
            .alias("change_pct"),
            pl.lit(cycle_year - 1, dtype=pl.Int64).alias("previous_cycle_year"),
        )
        .with_columns(
            (pl.col("q1") - pl.col("t_iqr_fence") * pl.col("iqr")).alias("lower_fence"),
            (pl.col("q3") + pl.col("t_iqr_fence") * pl.col("iqr")).alias("upper_fence"),
        )
    )
    checks = {
        # MAD 0: z undefined, any value off the median is flagged
        "modified_z": pl.when(pl.col("mad") == 0)
        .then(x != pl.col("median"))
        .otherwise(pl.col("modified_z").abs() > pl.col("t_modified_z")),
        "iqr_fence": (x < pl.col("lower_fence")) | (x > pl.col("upper_fence")),
        # SD 0: any other value is outside mean ± 0
        "history_sd": (pl.col("history_n") >= MIN_HISTORY)
        & ((x < pl.col("lower")) | (x > pl.col("upper"))),
        # from a previous 0, any change
        "year_on_year": pl.col("t_year_on_year_pct").is_not_null()
        & pl.when(pl.col("previous_value") == 0)
        .then(x != 0)
        .otherwise(pl.col("change_pct").abs() > pl.col("t_year_on_year_pct")),
    }
    v = v.with_columns([e.fill_null(False).alias(f"is_{k}") for k, e in checks.items()])
    parts = [v.filter(pl.col(f"is_{k}")).with_columns(pl.lit(k).alias("check")) for k in checks]
    order = {k: i for i, k in enumerate(checks)}
    return (
        pl.concat(parts)
        .with_columns(pl.col("check").replace_strict(order, return_dtype=pl.Int8).alias("_o"))
        .sort("submission_id", "metric_key", "_o")
        .drop("_o")
        .collect()
    )


# ---------------------------------------------------------------- flags and their reasons


_PEER_NUMBERS = ("peer_group_key", "reference_cycle_year", "n_organisations", "median")
_FLAG_COLUMNS = (
    "submission_id",
    "organisation_id",
    "metric_key",
    "value",
    "check",
    *_PEER_NUMBERS,
    "mad",
    "modified_z",
    "t_modified_z",
    "q1",
    "q3",
    "iqr",
    "lower_fence",
    "upper_fence",
    "t_iqr_fence",
    "history_n",
    "history_mean",
    "history_sd",
    "history_from",
    "history_to",
    "lower",
    "upper",
    "t_history_sd",
    "previous_value",
    "previous_cycle_year",
    "change_pct",
    "t_year_on_year_pct",
)


def to_flags(
    flagged: pl.DataFrame,
    metrics: Mapping[str, Metric],
    history: Mapping[tuple[int, str], Mapping[int, float]] | None = None,
) -> list[tuple[int, Flag]]:
    """(submission id, flag) for each row of ``flag_frame``, in its order, with the numbers
    behind it. ``history``: the earlier values by (organisation, metric), listed in a
    history flag's detail."""
    rows = flagged.select(_FLAG_COLUMNS).to_dicts()
    return [(r["submission_id"], _flag(r, metrics[r["metric_key"]], history or {})) for r in rows]


def _flag(
    r: dict[str, Any], metric: Metric, history: Mapping[tuple[int, str], Mapping[int, float]]
) -> Flag:
    check = r["check"]
    if check in ("modified_z", "iqr_fence"):
        detail = {k: r[k] for k in _PEER_NUMBERS}
        if check == "modified_z":
            detail.update(mad=r["mad"], modified_z=r["modified_z"], threshold=r["t_modified_z"])
        else:
            detail.update({c: r[c] for c in ("q1", "q3", "iqr", "lower_fence", "upper_fence")})
            detail["threshold"] = r["t_iqr_fence"]
    elif check == "history_sd":
        earlier = history.get((r["organisation_id"], metric.key), {})
        detail = {
            "history": {str(y): earlier[y] for y in sorted(earlier)},
            "history_from": r["history_from"],
            "history_to": r["history_to"],
            **{k: r[k] for k in ("history_n", "history_mean", "history_sd", "lower", "upper")},
            "threshold": r["t_history_sd"],
        }
    else:
        detail = {
            "previous_cycle_year": r["previous_cycle_year"],
            "previous_value": r["previous_value"],
            "change_pct": r["change_pct"],
            "threshold": r["t_year_on_year_pct"],
        }
    return Flag(metric.key, check, r["value"], detail, metric.name)


def reason(flag: Flag) -> str:
    """The sentence a participant and a reviewer read: what was found, against what."""
    d, x, name = flag.detail, flag.value, flag.metric_name
    if flag.check in ("modified_z", "iqr_fence"):
        group = f"{d['peer_group_key']} in {d['reference_cycle_year']} (n = {d['n_organisations']})"
        if flag.check == "modified_z" and d["modified_z"] is None:
            return (
                f"{name} {fmt(x)} differs from the median {fmt(d['median'])} of {group}, "
                "where at least half the peers share that value (MAD 0)."
            )
        if flag.check == "modified_z":
            return (
                f"{name} {fmt(x)} is far from the median {fmt(d['median'])} of {group}: "
                f"modified z-score {d['modified_z']:.2f} (0.6745 × (x − median) / MAD, "
                f"MAD {fmt(d['mad'])}), beyond ±{fmt(d['threshold'])}."
            )
        k = fmt(d["threshold"])
        if x < d["lower_fence"]:
            side, fence = "below the lower", d["lower_fence"]
            formula = f"Q1 {fmt(d['q1'])} − {k} × IQR {fmt(d['iqr'])}"
        else:
            side, fence = "above the upper", d["upper_fence"]
            formula = f"Q3 {fmt(d['q3'])} + {k} × IQR {fmt(d['iqr'])}"
        return f"{name} {fmt(x)} is {side} fence {fmt(fence)} ({formula}) of {group}."
    if flag.check == "history_sd":
        return (
            f"{name} {fmt(x)} is outside your own {d['history_from']}-{d['history_to']} "
            f"mean {fmt(d['history_mean'])} ± {fmt(d['threshold'])} SD "
            f"(SD {fmt(d['history_sd'])}): {fmt(d['lower'])} to {fmt(d['upper'])}."
        )
    change, previous = d["change_pct"], d["previous_value"]
    how = (
        f"changed from 0 to {fmt(x)}"
        if change is None
        else f"is {fmt(abs(change))}% {'above' if change > 0 else 'below'} last year's "
        f"{fmt(previous)}"
    )
    return f"{name} {fmt(x)} {how} (threshold {fmt(d['threshold'])}%)."


# ---------------------------------------------------------------- one value at a time


def peer_flags(metric: Metric, x: float, ref: Reference, t: OutlierThresholds) -> list[Flag]:
    """The peer checks of one value against one reference (the rules above, on one row)."""
    group = ref.peer_group_key
    kind = group.removeprefix("type:") if group.startswith("type:") else "?"
    values = frame([(0, 0, kind, metric.key, x, True)], VALUES_SCHEMA)
    refs = frame(
        [
            (
                group,
                metric.key,
                ref.cycle_year,
                ref.n_organisations,
                ref.median,
                ref.mad,
                ref.q1,
                ref.q3,
            )
        ],
        REFERENCES_SCHEMA,
    )
    thresholds = thresholds_frame({metric.key: t})
    flagged = flag_frame(values, refs, frame([], HISTORY_SCHEMA), thresholds, ref.cycle_year + 1)
    return [f for _s, f in to_flags(flagged, {metric.key: metric})]


def history_flags(
    metric: Metric, x: float, cycle_year: int, history: Mapping[int, float], t: OutlierThresholds
) -> list[Flag]:
    """The history checks of one value (the rules above, on one row)."""
    values = frame([(0, 0, "?", metric.key, x, True)], VALUES_SCHEMA)
    thresholds = thresholds_frame({metric.key: t})
    hist = frame([(0, metric.key, y, v) for y, v in history.items()], HISTORY_SCHEMA)
    flagged = flag_frame(values, frame([], REFERENCES_SCHEMA), hist, thresholds, cycle_year)
    return [f for _s, f in to_flags(flagged, {metric.key: metric}, {(0, metric.key): history})]


def finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


# ---------------------------------------------------------------- data quality

LATE_DAYS_TO_ZERO = 30


@dataclass(frozen=True)
class Quality:
    """One submission's data quality: four parts in 0..1 and the score, 0..100, their
    mean × 100 (each part weighs the same).

    - completeness: questions answered of those expected (required questions and every
      input of the module's metrics);
    - timeliness: 1 when first submitted by the cycle's deadline (or before it while
      still a draft, or when the cycle sets none), falling linearly to 0 at
      ``LATE_DAYS_TO_ZERO`` days late;
    - consistency: cross-field rules passed of those that could be checked;
    - outliers: metrics not flagged of those with a value.
    """

    completeness: float
    timeliness: float
    consistency: float
    outliers: float
    detail: dict[str, Any]

    @property
    def score(self) -> float:
        return 25.0 * (self.completeness + self.timeliness + self.consistency + self.outliers)


def share(good: int, total: int) -> float:
    return 1.0 if total == 0 else good / total


def timeliness(days_late: float | None) -> float:
    """``days_late``: None or <= 0 is on time."""
    if days_late is None or days_late <= 0:
        return 1.0
    return max(0.0, 1.0 - days_late / LATE_DAYS_TO_ZERO)
