"""The survey group views drawn (issue 12): each organisation's response rate labelled as
the table prints it ("6.4% (20 out of 313)") with the benchmark median, and one measure of
every factor this cycle beside the pooled earlier baseline. Values are read back from the
SVG and compared with the tables the same request parameters give."""

from __future__ import annotations

import xml.etree.ElementTree as ET

from tests.factories import assert_problem
from tests.metrics.survey_data import closed_campaign, codes, orgs_and_cycles
from tests.metrics.test_survey_group import _factor_answers

SVG = "{http://www.w3.org/2000/svg}"
G = "/api/v1/survey-results/group"


def _texts(doc: ET.Element) -> list[str]:
    return [t.text or "" for t in doc.iter(f"{SVG}text")]


def test_response_rates_drawn_with_the_tables_labels_and_benchmark(api, owner_engine):
    orgs, cycles = orgs_and_cycles(api, owner_engine, 5, [2019, 2020])
    # 2020: org 0 has 20 responses of 313 users in scope → 6.4% (20 out of 313).
    for year, counts in {2019: [30, 31, 32, 33, 34], 2020: [20, 40, 60, 80, 100]}.items():
        for org, n in zip(orgs, counts, strict=True):
            users = 313 if (year, n) == (2020, 20) else 200
            closed_campaign(
                owner_engine, org, cycles[year], [{"overall": 4}] * n, users_in_scope=users
            )
    codes(owner_engine, cycles)
    who = api.auth("participant", [orgs[0]])
    table = api.metrics.get(f"{G}/response-rates?cycle=2020", headers=who).json()
    r = api.metrics.get(f"{G}/charts/response-rates?cycle=2020", headers=who)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("image/svg+xml") and r.headers["etag"]
    doc = ET.fromstring(r.content)
    assert doc.get("role") == "img"
    assert doc.find(f"{SVG}title").text == "Survey response rates, 2020"
    assert "benchmark median (" in doc.find(f"{SVG}desc").text
    rows = [x for x in table["items"] if x["cycle"] == 2020]
    bars = [e for e in doc.iter(f"{SVG}rect") if e.get("class") == "rate"]
    assert [(b.get("data-label"), float(b.get("data-value"))) for b in bars] == [
        (x["code"], x["percent"]) for x in rows
    ]
    labels = [t.get("data-text") for t in doc.iter(f"{SVG}text") if t.get("data-text")]
    assert labels == [x["text"] for x in rows]
    assert "6.4% (20 out of 313)" in labels
    mine = next(x for x in rows if x["yours"])
    assert f"{mine['code']} (you)" in _texts(doc)
    assert f"Benchmark median {table['benchmark']['median']:g}%" in _texts(doc)
    assert not any("Borough" in t or "Council" in t for t in _texts(doc))  # codes only
    png = api.metrics.get(f"{G}/charts/response-rates?cycle=2020&format=png", headers=who)
    assert png.status_code == 200 and png.content.startswith(b"\x89PNG")


def test_response_rate_benchmark_of_too_few_organisations_is_withheld_on_the_chart(
    api, owner_engine
):
    orgs, cycles = orgs_and_cycles(api, owner_engine, 2, [2020])
    for org, n in zip(orgs, [12, 30], strict=True):
        closed_campaign(owner_engine, org, cycles[2020], [{"overall": 4}] * n)
    codes(owner_engine, cycles)
    who = api.auth("participant", [orgs[0]])
    table = api.metrics.get(f"{G}/response-rates?cycle=2020", headers=who).json()
    assert table["benchmark"]["suppressed"] is True
    doc = ET.fromstring(
        api.metrics.get(f"{G}/charts/response-rates?cycle=2020", headers=who).content
    )
    note = f"Benchmark withheld: {table['benchmark']['reason']}"
    assert note in _texts(doc) and note in doc.find(f"{SVG}desc").text
    assert not any(t.startswith("Benchmark median") for t in _texts(doc))
    # the rates themselves are in the table, so they are drawn
    assert len([e for e in doc.iter(f"{SVG}rect") if e.get("class") == "rate"]) == 2


def test_factors_this_cycle_beside_the_pooled_baseline(api, owner_engine):
    orgs, cycles = orgs_and_cycles(api, owner_engine, 5, [2018, 2019, 2020])
    for org in orgs:
        closed_campaign(
            owner_engine,
            org,
            cycles[2018],
            _factor_answers(4, 6, 3) + _factor_answers(4, 6, 1, True),
        )
        closed_campaign(owner_engine, org, cycles[2019], _factor_answers(5, 6, 4, True))
        closed_campaign(owner_engine, org, cycles[2020], _factor_answers(6, 6, 4))
    who = api.auth("participant", [orgs[0]])
    table = api.metrics.get(f"{G}/factors?cycle=2020", headers=who).json()["items"]
    for measure, column in (
        ("satisfaction", "mean_satisfaction_2dp"),
        ("weight_gap", "weight_gap_2dp"),
    ):
        r = api.metrics.get(f"{G}/charts/factors?cycle=2020&measure={measure}", headers=who)
        assert r.status_code == 200, r.text
        doc = ET.fromstring(r.content)
        drawn: dict[str, list[float]] = {}
        for e in doc.iter(f"{SVG}rect"):
            if e.get("data-series"):
                drawn.setdefault(e.get("data-series"), []).append(float(e.get("data-value")))
        # S1 in both; S2: nobody rated it in 2020 and its baseline is withheld: no bar
        assert drawn["2020"] == [x[column] for x in table if x[column] is not None]
        assert drawn["Baseline (2018, 2019)"] == [
            x[f"baseline_{column}"] for x in table if x[f"baseline_{column}"] is not None
        ]
        assert drawn["2020"] == ([6.0] if measure == "satisfaction" else [0.0])
        assert drawn["Baseline (2018, 2019)"] == ([4.5] if measure == "satisfaction" else [-1.29])
        desc = doc.find(f"{SVG}desc").text
        assert "baseline pooled over 2018, 2019" in desc
        assert "S2 baseline: withheld" in desc
    problem = assert_problem(
        api.metrics.get(f"{G}/charts/factors?cycle=2020&measure=mood", headers=who), 422
    )
    assert "measure" in str(problem)


def test_factors_of_a_group_too_small_draw_nothing_and_say_why(api, owner_engine):
    orgs, cycles = orgs_and_cycles(api, owner_engine, 1, [2019, 2020])
    closed_campaign(owner_engine, orgs[0], cycles[2019], _factor_answers(5, 6, 4))
    closed_campaign(owner_engine, orgs[0], cycles[2020], _factor_answers(6, 6, 4))
    who = api.auth("participant", [orgs[0]])
    table = api.metrics.get(f"{G}/factors?cycle=2020", headers=who).json()["items"]
    assert all(x["suppressed"] and x["baseline_suppressed"] for x in table)
    doc = ET.fromstring(api.metrics.get(f"{G}/charts/factors?cycle=2020", headers=who).content)
    assert "Statistics withheld" in _texts(doc)
    assert table[0]["reason"] in " ".join(_texts(doc))
    assert not list(doc.iter(f"{SVG}rect"))
