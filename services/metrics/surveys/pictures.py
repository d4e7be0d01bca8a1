"""A campaign's pictures, drawn by the one chart module from the campaign's own tables
(``service.results``, as the factor and breakdown tables are):

- factors: satisfaction and importance (mean rating 1-7) and the weight gap, per factor;
- a breakdown (e.g. satisfaction by device type): mean overall satisfaction per value; a
  cell too small to show is drawn as a dash and named, with the reason, in the chart's
  description; if every cell is withheld, nothing is drawn and the chart says why;
- across the group (the group views' tables): each organisation's response rate in a
  cycle, labelled "6.4% (20 out of 313)", with the benchmark median; and one measure of
  every factor this cycle beside the pooled earlier baseline.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from services.metrics.benchmark.pictures import withheld
from services.metrics.charts import render_svg
from services.metrics.charts.rates import RateBar, RateBars, rate_bars
from services.metrics.packs.schemas import Chart, ChartSeries
from shared.errors import Unprocessable


def _d(value: float | None) -> Decimal | None:
    return None if value is None else Decimal(repr(value))


def factors(found: dict[str, Any]) -> str:
    rows = found.get("factors")
    if rows is None:
        raise Unprocessable(f"A {found['kind']} survey has no factors.", code="no_such_table")
    chart = Chart(
        key=f"campaign-{found['campaign_id']}-factors",
        kind="bar",
        title="Satisfaction and importance by factor",
        description=(
            f"Mean satisfaction and importance (ratings 1-7) and the weight gap for each of "
            f"{len(rows)} factors of campaign {found['campaign_id']} "
            f"({found['response_rate']['text']} responded)."
        ),
        categories=[r["factor"] for r in rows],
        series=[
            ChartSeries(name="Satisfaction", values=[_d(r["mean_satisfaction_2dp"]) for r in rows]),
            ChartSeries(name="Importance", values=[_d(r["mean_importance_2dp"]) for r in rows]),
            ChartSeries(name="Weight gap", values=[_d(r["weight_gap_2dp"]) for r in rows]),
        ],
        unit="rating",
        target=None,
    )
    return render_svg(chart)


def breakdown(found: dict[str, Any], attribute: str) -> str:
    rows = [r for r in found.get("breakdowns") or [] if r["attribute"] == attribute]
    if not rows:
        raise Unprocessable(
            f"Campaign {found['campaign_id']} has no breakdown by {attribute!r}.",
            code="unknown_attribute",
            errors=[{"field": "query.attribute", "message": "no such breakdown"}],
        )
    title = f"Overall satisfaction by {attribute.removeprefix('attr.').replace('_', ' ')}"
    key = f"campaign-{found['campaign_id']}-{attribute}"
    hidden = [r for r in rows if r["suppressed"]]
    if len(hidden) == len(rows):
        return withheld(key, title, hidden[0]["reason"] or "every cell is too small to show")
    note = "".join(f" {r['value']}: withheld ({r['reason']})." for r in hidden)
    chart = Chart(
        key=key,
        kind="bar",
        title=title,
        description=(
            f"Mean overall satisfaction (1-7) of campaign {found['campaign_id']}'s respondents "
            f"by {attribute}, one bar per value." + note
        ),
        categories=[r["value"] for r in rows],
        series=[
            ChartSeries(
                name="Overall satisfaction", values=[_d(r["mean_overall_2dp"]) for r in rows]
            )
        ],
        unit="rating",
        target=None,
    )
    return render_svg(chart)


# ------------------------------------------------------------------ group views (issue 15)

Measure = Literal["satisfaction", "importance", "weight_gap"]
_MEASURES: dict[str, tuple[str, str]] = {
    "satisfaction": ("mean_satisfaction_2dp", "Satisfaction"),
    "importance": ("mean_importance_2dp", "Importance"),
    "weight_gap": ("weight_gap_2dp", "Weight gap"),
}


def group_response_rates(
    found: tuple[list[str], list[dict[str, Any]], dict[str, Any]], cycle: int
) -> str:
    """Each organisation's response rate in ``cycle`` (the rows of the group response-rates
    table for that cycle, by code), labelled as the table prints it, with the benchmark
    median when it may be shown."""
    _columns, rows, meta = found
    title = f"Survey response rates, {cycle}"
    key = f"group-response-rates-{cycle}"
    mine = [r for r in rows if r["cycle"] == cycle]
    if not mine:
        return withheld(key, title, f"no organisation has closed survey results for {cycle}")
    bench = meta["benchmark"]
    median = None if bench["suppressed"] else _d(bench["median"])
    note = None
    if bench["suppressed"]:
        note = f"Benchmark withheld: {bench['reason']}"
    cycles = ", ".join(str(c) for c in meta["cycles"])
    chart = RateBars(
        key=key,
        title=title,
        description=(
            f"Response rate of each of {len(mine)} organisations in {cycle}, by code, as "
            "responses out of users in scope"
            + (
                f"; the dashed line is the benchmark median ({bench['median']}%) of the rates "
                f"in {cycles}."
                if median is not None
                else f". {note}."
            )
        ),
        bars=[
            RateBar(label=r["code"], percent=_d(r["percent"]), text=r["text"], mine=r["yours"])
            for r in mine
        ],
        benchmark=median,
        benchmark_note=note,
    )
    return rate_bars(chart)


def group_factors(
    found: tuple[list[str], list[dict[str, Any]], dict[str, Any]], measure: Measure
) -> str:
    """One measure of every factor (satisfaction, importance or weight gap) this cycle
    beside the baseline pooled over earlier cycles, from the group factors table. A cell
    the table withholds is drawn as a dash and named with the reason; if every cell is
    withheld nothing is drawn and the chart says why."""
    _columns, rows, meta = found
    column, name = _MEASURES[measure]
    cycle = meta["cycle"]
    pooled = ", ".join(str(c) for c in meta["baseline_cycles"])
    title = f"{name} by factor, {cycle} against the baseline"
    key = f"group-factors-{cycle}-{measure}"
    now = [None if r["suppressed"] else _d(r[column]) for r in rows]
    before = [None if r["baseline_suppressed"] else _d(r[f"baseline_{column}"]) for r in rows]
    if all(v is None for v in now + before):
        reasons = {r["reason"] for r in rows if r["reason"]}
        return withheld(key, title, "; ".join(sorted(reasons)) or "every cell is too small")
    hidden = [
        f" {r['factor']} {which}: withheld ({r['reason'] or 'too few responses'})."
        for r, a, b in zip(rows, now, before, strict=True)
        for which, v in (("this cycle", a), ("baseline", b))
        if v is None
    ]
    weighted = "; the gap weighted by importance" if measure == "weight_gap" else ""
    chart = Chart(
        key=key,
        kind="bar",
        title=title,
        description=(
            f"{name} (ratings 1-7{weighted}) for each of {len(rows)} factors across the "
            f"group's {meta['organisations']} organisations: {cycle} beside the baseline "
            f"pooled over {pooled}." + "".join(hidden)
        ),
        categories=[r["factor"] for r in rows],
        series=[
            ChartSeries(name=str(cycle), values=now),
            ChartSeries(name=f"Baseline ({pooled})", values=before),
        ],
        unit="rating",
        target=None,
    )
    return render_svg(chart)
