"""Survey group views (issue 15): breakdowns across the group with disclosure control, a
factor baseline pooled over earlier cycles, the response-rate benchmark, SDMA progress and
skills against the group; every expected figure worked out by hand here."""

from __future__ import annotations

import csv
import io
import math

from scipy import stats

from tests.factories import assert_problem
from tests.metrics.survey_data import closed_campaign, codes, orgs_and_cycles

# Devices per organisation (5 organisations, 20 responses each):
#                Laptop  Desktop  Smartphone  Tablet  Thin client
#   org 1          8       6         2          2        2
#   org 2          8       6         3          1        2
#   org 3          8       6         3          0        3
#   org 4          8       6         3          0        3
#   org 5          8       6         3          0        3
#   group         40      30        14          3       13
# Tablet: 3 responses from 2 organisations → primary suppression (under 10 and under 5
# organisations). The complement is the next smallest cell, Thin client (13): together
# 16 responses from all 5 organisations, 16 − 4 (org 1's share, the largest) = 12 ≥ 10.
# Smartphone (14) stays: 14 from 5 organisations, 14 − 3 = 11 ≥ 10.
DEVICES = {
    "Laptop": [8, 8, 8, 8, 8],
    "Desktop computer": [6, 6, 6, 6, 6],
    "Smartphone": [2, 3, 3, 3, 3],
    "Tablet": [2, 1, 0, 0, 0],
    "Thin client": [2, 2, 3, 3, 3],
}


def _overall(device: str, i: int) -> int:
    # Laptop alternates 6, 7 (mean 6.5); Desktop 5; Smartphone alternates 4, 5 (mean 4.5);
    # Tablet 1; Thin client 2.
    return {
        "Laptop": 6 + i % 2,
        "Desktop computer": 5,
        "Smartphone": 4 + i % 2,
        "Tablet": 1,
        "Thin client": 2,
    }[device]


def _device_answers(org_index: int) -> list[dict]:
    rows = []
    for device, counts in DEVICES.items():
        for i in range(counts[org_index]):
            # the smartphone alternation runs across organisations: 7 fours and 7 fives
            k = i + sum(DEVICES[device][:org_index])
            rows.append(
                {"attr.device_type": device, "overall": _overall(device, k), "improvement": 4}
            )
    return rows


def test_group_breakdown_by_device_with_a_suppressed_cell_and_its_complement(api, owner_engine):
    orgs, cycles = orgs_and_cycles(api, owner_engine, 5, [2020])
    for k, org in enumerate(orgs):
        closed_campaign(owner_engine, org, cycles[2020], _device_answers(k), users_in_scope=50)
    codes(owner_engine, cycles)
    who = api.auth("participant", [orgs[0]])
    got = api.metrics.get("/api/v1/survey-results/group/breakdowns?cycle=2020", headers=who)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["organisations"] == 5 and body["cycles"] == [2020]
    assert body["weighting"]["organisations_by_method"] == {"cell": 0, "raking": 0, "scope": 5}
    rows = body["items"]
    devices = [r for r in rows if r["attribute"] == "attr.device_type"]
    assert [(r["value"], r["n"], r["mean_overall_2dp"], r["suppressed"]) for r in devices] == [
        ("Laptop", 40, 6.5, False),
        ("Desktop computer", 30, 5.0, False),
        ("Smartphone", 14, 4.5, False),
        # hidden cells last, in label order (by size would say which is the smaller)
        ("Tablet", None, None, True),
        ("Thin client", None, None, True),
    ]
    hidden = [r for r in devices if r["suppressed"]]
    assert all(r["reason"].startswith("withheld for disclosure control") for r in hidden)
    assert all(r["threshold_met"] is None for r in hidden)
    assert all(r["weighted_overall_mean_2dp"] is None for r in hidden)
    assert all(r["threshold_met"] == "publication" for r in devices if not r["suppressed"])
    # Smartphone's interval by hand: 7 fours and 7 fives, mean 4.5, s = √(14·0.25/13),
    # t(0.975, 13) = 2.160369; no finite-population correction in a cell.
    smart = next(r for r in devices if r["value"] == "Smartphone")
    s = math.sqrt(14 * 0.25 / 13)
    half = 2.1603686564610127 * s / math.sqrt(14)
    assert (
        (smart["overall_ci_low_2dp"], smart["overall_ci_high_2dp"])
        == (
            round(4.5 - half, 2),
            round(4.5 + half, 2),
        )
        == (4.2, 4.8)
    )
    # Every organisation weighs users in scope / responses = 50 / 20 = 2.5: equal weights,
    # so weighted = unweighted and the effective sample size is n.
    assert smart["weighted_overall_mean_2dp"] == 4.5 and smart["weighted_overall_n_eff_1dp"] == 14.0
    assert (smart["weighted_overall_ci_low_2dp"], smart["weighted_overall_ci_high_2dp"]) == (
        4.2,
        4.8,
    )
    # The group row: 100 responses, mean (40·6.5 + 30·5 + 14·4.5 + 3·1 + 13·2)/100 = 5.02,
    # with the finite-population correction N = 5 × 50 = 250.
    everyone = rows[0]
    assert (everyone["attribute"], everyone["value"], everyone["n"]) == (
        "all",
        "All respondents",
        100,
    )
    assert everyone["mean_overall_2dp"] == 5.02
    values = [6.5 + 0.5 * (-1) ** (i + 1) for i in range(40)] + [5] * 30
    values += [4, 5] * 7 + [1] * 3 + [2] * 13
    mean = sum(values) / 100
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / 99)
    half = stats.t.ppf(0.975, 99) * sd / 10 * math.sqrt((250 - 100) / (250 - 1))
    assert (everyone["overall_ci_low_2dp"], everyone["overall_ci_high_2dp"]) == (
        round(mean - half, 2),
        round(mean + half, 2),
    )
    # The same table as CSV, same columns
    as_csv = api.metrics.get(
        "/api/v1/survey-results/group/breakdowns?cycle=2020&format=csv", headers=who
    )
    table = list(csv.reader(io.StringIO(as_csv.text)))
    assert table[0] == body["columns"] and len(table) == 1 + body["total"]


def test_pooled_cycles_withhold_a_cell_withheld_in_any_cycle(api, owner_engine):
    """Differencing the pooled view and one cycle's view must not give back the other
    cycle's hidden cell: in 2019 the Tablet cell is hidden, in 2020 it is shown, so the
    pooled Tablet cell is hidden too (and with it its 2019 complement)."""
    orgs, cycles = orgs_and_cycles(api, owner_engine, 5, [2019, 2020])
    for k, org in enumerate(orgs):
        closed_campaign(owner_engine, org, cycles[2019], _device_answers(k))
        big = [{"attr.device_type": "Tablet", "overall": 3}] * 4 + [
            {"attr.device_type": "Laptop", "overall": 6}
        ] * 16
        closed_campaign(owner_engine, org, cycles[2020], big)
    who = api.auth("participant", [orgs[0]])

    def cells(query: str) -> dict[str, dict]:
        got = api.metrics.get(f"/api/v1/survey-results/group/breakdowns?{query}", headers=who)
        assert got.status_code == 200, got.text
        return {r["value"]: r for r in got.json()["items"] if r["attribute"] == "attr.device_type"}

    assert cells("cycle=2020")["Tablet"]["n"] == 20
    assert cells("cycle=2019")["Tablet"]["suppressed"] is True
    pooled = cells("cycle=2019&cycle=2020")
    assert pooled["Tablet"]["scope"] == "2019+2020"
    assert (pooled["Tablet"]["suppressed"], pooled["Thin client"]["suppressed"]) == (True, True)
    assert "pooled cycles" in pooled["Tablet"]["reason"]
    assert (pooled["Laptop"]["n"], pooled["Laptop"]["mean_overall_2dp"]) == (120, 6.17)
    # 40 laptops in 2019 (mean 6.5) and 80 in 2020 (all 6): (260 + 480) / 120 = 6.1666…


def _factor_answers(sat: int, imp: int, n: int, s2: bool = False) -> list[dict]:
    row = {"S1.satisfaction": sat, "S1.importance": imp}
    if s2:
        row |= {"S2.satisfaction": 3, "S2.importance": 5}
    return [dict(row) for _ in range(n)]


def test_factor_baseline_pooled_over_two_earlier_cycles(api, owner_engine):
    orgs, cycles = orgs_and_cycles(api, owner_engine, 5, [2018, 2019, 2020])
    for org in orgs:
        # 2018: S1 satisfaction 4, importance 6; S2 rated by one person per organisation.
        closed_campaign(
            owner_engine,
            org,
            cycles[2018],
            _factor_answers(4, 6, 3) + _factor_answers(4, 6, 1, True),
        )
        # 2019: S1 satisfaction 5, importance 6; S2 by four per organisation.
        closed_campaign(owner_engine, org, cycles[2019], _factor_answers(5, 6, 4, True))
        # 2020: S1 satisfaction 6, importance 6.
        closed_campaign(owner_engine, org, cycles[2020], _factor_answers(6, 6, 4))
    who = api.auth("participant", [orgs[0]])
    got = api.metrics.get("/api/v1/survey-results/group/factors?cycle=2020", headers=who)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["baseline_cycles"] == [2018, 2019]
    s1, s2 = body["items"][0], body["items"][1]
    # Baseline S1: 20 ratings of 4 and 20 of 5 → satisfaction 4.5, importance 6,
    # gap −1.5, weight gap −1.5 × 6 / 7 = −1.2857 → −1.29.
    assert (s1["baseline_n_satisfaction"], s1["baseline_mean_satisfaction_2dp"]) == (40, 4.5)
    assert (s1["baseline_gap_2dp"], s1["baseline_weight_gap_2dp"]) == (-1.5, -1.29)
    # This cycle: 20 ratings of 6 and 6: gap 0; change 6 − 4.5 = 1.5; gap change 0 − (−1.5).
    assert (s1["n_satisfaction"], s1["mean_satisfaction_2dp"], s1["gap_2dp"]) == (20, 6.0, 0.0)
    assert (s1["change_satisfaction_2dp"], s1["change_gap_2dp"]) == (1.5, 1.5)
    # The baseline's interval: s = √(40 · 0.25 / 39), t(0.975, 39), correction with N the
    # users in scope of the ten pooled campaigns, 500.
    sd = math.sqrt(40 * 0.25 / 39)
    half = stats.t.ppf(0.975, 39) * sd / math.sqrt(40) * math.sqrt((500 - 40) / 499)
    assert (s1["baseline_satisfaction_ci_low_2dp"], s1["baseline_satisfaction_ci_high_2dp"]) == (
        round(4.5 - half, 2),
        round(4.5 + half, 2),
    )
    assert s1["threshold_met"] == "publication" and s1["baseline_suppressed"] is False
    # S2: 5 ratings in 2018 (withheld there), 20 in 2019. Pooled it would be 25, enough on
    # its own, but pooled − 2019 would give 2018's hidden figure back: the baseline is withheld.
    assert s2["baseline_suppressed"] is True and s2["baseline_mean_satisfaction_2dp"] is None
    assert s2["reason"].startswith("withheld")  # nobody rated S2 in 2020 either
    # An explicit baseline of one cycle
    got = api.metrics.get(
        "/api/v1/survey-results/group/factors?cycle=2020&baseline=2019", headers=who
    )
    s1 = got.json()["items"][0]
    assert (s1["baseline_n_satisfaction"], s1["baseline_mean_satisfaction_2dp"]) == (20, 5.0)
    assert got.json()["items"][1]["baseline_mean_satisfaction_2dp"] == 3.0


def test_a_baseline_needs_earlier_cycles(api, owner_engine):
    orgs, cycles = orgs_and_cycles(api, owner_engine, 1, [2019, 2020])
    closed_campaign(owner_engine, orgs[0], cycles[2019], _factor_answers(5, 6, 4))
    who = api.auth("participant", [orgs[0]])
    url = "/api/v1/survey-results/group/factors"
    problem = assert_problem(api.metrics.get(f"{url}?cycle=2019", headers=who), 422, "no_baseline")
    assert "no cycle before 2019 has closed user-satisfaction campaigns" in problem["detail"]
    problem = assert_problem(
        api.metrics.get(f"{url}?cycle=2019&baseline=2019", headers=who), 422, "invalid_baseline"
    )
    assert "2019 is not earlier than 2019" in problem["detail"]
    problem = assert_problem(
        api.metrics.get(f"{url}?cycle=2020&baseline=2018", headers=who), 404, "cycle_not_found"
    )
    problem = assert_problem(
        api.metrics.get(f"{url}?cycle=2031", headers=who), 404, "cycle_not_found"
    )


def _sdma(levels: list[int], n: int = 5) -> list[dict]:
    return [{f"M{i + 1}": levels[i] for i in range(9)} for _ in range(n)]


def test_sdma_progress_over_three_cycles(api, owner_engine):
    orgs, cycles = orgs_and_cycles(api, owner_engine, 2, [2018, 2019, 2020])
    mine, other = orgs
    # Five respondents a cycle; M1 answered 2,2,2,2,2 then 2,2,3,3,3 then 3,3,3,4,4:
    # means 2.0, 2.6, 3.4 → progress +0.6 and +0.8. The other areas sit at 3 throughout.
    m1 = {2018: [2, 2, 2, 2, 2], 2019: [2, 2, 3, 3, 3], 2020: [3, 3, 3, 4, 4]}
    for year, values in m1.items():
        answers = [{**_sdma([3] * 9, 1)[0], "M1": v} for v in values]
        closed_campaign(
            owner_engine, mine, cycles[year], answers, kind="sdma", users_in_scope=8, threshold=5
        )
        closed_campaign(
            owner_engine,
            other,
            cycles[year],
            _sdma([1] * 9),
            kind="sdma",
            users_in_scope=8,
            threshold=5,
        )
    codes(owner_engine, cycles)
    got = api.metrics.get(
        "/api/v1/survey-results/group/sdma?cycle=2020", headers=api.auth("participant", [mine])
    )
    assert got.status_code == 200, got.text
    rows = got.json()["items"]
    assert {r["yours"] for r in rows} == {True}  # no peer comparison: only our own rows
    m1_rows = [
        (r["cycle"], r["n"], r["mean_2dp"], r["change_2dp"]) for r in rows if r["area"] == "M1"
    ]
    assert m1_rows == [(2018, 5, 2.0, None), (2019, 5, 2.6, 0.6), (2020, 5, 3.4, 0.8)]
    overall = [(r["cycle"], r["mean_2dp"], r["change_2dp"]) for r in rows if r["area"] == "overall"]
    # overall = mean of the nine area means: (2.0 + 8·3)/9 = 2.89, (2.6 + 24)/9 = 2.96,
    # (3.4 + 24)/9 = 3.04; progress 0.0666… → 0.07 and 0.0888… → 0.09.
    assert overall == [(2018, 2.89, None), (2019, 2.96, 0.07), (2020, 3.04, 0.09)]
    # the interval of 2019's M1 by hand: values 2,2,3,3,3, mean 2.6, s² = 1.2/4 = 0.3,
    # t(0.975, 4) = 2.776445, correction N = 8: √(3/7)
    m1_2019 = next(r for r in rows if r["area"] == "M1" and r["cycle"] == 2019)
    half = 2.7764451051977987 * math.sqrt(0.3 / 5) * math.sqrt(3 / 7)
    assert (m1_2019["ci_low_2dp"], m1_2019["ci_high_2dp"]) == (
        round(2.6 - half, 2),
        round(2.6 + half, 2),
    )
    assert m1_2019["threshold_met"] == "internal"  # 5 answers: the internal threshold only
    # An admin sees both organisations by code; the other organisation's 5 answers are below
    # the publication threshold, so its rows are withheld for anyone else.
    admin = api.metrics.get(
        "/api/v1/survey-results/group/sdma?cycle=2020", headers=api.auth("admin")
    ).json()["items"]
    assert len({r["code"] for r in admin}) == 2
    assert all(r["suppressed"] and r["mean_2dp"] is None for r in admin)
    assert all(not str(r["code"]).isdigit() for r in admin)


def test_response_rate_benchmark_pooled_over_the_last_three_cycles(api, owner_engine):
    orgs, cycles = orgs_and_cycles(api, owner_engine, 5, [2017, 2018, 2019, 2020])
    # 100 users in scope each, so a rate in % is the number of responses.
    responses = {
        2017: [90, 90, 90, 90, 90],  # four cycles back: not pooled
        2018: [10, 20, 30, 40, 50],
        2019: [15, 25, 35, 45, 55],
        2020: [12, 22, 32, 42, 52],
    }
    for year, counts in responses.items():
        for org, n in zip(orgs, counts, strict=True):
            closed_campaign(
                owner_engine, org, cycles[year], [{"overall": 4}] * n, users_in_scope=100
            )
    codes(owner_engine, cycles)
    got = api.metrics.get(
        "/api/v1/survey-results/group/response-rates?cycle=2020",
        headers=api.auth("participant", [orgs[0]]),
    )
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["cycles"] == [2018, 2019, 2020]
    # 15 rates sorted: 10 12 15 20 22 25 30 32 35 40 42 45 50 52 55. Type 7: Q1 at position
    # 3.5 → (20 + 22)/2 = 21; median the 8th, 32; Q3 at 10.5 → (42 + 45)/2 = 43.5.
    # Pooled: 485 of 1,500 = 32.33…%.
    assert body["benchmark"] == {
        "n": 15,
        "organisations": 5,
        "lower_quartile": 21.0,
        "median": 32.0,
        "upper_quartile": 43.5,
        "pooled_percent": 32.3,
        "pooled_text": "32.3% (485 out of 1,500)",
        "unit": "%",
        "suppressed": False,
        "reason": None,
    }
    mine = [r for r in body["items"] if r["yours"]]
    assert [(r["cycle"], r["text"], r["adjusted_text"]) for r in mine] == [
        (2018, "10.0% (10 out of 100)", "10.0% (10 out of 100)"),
        (2019, "15.0% (15 out of 100)", "15.0% (15 out of 100)"),
        (2020, "12.0% (12 out of 100)", "12.0% (12 out of 100)"),
    ]
    assert len({r["code"] for r in mine}) == 1  # one label per organisation across cycles
    assert all(not r["code"].isdigit() for r in body["items"])
    met = {(r["responses"], r["threshold_met"]) for r in body["items"]}
    assert (12, "internal") in met and (32, "publication") in met


def _skills(level: int, n: int) -> list[dict]:
    return [{"L1": level, "L2": level, "L3": level, "P1": 3, "P2": 3} for _ in range(n)]


def test_skills_against_the_group_with_complementary_suppression(api, owner_engine):
    orgs, cycles = orgs_and_cycles(api, owner_engine, 6, [2020])
    levels = [1, 2, 3, 4, 5, 4]
    sizes = [3, 12, 12, 12, 12, 12]
    for org, level, n in zip(orgs, levels, sizes, strict=True):
        closed_campaign(
            owner_engine,
            org,
            cycles[2020],
            _skills(level, n),
            kind="user_skills",
            users_in_scope=30,
        )
    codes(owner_engine, cycles)

    def literacy(headers):
        got = api.metrics.get("/api/v1/survey-results/group/skills?cycle=2020", headers=headers)
        assert got.status_code == 200, got.text
        return [r for r in got.json()["items"] if r["area"] == "it_literacy"]

    rows = literacy(api.auth("participant", [orgs[1]]))
    group, *per_org = rows
    # The group: 63 respondents from 6 organisations (63 − 12 = 51 outside the largest);
    # literacy = (3·1 + 12·(2 + 3 + 4 + 5 + 4)) / 63 = 219/63 = 3.476… → 3.48.
    assert (group["code"], group["respondents"], group["mean_2dp"]) == (
        "All organisations",
        63,
        3.48,
    )
    # Its interval: each respondent's own mean is the organisation's level; t(0.975, 62),
    # correction N = 6 × 30 (30 in scope each: 12 responses is a 40% rate, publishable).
    values = [lv for lv, n in zip(levels, sizes, strict=True) for _ in range(n)]
    mean = sum(values) / 63
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / 62)
    half = stats.t.ppf(0.975, 62) * sd / math.sqrt(63) * math.sqrt((180 - 63) / 179)
    assert (group["ci_low_2dp"], group["ci_high_2dp"]) == (
        round(mean - half, 2),
        round(mean + half, 2),
    )
    # Organisation 1 (3 respondents) is withheld; the viewer's own row (organisation 2) is
    # shown and known to it, so it protects nobody: two more organisations are withheld
    # (3 + 12 = 15, only 3 outside the largest; 3 + 12 + 12 = 27, 15 outside: enough).
    shown = sorted((r["yours"], r["mean_2dp"]) for r in per_org if not r["suppressed"])
    assert len([r for r in per_org if r["suppressed"]]) == 3
    assert (True, 2.0) in shown and len(shown) == 3
    own = next(r for r in per_org if r["yours"])
    assert (own["group_mean_2dp"], own["difference_2dp"]) == (3.48, -1.48)  # 2 − 3.476…
    # An admin (no organisation of its own): organisation 1 and the next two are withheld.
    admin = literacy(api.auth("admin"))[1:]
    assert len([r for r in admin if r["suppressed"]]) == 3
