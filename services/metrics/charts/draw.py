"""The chart kinds: stacked bar, line, grouped bar (from a pack's ``Chart``) and the box plot.

Each draws exactly the figures it is given and computes none: labels print the values as
given (percentages keep the places they were rounded to), money (``unit == "pence"``) is
turned into pounds through Decimal. Conventions the figures follow:

- ``stacked_bar``: one bar per category, the series stacked bottom-up. With ``unit == "%"``
  (the SLA charts: series "Met" then "Missed", as % of the month's resolved tickets) the
  axis runs 0–100 and the target (e.g. 95) is a dashed line labelled on the right; the
  first series' value is printed above each bar. A month with no tickets (all values null)
  is labelled "no tickets" instead of drawn.
- ``line``: one line per series (e.g. NPS per organisation by month); each series has its
  own colour, dash pattern and marker shape, and is named at its last point as well as in
  the legend. A null value breaks the line.
- ``bar``: grouped bars (e.g. budget, forecast, actuals per outturn group), each labelled
  with its value.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from pydantic import BaseModel, Field

from services.metrics.charts.format import DASH, canonical, money_compact, number, percent
from services.metrics.charts.svg import (
    GRID,
    INK,
    MUTED,
    Svg,
    escape_attribute,
    fmt,
    legend,
    nice_ticks,
    style,
)
from services.metrics.figures import half_up_decimal
from services.metrics.packs.schemas import Chart

HEIGHT = 340
LEFT = 64
RIGHT = 96
BOTTOM = 44
MIN_WIDTH = 640


def value_label(value: Decimal | None, unit: str) -> str:
    """A value as a chart prints it, in its unit."""
    if value is None:
        return DASH
    if unit == "pence":
        return money_compact(int(value))
    if unit == "%":
        return percent(value)
    if value != half_up_decimal(value, 2):
        # A raw statistic (a ratio read from a float) prints at two places; the drawing's
        # data-* attributes keep the exact value.
        return number(half_up_decimal(value, 2))
    return number(value)


def _axis_label(value: Decimal, unit: str) -> str:
    if unit == "pence":
        return money_compact(int(value))
    if unit == "%":
        return f"{number(value)}%"
    return number(value)


class _Frame:
    """The plot area and its vertical scale: value → y."""

    def __init__(
        self, svg: Svg, top: float, ticks: list[Decimal], categories: int, right: float = RIGHT
    ) -> None:
        self.svg = svg
        self.top = top
        self.bottom = svg.height - BOTTOM
        self.left = LEFT
        self.right = svg.width - right
        self.low = ticks[0]
        self.high = ticks[-1]
        self.ticks = ticks
        self.band = (self.right - self.left) / max(categories, 1)
        # Pixels are not figures: positions in float arithmetic (deterministic, written to
        # two places by fmt); the labels print the exact Decimals.
        self._low = float(self.low)
        self._scale = (self.bottom - self.top) / float(self.high - self.low)

    def y(self, value: Decimal) -> float:
        return self.bottom - (float(value) - self._low) * self._scale

    def x(self, index: int) -> float:
        """Centre of category ``index``."""
        return self.left + self.band * (index + 0.5)

    def axes(self, unit: str, categories: Sequence[str]) -> None:
        svg = self.svg
        for tick in self.ticks:
            y = self.y(tick)
            colour = INK if tick == 0 else GRID
            svg.line(self.left, y, self.right, y, colour, 1)
            svg.text(
                self.left - 6, y + 4, _axis_label(tick, unit), anchor="end", size=11, colour=MUTED
            )
        # A label wider than its band ("Sep 2023" under a narrow bar) breaks at its first
        # space onto two lines rather than overlapping its neighbours.
        for i, name in enumerate(categories):
            x = self.x(i)
            if len(name) * 6.2 > self.band - 4 and " " in name:
                first, rest = name.split(" ", 1)
                svg.text(x, self.bottom + 16, first, anchor="middle", size=11)
                svg.text(x, self.bottom + 30, rest, anchor="middle", size=11)
            else:
                svg.text(x, self.bottom + 18, name, anchor="middle", size=11)

    def target(self, target: Decimal, unit: str) -> None:
        y = self.y(target)
        self.svg.line(self.left, y, self.right, y, INK, 2, "6 3")
        self.svg.text(
            self.right + 6, y + 4, f"Target {_axis_label(target, unit)}", size=11, weight="bold"
        )


def _width(slots: int, per_slot: float) -> float:
    return max(MIN_WIDTH, LEFT + RIGHT + slots * per_slot)


def _header(
    svg: Svg, chart_title: str, items: list[tuple[str, str, str]], notes: Sequence[str] = ()
) -> float:
    svg.text(LEFT - 50, 22, chart_title, size=15, weight="bold")
    top = legend(svg, LEFT - 48, 46, items) + 14
    for note in notes:  # e.g. "1 high value not shown": said on the chart, never silent
        svg.text(LEFT - 48, top - 2, note, size=11, colour=MUTED, cls="note")
        top += 16
    return top


def _stacked_bar(chart: Chart, notes: Sequence[str] = ()) -> str:
    n = len(chart.categories)
    svg = Svg(chart.key, chart.title, chart.description, _width(n, 48), HEIGHT)
    items = [("fill", str(i), s.name) for i, s in enumerate(chart.series)]
    if chart.target is not None:
        items.append(("target", "", f"Target {_axis_label(chart.target, chart.unit)}"))
    top = _header(svg, chart.title, items, notes)
    totals = [sum((s.values[i] or Decimal(0) for s in chart.series), Decimal(0)) for i in range(n)]
    if chart.unit == "%":
        ticks = [Decimal(v) for v in range(0, 101, 20)]
    else:
        ticks = nice_ticks(Decimal(0), max(totals, default=Decimal(1)))
    frame = _Frame(svg, top, ticks, n)
    frame.axes(chart.unit, chart.categories)
    bar = min(frame.band * 0.64, 56)
    bar_width = fmt(bar)
    # Each series' fill, outline and name, looked up once rather than once per bar.
    # The series name is the one text of a bar that needs escaping, so each rect is
    # written at once (what Svg.shape writes for the same attributes).
    looks = [
        (svg.fill(j), style(j).colour, escape_attribute(s.name)) for j, s in enumerate(chart.series)
    ]
    for i in range(n):
        x = frame.x(i) - bar / 2
        bar_x = fmt(x)
        values = [s.values[i] for s in chart.series]
        if all(v is None for v in values):
            svg.text(
                frame.x(i),
                frame.bottom - 8,
                "no tickets",
                anchor="middle",
                size=10,
                colour=MUTED,
                rotate=-90,
            )
            continue
        base = Decimal(0)
        y0 = frame.y(base)
        for j, value in enumerate(values):
            if not value:
                continue
            base += value
            y1 = frame.y(base)
            fill, outline, name = looks[j]
            svg.body.children.append(
                f'<rect x="{bar_x}" y="{fmt(y1)}" width="{bar_width}" height="{fmt(y0 - y1)}"'
                f' fill="{escape_attribute(fill)}" stroke="{escape_attribute(outline)}"'
                f' stroke-width="1.2" data-series="{name}"'
                f' data-value="{escape_attribute(canonical(value))}" />'
            )
            y0 = y1
        first = values[0]
        svg.text(
            frame.x(i), frame.y(base) - 5, value_label(first, chart.unit), anchor="middle", size=10
        )
    if chart.target is not None:
        frame.target(chart.target, chart.unit)
    return svg.tostring()


def _line(chart: Chart, notes: Sequence[str] = ()) -> str:
    n = len(chart.categories)
    # Room on the right for the direct end labels ("Peer median 44.5"), so none is cut off.
    end_labels = [
        f"{series.name} {value_label(values[-1], chart.unit)}"
        for series in chart.series
        if (values := [v for v in series.values if v is not None])
    ]
    right = max(RIGHT, 12 + 6.8 * max((len(t) for t in end_labels), default=0))
    width = max(MIN_WIDTH, LEFT + right + n * 48)
    svg = Svg(chart.key, chart.title, chart.description, width, HEIGHT)
    items = [("line", str(i), s.name) for i, s in enumerate(chart.series)]
    if chart.target is not None:
        items.append(("target", "", f"Target {_axis_label(chart.target, chart.unit)}"))
    top = _header(svg, chart.title, items, notes)
    present = [v for s in chart.series for v in s.values if v is not None]
    if chart.target is not None:
        present.append(chart.target)
    low = min([Decimal(0), *present])
    high = max([Decimal(0), *present]) if present else Decimal(1)
    frame = _Frame(svg, top, nice_ticks(low, high), n, right)
    frame.axes(chart.unit, chart.categories)
    if chart.target is not None:
        frame.target(chart.target, chart.unit)
    ends: list[tuple[float, int, str]] = []
    for j, series in enumerate(chart.series):
        s = style(j)
        runs: list[list[tuple[float, float]]] = [[]]
        for i, value in enumerate(series.values):
            if value is None:
                runs.append([])
                continue
            runs[-1].append((frame.x(i), frame.y(value)))
        for run in runs:
            if len(run) > 1:
                attrs = {
                    "points": " ".join(f"{fmt(a)},{fmt(b)}" for a, b in run),
                    "fill": "none",
                    "stroke": s.colour,
                    "stroke-width": "2.5",
                    "data-series": series.name,
                }
                if s.dash:
                    attrs["stroke-dasharray"] = s.dash
                svg.shape("polyline", attrs)
        for i, value in enumerate(series.values):
            if value is not None:
                point = svg.marker(s.marker, frame.x(i), frame.y(value), s.colour)
                point.set("data-series", series.name)
                point.set("data-value", canonical(value))
        last = [(i, v) for i, v in enumerate(series.values) if v is not None]
        if last:
            i, v = last[-1]
            ends.append((frame.y(v), j, f"{series.name} {value_label(v, chart.unit)}"))
    # Direct labels at the right edge, pushed apart so they never overlap.
    ends.sort()
    placed: list[float] = []
    for y, j, label in ends:
        y = max(y, placed[-1] + 14) if placed else y
        placed.append(y)
        svg.text(frame.right + 6, y + 4, label, size=11, colour=style(j).colour, weight="bold")
    return svg.tostring()


def _bar(chart: Chart, notes: Sequence[str] = ()) -> str:
    n = len(chart.categories)
    k = max(len(chart.series), 1)
    svg = Svg(chart.key, chart.title, chart.description, _width(n * k, 50), HEIGHT)
    items = [("fill", str(i), s.name) for i, s in enumerate(chart.series)]
    top = _header(svg, chart.title, items, notes)
    present = [v for s in chart.series for v in s.values if v is not None]
    low = min([Decimal(0), *present])
    high = max([Decimal(0), *present]) if present else Decimal(1)
    frame = _Frame(svg, top, nice_ticks(low, high), n)
    frame.axes(chart.unit, chart.categories)
    width = min(frame.band * 0.8 / k, 48)
    for i in range(n):
        start = frame.x(i) - width * k / 2
        for j, series in enumerate(chart.series):
            value = series.values[i]
            x = start + j * width
            if value is None:
                svg.text(x + width / 2, frame.y(Decimal(0)) - 5, DASH, anchor="middle", size=10)
                continue
            y0, y1 = frame.y(Decimal(0)), frame.y(value)
            svg.shape(
                "rect",
                {
                    "x": fmt(x + 1),
                    "y": fmt(min(y0, y1)),
                    "width": fmt(width - 2),
                    "height": fmt(abs(y0 - y1)),
                    "fill": svg.fill(j),
                    "stroke": style(j).colour,
                    "stroke-width": "1.2",
                    "data-series": series.name,
                    "data-value": canonical(value),
                },
            )
            label_y = min(y0, y1) - 5 if value >= 0 else max(y0, y1) + 13
            svg.text(
                x + width / 2, label_y, value_label(value, chart.unit), anchor="middle", size=10
            )
    if chart.target is not None:
        frame.target(chart.target, chart.unit)
    return svg.tostring()


def render_svg(chart: Chart, notes: Sequence[str] = ()) -> str:
    """``chart`` drawn as a standalone, accessible SVG document fragment (``<svg>…</svg>``):
    ``role="img"``, its title and description named by ``aria-labelledby``, text as text,
    a ``viewBox`` so it scales to its container; the same chart always gives the same bytes.
    ``notes`` are printed under the legend (``class="note"``), e.g. what is not shown.
    """
    for series in chart.series:
        if len(series.values) != len(chart.categories):
            raise ValueError(
                f"chart {chart.key}: series {series.name!r} has {len(series.values)} values "
                f"for {len(chart.categories)} categories"
            )
    if chart.kind == "stacked_bar":
        return _stacked_bar(chart, notes)
    if chart.kind == "line":
        return _line(chart, notes)
    return _bar(chart, notes)


class BoxStats(BaseModel):
    """One distribution: the five numbers, and the reader's own value if it has one."""

    label: str = Field(description="What the box is (a metric, a peer group)")
    minimum: Decimal
    q1: Decimal
    median: Decimal
    q3: Decimal
    maximum: Decimal
    own: Decimal | None = None
    whisker_low: Decimal | None = Field(
        default=None, description="Where the whisker is drawn to (default: the minimum)"
    )
    whisker_high: Decimal | None = Field(
        default=None, description="Where the whisker is drawn to (default: the maximum)"
    )
    note: str | None = Field(
        default=None, description="Printed beside the box, e.g. '1 high value not shown'"
    )


class BoxPlot(BaseModel):
    key: str
    title: str
    description: str
    unit: str = Field(description="'%', 'pence', or a unit name printed after numbers")
    boxes: list[BoxStats]
    own_label: str = "Your organisation"


def box_plot(plot: BoxPlot) -> str:
    """Horizontal box plots on one shared scale: whiskers from minimum to maximum, the
    quartile box in grey, the median as a thick black line, the own value as an orange
    diamond labelled with its value. Every drawn part carries ``data-*`` attributes with the
    exact statistic it stands for, so a test can read the drawing back."""
    rows = len(plot.boxes)
    row_height = 56
    label_width = 150
    width = 680.0
    top_pad = 64
    height = top_pad + rows * row_height + 40
    svg = Svg(plot.key, plot.title, plot.description, width, height)
    svg.text(14, 22, plot.title, size=15, weight="bold")
    own_colour = "#8a4b08"
    svg.add(
        "rect",
        {
            "x": "16",
            "y": "35",
            "width": "22",
            "height": "12",
            "fill": "#c8c8c8",
            "stroke": "#4d4d4d",
        },
    )
    svg.text(44, 46, "Middle half (Q1 to Q3)")
    svg.line(210, 34, 210, 48, INK, 3)
    svg.text(218, 46, "Median")
    if any(b.own is not None for b in plot.boxes):
        svg.marker("diamond", 290, 41, own_colour, 5)
        svg.text(300, 46, plot.own_label)
    values = [
        v
        for b in plot.boxes
        for v in (
            b.minimum if b.whisker_low is None else b.whisker_low,
            b.maximum if b.whisker_high is None else b.whisker_high,
            b.own,
        )
        if v is not None
    ]
    ticks = nice_ticks(min(values, default=Decimal(0)), max(values, default=Decimal(1)))
    left, right = 14 + label_width, width - 40
    # Pixels are not figures: float arithmetic, written to two places (deterministic).
    low = float(ticks[0])
    per = (right - left) / float(ticks[-1] - ticks[0])

    def x(value: Decimal) -> float:
        return left + (float(value) - low) * per

    bottom = top_pad + rows * row_height
    for tick in ticks:
        svg.line(x(tick), top_pad - 4, x(tick), bottom, GRID, 1)
        svg.text(
            x(tick),
            bottom + 16,
            _axis_label(tick, plot.unit),
            anchor="middle",
            size=11,
            colour=MUTED,
        )
    for r, box in enumerate(plot.boxes):
        centre = top_pad + r * row_height + row_height / 2
        group = svg.add("g", {"class": "box", "data-label": box.label})
        svg.text(14, centre + 4, box.label, size=12, weight="bold", data={"data-label": box.label})
        lo = box.minimum if box.whisker_low is None else box.whisker_low
        hi = box.maximum if box.whisker_high is None else box.whisker_high
        whisker = {
            "class": "whisker",
            "x1": fmt(x(lo)),
            "y1": fmt(centre),
            "x2": fmt(x(hi)),
            "y2": fmt(centre),
            "stroke": "#4d4d4d",
            "stroke-width": "1.5",
            "data-min": canonical(box.minimum),
            "data-max": canonical(box.maximum),
        }
        if box.whisker_low is not None:
            whisker["data-whisker-low"] = canonical(box.whisker_low)
        if box.whisker_high is not None:
            whisker["data-whisker-high"] = canonical(box.whisker_high)
        svg.add("line", whisker, parent=group)
        for end in (lo, hi):
            svg.line(x(end), centre - 8, x(end), centre + 8, "#4d4d4d", 1.5)
        if box.note:
            svg.text(right, centre + 26, box.note, anchor="end", size=11, colour=MUTED, cls="note")
        svg.add(
            "rect",
            {
                "class": "quartiles",
                "x": fmt(x(box.q1)),
                "y": fmt(centre - 14),
                "width": fmt(x(box.q3) - x(box.q1)),
                "height": "28",
                "fill": "#c8c8c8",
                "stroke": "#4d4d4d",
                "stroke-width": "1.2",
                "data-q1": canonical(box.q1),
                "data-q3": canonical(box.q3),
            },
            parent=group,
        )
        svg.add(
            "line",
            {
                "class": "median",
                "x1": fmt(x(box.median)),
                "y1": fmt(centre - 14),
                "x2": fmt(x(box.median)),
                "y2": fmt(centre + 14),
                "stroke": INK,
                "stroke-width": "3.5",
                "data-median": canonical(box.median),
            },
            parent=group,
        )
        if box.own is not None:
            mark = svg.marker("diamond", x(box.own), centre, own_colour, 6)
            mark.set("class", "own")
            mark.set("data-own", canonical(box.own))
            svg.text(
                x(box.own),
                centre - 19,
                value_label(box.own, plot.unit),
                anchor="middle",
                size=11,
                colour=own_colour,
                weight="bold",
            )
    return svg.tostring()
