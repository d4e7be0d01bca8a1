"""A campaign's pictures, drawn by the one chart module from the campaign's own tables
(``service.results``, as the factor and breakdown tables are):

- factors: satisfaction and importance (mean rating 1-7) and the weight gap, per factor;
- a breakdown (e.g. satisfaction by device type): mean overall satisfaction per value; a
  cell too small to show is drawn as a dash and named, with the reason, in the chart's
  description; if every cell is withheld, nothing is drawn and the chart says why.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from services.metrics.benchmark.pictures import withheld
from services.metrics.charts import render_svg
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
