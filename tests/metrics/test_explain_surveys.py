"""Explain survey figures (issue #14 item 5): every figure of a campaign's results links
to its explanation; the explanation's inputs alone recompute the figure (mean, interval,
% worse with its Wilson interval, response rates, NPS); a crawl of them shows aggregates
only, never a respondent's answers or a small cell; withheld figures say so and why."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal

import pytest
from scipy import stats

from tests.factories import assert_problem, make_org
from tests.survey.conftest import make_campaign, staff, upload
from tests.survey.test_headcount import add_responses

M, F = "Manager or team leader", "Frontline or operational"
OFFICE, HOME = "Main office", "Home"
# 22 responses (as tests/metrics/test_survey_confidence.py): role/location, overall,
# improvement, S1 satisfaction, S1 importance, recommendation (0-10).
GROUPS = [
    ({"attr.role": M, "attr.location": OFFICE}, 6, 6, 3, 5, 7, 9),
    ({"attr.role": M, "attr.location": HOME}, 5, 4, 4, 4, 6, 7),
    ({"attr.role": F, "attr.location": OFFICE}, 10, 3, 5, 2, 7, 3),
    ({}, 1, 5, 2, None, 5, 10),
]
SECRET = "Remark 7316 by the one who stated nothing"


def _half_up(x: float, places: int) -> float:
    return float(Decimal(repr(x)).quantize(Decimal(1).scaleb(-places), ROUND_HALF_UP))


def _campaign(api, owner_engine, monkeypatch):
    monkeypatch.setattr(api.settings, "survey_breakdown_threshold", 5)
    campaign = make_campaign(api, users_in_scope=100, suppression_threshold=5)
    rows = []
    for attrs, count, overall, improvement, s1, i1, nps in GROUPS:
        answer = attrs | {"overall": overall, "improvement": improvement, "S1.importance": i1}
        answer |= {"nps": nps} | ({"S1.satisfaction": s1} if s1 is not None else {})
        if not attrs:
            answer["comment"] = SECRET
        rows += [answer] * count
    add_responses(owner_engine, campaign, rows)
    addresses = [f"p{i}@council.gov.uk" for i in range(10)]
    assert upload(api, campaign, addresses).status_code == 200
    bounced = api.survey.post(
        f"/api/v1/campaigns/{campaign['id']}/bounces",
        json={"addresses": addresses[:3], "kind": "bounce"},
        headers=staff(api, campaign),
    )
    assert bounced.json()["matched"] == 3, bounced.text
    return campaign


def _recompute(exp: dict) -> None:
    """The figure and its interval from the explanation's inputs alone."""
    x = {i["name"]: i["value"] for i in exp["items"]}
    if exp["figure"] == "response_rate":
        assert exp["value"] == _half_up(100 * x["responses"] / x["users_in_scope"], 1)
    elif exp["figure"] == "response_rate_adjusted":
        reach = x["users_in_scope"] - x["undeliverable"]
        assert exp["value"] == _half_up(100 * x["responses"] / reach, 1)
    elif exp["figure"] == "nps":
        assert x["ratings"] == x["promoters"] + x["passives"] + x["detractors"] == exp["n"]
        score = 100 * (x["promoters"] - x["detractors"]) / x["ratings"]
        assert exp["value"] == _half_up(score, 1)
    elif exp["figure"] == "mean":
        n, s1, s2 = x["n"], x["sum"], x["sum_of_squares"]
        assert exp["value"] == _half_up(s1 / n, 2)
        big_n = x["population"]
        fpc = math.sqrt((big_n - n) / (big_n - 1)) if big_n else 1.0
        assert x["fpc"] == pytest.approx(fpc, rel=1e-12)
        assert x["t"] == pytest.approx(stats.t.ppf(0.975, n - 1), rel=1e-9)
        half = x["t"] * math.sqrt((s2 - s1 * s1 / n) / (n - 1) / n) * x["fpc"]
        assert (exp["ci_low"], exp["ci_high"]) == (
            _half_up(s1 / n - half, 2),
            _half_up(s1 / n + half, 2),
        )
    else:
        k, n, z, f = x["n_worse"], x["n_improvement"], x["z"], x["fpc"]
        assert exp["value"] == _half_up(100 * k / n, 2)
        n_adj, p = n / (f * f), k / n
        centre = (p + z * z / (2 * n_adj)) / (1 + z * z / n_adj)
        half = z * math.sqrt(p * (1 - p) / n_adj + z * z / (4 * n_adj**2)) / (1 + z * z / n_adj)
        assert (exp["ci_low"], exp["ci_high"]) == (
            _half_up(100 * (centre - half), 2),
            _half_up(100 * (centre + half), 2),
        )


def test_survey_figures_recompute_from_their_explanations(api, owner_engine, monkeypatch):
    campaign = _campaign(api, owner_engine, monkeypatch)
    cid, who = campaign["id"], staff(api, campaign)
    got = api.metrics.get(f"/api/v1/survey-results/campaigns/{cid}", headers=who)
    assert got.status_code == 200, got.text
    body = got.json()
    links = body["explanations"]
    # 3 campaign figures, 3 overall ones, 20 factors × 2, 2 breakdowns' cells × 2 means
    cells = len(body["breakdowns"])
    assert len(links) == 3 + 3 + 40 + 2 * cells
    texts, shown, withheld = [], 0, 0
    for name, href in links.items():
        got = api.metrics.get(href, headers=who)
        texts.append(got.text)
        if name.startswith("factors.") and not name.startswith("factors.S1."):
            # no ratings of S2 … S20: no figure, said so by the results too
            assert got.status_code == 200, got.text
            assert got.json()["value"] is None and got.json()["n"] == 0
            continue
        assert got.status_code == 200, (name, got.text)
        exp = got.json()
        if exp["suppressed"]:
            withheld += 1
            assert exp["items"] == [] and exp["n"] is None and exp["value"] is None
            assert exp["ci_low"] is None and exp["suppression_reason"]
            continue
        _recompute(exp)
        shown += 1
    # the figures as the results serve them
    overall = body["overall"]
    by = lambda n: api.metrics.get(links[n], headers=who).json()  # noqa: E731
    assert by("overall.mean_overall")["value"] == overall["mean_overall_2dp"] == 4.14
    assert by("overall.percent_worse")["value"] == overall["percent_worse_2dp"] == 31.82
    assert by("response_rate")["value"] == 22.0
    assert by("response_rate_adjusted")["value"] == 22.7
    # 6 promoters (9) + 1 (10), 5 passives, 10 detractors: 100 × (7 − 10) / 22 = −13.6
    nps = by("nps")
    assert (nps["value"], nps["n"]) == (-13.6, 22)
    s1 = by("factors.S1.satisfaction")
    assert {i["name"]: i["value"] for i in s1["items"]}["n"] == 21  # one did not answer
    assert s1["value"] == body["factors"][0]["mean_satisfaction_2dp"]
    # Not stated (1) and frontline (10) of attr.role are withheld; location: Not stated (1)
    # with the next smallest, Home (5)
    cell = by(f"breakdowns.attr.role={M}.overall")
    assert cell["value"] == _half_up((6 * 6 + 5 * 4) / 11, 2) and cell["n"] == 11
    assert {i["name"]: i["value"] for i in cell["items"]}["population"] is None
    assert withheld == 8 and shown == 3 + 3 + 2 + 8
    crawl = "\n".join(texts)
    assert SECRET not in crawl and "Secret" not in crawl
    # publication view: nothing of this campaign is published (22% < 30%)
    public = api.metrics.get(
        links["overall.mean_overall"].replace("audience=internal", "audience=publication"),
        headers=who,
    ).json()
    assert public["suppressed"] and public["items"] == [] and public["value"] is None
    assert "below the publication threshold of 30%" in public["suppression_reason"]
    # the response rate is always shown: it is what the publication rule tests
    rate = api.metrics.get(
        links["response_rate"].replace("audience=internal", "audience=publication"), headers=who
    ).json()
    assert rate["value"] == 22.0 and not rate["suppressed"]


def test_survey_explanations_follow_the_results_access(api, owner_engine, monkeypatch):
    campaign = _campaign(api, owner_engine, monkeypatch)
    params = {"campaign_id": campaign["id"], "figure": "mean", "key": "overall"}
    other = api.auth("participant", [make_org(api)["id"]])
    assert_problem(
        api.metrics.get("/api/v1/explain/survey-figure", params=params, headers=other),
        404,
        "campaign_not_found",
    )
    who = staff(api, campaign)
    bad = api.metrics.get(
        "/api/v1/explain/survey-figure", params={**params, "key": "S99.satisfaction"}, headers=who
    )
    assert_problem(bad, 404, "no_figure")
    cell = api.metrics.get(
        "/api/v1/explain/survey-figure",
        params={**params, "attribute": "attr.role", "cell": "Chief"},
        headers=who,
    )
    assert_problem(cell, 404, "no_figure")
    # a reader key always gets the publication view, whatever it asks
    reader = api.auth("reader", [campaign["organisation_id"]])
    got = api.metrics.get(
        "/api/v1/explain/survey-figure", params={**params, "audience": "internal"}, headers=reader
    ).json()
    assert got["audience"] == "publication" and got["suppressed"] is True
    csv = api.metrics.get(
        "/api/v1/explain/survey-figure", params={**params, "format": "csv"}, headers=who
    )
    assert csv.status_code == 200 and csv.text.startswith("role,name,label,value,unit,source")
