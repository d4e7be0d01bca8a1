"""Peers by statistical distance through the API (issue #14 item 6): the hand-computed
six organisations of tests/unit/test_neighbours_engine.py, with the catalogue's own
variables (users 1, revenue spend 1, same type 1, same nation 0.5), saved as a custom
peer group that results then use with codes and disclosure control.

With weights 1 / 1 / 1 (nation is England for all: SD 0, no contribution), w(z − z′)²:
org 2: revenue 4 (Σ 4); org 3: type 4 (Σ 4); org 4: 4 + 4 + 4 (Σ 12); org 5: users 4
(Σ 4); org 6: Σ 12. Rebased by √12: orgs 2, 3, 5 at √(4/12) = 0.5774; 4 and 6 at 1.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import pytest

from tests.factories import accepted_submission, assert_problem, make_cycle, make_org, publish

RECENT = (date.today() - timedelta(days=30)).isoformat()
ORGS = [
    (2000, 100_000_000, "L"),
    (2000, 300_000_000, "L"),
    (2000, 100_000_000, "M"),
    (4000, 300_000_000, "M"),
    (4000, 100_000_000, "L"),
    (4000, 300_000_000, "M"),
]


def _six(api):
    cycle = make_cycle(api, 2021)
    ids = []
    for users, revenue, kind in ORGS:
        org = make_org(api, type=kind, users=users)
        accepted_submission(api, org["id"], cycle["id"], "estate", {"users": users, "ict_fte": 10})
        accepted_submission(
            api,
            org["id"],
            cycle["id"],
            "cost",
            {"revenue_spend": revenue, "ict_spend": revenue // 50},
        )
        ids.append(org["id"])
    api.deliver()
    publish(api, cycle["id"], RECENT)
    return cycle, ids


def _codes(api, cycle_id):
    got = api.ingest.get(f"/api/v1/cycles/{cycle_id}/codes", headers=api.auth("admin"))
    assert got.status_code == 200, got.text
    return {r["organisation_id"]: r["code"] for r in got.json()["items"]}


def test_nearest_neighbours_with_contributions_and_a_saved_group(api):
    cycle, ids = _six(api)
    codes = _codes(api, cycle["id"])
    me = api.auth("participant", [ids[0]])
    got = api.metrics.get(
        "/api/v1/peers/nearest", params={"organisation_id": ids[0], "cycle": 2021}, headers=me
    )
    assert got.status_code == 200, got.text
    body = got.json()
    assert (body["candidates"], body["excluded"], body["count"]) == (5, 0, 15)
    assert body["organisation_code"] == codes[ids[0]]
    near = math.sqrt(4 / 12)
    expected = {
        codes[ids[1]]: (near, {"revenue_spend": near}),
        codes[ids[2]]: (near, {"type": near}),
        codes[ids[4]]: (near, {"users": near}),
        codes[ids[3]]: (1.0, {"users": 1 / 3, "revenue_spend": 1 / 3, "type": 1 / 3}),
        codes[ids[5]]: (1.0, {"users": 1 / 3, "revenue_spend": 1 / 3, "type": 1 / 3}),
    }
    rows = body["items"]
    assert sorted(r["peer_code"] for r in rows[:3]) == sorted(
        codes[i] for i in (ids[1], ids[2], ids[4])
    )
    assert [r["peer_code"] for r in rows[:3]] == sorted(r["peer_code"] for r in rows[:3])
    for r in rows:
        distance, parts = expected[r["peer_code"]]
        assert r["distance"] == pytest.approx(distance, abs=1e-12)
        for key in ("users", "revenue_spend", "type", "nation"):
            assert r["contributions"][key] == pytest.approx(parts.get(key, 0.0), abs=1e-12)
        assert sum(r["contributions"].values()) == pytest.approx(r["distance"], abs=1e-12)
    # only codes: no name, no raw answer of another organisation anywhere in the body
    text = got.text
    assert "Test Council" not in text and "300000000" not in text and "4000" not in text

    # saved as a custom peer group: me and my 5 neighbours
    saved = api.metrics.post(
        "/api/v1/saved-peer-groups",
        json={"organisation_id": ids[0], "cycle": 2021, "name": "Nearest five", "count": 5},
        headers=me,
    )
    assert saved.status_code == 201, saved.text
    group = saved.json()
    assert saved.headers["location"] == f"/api/v1/saved-peer-groups/{group['id']}"
    assert group["member_codes"][0] == codes[ids[0]] and len(group["member_codes"]) == 6
    key = group["peer_group_key"]
    comparison = api.metrics.get(
        "/api/v1/results/comparison",
        params={"organisation_id": ids[0], "cycle": 2021, "peer_group": key},
        headers=me,
    )
    assert comparison.status_code == 200, comparison.text
    row = next(r for r in comparison.json()["items"] if r["metric_key"] == "users_per_ict_fte")
    # users / 10: 200, 200, 200, 400, 400, 400
    assert (row["n"], row["median"], row["q1"], row["q3"], row["suppressed"]) == (
        6,
        300.0,
        200.0,
        400.0,
        False,
    )
    dist = api.metrics.get(
        "/api/v1/results/distribution",
        params={
            "organisation_id": ids[0],
            "cycle": 2021,
            "peer_group": key,
            "metric": "users_per_ict_fte",
        },
        headers=me,
    ).json()
    assert sorted(r["peer_code"] for r in dist["items"]) == sorted(codes.values())

    # three neighbours: four organisations, under the threshold of five: suppressed
    small = api.metrics.post(
        "/api/v1/saved-peer-groups",
        json={"organisation_id": ids[0], "cycle": 2021, "name": "Nearest three", "count": 3},
        headers=me,
    ).json()
    few = api.metrics.get(
        "/api/v1/results/distribution",
        params={
            "organisation_id": ids[0],
            "cycle": 2021,
            "peer_group": small["peer_group_key"],
            "metric": "users_per_ict_fte",
        },
        headers=me,
    ).json()
    assert few["suppressed"] is True and few["items"] == [] and few["median"] is None
    assert few["n_organisations"] == 4 and "fewer than 5" in few["suppression_reason"]

    # another organisation cannot use it, nor see it
    other = api.auth("participant", [ids[1]])
    assert_problem(
        api.metrics.get(
            "/api/v1/results/comparison",
            params={"organisation_id": ids[1], "cycle": 2021, "peer_group": key},
            headers=other,
        ),
        404,
        "peer_group_not_found",
    )
    assert_problem(api.metrics.get(f"/api/v1/saved-peer-groups/{group['id']}", headers=other), 404)
    listed = api.metrics.get("/api/v1/saved-peer-groups", headers=me).json()
    assert [g["name"] for g in listed["items"]] == ["Nearest five", "Nearest three"]
    assert api.metrics.get("/api/v1/saved-peer-groups", headers=other).json()["items"] == []
    # trends span cycles; a saved group belongs to one
    assert_problem(
        api.metrics.get(
            "/api/v1/results/trends",
            params={
                "organisation_id": ids[0],
                "cycle": 2021,
                "peer_group": key,
                "metric": "users_per_ict_fte",
            },
            headers=me,
        ),
        422,
        "invalid_peer_group",
    )


def test_an_organisation_without_a_variable_is_told_which(api):
    cycle = make_cycle(api, 2021)
    org = make_org(api)
    accepted_submission(api, org["id"], cycle["id"], "estate", {"users": 100, "ict_fte": 1})
    api.deliver()
    got = api.metrics.get(
        "/api/v1/peers/nearest",
        params={"organisation_id": org["id"], "cycle": 2021},
        headers=api.auth("admin"),
    )
    body = assert_problem(got, 422, "neighbour_variables_missing")
    assert [e["field"] for e in body["errors"]] == ["variables.revenue_spend"]


def test_population_where_loaded(api):
    """Population 200,000 for the first three and 400,000 for the last three: like users,
    w(z − z′)² = 4 for orgs 4, 5, 6. Σ: org 2: 4; org 3: 4; org 4: 16; org 5: 8; org 6: 16;
    rebased by √16 = 4: orgs 2, 3 at 0.5; org 5 at √8 / 4 = 0.7071 (users and population
    half each); orgs 4, 6 at 1 (a quarter each). Then org 6's population is cleared: it is
    not loaded for every organisation compared, so it is left out of the suggestion (with a
    note) and the result is the four-variable one; no organisation is dropped."""
    cycle, ids = _six(api)
    codes = _codes(api, cycle["id"])
    admin = api.auth("admin")
    for i, org in enumerate(ids):
        patched = api.ingest.patch(
            f"/api/v1/organisations/{org}",
            json={"population": 200_000 if i < 3 else 400_000},
            headers=admin,
        )
        assert patched.status_code == 200, patched.text
    me = api.auth("participant", [ids[0]])
    params = {"organisation_id": ids[0], "cycle": 2021}
    body = api.metrics.get("/api/v1/peers/nearest", params=params, headers=me).json()
    assert body["notes"] == []
    used = {v["key"]: v["used"] for v in body["variables"]}
    assert used == {
        "users": True,
        "revenue_spend": True,
        "type": True,
        "nation": True,
        "population": True,
    }
    got = {r["peer_code"]: r for r in body["items"]}
    half = math.sqrt(8) / 4
    assert got[codes[ids[1]]]["distance"] == pytest.approx(0.5, rel=1e-12)
    assert got[codes[ids[2]]]["distance"] == pytest.approx(0.5, rel=1e-12)
    assert got[codes[ids[4]]]["distance"] == pytest.approx(half, rel=1e-12)
    assert got[codes[ids[4]]]["contributions"]["population"] == pytest.approx(half / 2)
    assert got[codes[ids[4]]]["contributions"]["users"] == pytest.approx(half / 2)
    for far in (ids[3], ids[5]):
        row = got[codes[far]]
        assert row["distance"] == 1.0
        for key in ("users", "revenue_spend", "type", "population"):
            assert row["contributions"][key] == pytest.approx(0.25, rel=1e-12)
    for row in body["items"]:
        assert sum(row["contributions"].values()) == pytest.approx(row["distance"], rel=1e-12)
    assert [r["peer_code"] for r in body["items"]][2] == codes[ids[4]]

    # org 6's population is not known any more: left out, said so, nobody dropped
    cleared = api.ingest.patch(
        f"/api/v1/organisations/{ids[5]}", json={"population": None}, headers=admin
    )
    assert cleared.json()["population"] is None
    body = api.metrics.get("/api/v1/peers/nearest", params=params, headers=me).json()
    assert (body["candidates"], body["excluded"]) == (5, 0)
    assert [v["key"] for v in body["variables"] if not v["used"]] == ["population"]
    assert len(body["notes"]) == 1
    assert body["notes"][0].startswith(
        "Resident population (population) is left out of this suggestion: it is not loaded "
        "for 1 of the 6 organisations compared in cycle 2021"
    )
    near = math.sqrt(4 / 12)
    got = {r["peer_code"]: r for r in body["items"]}
    for i in (1, 2, 4):
        assert got[codes[ids[i]]]["distance"] == pytest.approx(near, rel=1e-12)
    assert all("population" not in r["contributions"] for r in body["items"])
