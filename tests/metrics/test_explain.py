"""Explain (issue #14 item 5): every figure of a participant's comparison links to an
explanation; the explanations alone recompute the figures; a crawl of them shows codes
only, never a name or another organisation's answers; a suppressed statistic's
explanation says so and discloses nothing more."""

from __future__ import annotations

import math
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest

from shared.catalogue.formula import evaluate, parse_formula
from tests.factories import accepted_submission, assert_problem, make_cycle, make_org, publish
from tests.ingest.test_tickets import HEADER, push
from tests.metrics.test_sla_reports import setup_org

RECENT = (date.today() - timedelta(days=30)).isoformat()
GOV = {
    "gov_itil": "certified",
    "gov_iso27001": "adopted",
    "gov_iso22301": "partially_adopted",
    "gov_cyber_essentials": "certified",
    "gov_iso20000": "not_adopted",
    "gov_prince2": "adopted",
}
# Distinctive raw answers (users 1013, 1021, ...), so a leak would show.
USERS = [1013, 1021, 1039, 1047, 1051, 1069, 1077]
TYPES = ["L", "L", "L", "L", "L", "M", "M"]


def type7(values: list[float], p: float) -> float:
    """Hyndman-Fan type 7, as the explanation states it."""
    xs = sorted(values)
    h = (len(xs) - 1) * p
    lo = math.floor(h)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (h - lo) * (xs[hi] - xs[lo])


def _cycle(api):
    cycle = make_cycle(api, 2021)
    orgs = []
    for k, (users, kind) in enumerate(zip(USERS, TYPES, strict=True)):
        org = make_org(api, type=kind, name=f"Secret Council {k}")
        estate = {"users": users, "ict_fte": 10 + k, "devices": 1500 + 7 * k, "workstations": 900}
        if k == 0:
            estate.update(GOV)
        accepted_submission(api, org["id"], cycle["id"], "estate", estate)
        accepted_submission(
            api,
            org["id"],
            cycle["id"],
            "cost",
            {"ict_spend": 2_000_003 + 1000 * k, "revenue_spend": 90_000_007 + 1000 * k},
        )
        orgs.append(org)
    api.deliver()
    publish(api, cycle["id"], RECENT)
    return orgs


def test_explanations_recompute_their_figures_and_show_codes_only(api):
    orgs = _cycle(api)
    me = orgs[0]
    who = api.auth("participant", [me["id"]])
    seen_values = seen_stats = 0
    texts = []
    for group in ("all", "type:L", "type:M"):
        comparison = api.metrics.get(
            "/api/v1/results/comparison",
            params={"organisation_id": me["id"], "cycle": 2021, "peer_group": group},
            headers=who,
        )
        assert comparison.status_code == 200, comparison.text
        links = comparison.json()["explanations"]
        for flat in comparison.json()["items"]:
            row = {**flat, **links[flat["metric_key"]]}
            if row["explain_value"] is not None:
                got = api.metrics.get(row["explain_value"], headers=who)
                assert got.status_code == 200, (row["explain_value"], got.text)
                texts.append(got.text)
                exp = got.json()
                assert exp["value"] == row["my_value"]
                # recompute from the explanation alone: its formula over its inputs (to
                # floating-point rounding: 100 × 11 / 18 may be computed either way round)
                env = {i["name"]: i["value"] for i in exp["items"]}
                again = evaluate(parse_formula(exp["formula"]), env)
                assert again == pytest.approx(exp["value"], rel=1e-15)
                assert exp["recomputed"] == again
                assert all(i["is_mine"] and i["submission_id"] for i in exp["items"])
                assert exp["computation_run"]["cycle_years"] == [2021]
                seen_values += 1
            got = api.metrics.get(row["explain_statistic"], headers=who)
            assert got.status_code == 200, (row["explain_statistic"], got.text)
            texts.append(got.text)
            exp = got.json()
            assert exp["suppressed"] == row["suppressed"]
            if exp["suppressed"]:
                # says so and why, and nothing more
                assert exp["suppression_reason"] == row["suppression_reason"]
                assert exp["items"] == [] and exp["member_codes"] == []
                assert [exp[k] for k in ("n", "median", "q1", "q3", "min", "max")] == [None] * 6
                continue
            values = [i["value"] for i in exp["items"]]
            assert len(values) == exp["n"] == row["n"]
            assert exp["member_codes"] == [i["name"] for i in exp["items"]]
            for p, key in ((0.25, "q1"), (0.5, "median"), (0.75, "q3")):
                assert exp[key] == pytest.approx(type7(values, p), rel=1e-12, abs=1e-12), key
                assert exp[key] == row[key]
            assert (exp["min"], exp["max"]) == (min(values), max(values))
            seen_stats += 1
    # 6 values of mine (in each of 3 groups' comparisons); 5 metrics with a peer value
    # in "all" (7 organisations) and "type:L" (5); "type:M" (2) and the governance index
    # (1) are suppressed
    assert (seen_values, seen_stats) == (18, 10)
    # the crawl: no other organisation's name, raw answer or submission
    crawl = "\n".join(texts)
    for k, org in enumerate(orgs):
        assert org["name"] not in crawl
        if k:
            assert str(USERS[k]) not in crawl and str(2_000_003 + 1000 * k) not in crawl
    assert str(USERS[0]) in crawl  # my own answers are there


def test_a_choice_input_shows_its_answer_and_points(api):
    orgs = _cycle(api)
    who = api.auth("participant", [orgs[0]["id"]])
    exp = api.metrics.get(
        "/api/v1/explain/metric-value",
        params={"organisation_id": orgs[0]["id"], "cycle": 2021, "metric": "governance_index"},
        headers=who,
    ).json()
    # (3 + 2 + 1 + 3 + 0 + 2) / 18 × 100
    assert exp["value"] == pytest.approx(100 * 11 / 18, rel=1e-15)
    by_name = {i["name"]: (i["raw_answer"], i["value"]) for i in exp["items"]}
    assert by_name["gov_itil"] == ("certified", 3.0)
    assert by_name["gov_iso20000"] == ("not_adopted", 0.0)
    assert exp["formula_source"] == "catalogue 2021, 2021.yaml"


def test_explanations_follow_the_results_access_rules(api):
    orgs = _cycle(api)
    other = api.auth("participant", [orgs[1]["id"]])
    params = {"organisation_id": orgs[0]["id"], "cycle": 2021, "metric": "users_per_ict_fte"}
    for path in ("/api/v1/explain/metric-value", "/api/v1/explain/benchmark"):
        assert_problem(api.metrics.get(path, params=params, headers=other), 403)
    none = api.metrics.get(
        "/api/v1/explain/metric-value",
        params={**params, "metric": "flexible_equipped_pct"},
        headers=api.auth("admin"),
    )
    assert_problem(none, 404, "no_figure")
    csv = api.metrics.get(
        "/api/v1/explain/benchmark",
        params={**params, "format": "csv"},
        headers=api.auth("participant", [orgs[0]["id"]]),
    )
    assert csv.status_code == 200 and csv.text.startswith("role,name,label,value")


# ------------------------------------------------------------------ SLA percentages


def test_sla_percentage_explained_by_its_ticket_counts(api):
    """DOMAIN.md's month: 1585 met and 1117 missed → 58.66 % (2702 tickets); plus two
    tickets resolved before they were logged, counted as neither."""
    org, _ = setup_org(api, share="95")
    lines = [HEADER]
    for i in range(1585 + 1117):
        resolved = "01/03/2021 10:00" if i < 1585 else "09/03/2021 17:00"
        lines.append(f"T{i},incident,P2,,Desk,Fixed,01/03/2021 09:00,{resolved},resolved\n")
    lines += [
        f"Q{i},incident,P2,,Desk,Fixed,02/03/2021 10:00,02/03/2021 09:00,resolved\n"
        for i in range(2)
    ]
    push(api, org, "".join(lines).encode())
    api.deliver()
    who = api.auth("participant", [org])
    got = api.metrics.get(
        "/api/v1/explain/sla-percentage",
        params={"organisation_id": org, "priority": "P2", "month": "2021-03-17"},
        headers=who,
    )
    assert got.status_code == 200, got.text
    exp = got.json()
    counts = {i["name"]: i["value"] for i in exp["items"]}
    assert (counts["met"], counts["missed"], counts["data_quality"]) == (1585, 1117, 2)
    assert counts["policy from 2020-01-01"] == 2702
    # recomputed from the explanation alone: 100 × met / (met + missed), 2 dp half up
    pct = (Decimal(100) * int(counts["met"]) / int(counts["met"] + counts["missed"])).quantize(
        Decimal("0.01"), ROUND_HALF_UP
    )
    assert float(pct) == exp["pct_met"] == 58.66
    report = api.metrics.get(
        "/api/v1/sla/monthly", params={"organisation_id": org, "priority": "P2"}, headers=who
    ).json()["items"][0]
    assert (exp["met"], exp["missed"], exp["total"], exp["pct_met"]) == (
        report["met"],
        report["missed"],
        report["total"],
        report["pct_met"],
    )
    assert exp["month"] == "2021-03-01" and exp["computation_run"]["kind"] == "sla_outcomes"
    assert "resolved 2021-03-01 to 2021-03-31" in exp["filter"]
    # another organisation's participant may not; a month without tickets has no figure
    assert_problem(
        api.metrics.get(
            "/api/v1/explain/sla-percentage",
            params={"organisation_id": org, "priority": "P2", "month": "2021-03-01"},
            headers=api.auth("participant", [org + 1]),
        ),
        403,
    )
    assert_problem(
        api.metrics.get(
            "/api/v1/explain/sla-percentage",
            params={"organisation_id": org, "priority": "P2", "month": "2021-04-01"},
            headers=who,
        ),
        404,
        "no_figure",
    )


# ------------------------------------------------------------------ trend points


def test_each_trend_point_links_to_its_explanations(api):
    orgs = _cycle(api)
    # an earlier cycle: five of the seven, users 2000 + k (ratios differ from 2021's)
    earlier = make_cycle(api, 2020)
    for k, org in enumerate(orgs[:5]):
        accepted_submission(
            api,
            org["id"],
            earlier["id"],
            "estate",
            {"users": 2000 + k, "ict_fte": 20, "devices": 1500, "workstations": 900},
        )
    api.deliver()
    publish(api, earlier["id"], RECENT)
    me = orgs[0]
    who = api.auth("participant", [me["id"]])
    got = api.metrics.get(
        "/api/v1/results/trends",
        params={
            "organisation_id": me["id"],
            "cycle": 2021,
            "metric": "users_per_ict_fte",
            "peer_group": "all",
        },
        headers=who,
    )
    assert got.status_code == 200, got.text
    body = got.json()
    points = {r["cycle_year"]: r for r in body["items"]}
    links = {e["cycle_year"]: e for e in body["explanations"]}
    assert sorted(points) == sorted(links) == [2020, 2021]
    for year, row in points.items():
        value = api.metrics.get(links[year]["explain_value"], headers=who)
        assert value.status_code == 200, value.text
        assert value.json()["value"] == row["my_value"]
        assert value.json()["cycle_year"] == year
        stat = api.metrics.get(links[year]["explain_statistic"], headers=who)
        assert stat.status_code == 200, stat.text
        exp = stat.json()
        assert (exp["n"], exp["median"], exp["q1"], exp["q3"]) == (
            row["n"],
            row["median"],
            row["q1"],
            row["q3"],
        )
        values = [i["value"] for i in exp["items"]]
        assert exp["median"] == pytest.approx(type7(values, 0.5), rel=1e-12)
    assert points[2020]["my_value"] == pytest.approx(2000 / 20) and points[2020]["n"] == 5


def test_a_cached_explanation_follows_the_data_version(api):
    """The benchmark explanation is served from the results cache: asked twice it is the
    same body; after a new accepted submission and its recompute it is the new one (an
    open cycle, seen by an admin)."""
    cycle = make_cycle(api, 2021)
    orgs = [make_org(api, type="L") for _ in range(6)]
    for k, org in enumerate(orgs[:5]):
        estate = {"users": USERS[k], "ict_fte": 10 + k, "devices": 1, "workstations": 1}
        accepted_submission(api, org["id"], cycle["id"], "estate", estate)
    api.deliver()
    who = api.auth("admin")
    params = {
        "organisation_id": orgs[0]["id"],
        "cycle": 2021,
        "metric": "users_per_ict_fte",
        "peer_group": "all",
    }
    first = api.metrics.get("/api/v1/explain/benchmark", params=params, headers=who)
    again = api.metrics.get("/api/v1/explain/benchmark", params=params, headers=who)
    assert first.status_code == again.status_code == 200, first.text
    assert first.content == again.content and first.json()["n"] == 5
    estate = {"users": 3000, "ict_fte": 30, "devices": 1, "workstations": 1}
    accepted_submission(api, orgs[5]["id"], cycle["id"], "estate", estate)
    api.deliver()
    after = api.metrics.get("/api/v1/explain/benchmark", params=params, headers=who).json()
    assert after["n"] == 6 and 100.0 in [i["value"] for i in after["items"]]
    assert after["data_version"] != first.json()["data_version"]
