"""The chart module: accessible, well-formed, deterministic SVG that prints the values it was
given (and a box plot whose drawing can be read back to its statistics)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from decimal import Decimal

import pytest

from services.metrics.charts import BoxPlot, BoxStats, box_plot, render_svg
from services.metrics.charts.format import money, money_compact
from services.metrics.charts.svg import INK, MUTED, STYLES, nice_ticks
from services.metrics.packs.schemas import Chart, ChartSeries
from tests.metrics.packs.sample import sample_pack

NS = {"s": "http://www.w3.org/2000/svg"}


def charts() -> dict[str, Chart]:
    return {c.key: c for c in sample_pack().charts}


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter("{http://www.w3.org/2000/svg}text")]


@pytest.mark.parametrize("key", ["sla.P1", "sla.P3", "nps", "outturn"])
def test_every_chart_is_an_accessible_image(key: str) -> None:
    chart = charts()[key]
    root = parse(render_svg(chart))
    assert root.get("role") == "img"
    title_id, desc_id = root.get("aria-labelledby", "").split()
    title = root.find("s:title", NS)
    desc = root.find("s:desc", NS)
    assert title is not None and title.get("id") == title_id and title.text == chart.title
    assert desc is not None and desc.get("id") == desc_id and desc.text == chart.description
    # title and desc come first, so assistive technology meets them before the drawing
    assert [child.tag.split("}")[1] for child in root][:2] == ["title", "desc"]
    assert re.fullmatch(r"0 0 \d+(\.\d+)? \d+(\.\d+)?", root.get("viewBox", ""))
    assert texts(root), "labels are <text>, not glyph paths"


def test_same_chart_same_bytes() -> None:
    for key, chart in charts().items():
        again = Chart.model_validate(chart.model_dump(mode="json"))
        assert render_svg(chart) == render_svg(again), key


def test_sla_chart_prints_met_share_and_target() -> None:
    chart = charts()["sla.P1"]
    root = parse(render_svg(chart))
    labels = texts(root)
    # every month's % met is printed on its bar, exactly as the figures rounded it
    for value in chart.series[0].values:
        assert f"{value.normalize():f}%" in labels
    assert "93.33%" in labels and "81.82%" in labels and "100%" in labels
    assert labels.count("Target 95%") == 2  # legend and the line's own label
    assert {"Jun", "2023"} <= set(labels)  # month labels wrap onto two lines when narrow
    bars = root.findall(".//s:rect[@data-series='Missed']", NS)
    assert [b.get("data-value") for b in bars] == [
        f"{v.normalize():f}" for v in chart.series[1].values if v
    ]
    # the dashed target line is at 95 on the 0–100 axis
    plot_lines = [
        ln
        for ln in root.iter("{http://www.w3.org/2000/svg}line")
        if ln.get("stroke-dasharray") == "6 3"
    ]
    y0 = (
        float(
            next(
                t.get("y") for t in root.iter("{http://www.w3.org/2000/svg}text") if t.text == "0%"
            )
        )
        - 4
    )
    y100 = (
        float(
            next(
                t.get("y")
                for t in root.iter("{http://www.w3.org/2000/svg}text")
                if t.text == "100%"
            )
        )
        - 4
    )
    target_y = float(plot_lines[-1].get("y1"))
    assert target_y == pytest.approx(y0 + (y100 - y0) * 0.95, abs=0.02)


def test_missed_is_hatched_not_only_coloured() -> None:
    root = parse(render_svg(charts()["sla.P2"]))
    missed = root.findall(".//s:rect[@data-series='Missed']", NS)
    assert missed and all(r.get("fill", "").startswith("url(#chart-sla-P2-fill-1)") for r in missed)
    pattern = root.find(".//s:pattern[@id='chart-sla-P2-fill-1']", NS)
    assert pattern is not None and pattern.find("s:path", NS) is not None


def test_line_chart_names_each_series_at_its_end_and_breaks_at_nulls() -> None:
    chart = Chart(
        key="nps.test",
        kind="line",
        title="NPS",
        description="NPS by month",
        categories=["Apr", "May", "Jun", "Jul"],
        series=[
            ChartSeries(
                name="Brent", values=[Decimal("40.5"), None, Decimal("-12.0"), Decimal("3.1")]
            ),
            ChartSeries(name="Lewisham", values=[Decimal(10), Decimal(11), Decimal(12), None]),
        ],
        unit="score",
        target=None,
    )
    root = parse(render_svg(chart))
    assert "Brent 3.1" in texts(root) and "Lewisham 12" in texts(root)
    lines = root.findall(".//s:polyline[@data-series='Brent']", NS)
    assert len(lines) == 1  # the lone April point has no line; Jun–Jul is one segment
    points = root.findall(".//*[@data-series='Brent'][@data-value]", NS)
    assert [p.get("data-value") for p in points] == ["40.5", "-12", "3.1"]
    assert "-20" in texts(root)  # the axis reaches below the lowest score
    shapes = {p.tag for p in root.findall(".//*[@data-value]", NS)}
    assert len(shapes) == 2  # two series, two marker shapes (not colour alone)


def test_outturn_bars_print_pounds_from_pence() -> None:
    chart = charts()["outturn"]
    labels = texts(parse(render_svg(chart)))
    assert "£1.79M" in labels  # budget 179,425,000 pence
    assert "£512k" in labels  # actuals 51,208,600 pence
    assert "£157k" in labels  # expenditure actuals £157,394
    assert money_compact(-4_000_000) == "-£40k"
    assert money(-4_890_000) == "-£48,900" and money(12_345) == "£123.45" and money(None) == "–"


def test_text_is_escaped() -> None:
    chart = charts()["nps"].model_copy(update={"title": 'Brent & "Lewisham" <test>'})
    root = parse(render_svg(chart))
    assert root.find("s:title", NS).text == 'Brent & "Lewisham" <test>'


def test_series_must_match_the_categories() -> None:
    chart = charts()["nps"]
    broken = chart.model_copy(update={"categories": chart.categories[:2]})
    with pytest.raises(ValueError, match="has 3 values for 2 categories"):
        render_svg(broken)


def _luminance(colour: str) -> float:
    def channel(c: int) -> float:
        v = c / 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4

    r, g, b = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * channel(r) + 0.7152 * channel(g) + 0.0722 * channel(b)


def test_palette_contrast_is_aa_on_white() -> None:
    for colour in [s.colour for s in STYLES] + [INK, MUTED]:
        ratio = (1.05) / (_luminance(colour) + 0.05)
        assert ratio >= 4.5, (colour, ratio)
    assert len({(s.pattern, s.marker) for s in STYLES}) == len(STYLES)


def test_ticks_are_plain_decimals() -> None:
    assert nice_ticks(Decimal(0), Decimal("53.5")) == [Decimal(v) for v in (0, 20, 40, 60)]
    assert [str(t) for t in nice_ticks(Decimal(-12), Decimal(41))] == ["-20", "0", "20", "40", "60"]
    assert [str(t) for t in nice_ticks(Decimal(0), Decimal("1.1"))] == [
        "0",
        "0.25",
        "0.5",
        "0.75",
        "1",
        "1.25",
    ]


def test_box_plot_can_be_read_back_to_its_statistics() -> None:
    plot = BoxPlot(
        key="cost-per-user",
        title="Cost per user",
        description="Peer distribution of cost per user",
        unit="pence",
        boxes=[
            BoxStats(label="2023", minimum=Decimal(41000), q1=Decimal(52000), median=Decimal(60500),
                     q3=Decimal(71000), maximum=Decimal(98000), own=Decimal(66000)),
            BoxStats(label="2024", minimum=Decimal(39000), q1=Decimal(50500), median=Decimal(58000),
                     q3=Decimal(69000), maximum=Decimal(91000)),
        ],
    )  # fmt: skip
    svg = box_plot(plot)
    assert svg == box_plot(plot)
    root = parse(svg)
    assert root.get("role") == "img" and root.find("s:title", NS).text == "Cost per user"
    for stats, group in zip(plot.boxes, root.findall(".//s:g[@class='box']", NS), strict=True):
        whisker = group.find("s:line[@class='whisker']", NS)
        # the scale, from the whisker's ends and the values they stand for
        x_min, x_max = float(whisker.get("x1")), float(whisker.get("x2"))
        assert Decimal(whisker.get("data-min")) == stats.minimum
        assert Decimal(whisker.get("data-max")) == stats.maximum

        def value_at(x: float) -> float:
            span = float(stats.maximum - stats.minimum)
            return float(stats.minimum) + (x - x_min) / (x_max - x_min) * span

        box = group.find("s:rect[@class='quartiles']", NS)
        q1_x = float(box.get("x"))
        q3_x = q1_x + float(box.get("width"))
        median = group.find("s:line[@class='median']", NS)
        assert value_at(q1_x) == pytest.approx(float(stats.q1), abs=20)
        assert value_at(q3_x) == pytest.approx(float(stats.q3), abs=20)
        assert value_at(float(median.get("x1"))) == pytest.approx(float(stats.median), abs=20)
        assert median.get("stroke") == INK
    own = root.findall(".//*[@class='own']", NS)
    assert [o.get("data-own") for o in own] == ["66000"]
    assert "£660" in texts(root)


def test_raw_statistics_print_at_two_places_and_end_labels_fit() -> None:
    """Seen in a demo picture: a float ratio printed with 15 digits beside the own value,
    and a trend's end labels cut off at the right edge."""
    own = Decimal("30.821682328672928")
    plot = BoxPlot(
        key="m",
        title="Users per ICT FTE",
        description="d",
        unit="ratio",
        boxes=[
            BoxStats(
                label="All",
                minimum=Decimal(21),
                q1=Decimal(35),
                median=Decimal("44.5"),
                q3=Decimal(54),
                maximum=Decimal(76),
                own=own,
            )
        ],
    )
    drawn = box_plot(plot)
    assert ">30.82<" in drawn and "30.821682328672928" in drawn  # label rounded, data exact
    chart = Chart(
        key="trend",
        kind="line",
        title="Users per ICT FTE across cycles",
        description="d",
        categories=["2018/19", "2019/20"],
        series=[
            ChartSeries(name="Peer median", values=[Decimal("43.6"), Decimal("44.4997624")]),
            ChartSeries(name="Your organisation", values=[Decimal(45), own]),
        ],
        unit="ratio",
        target=None,
    )
    root = ET.fromstring(render_svg(chart))
    width = float(root.get("viewBox").split()[2])
    for text in root.iter("{http://www.w3.org/2000/svg}text"):
        label = "".join(text.itertext())
        if label.startswith(("Peer median ", "Your organisation ")):
            assert float(text.get("x")) + 6.8 * len(label) <= width, label
    assert "Peer median 44.5" in render_svg(chart) and "Your organisation 30.82" in render_svg(
        chart
    )
