"""Change after acceptance (issue #14 item 4): a reopened submission shows the fields
changed since acceptance and needs accepting again; results then say the figure was
restated and what it was before."""

from __future__ import annotations

from datetime import date, timedelta

from tests.factories import accept, accepted_submission, make_cycle, make_org, publish, submit

RECENT = (date.today() - timedelta(days=30)).isoformat()


def _row(api, org_id, who, metric="users_per_ict_fte"):
    """The comparison row of ``metric`` with its explanations and restatement beside it
    (the envelope's ``explanations``, by metric: the rows keep the BI feed's columns)."""
    got = api.metrics.get(
        "/api/v1/results/comparison", params={"organisation_id": org_id, "cycle": 2020}, headers=who
    )
    assert got.status_code == 200, got.text
    body = got.json()
    row = next(r for r in body["items"] if r["metric_key"] == metric)
    return {**row, **body["explanations"][metric]}


def test_reopen_change_reaccept_restates_the_figure_with_its_previous_value(api):
    cycle = make_cycle(api, 2020)
    org = make_org(api)
    me = api.auth("participant", [org["id"]])
    sub = accepted_submission(
        api, org["id"], cycle["id"], "estate", {"users": 1000, "ict_fte": 20, "devices": 900}
    )
    assert sub["reacceptance_required"] is False and sub["changes_since_acceptance"] == []
    api.deliver()
    first = _row(api, org["id"], api.auth("admin"))  # admins see the cycle before publication
    assert first["my_value"] == 50.0
    assert (first["my_value_restated_at"], first["my_previous_value"]) == (None, None)

    reopened = api.ingest.post(
        f"/api/v1/submissions/{sub['id']}/reopen",
        json={"reason": "ICT FTE counted agency staff twice"},
        headers=api.auth("admin"),
    ).json()
    assert reopened["reacceptance_required"] is True
    assert reopened["reopened_reason"] == "ICT FTE counted agency staff twice"
    assert reopened["changes_since_acceptance"] == []
    first_change = api.ingest.patch(
        f"/api/v1/submissions/{sub['id']}/answers",
        json={"answers": {"ict_fte": 25, "devices": None}},
        headers=me,
    )
    assert first_change.status_code == 200, first_change.text
    # set back and forth: users is unchanged, so only the two real changes are listed
    api.ingest.patch(
        f"/api/v1/submissions/{sub['id']}/answers", json={"answers": {"users": 1001}}, headers=me
    )
    changed = api.ingest.patch(
        f"/api/v1/submissions/{sub['id']}/answers", json={"answers": {"users": 1000}}, headers=me
    )
    assert changed.status_code == 200, changed.text
    changed = changed.json()
    assert [
        (c["question_key"], c["accepted_value"], c["current_value"], c["changed_by"])
        for c in changed["changes_since_acceptance"]
    ] == [("devices", 900, None, "test-participant"), ("ict_fte", 20, 25, "test-participant")]
    api.deliver()  # the reopening withdrew the figure meanwhile
    accept(api, submit(api, changed))
    api.deliver()
    publish(api, cycle["id"], RECENT)

    row = _row(api, org["id"], me)
    assert row["my_value"] == 40.0  # 1000 / 25
    assert row["my_previous_value"] == 50.0 and row["my_value_restated_at"] is not None
    trend = api.metrics.get(
        "/api/v1/results/trends",
        params={"organisation_id": org["id"], "cycle": 2020, "metric": "users_per_ict_fte"},
        headers=me,
    ).json()
    assert [(t["cycle_year"], t["my_value"]) for t in trend["items"]] == [(2020, 40.0)]
    assert [
        (r["cycle_year"], r["metric_key"], r["value"], r["previous_value"])
        for r in trend["restatements"]
    ] == [(2020, "users_per_ict_fte", 40.0, 50.0)]
    dist = api.metrics.get(
        "/api/v1/results/distribution",
        params={"organisation_id": org["id"], "cycle": 2020, "metric": "users_per_ict_fte"},
        headers=me,
    ).json()
    assert (dist["my_value"], dist["my_previous_value"]) == (40.0, 50.0)
    # accepted again: nothing to re-accept, no changes pending
    detail = api.ingest.get(f"/api/v1/submissions/{sub['id']}", headers=me).json()
    assert detail["reacceptance_required"] is False and detail["changes_since_acceptance"] == []


def test_reaccepted_unchanged_is_not_a_restatement(api):
    cycle = make_cycle(api, 2020)
    org = make_org(api)
    me = api.auth("participant", [org["id"]])
    sub = accepted_submission(api, org["id"], cycle["id"], "estate", {"users": 1000, "ict_fte": 20})
    api.deliver()
    api.ingest.post(
        f"/api/v1/submissions/{sub['id']}/reopen", json={"reason": "check"}, headers=api.auth()
    )
    api.deliver()
    accept(api, submit(api, api.ingest.get(f"/api/v1/submissions/{sub['id']}", headers=me).json()))
    api.deliver()
    publish(api, cycle["id"], RECENT)
    row = _row(api, org["id"], me)
    assert (row["my_value"], row["my_previous_value"], row["my_value_restated_at"]) == (
        50.0,
        None,
        None,
    )
