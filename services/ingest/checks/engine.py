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

import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

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
    metric_key: str
    check: Check
    value: float
    reason: str
    detail: dict[str, Any] = field(default_factory=dict)

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


def modified_z(x: float, median: float, mad: float) -> float | None:
    """0.6745 × (x − median) / MAD; None when MAD is 0."""
    if mad == 0:
        return None
    return MODIFIED_Z_FACTOR * (x - median) / mad


def peer_flags(metric: Metric, x: float, ref: Reference, t: OutlierThresholds) -> list[Flag]:
    flags: list[Flag] = []
    group = f"{ref.peer_group_key} in {ref.cycle_year} (n = {ref.n_organisations})"
    base = {
        "peer_group_key": ref.peer_group_key,
        "reference_cycle_year": ref.cycle_year,
        "n_organisations": ref.n_organisations,
        "median": ref.median,
    }
    z = modified_z(x, ref.median, ref.mad)
    if z is None:
        if x != ref.median:
            flags.append(
                Flag(
                    metric.key,
                    "modified_z",
                    x,
                    f"{metric.name} {fmt(x)} differs from the median {fmt(ref.median)} of "
                    f"{group}, where at least half the peers share that value (MAD 0).",
                    {**base, "mad": ref.mad, "modified_z": None, "threshold": t.modified_z},
                )
            )
    elif abs(z) > t.modified_z:
        flags.append(
            Flag(
                metric.key,
                "modified_z",
                x,
                f"{metric.name} {fmt(x)} is far from the median {fmt(ref.median)} of {group}: "
                f"modified z-score {z:.2f} (0.6745 × (x − median) / MAD, MAD {fmt(ref.mad)}), "
                f"beyond ±{fmt(t.modified_z)}.",
                {**base, "mad": ref.mad, "modified_z": z, "threshold": t.modified_z},
            )
        )
    iqr = ref.q3 - ref.q1
    lower, upper = ref.q1 - t.iqr_fence * iqr, ref.q3 + t.iqr_fence * iqr
    if x < lower or x > upper:
        side, fence = ("below the lower", lower) if x < lower else ("above the upper", upper)
        formula = (
            f"Q1 {fmt(ref.q1)} − {fmt(t.iqr_fence)} × IQR {fmt(iqr)}"
            if x < lower
            else f"Q3 {fmt(ref.q3)} + {fmt(t.iqr_fence)} × IQR {fmt(iqr)}"
        )
        flags.append(
            Flag(
                metric.key,
                "iqr_fence",
                x,
                f"{metric.name} {fmt(x)} is {side} fence {fmt(fence)} ({formula}) of {group}.",
                {
                    **base,
                    "q1": ref.q1,
                    "q3": ref.q3,
                    "iqr": iqr,
                    "lower_fence": lower,
                    "upper_fence": upper,
                    "threshold": t.iqr_fence,
                },
            )
        )
    return flags


def history_flags(
    metric: Metric, x: float, cycle_year: int, history: Mapping[int, float], t: OutlierThresholds
) -> list[Flag]:
    """``history``: the organisation's value of the metric by earlier cycle year."""
    flags: list[Flag] = []
    earlier = {y: v for y, v in sorted(history.items()) if y < cycle_year}
    if len(earlier) >= MIN_HISTORY:
        vals = list(earlier.values())
        mean = statistics.fmean(vals)
        sd = statistics.stdev(vals)
        lo, hi = mean - t.history_sd * sd, mean + t.history_sd * sd
        if x < lo or x > hi:
            years = f"{min(earlier)}-{max(earlier)}"
            flags.append(
                Flag(
                    metric.key,
                    "history_sd",
                    x,
                    f"{metric.name} {fmt(x)} is outside your own {years} mean {fmt(mean)} "
                    f"± {fmt(t.history_sd)} SD (SD {fmt(sd)}): {fmt(lo)} to {fmt(hi)}.",
                    {
                        "history": {str(y): v for y, v in earlier.items()},
                        "history_n": len(vals),
                        "history_mean": mean,
                        "history_sd": sd,
                        "lower": lo,
                        "upper": hi,
                        "threshold": t.history_sd,
                    },
                )
            )
    previous = history.get(cycle_year - 1)
    if t.year_on_year_pct is not None and previous is not None:
        change = None if previous == 0 else 100.0 * (x - previous) / abs(previous)
        beyond = x != previous if change is None else abs(change) > t.year_on_year_pct
        if beyond:
            how = (
                f"changed from 0 to {fmt(x)}"
                if change is None
                else f"is {fmt(abs(change))}% {'above' if change > 0 else 'below'} last "
                f"year's {fmt(previous)}"
            )
            flags.append(
                Flag(
                    metric.key,
                    "year_on_year",
                    x,
                    f"{metric.name} {fmt(x)} {how} (threshold {fmt(t.year_on_year_pct)}%).",
                    {
                        "previous_cycle_year": cycle_year - 1,
                        "previous_value": previous,
                        "change_pct": change,
                        "threshold": t.year_on_year_pct,
                    },
                )
            )
    return flags


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
