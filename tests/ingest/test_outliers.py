"""Outliers on save and on submit (issue #14 item 1), with hand-computed numbers.

Peers (type L, cycle 2020, published): users / ICT FTE = 40, 42, 44, 46, 48, 50.
median 45; absolute deviations 5, 3, 1, 1, 3, 5, so MAD = 3; Q1 (type 7, position 1.25)
42.5, Q3 (position 3.75) 47.5, IQR 5; far fences 42.5 − 15 = 27.5 and 47.5 + 15 = 62.5.

- x = 60: z = 0.6745 × 15 / 3 = 3.3725: not flagged; inside the fences.
- x = 62: z = 0.6745 × 17 / 3 = 3.8222: flagged; 62 < 62.5: not beyond the fences.
- x = 70: z = 0.6745 × 25 / 3 = 5.6208 and 70 > 62.5: flagged twice.
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from services.ingest.checks import engine
from shared.catalogue import load_catalogue
from shared.catalogue.model import OutlierThresholds
from tests.factories import (
    accepted_submission,
    assert_problem,
    make_cycle,
    make_org,
    make_submission,
    publish,
)

RECENT = (date.today() - timedelta(days=30)).isoformat()
METRIC = load_catalogue(2021).metrics["users_per_ict_fte"]
T = OutlierThresholds(modified_z=3.5, iqr_fence=3, history_sd=2, year_on_year_pct=50)


def _published_peers(api):
    cycle = make_cycle(api, 2020)
    for users in (400, 420, 440, 460, 480, 500):
        org = make_org(api, type="L")
        accepted_submission(api, org["id"], cycle["id"], "estate", {"users": users, "ict_fte": 10})
    api.deliver()
    publish(api, cycle["id"], RECENT)


def _flags(api, sub_id, who):
    got = api.ingest.get(f"/api/v1/submissions/{sub_id}/flags", headers=who)
    assert got.status_code == 200, got.text
    return got.json()


# ------------------------------------------------------------------ the rules alone


def test_modified_z_and_far_fences_on_the_hand_computed_set():
    ref = engine.Reference(2020, "type:L", 6, median=45.0, mad=3.0, q1=42.5, q3=47.5)
    assert engine.peer_flags(METRIC, 60.0, ref, T) == []
    [z] = engine.peer_flags(METRIC, 62.0, ref, T)
    assert (z.check, z.detail["modified_z"]) == ("modified_z", 0.6745 * (62 - 45) / 3)
    both = engine.peer_flags(METRIC, 70.0, ref, T)
    assert [f.check for f in both] == ["modified_z", "iqr_fence"]
    assert both[0].detail["modified_z"] == 0.6745 * 25 / 3
    assert both[1].detail | {"reason": None} == {
        "peer_group_key": "type:L",
        "reference_cycle_year": 2020,
        "n_organisations": 6,
        "median": 45.0,
        "q1": 42.5,
        "q3": 47.5,
        "iqr": 5.0,
        "lower_fence": 27.5,
        "upper_fence": 62.5,
        "threshold": 3.0,
        "reason": None,
    }
    assert both[1].reason == (
        "Users per ICT FTE 70 is above the upper fence 62.5 (Q3 47.5 + 3 × IQR 5) of "
        "type:L in 2020 (n = 6)."
    )
    # low side: 27 is below 27.5, z = 0.6745 × −18 / 3 = −4.047
    low = engine.peer_flags(METRIC, 27.0, ref, T)
    assert [f.check for f in low] == ["modified_z", "iqr_fence"]
    assert low[1].detail["lower_fence"] == 27.5


def test_mad_zero_flags_any_value_off_the_median():
    ref = engine.Reference(2020, "all", 5, median=2.0, mad=0.0, q1=2.0, q3=2.0)
    assert engine.peer_flags(METRIC, 2.0, ref, T) == []
    flags = engine.peer_flags(METRIC, 2.1, ref, T)
    # MAD 0: z is undefined and 2.1 differs from the median; IQR 0: fences at 2 and 2
    assert [(f.check, f.detail.get("modified_z")) for f in flags] == [
        ("modified_z", None),
        ("iqr_fence", None),
    ]


def test_history_needs_three_values_and_uses_the_sample_sd():
    # 40, 44, 48: mean 44, sample SD 4 (squares 16 + 0 + 16 over n − 1 = 2), so 36..52
    history = {2017: 40.0, 2018: 44.0, 2019: 48.0}
    assert engine.history_flags(METRIC, 52.0, 2020, history, T) == []
    [sd] = engine.history_flags(METRIC, 53.0, 2020, history, T)
    assert sd.detail == {
        "history": {"2017": 40.0, "2018": 44.0, "2019": 48.0},
        "history_from": 2017,
        "history_to": 2019,
        "history_n": 3,
        "history_mean": 44.0,
        "history_sd": 4.0,
        "lower": 36.0,
        "upper": 52.0,
        "threshold": 2.0,
    }
    # two earlier values: no SD check; 48 -> 80 is +66.7 %, beyond 50 %
    [yoy] = engine.history_flags(METRIC, 80.0, 2020, {2018: 44.0, 2019: 48.0}, T)
    assert yoy.check == "year_on_year"
    assert yoy.detail["change_pct"] == 100.0 * (80 - 48) / 48
    assert engine.history_flags(METRIC, 72.0, 2020, {2018: 44.0, 2019: 48.0}, T) == []  # +50 %
    no_yoy = OutlierThresholds(year_on_year_pct=None)
    assert engine.history_flags(METRIC, 80.0, 2020, {2019: 48.0}, no_yoy) == []


# ------------------------------------------------------------------ through the API


def test_a_flagged_value_needs_a_comment_and_reviewers_see_the_numbers(api):
    _published_peers(api)
    cycle = make_cycle(api, 2021)
    org = make_org(api, type="L")
    me = api.auth("participant", [org["id"]])
    # 60 users per FTE: inside every threshold; saved, no flag
    sub = make_submission(api, org["id"], cycle["id"], "estate", {"users": 600, "ict_fte": 10})
    assert [i for i in sub["issues"] if i["code"] == "outlier"] == []
    # on save: 700 / 10 = 70 is flagged, and the warning is in the submission at once
    saved = api.ingest.patch(
        f"/api/v1/submissions/{sub['id']}/answers", json={"answers": {"users": 700}}, headers=me
    )
    [warning] = [i for i in saved.json()["issues"] if i["code"] == "outlier"]
    assert warning["rule_key"] == "outlier.users_per_ict_fte"
    assert warning["severity"] == "warning"
    assert warning["question_keys"] == ["users", "ict_fte"]
    # on submit: refused without a comment, naming the flagged metric
    refused = api.ingest.post(f"/api/v1/submissions/{sub['id']}/submit", json={}, headers=me)
    body = assert_problem(refused, 422, "warning_comment_required")
    assert [e["field"] for e in body["errors"]] == ["warning_comments.outlier.users_per_ict_fte"]
    assert body["errors"][0]["questions"] == ["users", "ict_fte"]
    comment = "We count every councillor and school governor as a user."
    ok = api.ingest.post(
        f"/api/v1/submissions/{sub['id']}/submit",
        json={"warning_comments": {"outlier.users_per_ict_fte": comment}},
        headers=me,
    )
    assert ok.status_code == 200, ok.text
    # the reviewer sees each flag with its reason, numbers and the comment
    table = _flags(api, sub["id"], api.auth("admin"))
    assert table["state"] == "submitted" and table["total"] == 2
    z, fence = table["items"]
    assert (z["check"], z["value"], z["peer_group_key"], z["reference_cycle_year"]) == (
        "modified_z",
        70.0,
        "type:L",
        2020,
    )
    assert (z["median"], z["mad"], z["n_organisations"], z["threshold"]) == (45.0, 3.0, 6, 3.5)
    assert z["modified_z"] == 0.6745 * 25 / 3
    assert (fence["q1"], fence["q3"], fence["iqr"], fence["upper_fence"]) == (
        42.5,
        47.5,
        5.0,
        62.5,
    )
    assert z["comment"] == fence["comment"] == comment
    assert z["reason"].startswith("Users per ICT FTE 70 is far from the median 45 of type:L")
    # the participant sees its own flags; another organisation may not
    assert _flags(api, sub["id"], me)["total"] == 2
    other = api.auth("participant", [org["id"] + 100])
    assert_problem(api.ingest.get(f"/api/v1/submissions/{sub['id']}/flags", headers=other), 403)
    # the same table as CSV, same columns
    csv = api.ingest.get(
        f"/api/v1/submissions/{sub['id']}/flags", params={"format": "csv"}, headers=me
    )
    assert csv.status_code == 200
    header = csv.text.splitlines()[0].split(",")
    assert header[:6] == [
        "submission_id",
        "organisation_id",
        "cycle_year",
        "metric_key",
        "metric_name",
        "check",
    ]


def test_62_is_flagged_by_z_only_and_60_by_nothing(api):
    _published_peers(api)
    cycle = make_cycle(api, 2021)
    org = make_org(api, type="L")
    sub = make_submission(api, org["id"], cycle["id"], "estate", {"users": 620, "ict_fte": 10})
    [row] = _flags(api, sub["id"], api.auth("admin"))["items"]
    assert (row["check"], row["modified_z"]) == ("modified_z", 0.6745 * (62 - 45) / 3)
    api.ingest.patch(
        f"/api/v1/submissions/{sub['id']}/answers",
        json={"answers": {"users": 600}},
        headers=api.auth("participant", [org["id"]]),
    )
    assert _flags(api, sub["id"], api.auth("admin"))["items"] == []


def test_history_flag_through_the_api(api):
    org = make_org(api, type="D")
    for year, users in ((2017, 400), (2018, 440), (2019, 480)):
        cycle = make_cycle(api, year)
        accepted_submission(api, org["id"], cycle["id"], "estate", {"users": users, "ict_fte": 10})
    api.deliver()
    cycle = make_cycle(api, 2020)
    # 53 per FTE: outside 44 ± 2 × 4 = 36..52; +10.4 % on 48 is within 50 %
    sub = make_submission(api, org["id"], cycle["id"], "estate", {"users": 530, "ict_fte": 10})
    [row] = _flags(api, sub["id"], api.auth("admin"))["items"]
    assert row["check"] == "history_sd"
    assert (row["history_n"], row["history_mean"], row["history_sd"]) == (3, 44.0, 4.0)
    assert row["peer_group_key"] is None  # no published cycle: no peer checks
    assert row["reason"] == (
        "Users per ICT FTE 53 is outside your own 2017-2019 mean 44 ± 2 SD (SD 4): 36 to 52."
    )


@pytest.mark.parametrize("users", [1000])
def test_no_published_cycle_and_no_history_means_no_flags(api, users):
    cycle = make_cycle(api, 2021)
    org = make_org(api)
    sub = make_submission(api, org["id"], cycle["id"], "estate", {"users": users, "ict_fte": 1})
    assert _flags(api, sub["id"], api.auth("admin"))["items"] == []
