"""A far outlier left out to keep a chart's scale readable is said on the chart ("1 high
value not shown"), with the rule in the description; the count is right; the reader's own
value is always drawn; quartiles still read back exactly."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from decimal import Decimal

from services.metrics.benchmark import pictures
from services.metrics.benchmark.service import PeerGroup
from services.metrics.charts.outliers import clip

SVG = "{http://www.w3.org/2000/svg}"
D = Decimal


def test_the_rule_is_three_iqrs_beyond_the_quartiles() -> None:
    # Q1 10, Q3 20: IQR 10, fences -20 and 50. 50 itself is drawn; 50.01 is not.
    cut = clip([D(-21), D(-20), D(12), D(50), D("50.01"), D(400)], D(10), D(20))
    assert (cut.hidden_low, cut.hidden_high) == (1, 2)
    assert cut.shown == (1, 2, 3)
    assert cut.note() == "1 low value and 2 high values not shown"
    assert "below -20 or above 50" in cut.rule()
    assert clip([D(1), D(2)], D(1), D(2)).note() is None
    # equal quartiles: nothing is "far"
    assert clip([D(5), D(5), D(900)], D(5), D(5)).hidden == 0
    # the reader's own value is never left out
    assert clip([D(1), D(2), D(400)], D(1), D(2), keep=[2]).hidden == 0


def _data(values: list[float], mine: int, q1: float, q3: float) -> dict:
    rows = [
        {"peer_code": f"P{i:02d}", "value": v, "is_mine": i == mine}
        for i, v in sorted(enumerate(values), key=lambda t: t[1])
    ]
    return {
        "metric_name": "Users per ICT FTE",
        "unit": "users",
        "n": len(values),
        "min": min(values),
        "q1": q1,
        "median": sorted(values)[len(values) // 2],
        "q3": q3,
        "max": max(values),
        "my_value": values[mine],
        "rows": rows,
    }


def _group() -> PeerGroup:
    return PeerGroup(key="all")


VALUES = [40.0, 42.0, 45.0, 47.0, 50.0, 52.0, 55.0, 900.0]  # Q1 44.25, Q3 52.75 (type 7)


def test_box_plot_says_one_high_value_not_shown_and_ends_its_whisker_at_the_last_drawn() -> None:
    data = _data(VALUES, mine=1, q1=44.25, q3=52.75)
    doc = ET.fromstring(pictures._box("box-x", "Users per ICT FTE, 2020", data, _group()))
    notes = [t.text for t in doc.iter(f"{SVG}text") if t.get("class") == "note"]
    assert notes == ["1 high value not shown"]
    assert "1 high value not shown: values beyond 3 interquartile ranges" in (
        doc.find(f"{SVG}desc").text
    )
    whisker = next(e for e in doc.iter(f"{SVG}line") if e.get("class") == "whisker")
    assert whisker.get("data-max") == "900" and whisker.get("data-whisker-high") == "55"
    assert whisker.get("data-whisker-low") is None
    quartiles = next(e for e in doc.iter(f"{SVG}rect") if e.get("class") == "quartiles")
    assert (quartiles.get("data-q1"), quartiles.get("data-q3")) == ("44.25", "52.75")
    # the scale ends near the drawn values, not at 900: every tick label is at most 60
    ticks = [float(t.text) for t in doc.iter(f"{SVG}text") if (t.text or "").isdigit()]
    assert max(ticks) <= 60


def test_ranked_bars_leave_out_the_far_value_and_say_so_but_keep_your_own() -> None:
    data = _data(VALUES, mine=1, q1=44.25, q3=52.75)
    doc = ET.fromstring(pictures._ranked("ranked-x", "Users per ICT FTE, 2020", data))
    bars = [float(e.get("data-value")) for e in doc.iter(f"{SVG}rect") if e.get("data-value")]
    assert bars == sorted(VALUES)[:-1]
    assert [t.text for t in doc.iter(f"{SVG}text") if t.get("class") == "note"] == [
        "1 high value not shown"
    ]
    # your own value far out: drawn, and nothing is said to be left out
    mine_far = _data(VALUES, mine=7, q1=44.25, q3=52.75)
    doc = ET.fromstring(pictures._ranked("ranked-y", "Users per ICT FTE, 2020", mine_far))
    bars = [float(e.get("data-value")) for e in doc.iter(f"{SVG}rect") if e.get("data-value")]
    assert 900.0 in bars and len(bars) == len(VALUES)
    assert not [t for t in doc.iter(f"{SVG}text") if t.get("class") == "note"]


def test_nothing_far_nothing_said() -> None:
    data = _data([40.0, 42.0, 45.0, 47.0, 50.0], mine=0, q1=42.0, q3=47.0)
    doc = ET.fromstring(pictures._box("box-z", "t", data, _group()))
    assert not [t for t in doc.iter(f"{SVG}text") if t.get("class") == "note"]
    assert "not shown" not in doc.find(f"{SVG}desc").text
