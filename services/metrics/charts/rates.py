"""Response rates as horizontal bars, one per organisation, each labelled with the
figure as the tables print it ("6.4% (20 out of 313)", made by the survey engine through
services/metrics/figures.py), the reader's own organisations marked, and the benchmark
median as a dashed line when it may be shown (or a note saying why it is not)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, Field

from services.metrics.charts.format import canonical, number
from services.metrics.charts.svg import GRID, INK, MUTED, Svg, fmt, nice_ticks, style

ROW = 24
LABEL = 120
WIDTH = 760.0
TOP = 70


class RateBar(BaseModel):
    label: str = Field(description="The organisation's code")
    percent: Decimal | None = Field(description="The rate (%), as rounded by the engine")
    text: str = Field(description="The rate as the table prints it")
    mine: bool = False


class RateBars(BaseModel):
    key: str
    title: str
    description: str
    bars: list[RateBar]
    benchmark: Decimal | None = Field(default=None, description="The median rate (%)")
    benchmark_note: str | None = Field(
        default=None, description="Why the benchmark is not drawn (e.g. too few organisations)"
    )


def rate_bars(chart: RateBars) -> str:
    """One bar per organisation on a 0-based % scale; every bar carries ``data-value``
    (the percent) and ``data-text`` (its label), so a test can read the drawing back."""
    height = TOP + len(chart.bars) * ROW + 40
    svg = Svg(chart.key, chart.title, chart.description, WIDTH, height)
    svg.text(14, 22, chart.title, size=15, weight="bold")
    mine_colour = style(1).colour
    svg.shape("rect", {"x": "16", "y": "35", "width": "14", "height": "14", "fill": svg.fill(0)})
    svg.text(36, 46, "Response rate")
    svg.shape("rect", {"x": "146", "y": "35", "width": "14", "height": "14", "fill": mine_colour})
    svg.text(166, 46, "Yours")
    if chart.benchmark is not None:
        svg.line(230, 42, 254, 42, INK, 2, "6 3")
        svg.text(260, 46, f"Benchmark median {number(chart.benchmark)}%")
    elif chart.benchmark_note:
        svg.text(230, 46, chart.benchmark_note, colour=MUTED, cls="note")
    present = [b.percent for b in chart.bars if b.percent is not None]
    if chart.benchmark is not None:
        present.append(chart.benchmark)
    ticks = nice_ticks(Decimal(0), max(present, default=Decimal(1)))
    left, right = 14.0 + LABEL, WIDTH - 230
    low = float(ticks[0])
    per = (right - left) / float(ticks[-1] - ticks[0])

    def x(value: Decimal) -> float:
        return left + (float(value) - low) * per

    bottom = TOP + len(chart.bars) * ROW
    for tick in ticks:
        svg.line(x(tick), TOP - 4, x(tick), bottom, GRID, 1)
        svg.text(x(tick), bottom + 16, f"{number(tick)}%", anchor="middle", size=11, colour=MUTED)
    for i, bar in enumerate(chart.bars):
        top = TOP + i * ROW
        weight = "bold" if bar.mine else None
        svg.text(14, top + 16, bar.label + (" (you)" if bar.mine else ""), weight=weight)
        if bar.percent is None:
            svg.text(left + 4, top + 16, bar.text, colour=MUTED, data={"data-text": bar.text})
            continue
        end = x(bar.percent)
        svg.shape(
            "rect",
            {
                "x": fmt(left),
                "y": fmt(top + 4),
                "width": fmt(end - left),
                "height": fmt(ROW - 8),
                "fill": mine_colour if bar.mine else svg.fill(0),
                "class": "rate",
                "data-label": bar.label,
                "data-value": canonical(bar.percent),
            },
        )
        svg.text(end + 6, top + 16, bar.text, size=11, weight=weight, data={"data-text": bar.text})
    if chart.benchmark is not None:
        bx = x(chart.benchmark)
        svg.line(bx, TOP - 8, bx, bottom, INK, 2, "6 3")
    return svg.tostring()
