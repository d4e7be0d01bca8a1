"""A campaign's confidence intervals, finite-population correction, two response rates,
two thresholds and weighted results (issue 15), each checked against a hand computation."""

from __future__ import annotations

import math
from fractions import Fraction

from scipy import stats

from tests.factories import assert_problem
from tests.survey.conftest import make_campaign, staff, upload
from tests.survey.test_headcount import add_responses

M, F = "Manager or team leader", "Frontline or operational"
OFFICE, HOME = "Main office", "Home"
# 22 responses: 6 managers at the office (overall 6, improvement 3), 5 managers at home
# (4, 4), 10 frontline staff at the office (3, 5), one who stated nothing (5, 2).
GROUPS = [
    ({"attr.role": M, "attr.location": OFFICE}, 6, 6, 3),
    ({"attr.role": M, "attr.location": HOME}, 5, 4, 4),
    ({"attr.role": F, "attr.location": OFFICE}, 10, 3, 5),
    ({}, 1, 5, 2),
]
HEADCOUNT = {
    "cells": [
        {"attributes": {"role": M, "location": OFFICE}, "headcount": 30},
        {"attributes": {"role": M, "location": HOME}, "headcount": 10},
        {"attributes": {"role": F, "location": OFFICE}, "headcount": 50},
        {"attributes": {"role": F, "location": HOME}, "headcount": 10},
    ]
}


def _campaign(api, owner_engine, monkeypatch):
    # The internal threshold is a setting, never below 5: this organisation uses 5.
    monkeypatch.setattr(api.settings, "survey_breakdown_threshold", 5)
    campaign = make_campaign(api, users_in_scope=100, suppression_threshold=5)
    rows = []
    for attrs, count, overall, improvement in GROUPS:
        rows += [attrs | {"overall": overall, "improvement": improvement}] * count
    add_responses(owner_engine, campaign, rows)
    return campaign


def _t_interval(values: list[int], population: int | None) -> tuple[float, float]:
    n = len(values)
    mean = sum(values) / n
    s2 = sum((v - mean) ** 2 for v in values) / (n - 1)
    fpc = math.sqrt((population - n) / (population - 1)) if population else 1.0
    half = stats.t.ppf(0.975, n - 1) * math.sqrt(s2 / n) * fpc
    return round(mean - half, 2), round(mean + half, 2)


def test_intervals_correction_and_both_response_rates(api, owner_engine, monkeypatch):
    campaign = _campaign(api, owner_engine, monkeypatch)
    cid = campaign["id"]
    addresses = [f"p{i}@council.gov.uk" for i in range(10)]
    assert upload(api, campaign, addresses).status_code == 200
    bounced = api.survey.post(
        f"/api/v1/campaigns/{cid}/bounces",
        json={"addresses": addresses[:3], "kind": "bounce"},
        headers=staff(api, campaign),
    )
    assert bounced.json()["matched"] == 3, bounced.text
    got = api.metrics.get(f"/api/v1/survey-results/campaigns/{cid}", headers=staff(api, campaign))
    assert got.status_code == 200, got.text
    body = got.json()
    # 22 of 100 in scope; 3 invitations bounced, so 22 of the 97 the survey could reach.
    assert body["response_rate"]["text"] == "22.0% (22 out of 100)"
    assert body["response_rate_adjusted"]["text"] == "22.7% (22 out of 97)"
    assert body["response_rate_adjusted"]["undeliverable"] == 3
    # Overall satisfaction: 6×6, 5×4, 10×3, 1×5; mean 91/22 = 4.136… → 4.14; t(0.975, 21)
    # and the correction √((100 − 22)/(100 − 1)) = √(78/99).
    overall = body["overall"]
    values = [6] * 6 + [4] * 5 + [3] * 10 + [5]
    assert overall["mean_overall_2dp"] == 4.14
    low, high = _t_interval(values, 100)
    assert (overall["overall_ci_low_2dp"], overall["overall_ci_high_2dp"]) == (low, high)
    # written out: s² = (411 − 91²/22)/21 = 1.647186…, se = √(s²/22) × √(78/99) = 0.24289…
    s2 = (411 - Fraction(91**2, 22)) / 21
    se = math.sqrt(float(s2) / 22) * math.sqrt(78 / 99)
    assert abs(se - 0.2428789) < 1e-7
    assert (low, high) == (
        round(91 / 22 - 2.0796138447 * se, 2),
        round(91 / 22 + 2.0796138447 * se, 2),
    )
    # Worse: improvement below 4, 6 + 1 = 7 of 22 = 31.82%; Wilson with n' = 22 / (78/99).
    assert overall["n_worse"] == 7 and overall["percent_worse_2dp"] == 31.82
    n_adj, p, z = 22 * 99 / 78, 7 / 22, 1.959963984540054
    centre = (p + z * z / (2 * n_adj)) / (1 + z * z / n_adj)
    half = z * math.sqrt(p * (1 - p) / n_adj + z * z / (4 * n_adj**2)) / (1 + z * z / n_adj)
    assert (overall["percent_worse_ci_low_2dp"], overall["percent_worse_ci_high_2dp"]) == (
        round(100 * (centre - half), 2),
        round(100 * (centre + half), 2),
    )
    # Thresholds: 22 responses meet the internal threshold (5) but the response rate (22%)
    # is under the publication rate (30%).
    assert body["thresholds"] == {
        "internal": 5,
        "publication_min_responses": 10,
        "publication_min_response_rate": 30.0,
        "met": "internal",
    }
    assert overall["threshold_met"] == "internal"
    assert body["confidence"]["population"] == 100
    # Breakdown cells carry intervals with no correction: managers at home all answered 4.
    cells = {(b["attribute"], b["value"]): b for b in body["breakdowns"]}
    managers = cells[("attr.role", M)]
    assert (managers["n"], managers["overall_ci_low_2dp"], managers["overall_ci_high_2dp"]) == (
        11,
        *_t_interval([6] * 6 + [4] * 5, None),
    )
    assert managers["threshold_met"] == "internal"  # 11 ≥ 10, but the rate is under 30%
    # Not stated (1) is under 5: hidden with the next smallest cell, frontline (10).
    assert cells[("attr.role", "Not stated")]["suppressed"] is True
    assert cells[("attr.role", F)]["suppressed"] is True
    assert cells[("attr.role", F)]["reason"] == cells[("attr.role", "Not stated")]["reason"]
    # What others would see: nothing, the response rate is under 30%.
    public = api.metrics.get(
        f"/api/v1/survey-results/campaigns/{cid}?audience=publication",
        headers=staff(api, campaign),
    ).json()
    assert public["audience"] == "publication"
    assert "below the publication threshold of 30%" in public["withheld"]
    assert public["overall"]["mean_overall_2dp"] is None
    assert all(b["suppressed"] for b in public["breakdowns"])
    assert all(f["mean_satisfaction_2dp"] is None for f in public["factors"])
    # A BI tool's reader key always gets the publication view.
    reader = api.auth("reader", [campaign["organisation_id"]])
    got = api.metrics.get(f"/api/v1/survey-results/campaigns/{cid}", headers=reader)
    assert got.json()["audience"] == "publication"


def test_weighted_beside_unweighted_by_hand(api, owner_engine, monkeypatch):
    campaign = _campaign(api, owner_engine, monkeypatch)
    cid = campaign["id"]
    url = f"/api/v1/survey-results/campaigns/{cid}/weighted"
    problem = assert_problem(
        api.metrics.get(url, headers=staff(api, campaign)), 409, "no_headcount"
    )
    assert f"PUT /api/v1/campaigns/{cid}/headcount" in problem["detail"]
    r = api.survey.put(
        f"/api/v1/campaigns/{cid}/headcount", json=HEADCOUNT, headers=staff(api, campaign)
    )
    assert r.status_code == 200, r.text
    got = api.metrics.get(url, headers=staff(api, campaign))
    assert got.status_code == 200, got.text
    body = got.json()
    # Cell weighting: frontline at home (headcount 10, no responses) is merged with frontline
    # at the office (its neighbour: same role), making 60 people for 10 responses. One
    # respondent stated nothing: weight N/n = 100/22; the 21 who did share the rest, so each
    # cell's weight is headcount / responses × 21/22:
    #   managers office 30/6 × 21/22 = 105/22, managers home 10/5 × 21/22 = 42/22,
    #   frontline 60/10 × 21/22 = 126/22, not stated 100/22.   Σw = 100.
    w = {
        "mo": Fraction(105, 22),
        "mh": Fraction(42, 22),
        "f": Fraction(126, 22),
        "ns": Fraction(100, 22),
    }
    counts = {"mo": 6, "mh": 5, "f": 10, "ns": 1}
    overall = {"mo": 6, "mh": 4, "f": 3, "ns": 5}
    sw = sum(w[k] * counts[k] for k in w)
    assert sw == 100
    swx = sum(w[k] * counts[k] * overall[k] for k in w)
    mean_w = swx / sw  # 8900/22 / 100 = 89/22 = 4.0454…
    assert mean_w == Fraction(89, 22)
    sw2 = sum(w[k] ** 2 * counts[k] for k in w)  # 243730/484
    n_eff = sw * sw / sw2  # 4840000/243730 = 19.858…
    weighting = body["weighting"]
    assert weighting["method"] == "cell"
    assert weighting["attributes"] == ["role", "location"]
    assert weighting["merged"] == [
        f"role = {F}, location = {HOME} (0 responses, headcount 10) merged with "
        f"role = {F}, location = {OFFICE}"
    ]
    assert weighting["effective_sample_size_1dp"] == round(float(n_eff), 1) == 19.9
    assert weighting["design_effect_2dp"] == round(22 / float(n_eff), 2) == 1.11
    row = body["items"][0]
    assert (row["figure"], row["attribute"], row["n"]) == ("overall", None, 22)
    assert (row["mean_2dp"], row["weighted_mean_2dp"]) == (4.14, 4.05)
    assert row["effective_n_1dp"] == 19.9
    # weighted interval: v_w = Σw x²/Σw − x̄_w², se = √(v_w/(n_eff − 1)) × √(78/99),
    # t with n_eff − 1 degrees of freedom
    swx2 = sum(w[k] * counts[k] * overall[k] ** 2 for k in w)
    v_w = float(swx2 / sw - mean_w**2)
    se = math.sqrt(v_w / (float(n_eff) - 1)) * math.sqrt(78 / 99)
    half = stats.t.ppf(0.975, float(n_eff) - 1) * se
    assert (row["weighted_ci_low_2dp"], row["weighted_ci_high_2dp"]) == (
        round(float(mean_w) - half, 2),
        round(float(mean_w) + half, 2),
    )
    assert (row["ci_low_2dp"], row["ci_high_2dp"]) == _t_interval(
        [6] * 6 + [4] * 5 + [3] * 10 + [5], 100
    )
    cells = {(r["figure"], r["attribute"], r["value"]): r for r in body["items"]}
    # Cells are withheld exactly where the unweighted breakdown is (role: not stated 1 and
    # frontline 10); managers shown: (6 × 105/22 × 6 + 5 × 42/22 × 4) / (6 × 105/22 + 5 × 42/22)
    managers = cells[("overall", "attr.role", M)]
    expected = Fraction(6 * 105 * 6 + 5 * 42 * 4, 6 * 105 + 5 * 42)
    assert managers["weighted_mean_2dp"] == round(float(expected), 2) == 5.5
    assert cells[("overall", "attr.role", F)]["suppressed"] is True
    assert cells[("overall", "attr.role", F)]["weighted_mean_2dp"] is None


def _rake(margins_role, margins_loc, cells, total):
    """An independent IPF on the four cells (role, location) → weight per respondent; the
    one who stated nothing keeps the average weight and is raked on nothing."""
    weights = {k: total / 22 for k in cells}
    for _ in range(500):
        for index, margins in ((0, margins_role), (1, margins_loc)):
            stated = sum(weights[k] * n for k, n in cells.items() if k[index] is not None)
            unstated = total - stated
            for value, target in margins.items():
                current = sum(weights[k] * n for k, n in cells.items() if k[index] == value)
                factor = target * (total - unstated) / total / current
                for k in cells:
                    if k[index] == value:
                        weights[k] *= factor
    return weights


def test_raking_when_only_margins_are_known(api, owner_engine, monkeypatch):
    campaign = _campaign(api, owner_engine, monkeypatch)
    cid = campaign["id"]
    margins = {
        "margins": [
            {"attribute": "role", "value": M, "headcount": 40},
            {"attribute": "role", "value": F, "headcount": 60},
            {"attribute": "location", "value": OFFICE, "headcount": 80},
            {"attribute": "location", "value": HOME, "headcount": 20},
        ]
    }
    r = api.survey.put(
        f"/api/v1/campaigns/{cid}/headcount", json=margins, headers=staff(api, campaign)
    )
    assert r.status_code == 200, r.text
    body = api.metrics.get(
        f"/api/v1/survey-results/campaigns/{cid}/weighted", headers=staff(api, campaign)
    ).json()
    assert body["weighting"]["method"] == "raking"
    assert "only each attribute's totals" in body["weighting"]["why"]
    assert body["weighting"]["iterations"] >= 2
    cells = {(M, OFFICE): 6, (M, HOME): 5, (F, OFFICE): 10, (None, None): 1}
    weights = _rake({M: 40, F: 60}, {OFFICE: 80, HOME: 20}, cells, 100)
    overall = {(M, OFFICE): 6, (M, HOME): 4, (F, OFFICE): 3, (None, None): 5}
    sw = sum(weights[k] * n for k, n in cells.items())
    mean = sum(weights[k] * n * overall[k] for k, n in cells.items()) / sw
    assert abs(sw - 100) < 1e-9
    assert body["items"][0]["weighted_mean_2dp"] == round(mean, 2)
    n_eff = sw**2 / sum(weights[k] ** 2 * n for k, n in cells.items())
    assert body["weighting"]["effective_sample_size_1dp"] == round(n_eff, 1)
