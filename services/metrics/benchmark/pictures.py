"""The benchmark results' pictures, as the seed report draws them, made by the one chart
module (services/metrics/charts) from the very figures the results tables show (the same
service functions build both, so a chart can never disagree with its table):

- a metric's peer distribution as a box plot: the group's minimum, quartiles and median
  (median black, middle half grey), your value marked;
- the same distribution as ranked bars: every peer by its anonymous code, in value order,
  yours labelled "(you)";
- a metric across cycles: the group's median and your value, one line each.

A suppressed group draws nothing and says why (the reason the table gives). A far outlier
(beyond 3 interquartile ranges from the quartiles: services/metrics/charts/outliers.py)
is left out of the box's whisker and of the ranked bars to keep the scale readable, and
the chart says so ("1 high value not shown") and gives the rule in its description; the
table beside it keeps every value, and your own value is always drawn.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from sqlalchemy.orm import Session

from services.metrics.benchmark import service
from services.metrics.benchmark.service import Access, PeerGroup
from services.metrics.charts import BoxPlot, BoxStats, box_plot, render_svg
from services.metrics.charts.outliers import Clip, clip
from services.metrics.charts.svg import MUTED, Svg
from services.metrics.packs.schemas import Chart, ChartSeries
from shared.settings import Settings

Kind = Literal["box", "ranked"]


def _d(value: float) -> Decimal:
    # The float's shortest repr, so the drawing's data-* attributes read back as the
    # table's exact figure.
    return Decimal(repr(value))


def withheld(key: str, title: str, reason: str) -> str:
    """A chart of a suppressed group: its title and the reason, nothing drawn."""
    svg = Svg(key, title, f"Nothing is drawn: {reason}", 640, 120)
    svg.text(14, 28, title, size=15, weight="bold")
    svg.text(14, 64, "Statistics withheld", size=13, weight="bold")
    svg.text(14, 88, reason, size=12, colour=MUTED)
    return svg.tostring()


def _group_label(group: PeerGroup, n: int) -> str:
    return f"{'All organisations' if group.key == 'all' else group.key} (n={n})"


def distribution(
    session: Session,
    settings: Settings,
    access: Access,
    organisation_id: int,
    metric_key: str,
    group: PeerGroup,
    kind: Kind,
) -> str:
    data = service.distribution(session, settings, access, organisation_id, metric_key, group)
    title = f"{data['metric_name']}, {data['data_year']}"
    key = f"{kind}-{metric_key}-{group.key}"
    if data["suppressed"]:
        return withheld(key, title, data["suppression_reason"] or "statistics withheld")
    if kind == "box":
        return _box(key, title, data, group)
    return _ranked(key, title, data)


def _clip(data: dict[str, Any]) -> Clip:
    rows = data["rows"]
    mine = [i for i, r in enumerate(rows) if r["is_mine"]]
    return clip([_d(r["value"]) for r in rows], _d(data["q1"]), _d(data["q3"]), keep=mine)


def _box(key: str, title: str, data: dict[str, Any], group: PeerGroup) -> str:
    own = data["my_value"]
    cut = _clip(data)
    text = (
        f"Box plot of {data['metric_name']} ({data['unit']}) across {data['n']} values in the "
        f"{group.key} peer group: minimum {data['min']}, lower quartile {data['q1']}, median "
        f"{data['median']}, upper quartile {data['q3']}, maximum {data['max']}"
        + (f"; your value {own}." if own is not None else ".")
    )
    whisker_low = whisker_high = None
    if cut.hidden:
        shown = [_d(data["rows"][i]["value"]) for i in cut.shown]
        whisker_low = min(shown) if cut.hidden_low else None
        whisker_high = max(shown) if cut.hidden_high else None
        text += f" {cut.note()}: {cut.rule()}; the whisker ends at the furthest value drawn."
    plot = BoxPlot(
        key=key,
        title=title,
        description=text,
        unit=data["unit"],
        boxes=[
            BoxStats(
                label=_group_label(group, data["n"]),
                minimum=_d(data["min"]),
                q1=_d(data["q1"]),
                median=_d(data["median"]),
                q3=_d(data["q3"]),
                maximum=_d(data["max"]),
                own=None if own is None else _d(own),
                whisker_low=whisker_low,
                whisker_high=whisker_high,
                note=cut.note(),
            )
        ],
    )
    return box_plot(plot)


def _ranked(key: str, title: str, data: dict[str, Any]) -> str:
    cut = _clip(data)
    note = cut.note()
    rows = [data["rows"][i] for i in cut.shown]
    categories = [r["peer_code"] + (" (you)" if r["is_mine"] else "") for r in rows]
    chart = Chart(
        key=key,
        kind="bar",
        title=title,
        description=(
            f"{len(data['rows'])} organisations ranked by {data['metric_name']} "
            f"({data['unit']}), lowest first, each by its anonymous code; yours is marked "
            "(you)." + (f" {note}: {cut.rule()}." if note else "")
        ),
        categories=categories,
        series=[ChartSeries(name=data["metric_name"], values=[_d(r["value"]) for r in rows])],
        unit=data["unit"],
        target=None,
    )
    return render_svg(chart, [note] if note else [])


def trends(
    session: Session,
    settings: Settings,
    access: Access,
    organisation_id: int,
    metric_key: str,
    group: PeerGroup,
) -> str:
    data = service.trends(session, settings, access, organisation_id, metric_key, group)
    rows = data["rows"]
    name = rows[-1]["metric_name"] if rows else metric_key
    title = f"{name} across cycles"
    key = f"trend-{metric_key}-{group.key}"
    if all(r["suppressed"] for r in rows):
        reason = rows[-1]["suppression_reason"] if rows else "no cycle has figures"
        return withheld(key, title, reason or "statistics withheld")
    medians = [None if r["median"] is None else _d(r["median"]) for r in rows]
    mine = [None if r["my_value"] is None else _d(r["my_value"]) for r in rows]
    changed = [str(r["cycle_year"]) for r in rows if r["definition_changed"]]
    chart = Chart(
        key=key,
        kind="line",
        title=title,
        description=(
            f"{name} ({rows[-1]['unit']}) per cycle: the {group.key} peer group's median and "
            "your value; a gap is a cycle without the figure (suppressed or not collected)."
            + (f" The definition changed in {', '.join(changed)}." if changed else "")
        ),
        categories=[r["data_year"] for r in rows],
        series=[
            ChartSeries(name="Peer median", values=medians),
            ChartSeries(name="Your organisation", values=mine),
        ],
        unit=rows[-1]["unit"],
        target=None,
    )
    return render_svg(chart)
