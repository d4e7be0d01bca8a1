"""Group views on thin data answer, never fail: no campaigns, campaigns without responses,
a headcount on a campaign in a group view."""

from __future__ import annotations

from sqlalchemy import text

from tests.metrics.survey_data import closed_campaign, orgs_and_cycles


def test_group_views_with_nothing_to_show(api, owner_engine):
    orgs, cycles = orgs_and_cycles(api, owner_engine, 2, [2019, 2020])
    who = api.auth("participant", [orgs[0]])
    base = "/api/v1/survey-results/group"
    empty = api.metrics.get(f"{base}/breakdowns?cycle=2020", headers=who)
    assert empty.status_code == 200 and empty.json()["items"] == []
    # closed campaigns without a single response
    for year in (2019, 2020):
        for org in orgs:
            closed_campaign(owner_engine, org, cycles[year], [])
            closed_campaign(owner_engine, org, cycles[year], [], kind="user_skills")
            closed_campaign(owner_engine, org, cycles[year], [], kind="sdma", threshold=5)
    for path in (
        "breakdowns?cycle=2020",
        "breakdowns?cycle=2019&cycle=2020",
        "factors?cycle=2020",
        "response-rates?cycle=2020",
        "sdma?cycle=2020",
        "skills?cycle=2020",
    ):
        got = api.metrics.get(f"{base}/{path}", headers=who)
        assert got.status_code == 200, (path, got.text)
        assert all(r.get("mean_overall_2dp") is None for r in got.json()["items"]), path
    factors = api.metrics.get(f"{base}/factors?cycle=2020", headers=who).json()["items"]
    assert len(factors) == 20 and all(f["suppressed"] for f in factors)
    rates = api.metrics.get(f"{base}/response-rates?cycle=2020", headers=who).json()
    assert rates["benchmark"]["suppressed"] is True  # 2 organisations, fewer than 5
    assert {r["text"] for r in rates["items"]} == {"0.0% (0 out of 50)"}


def test_a_group_view_weights_an_organisation_to_its_headcount(api, owner_engine):
    orgs, cycles = orgs_and_cycles(api, owner_engine, 5, [2020])
    ids = []
    for k, org in enumerate(orgs):
        answers = [{"attr.role": "Frontline or operational", "overall": 3 + k % 2}] * 12
        answers += [{"attr.role": "Senior manager", "overall": 6}] * 12
        ids.append(closed_campaign(owner_engine, org, cycles[2020], answers, users_in_scope=100))
    # The first organisation's headcount: 80 frontline staff and 20 senior managers.
    who = api.auth("participant", [orgs[0]])
    with owner_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO survey_headcounts (campaign_id, kind, attributes, total, uploaded_by)"
                " VALUES (:c, 'cells', '[\"role\"]', 100, 'test')"
            ),
            {"c": ids[0]},
        )
        for position, (role, n) in enumerate(
            [("Frontline or operational", 80), ("Senior manager", 20)]
        ):
            conn.execute(
                text(
                    "INSERT INTO survey_headcount_cells (campaign_id, position, cell, headcount)"
                    " VALUES (:c, :p, CAST(:cell AS jsonb), :n)"
                ),
                {"c": ids[0], "p": position, "cell": f'{{"role": "{role}"}}', "n": n},
            )
    body = api.metrics.get("/api/v1/survey-results/group/breakdowns?cycle=2020", headers=who).json()
    assert body["weighting"]["organisations_by_method"] == {"cell": 1, "raking": 0, "scope": 4}
    everyone = body["items"][0]
    # Unweighted: 60 frontline staff (organisations rate 3, 4, 3, 4, 3) and 60 managers (6):
    # (12 · 17 + 360) / 120 = 4.7. Organisation 1 weighs 80/12 per frontline respondent and
    # 20/12 per manager; the others 100/24 each (users in scope / responses):
    # (240 + 700 + 120 + 1200) / (80 + 200 + 20 + 200) = 2260 / 500 = 4.52.
    w_front = [80 / 12] + [100 / 24] * 4
    w_man = [20 / 12] + [100 / 24] * 4
    front = [3 + k % 2 for k in range(5)]
    num = sum(12 * wf * f for wf, f in zip(w_front, front, strict=True)) + sum(
        12 * wm * 6 for wm in w_man
    )
    den = sum(12 * wf for wf in w_front) + sum(12 * wm for wm in w_man)
    assert everyone["weighted_overall_mean_2dp"] == round(num / den, 2) == 4.52
    unweighted = (12 * sum(front) + 60 * 6) / 120
    assert everyone["mean_overall_2dp"] == round(unweighted, 2) == 4.7
