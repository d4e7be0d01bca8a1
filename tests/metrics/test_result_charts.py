"""Result charts (box plot, ranked bars, trends) drawn from the statistics the tables show:
the drawn quartiles, read back from the SVG's coordinates, are the table's; a suppressed
group draws nothing and says why; the results' access rules apply; PNG too."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from tests.factories import assert_problem
from tests.metrics.test_odata import basic, feed  # noqa: F401  (the data set fixture)

pytestmark = pytest.mark.xdist_group("odata")

SVG = "{http://www.w3.org/2000/svg}"
R = "/api/v1/results"


def _params(feed, **extra):  # noqa: F811
    return {"organisation_id": feed["me"], "cycle": 2020, "metric": "users_per_ict_fte", **extra}


def _scale(doc: ET.Element) -> tuple[float, float]:
    """Value per x unit and the x of value 0, from the axis's labelled tick lines."""
    ticks = []
    for t in doc.iter(f"{SVG}text"):
        try:
            value = float((t.text or "").replace(",", ""))
        except ValueError:
            continue
        if t.get("text-anchor") == "middle":
            ticks.append((float(t.get("x")), value))
    (x0, v0), (x1, v1) = ticks[0], ticks[-1]
    per = (v1 - v0) / (x1 - x0)
    return per, x0 - v0 / per


def test_box_plot_quartiles_read_back_from_the_drawing_are_the_tables(feed):  # noqa: F811
    api = feed["api"]
    headers = basic(feed["key"])
    table = api.metrics.get(f"{R}/distribution", params=_params(feed), headers=headers).json()
    r = api.metrics.get(f"{R}/charts/distribution", params=_params(feed), headers=headers)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("image/svg+xml") and r.headers["etag"]
    doc = ET.fromstring(r.content)
    assert doc.get("role") == "img"
    assert "Users per ICT FTE" in doc.find(f"{SVG}title").text
    assert f"median {table['median']}" in doc.find(f"{SVG}desc").text
    box = next(doc.iter(f"{SVG}rect"), None)
    quartiles = next(e for e in doc.iter(f"{SVG}rect") if e.get("class") == "quartiles")
    median = next(e for e in doc.iter(f"{SVG}line") if e.get("class") == "median")
    whisker = next(e for e in doc.iter(f"{SVG}line") if e.get("class") == "whisker")
    assert box is not None
    # the statistics the drawing says it stands for
    assert float(quartiles.get("data-q1")) == table["q1"]
    assert float(quartiles.get("data-q3")) == table["q3"]
    assert float(median.get("data-median")) == table["median"]
    assert float(whisker.get("data-min")) == table["min"]
    assert float(whisker.get("data-max")) == table["max"]
    # and where they are drawn, read back through the axis
    per, zero = _scale(doc)

    def value(x: str | float) -> float:
        return (float(x) - zero) * per

    tolerance = abs(per) * 0.02  # coordinates are written to 0.01 of a unit
    left = float(quartiles.get("x"))
    assert value(left) == pytest.approx(table["q1"], abs=tolerance)
    assert value(left + float(quartiles.get("width"))) == pytest.approx(table["q3"], abs=tolerance)
    assert value(median.get("x1")) == pytest.approx(table["median"], abs=tolerance)
    assert value(whisker.get("x1")) == pytest.approx(table["min"], abs=tolerance)
    assert value(whisker.get("x2")) == pytest.approx(table["max"], abs=tolerance)
    own = next(e for e in doc.iter() if e.get("class") == "own")
    assert float(own.get("data-own")) == table["my_value"]


def test_ranked_bars_and_trends_draw_the_tables_figures(feed):  # noqa: F811
    api = feed["api"]
    headers = basic(feed["key"])
    table = api.metrics.get(f"{R}/distribution", params=_params(feed), headers=headers).json()
    r = api.metrics.get(
        f"{R}/charts/distribution", params=_params(feed, kind="ranked"), headers=headers
    )
    doc = ET.fromstring(r.content)
    bars = [e for e in doc.iter(f"{SVG}rect") if e.get("data-value")]
    assert [float(b.get("data-value")) for b in bars] == [i["value"] for i in table["items"]]
    labels = {t.text for t in doc.iter(f"{SVG}text")}
    mine = next(i for i in table["items"] if i["is_mine"])
    # a label wider than its bar breaks onto two lines: the code, then "(you)"
    assert mine["peer_code"] in labels and "(you)" in labels
    assert not any("Borough" in (t or "") for t in labels)  # codes, never names

    trend = api.metrics.get(f"{R}/trends", params=_params(feed), headers=headers).json()["items"]
    r = api.metrics.get(f"{R}/charts/trends", params=_params(feed), headers=headers)
    doc = ET.fromstring(r.content)
    points = {}
    for e in doc.iter():
        if e.get("data-value") and e.get("data-series"):
            points.setdefault(e.get("data-series"), []).append(float(e.get("data-value")))
    assert points["Peer median"] == [t["median"] for t in trend]
    assert points["Your organisation"] == [t["my_value"] for t in trend]


def test_a_suppressed_group_draws_nothing_and_says_why(feed):  # noqa: F811
    api = feed["api"]
    headers = basic(feed["key"])
    # four district councils (type D): fewer than five organisations
    params = _params(feed, peer_group="type:D")
    table = api.metrics.get(f"{R}/distribution", params=params, headers=headers).json()
    assert table["suppressed"] is True
    for kind in ("box", "ranked"):
        r = api.metrics.get(f"{R}/charts/distribution", params={**params, "kind": kind},
                            headers=headers)  # fmt: skip
        doc = ET.fromstring(r.content)
        texts = [t.text for t in doc.iter(f"{SVG}text")]
        assert "Statistics withheld" in texts
        assert table["suppression_reason"] in texts
        assert not [e for e in doc.iter(f"{SVG}rect")]
        assert not [e for e in doc.iter() if e.get("data-value") or e.get("data-q1")]
        assert table["suppression_reason"] in doc.find(f"{SVG}desc").text


def test_png_and_the_results_access_rules(feed):  # noqa: F811
    api = feed["api"]
    headers = basic(feed["key"])
    png = api.metrics.get(
        f"{R}/charts/distribution", params=_params(feed, format="png"), headers=headers
    )
    assert png.status_code == 200
    assert png.headers["content-type"] == "image/png" and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    again = api.metrics.get(
        f"{R}/charts/distribution",
        params=_params(feed, format="png"),
        headers={**headers, "If-None-Match": png.headers["etag"]},
    )
    assert again.status_code == 304
    other = feed["orgs"][1]["id"]
    assert_problem(
        api.metrics.get(
            f"{R}/charts/distribution",
            params=_params(feed, organisation_id=other),
            headers=headers,
        ),
        403,
        "organisation_forbidden",
    )
    assert_problem(
        api.metrics.get(f"{R}/charts/trends", params=_params(feed, cycle=2018), headers=headers),
        403,
        "access_expired",
    )


def test_survey_charts_draw_the_campaigns_tables(feed):  # noqa: F811
    api = feed["api"]
    headers = basic(feed["key"])
    base = "/api/v1/survey-results/campaigns/1"
    factors = api.metrics.get(f"{base}/factors", headers=headers).json()["items"]
    r = api.metrics.get(f"{base}/charts/factors", headers=headers)
    assert r.status_code == 200, r.text
    doc = ET.fromstring(r.content)
    drawn: dict[str, list[float]] = {}
    for e in doc.iter(f"{SVG}rect"):
        if e.get("data-series"):
            drawn.setdefault(e.get("data-series"), []).append(float(e.get("data-value")))
    assert drawn["Satisfaction"] == [f["mean_satisfaction_2dp"] for f in factors]
    assert drawn["Importance"] == [f["mean_importance_2dp"] for f in factors]
    assert drawn["Weight gap"] == [f["weight_gap_2dp"] for f in factors]

    cells = api.metrics.get(f"{base}/breakdowns", headers=headers).json()["items"]
    device = [c for c in cells if c["attribute"] == "attr.device_type"]
    r = api.metrics.get(
        f"{base}/charts/breakdowns", params={"attribute": "attr.device_type"}, headers=headers
    )
    doc = ET.fromstring(r.content)
    bars = [float(e.get("data-value")) for e in doc.iter(f"{SVG}rect") if e.get("data-value")]
    assert bars == [c["mean_overall_2dp"] for c in device if not c["suppressed"]]
    # the location breakdown has a cell too small to show: a dash, named with its reason
    r = api.metrics.get(
        f"{base}/charts/breakdowns", params={"attribute": "attr.location"}, headers=headers
    )
    doc = ET.fromstring(r.content)
    boat = next(c for c in cells if c["value"] == "Boat")
    assert (
        boat["suppressed"] and f"Boat: withheld ({boat['reason']})" in doc.find(f"{SVG}desc").text
    )
    assert "Boat" in [t.text for t in doc.iter(f"{SVG}text")]
    assert_problem(
        api.metrics.get(
            f"{base}/charts/breakdowns", params={"attribute": "attr.shoe_size"}, headers=headers
        ),
        422,
        "unknown_attribute",
    )
    # another organisation's campaign is not found, as for its tables
    other = api.metrics.get("/api/v1/survey-results/campaigns/2/charts/factors", headers=headers)
    assert_problem(other, 404, "campaign_not_found")
