"""Data quality per submission and organisation (issue #14 item 3), with exact values.

Estate, cycle 2021: 18 questions expected (users, required, and every estate question a
metric reads); 9 answered: completeness 9/18. Six rules can be checked and one fails
(service desk FTE 25 above ICT FTE 20): consistency 5/6. Seven metrics have a value and
none is flagged (no published cycle, no history): outliers 1. First submitted six days
after the deadline: timeliness 1 − 6/30 = 0.8. Score 25 × (0.5 + 0.8 + 5/6 + 1) = 78.33.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from tests.factories import accept, assert_problem, make_cycle, make_org, make_submission, submit

ANSWERS = {
    "users": 1000,
    "ict_fte": 20,
    "change_project_fte": 3,
    "devices": 1800,
    "workstations": 950,
    "monitors": 1700,
    "service_desk_fte": 25,
    "first_line_fte": 3,
    "first_line_technical_fte": 2,
}
TODAY = datetime.now(ZoneInfo("Europe/London")).date()


def test_score_and_parts_by_hand_then_returned_with_results(api):
    cycle = make_cycle(api, 2021, submission_deadline=(TODAY - timedelta(days=6)).isoformat())
    assert cycle["submission_deadline"] == (TODAY - timedelta(days=6)).isoformat()
    org = make_org(api)
    me = api.auth("participant", [org["id"]])
    sub = make_submission(api, org["id"], cycle["id"], "estate", ANSWERS)
    # a draft after the deadline is already late
    draft = api.ingest.get(
        "/api/v1/data-quality/submissions", params={"cycle": 2021}, headers=me
    ).json()["items"][0]
    assert (draft["timeliness"], draft["days_late"]) == (1 - 6 / 30, 6)
    accept(api, submit(api, sub, service_desk_within_ict="The desk is shared with a partner"))
    got = api.ingest.get("/api/v1/data-quality/submissions", params={"cycle": 2021}, headers=me)
    assert got.status_code == 200, got.text
    [row] = got.json()["items"]
    expected = {
        "completeness": 9 / 18,
        "timeliness": 1 - 6 / 30,
        "consistency": 5 / 6,
        "outliers": 1.0,
    }
    assert {k: row[k] for k in expected} == expected
    assert row["score"] == 25.0 * (9 / 18 + (1 - 6 / 30) + 5 / 6 + 1.0)
    assert round(row["score"], 2) == 78.33
    assert row["days_late"] == 6 and row["rules_failed"] == ["service_desk_within_ict"]
    assert row["missing_questions"] == [
        "equipped_users",
        "flex_daily_users",
        "flex_annual_users",
        "gov_itil",
        "gov_iso27001",
        "gov_iso22301",
        "gov_iso20000",
        "gov_prince2",
        "gov_cyber_essentials",
    ]
    per_org = api.ingest.get(
        "/api/v1/data-quality/organisations", params={"cycle": 2021}, headers=api.auth("admin")
    ).json()["items"]
    assert per_org == [
        {
            "organisation_id": org["id"],
            "cycle_year": 2021,
            "submissions": 1,
            "score": row["score"],
            **expected,
        }
    ]
    # returned with results (admins may read an unpublished cycle)
    api.deliver()
    comparison = api.metrics.get(
        "/api/v1/results/comparison",
        params={"organisation_id": org["id"], "cycle": 2021},
        headers=api.auth("admin"),
    ).json()
    assert comparison["data_quality"] == {"submissions": 1, "score": row["score"], **expected}
    # another organisation's participant sees none of it
    other = api.auth("participant", [org["id"] + 1])
    assert (
        api.ingest.get(
            "/api/v1/data-quality/submissions", params={"cycle": 2021}, headers=other
        ).json()["items"]
        == []
    )
    assert_problem(
        api.ingest.get(
            "/api/v1/data-quality/submissions",
            params={"organisation_id": org["id"]},
            headers=other,
        ),
        403,
    )


def test_no_deadline_and_nothing_answered_beyond_users(api):
    cycle = make_cycle(api, 2021)
    org = make_org(api)
    make_submission(api, org["id"], cycle["id"], "estate", {"users": 10})
    [row] = api.ingest.get("/api/v1/data-quality/submissions", headers=api.auth("admin")).json()[
        "items"
    ]
    # 1 of 18 answered; no rule could be checked; no metric has a value; on time
    assert (row["completeness"], row["timeliness"], row["consistency"], row["outliers"]) == (
        1 / 18,
        1.0,
        1.0,
        1.0,
    )
    assert row["score"] == 25.0 * (1 / 18 + 1.0 + 1.0 + 1.0)
