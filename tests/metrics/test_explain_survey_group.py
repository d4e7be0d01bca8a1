"""Explain the survey group views (issue #14 item 5): every cell of the group breakdowns
and every factor of the group factors (this cycle and the pooled baseline) links to an
explanation beside the rows; the explanation's sums alone recompute the served figures
(means, intervals, weighted means, effective sizes, gap, weight gap); a crawl shows sums
across organisations only, never an organisation's name, code or answers; withheld cells
say withheld and why only."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from scipy import stats
from sqlalchemy import text

from tests.factories import assert_problem
from tests.metrics.survey_data import closed_campaign, codes, orgs_and_cycles
from tests.metrics.test_explain_surveys import HOME, OFFICE, SECRET, F, M, _campaign
from tests.metrics.test_survey_group import _factor_answers
from tests.survey.conftest import staff

BASE = "/api/v1/survey-results/group"
SUM_PARTS = {"ratings", "sum", "sum_of_squares", "sum_w", "sum_wx", "sum_wx2", "sum_w2"}
CONSTANTS = {"t", "t_weighted", "fpc"}


def _half_up(x: float, places: int) -> float:
    return float(Decimal(repr(x)).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP))


def _measure(x: dict[str, Any], label: str, population: int | None) -> dict[str, Any]:
    """A measure's figures from its sums alone."""
    n, s1, s2 = (x[f"{label}.{p}"] for p in ("ratings", "sum", "sum_of_squares"))
    assert all(float(v).is_integer() for v in (n, s1, s2))  # counts and sums of integers
    n, s1, s2 = int(n), int(s1), int(s2)
    sw, swx, swx2, sw2 = (x[f"{label}.{p}"] for p in ("sum_w", "sum_wx", "sum_wx2", "sum_w2"))
    fpc = math.sqrt((population - n) / (population - 1)) if population else 1.0
    assert x[f"{label}.fpc"] == pytest.approx(fpc, rel=1e-12)
    assert x[f"{label}.t"] == pytest.approx(stats.t.ppf(0.975, n - 1), rel=1e-9)
    mean = s1 / n
    half = x[f"{label}.t"] * math.sqrt((s2 - s1 * s1 / n) / (n - 1)) / math.sqrt(n) * fpc
    mean_w = swx / sw
    n_eff = sw * sw / sw2
    assert x[f"{label}.t_weighted"] == pytest.approx(stats.t.ppf(0.975, n_eff - 1), rel=1e-9)
    var = max(swx2 / sw - mean_w**2, 0.0)
    half_w = x[f"{label}.t_weighted"] * math.sqrt(var / (n_eff - 1)) * fpc
    return {
        "n": n,
        "s1": s1,
        "mean": mean,
        "mean_2dp": float((Decimal(s1) / Decimal(n)).quantize(Decimal("0.01"), ROUND_HALF_UP)),
        "ci": (_half_up(mean - half, 2), _half_up(mean + half, 2)),
        "mean_w": mean_w,
        "weighted_2dp": _half_up(mean_w, 2),
        "weighted_ci": (_half_up(mean_w - half_w, 2), _half_up(mean_w + half_w, 2)),
        "n_eff_1dp": _half_up(n_eff, 1),
    }


def _check_items(exp: dict[str, Any]) -> dict[str, Any]:
    """Counts, sums and constants only; returns them by name."""
    for item in exp["items"]:
        assert item["role"] in ("response_count", "input", "constant"), item
        assert item["name"].rsplit(".", 1)[1] in SUM_PARTS | CONSTANTS, item
    return {i["name"]: i["value"] for i in exp["items"]}


def _withheld(exp: dict[str, Any]) -> None:
    assert exp["suppressed"] is True and exp["suppression_reason"].startswith(
        ("withheld", "baseline withheld")
    )
    assert (exp["items"], exp["figures"], exp["population"], exp["total"]) == ([], {}, None, 0)
    assert exp["threshold_met"] is None


def _names(api: Any, owner_engine: Any, orgs: list[int]) -> list[str]:
    """The organisations' names and codes: none may appear in a group explanation."""
    found = []
    for org in orgs:
        got = api.ingest.get(f"/api/v1/organisations/{org}", headers=api.auth("admin"))
        assert got.status_code == 200, got.text
        found.append(got.json()["name"])
    with owner_engine.connect() as conn:
        found += conn.execute(
            text("SELECT code FROM organisation_codes WHERE organisation_id = ANY(:o)"),
            {"o": orgs},
        ).scalars()
    return found


def test_group_breakdown_cells_recompute_from_their_explanations(api, owner_engine):
    orgs, cycles = orgs_and_cycles(api, owner_engine, 5, [2020])
    ids = []
    for k, org in enumerate(orgs):
        answers = [
            {"attr.role": "Frontline or operational", "overall": 3 + k % 2, "improvement": 4}
        ] * 12
        answers += [{"attr.role": "Senior manager", "overall": 6, "improvement": 5 - k % 2}] * 12
        if k == 0:  # a cell of two people in one organisation: withheld
            answers += [{"attr.role": "Contractor", "overall": 1, "improvement": 1}] * 2
        ids.append(closed_campaign(owner_engine, org, cycles[2020], answers, users_in_scope=100))
    codes(owner_engine, cycles)
    # The first organisation's headcount: 80 frontline staff and 20 senior managers.
    with owner_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO survey_headcounts (campaign_id, kind, attributes, total, uploaded_by)"
                " VALUES (:c, 'cells', '[\"role\"]', 102, 'test')"
            ),
            {"c": ids[0]},
        )
        for position, (role, n) in enumerate(
            [("Frontline or operational", 80), ("Senior manager", 20), ("Contractor", 2)]
        ):
            conn.execute(
                text(
                    "INSERT INTO survey_headcount_cells (campaign_id, position, cell, headcount)"
                    " VALUES (:c, :p, CAST(:cell AS jsonb), :n)"
                ),
                {"c": ids[0], "p": position, "cell": f'{{"role": "{role}"}}', "n": n},
            )
    who = api.auth("participant", [orgs[0]])
    got = api.metrics.get(f"{BASE}/breakdowns?cycle=2020", headers=who)
    assert got.status_code == 200, got.text
    body = got.json()
    links = body["explanations"]
    assert len(links) == 2 * len(body["items"])
    hidden = [r for r in body["items"] if r["suppressed"]]
    assert {r["value"] for r in hidden} >= {"Contractor"}
    secrets = _names(api, owner_engine, orgs)
    shown = 0
    for row in body["items"]:
        for m in ("overall", "improvement"):
            got = api.metrics.get(links[f"{row['attribute']}={row['value']}.{m}"], headers=who)
            assert got.status_code == 200, got.text
            for secret in secrets:
                assert secret not in got.text
            exp = got.json()
            assert (exp["attribute"], exp["value"], exp["measure"]) == (
                row["attribute"],
                row["value"],
                m,
            )
            if row["suppressed"]:
                _withheld(exp)
                assert exp["suppression_reason"] == row["reason"]
                continue
            shown += 1
            x = _check_items(exp)
            big_n = 500 if row["attribute"] == "all" else None
            assert exp["population"] == big_n
            f = _measure(x, m, big_n)
            assert f["n"] == row[f"n_{m}"] == exp["figures"][f"n_{m}"]
            assert f["mean_2dp"] == row[f"mean_{m}_2dp"]
            assert f["ci"] == (row[f"{m}_ci_low_2dp"], row[f"{m}_ci_high_2dp"])
            assert f["weighted_2dp"] == row[f"weighted_{m}_mean_2dp"]
            assert f["weighted_ci"] == (
                row[f"weighted_{m}_ci_low_2dp"],
                row[f"weighted_{m}_ci_high_2dp"],
            )
            assert f["n_eff_1dp"] == row[f"weighted_{m}_n_eff_1dp"]
            assert exp["threshold_met"] == "publication"
    assert shown >= 4
    everyone = api.metrics.get(links["all=All respondents.overall"], headers=who).json()
    x = _check_items(everyone)
    # Unweighted: 60 frontline (3, 4, 3, 4, 3 by organisation), 60 managers (6), 2 (1):
    # Σx = 12 · 17 + 360 + 2 = 566 over 122 ratings.
    assert (x["overall.ratings"], x["overall.sum"]) == (122, 566)
    assert everyone["figures"]["mean_overall_2dp"] == 4.64
    assert everyone["data_version"].startswith("campaigns ")
    assert everyone["weighting"]["organisations_by_method"]["cell"] == 1

    # A cell the view does not have: 404; a measure it does not serve: 422.
    path = "/api/v1/explain/survey-group-breakdown"
    missing = api.metrics.get(
        path,
        params={
            "cycle": 2020,
            "attribute": "attr.role",
            "value": "Astronaut",
            "measure": "overall",
        },
        headers=who,
    )
    assert_problem(missing, 404, "no_figure")
    assert "Astronaut" in missing.json()["detail"]
    bad = api.metrics.get(
        path,
        params={"cycle": 2020, "attribute": "all", "value": "All respondents", "measure": "S1"},
        headers=who,
    )
    assert bad.status_code == 422, bad.text
    # the group view's roles only: a partner key is refused as the view refuses it
    partner = api.metrics.get(
        links["all=All respondents.overall"], headers=api.auth("partner", [orgs[0]])
    )
    assert partner.status_code == 403, partner.text
    # CSV: the explanation's rows, the survey explanation's columns
    csv_text = api.metrics.get(links["all=All respondents.overall"] + "&format=csv", headers=who)
    assert csv_text.text.splitlines()[0].lstrip("\ufeff") == "role,name,label,value,unit,source"


def test_group_factors_recompute_this_cycle_and_the_baseline(api, owner_engine):
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
    body = api.metrics.get(f"{BASE}/factors?cycle=2020", headers=who).json()
    links = body["explanations"]
    assert len(links) == 40
    assert links["S1.baseline"].endswith("baseline=2018&baseline=2019&factor=S1&period=baseline")
    secrets = _names(api, owner_engine, orgs)
    rows = {r["factor"]: r for r in body["items"]}
    for name, href in links.items():
        factor, period = name.split(".")
        got = api.metrics.get(href, headers=who)
        assert got.status_code == 200, got.text
        for secret in secrets:
            assert secret not in got.text
        exp = got.json()
        row = rows[factor]
        hidden = row["suppressed"] if period == "cycle" else row["baseline_suppressed"]
        if hidden:
            _withheld(exp)
            continue
        x = _check_items(exp)
        p = "" if period == "cycle" else "baseline_"
        big_n = exp["population"]
        assert big_n == (250 if period == "cycle" else 500)
        sat = _measure(x, f"{factor}.satisfaction", big_n)
        imp = _measure(x, f"{factor}.importance", big_n)
        assert (sat["n"], sat["mean_2dp"]) == (
            row[f"{p}n_satisfaction"],
            row[f"{p}mean_satisfaction_2dp"],
        )
        assert sat["ci"] == (
            row[f"{p}satisfaction_ci_low_2dp"],
            row[f"{p}satisfaction_ci_high_2dp"],
        )
        assert imp["mean_2dp"] == row[f"{p}mean_importance_2dp"]
        # gap and weight gap from the exact means: (s_s n_i − s_i n_s) / (n_s n_i)
        gap = Decimal(sat["s1"]) / sat["n"] - Decimal(imp["s1"]) / imp["n"]
        weight_gap = gap * Decimal(imp["s1"]) / imp["n"] / 7
        q = Decimal("0.01")
        assert row[f"{p}gap_2dp"] == float(gap.quantize(q, ROUND_HALF_UP))
        assert row[f"{p}weight_gap_2dp"] == float(weight_gap.quantize(q, ROUND_HALF_UP))
        if period == "cycle":
            assert sat["weighted_2dp"] == row["weighted_mean_satisfaction_2dp"]
            assert sat["n_eff_1dp"] == row["weighted_satisfaction_n_eff_1dp"]
    s1 = api.metrics.get(links["S1.baseline"], headers=who).json()
    assert s1["cycles"] == [2018, 2019] and s1["figures"]["baseline_mean_satisfaction_2dp"] == 4.5
    s2 = api.metrics.get(links["S2.baseline"], headers=who).json()
    assert s2["suppressed"] is True  # withheld in 2018: the pooled figure would give it back
    bad = api.metrics.get(
        "/api/v1/explain/survey-group-factor",
        params={"cycle": 2020, "factor": "S21", "period": "cycle"},
        headers=who,
    )
    assert bad.status_code == 422, bad.text
    later = api.metrics.get(
        "/api/v1/explain/survey-group-factor",
        params={"cycle": 2019, "baseline": 2020, "factor": "S1", "period": "cycle"},
        headers=who,
    )
    assert_problem(later, 422, "invalid_baseline")


def test_weighted_table_rows_recompute_with_the_weighting_inputs(api, owner_engine, monkeypatch):
    campaign = _campaign(api, owner_engine, monkeypatch)
    cid, who = campaign["id"], staff(api, campaign)
    cells = [
        ({"role": M, "location": OFFICE}, 30),
        ({"role": M, "location": HOME}, 10),
        ({"role": F, "location": OFFICE}, 50),
        ({"role": F, "location": HOME}, 10),
    ]
    put = api.survey.put(
        f"/api/v1/campaigns/{cid}/headcount",
        json={"cells": [{"attributes": a, "headcount": n} for a, n in cells]},
        headers=who,
    )
    assert put.status_code == 200, put.text
    got = api.metrics.get(f"/api/v1/survey-results/campaigns/{cid}/weighted", headers=who)
    assert got.status_code == 200, got.text
    body = got.json()
    links = body["explanations"]
    assert len(links) == len(body["items"])
    shown = withheld = 0
    for row in body["items"]:
        key = (
            row["figure"]
            if row["attribute"] is None
            else (f"{row['attribute']}={row['value']}.{row['figure']}")
        )
        got = api.metrics.get(links[key], headers=who)
        assert got.status_code == 200, got.text
        assert SECRET not in got.text
        exp = got.json()
        if row["suppressed"]:
            withheld += 1
            assert exp["suppressed"] is True and exp["suppression_reason"] == row["reason"]
            assert (exp["items"], exp["figures"], exp["population"]) == ([], {}, None)
            continue
        if not row["n"] or row["n"] < 2:
            continue  # a factor nobody rated: nothing to recompute
        shown += 1
        x = {i["name"]: i["value"] for i in exp["items"]}
        big_n = 100 if row["attribute"] is None else None
        assert exp["population"] == big_n
        f = _measure(x, row["figure"], big_n)
        assert (f["n"], f["mean_2dp"], f["ci"]) == (
            row["n"],
            row["mean_2dp"],
            (row["ci_low_2dp"], row["ci_high_2dp"]),
        )
        assert (f["weighted_2dp"], f["weighted_ci"], f["n_eff_1dp"]) == (
            row["weighted_mean_2dp"],
            (row["weighted_ci_low_2dp"], row["weighted_ci_high_2dp"]),
            row["effective_n_1dp"],
        )
        heads = sorted(v for k, v in x.items() if k.startswith("headcount: "))
        assert heads == [10, 10, 30, 50]
        weights = {k: v for k, v in x.items() if k.startswith("weight: ")}
        assert weights, exp["items"]
    assert shown >= 3 and withheld >= 1
    overall = api.metrics.get(links["overall"], headers=who).json()
    w = {i["name"]: i["value"] for i in overall["items"]}
    # cell weighting: a cell's weight is its headcount over its responses, times the 21 of
    # 22 responses that stated role and location (the 22nd weighs 100 / 22). The empty
    # frontline/home cell (headcount 10) is merged into frontline/office: 60 over 10.
    assert w[f"weight: role = {F}, location = {OFFICE}"] == pytest.approx(60 / 10 * 21 / 22)
    assert w[f"weight: role = {M}, location = {OFFICE}"] == pytest.approx(30 / 6 * 21 / 22)
    assert w[f"weight: role = {M}, location = {HOME}"] == pytest.approx(10 / 5 * 21 / 22)
    assert w["weights not shown"] == 1  # the one response that stated neither
    assert "merged" in overall["weighting"]["merged"][0]
    assert overall["weighting"]["method"] == body["weighting"]["method"]
    # The publication view: no headcount or weight of the organisation's own
    public = api.metrics.get(links["overall"].replace("internal", "publication"), headers=who)
    assert public.status_code == 200, public.text
    assert not [i for i in public.json()["items"] if i["unit"] in ("people", "weight")]
    # Another organisation's staff: the campaign is not theirs to see (404, as the table)
    other = api.metrics.get(links["overall"], headers=api.auth("participant", [999999]))
    assert_problem(other, 404, "campaign_not_found")
    missing = api.metrics.get(
        "/api/v1/explain/survey-weighted",
        params={"campaign_id": cid, "figure": "S99.satisfaction"},
        headers=who,
    )
    assert_problem(missing, 404, "no_figure")
