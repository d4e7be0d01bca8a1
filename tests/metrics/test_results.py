"""Benchmark results end to end: accepted submissions → outbox → recompute → results API."""

from __future__ import annotations

import csv
import io
import json
import statistics
from datetime import date, timedelta
from functools import partial

import pytest
from sqlalchemy import text

from services.metrics.benchmark.service import add_months, check_access
from shared.auth import Principal
from shared.errors import Forbidden
from shared.settings import Settings
from tests.factories import (
    accepted_submission,
    assert_problem,
    make_cycle,
    make_org,
    make_submission,
    publish,
    submit,
)

RECENT = (date.today() - timedelta(days=30)).isoformat()
R = "/api/v1/results"


def row(body, metric):
    return next(r for r in body["items"] if r["metric_key"] == metric)


def estate(users, ict_fte):
    return {"users": users, "ict_fte": ict_fte}


def _ten_exact(api):
    cycle = make_cycle(api, 2020)
    orgs = []
    for k in range(1, 11):
        org = make_org(api, name=f"Borough {k} Council", type="L" if k <= 6 else "D")
        accepted_submission(api, org["id"], cycle["id"], "estate", estate(50 * k, 50))
        orgs.append(org)
    assert api.deliver() == 10
    publish(api, cycle["id"], RECENT)
    return cycle, orgs


def test_quartiles_of_one_to_ten_end_to_end(api):
    _cycle, orgs = _ten_exact(api)
    me = orgs[2]  # value 3
    got = api.metrics.get(
        f"{R}/comparison",
        params={"organisation_id": me["id"], "cycle": 2020},
        headers=api.auth("participant", [me["id"]]),
    )
    assert got.status_code == 200, got.text
    r = row(got.json(), "users_per_ict_fte")
    assert (r["q1"], r["median"], r["q3"]) == (3.25, 5.5, 7.75)
    assert (r["min"], r["max"], r["n"], r["n_organisations"]) == (1.0, 10.0, 10, 10)
    assert r["my_value"] == 3.0 and r["unit"] == "ratio" and r["polarity"] == "higher_better"
    # higher is better: 3 is below Q1 (bottom quarter) and 8th of 10
    assert (r["quartile_band"], r["rank"], r["rank_of"]) == (4, 8, 10)
    assert r["suppressed"] is False and r["suppression_reason"] is None
    assert got.json()["organisation_code"].startswith("L19")
    runs = api.metrics.get("/api/v1/computation-runs", headers=api.auth()).json()["items"]
    assert runs[0]["kind"] == "benchmark" and runs[0]["detail"]["metric_values"] >= 10


def test_median_is_of_each_organisations_ratio_not_ratio_of_totals(api):
    cycle = make_cycle(api, 2020)
    data = [(100, 10), (1000, 20), (90, 30), (5000, 50), (400, 8)]
    orgs = []
    for users, fte in data:
        org = make_org(api)
        accepted_submission(api, org["id"], cycle["id"], "estate", estate(users, fte))
        orgs.append(org)
    api.deliver()
    publish(api, cycle["id"], RECENT)
    ratios = [u / f for u, f in data]  # 10, 50, 3, 100, 50
    of_totals = sum(u for u, _ in data) / sum(f for _, f in data)  # 6590 / 118
    assert statistics.median(ratios) == 50.0
    assert round(of_totals, 2) == 55.85
    body = api.metrics.get(
        f"{R}/comparison",
        params={"organisation_id": orgs[0]["id"], "cycle": 2020},
        headers=api.auth("participant", [orgs[0]["id"]]),
    ).json()
    assert row(body, "users_per_ict_fte")["median"] == 50.0


def test_returned_draft_and_submitted_data_move_no_figure_and_reopen_removes(api):
    cycle, orgs = _ten_exact(api)
    who = {"headers": api.auth()}
    params = {"organisation_id": orgs[0]["id"], "cycle": 2020}
    before = api.metrics.get(f"{R}/comparison", params=params, **who).json()
    # a huge value in a draft, a submitted and a returned submission
    # (the cycle is published, so reopen it for collection first)
    api.ingest.patch(f"/api/v1/cycles/{cycle['id']}", json={"status": "open"}, headers=api.auth())
    extra = [make_org(api) for _ in range(3)]
    make_submission(api, extra[0]["id"], cycle["id"], "estate", estate(100000, 1))
    submit(api, make_submission(api, extra[1]["id"], cycle["id"], "estate", estate(90000, 1)))
    third = submit(
        api, make_submission(api, extra[2]["id"], cycle["id"], "estate", estate(80000, 1))
    )
    api.ingest.post(
        f"/api/v1/submissions/{third['id']}/return",
        json={"reasons": {"users": "check"}},
        headers=api.auth(),
    )
    api.metrics.post("/api/v1/benchmarks/recompute", json={}, headers=api.auth())
    api.deliver()
    after = api.metrics.get(f"{R}/comparison", params=params, **who).json()
    assert row(after, "users_per_ict_fte") == row(before, "users_per_ict_fte")
    # reopening an accepted submission takes it out of the figures
    sub = api.ingest.get(
        "/api/v1/submissions",
        params={"organisation_id": orgs[9]["id"]},
        headers=api.auth(),
    ).json()["items"][0]
    api.ingest.post(
        f"/api/v1/submissions/{sub['id']}/reopen", json={"reason": "typo"}, headers=api.auth()
    )
    assert api.deliver() == 1
    r = row(api.metrics.get(f"{R}/comparison", params=params, **who).json(), "users_per_ict_fte")
    assert (r["n"], r["median"], r["max"]) == (9, 5.0, 9.0)


def test_a_group_of_four_is_suppressed_with_its_reason(api):
    _cycle, orgs = _ten_exact(api)  # orgs 7..10 are type D: four of them
    me = orgs[7]
    params = {"organisation_id": me["id"], "cycle": 2020, "peer_group": "type:D"}
    who = api.auth("participant", [me["id"]])
    r = row(
        api.metrics.get(f"{R}/comparison", params=params, headers=who).json(), "users_per_ict_fte"
    )
    assert r["suppressed"] is True and r["n_organisations"] == 4
    assert (r["median"], r["q1"], r["q3"], r["min"], r["max"]) == (None,) * 5
    assert (r["quartile_band"], r["rank"]) == (None, None)
    assert "fewer than 5 organisations" in r["suppression_reason"]
    dist = api.metrics.get(
        f"{R}/distribution", params={**params, "metric": "users_per_ict_fte"}, headers=who
    ).json()
    assert dist["suppressed"] is True and dist["items"] == []
    # the same four as a custom group on request: also suppressed; six L: shown
    custom = api.metrics.get(
        f"{R}/comparison",
        params={"organisation_id": me["id"], "cycle": 2020, "type": ["L"]},
        headers=who,
    ).json()
    r = row(custom, "users_per_ict_fte")
    assert custom["peer_group_key"] == "custom:type=L" and custom["peer_group_custom"] is True
    assert (r["n"], r["median"], r["suppressed"]) == (6, 3.5, False)
    # me (8) is not an L; my rank is where I would stand among them
    assert (r["rank"], r["rank_of"]) == (1, 7)


def test_distribution_lists_codes_in_value_order_and_marks_mine(api):
    cycle, orgs = _ten_exact(api)
    me = orgs[4]
    dist = api.metrics.get(
        f"{R}/distribution",
        params={"organisation_id": me["id"], "cycle": 2020, "metric": "users_per_ict_fte"},
        headers=api.auth("participant", [me["id"]]),
    ).json()
    assert [r["value"] for r in dist["items"]] == [float(k) for k in range(1, 11)]
    codes = {
        c["organisation_id"]: c["code"]
        for c in api.ingest.get(f"/api/v1/cycles/{cycle['id']}/codes", headers=api.auth()).json()
    }
    assert [r["peer_code"] for r in dist["items"]] == [codes[o["id"]] for o in orgs]
    assert [r["is_mine"] for r in dist["items"]] == [k == 5 for k in range(1, 11)]
    assert dist["my_value"] == 5.0 and dist["unit"] == "ratio"


def test_distribution_orders_tied_values_by_code(api, owner_engine):
    cycle = make_cycle(api, 2020)
    values = [2, 2, 1, 2, 2, 3, 2]  # users per ICT FTE; five organisations tie on 2
    orgs = []
    for v in values:
        org = make_org(api)
        accepted_submission(api, org["id"], cycle["id"], "estate", estate(50 * v, 50))
        orgs.append(org)
    assert api.deliver() == len(values)
    tied = [o["id"] for o, v in zip(orgs, values, strict=True) if v == 2]
    # Give the tied organisations codes in the reverse of their id (and insertion) order,
    # so only the tie-break by code puts them in code order.
    with owner_engine.begin() as conn:
        codes = conn.execute(
            text(
                "SELECT organisation_id, code FROM organisation_codes"
                " WHERE cycle_id = :c AND organisation_id = ANY(:ids)"
            ),
            {"c": cycle["id"], "ids": tied},
        ).all()
        reordered = sorted((c for _, c in codes), reverse=True)
        for org_id, code in zip(sorted(tied), reordered, strict=True):
            conn.execute(
                text(
                    "UPDATE organisation_codes SET code = :code"
                    " WHERE cycle_id = :c AND organisation_id = :o"
                ),
                {"code": code, "c": cycle["id"], "o": org_id},
            )
    publish(api, cycle["id"], RECENT)
    me = orgs[0]
    dist = api.metrics.get(
        f"{R}/distribution",
        params={"organisation_id": me["id"], "cycle": 2020, "metric": "users_per_ict_fte"},
        headers=api.auth("participant", [me["id"]]),
    )
    assert dist.status_code == 200, dist.text
    rows = dist.json()["items"]
    assert [r["value"] for r in rows] == [1.0, 2.0, 2.0, 2.0, 2.0, 2.0, 3.0]
    assert [r["position"] for r in rows] == list(range(1, 8))
    tied_codes = [r["peer_code"] for r in rows if r["value"] == 2.0]
    assert tied_codes == sorted(reordered)  # ascending code, not id order (descending)
    assert sum(r["is_mine"] for r in rows) == 1


def test_a_participant_never_sees_another_organisations_name_or_raw_answers(api):
    _cycle, orgs = _ten_exact(api)
    me = orgs[0]
    who = api.auth("participant", [me["id"]])
    others = [o["name"] for o in orgs[1:]]
    base = {"organisation_id": me["id"], "cycle": 2020}
    texts = []
    for group in ({"peer_group": "all"}, {"peer_group": "type:L"}, {"type": ["L", "D"]}):
        for fmt in ({}, {"format": "json"}, {"format": "csv"}):
            got = api.metrics.get(f"{R}/comparison", params={**base, **group, **fmt}, headers=who)
            assert got.status_code == 200, got.text
            texts.append(got.text)
            for metric in ("users_per_ict_fte", "devices_per_user"):
                for table in ("distribution", "trends"):
                    got = api.metrics.get(
                        f"{R}/{table}",
                        params={**base, **group, **fmt, "metric": metric},
                        headers=who,
                    )
                    assert got.status_code == 200, got.text
                    texts.append(got.text)
    everything = "\n".join(texts)
    for name in others:
        assert name not in everything
    assert "Borough" not in everything  # not even part of a name
    # raw answers (users 100, 150, ... 500; ict_fte 50) never appear as fields
    for body in texts:
        if body.startswith(("{", "[")):
            assert '"users"' not in body and '"ict_fte"' not in body
    # no organisation_id but my own, anywhere: JSON bodies, flat JSON rows, CSV columns
    seen = []
    for body in texts:
        if body.startswith(("{", "[")):
            seen.extend(_organisation_ids(json.loads(body)))
        else:
            table = list(csv.DictReader(io.StringIO(body)))
            seen.extend(int(r["organisation_id"]) for r in table if "organisation_id" in r)
    assert seen and set(seen) == {me["id"]}
    # other organisations' submissions are not readable either
    theirs = api.ingest.get(
        "/api/v1/submissions", params={"organisation_id": orgs[1]["id"]}, headers=api.auth()
    ).json()["items"][0]
    assert_problem(api.ingest.get(f"/api/v1/submissions/{theirs['id']}", headers=who), 403)


def _organisation_ids(node):
    """Every value of an ``organisation_id`` key, however deep in a JSON document."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "organisation_id":
                yield value
            else:
                yield from _organisation_ids(value)
    elif isinstance(node, list):
        for item in node:
            yield from _organisation_ids(item)


def test_access_ends_twelve_months_after_release_with_the_reason(api):
    cycle, orgs = _ten_exact(api)
    me = orgs[0]
    who = api.auth("participant", [me["id"]])
    params = {"organisation_id": me["id"], "cycle": 2020}
    # someone else's organisation: never, even while the results are open to its members
    other = api.auth("participant", [orgs[1]["id"]])
    for fmt in ({}, {"format": "csv"}, {"format": "json"}):
        assert api.metrics.get(f"{R}/comparison", params={**params, **fmt}, headers=who).is_success
        assert_problem(
            api.metrics.get(f"{R}/comparison", params={**params, **fmt}, headers=other),
            403,
            "organisation_forbidden",
        )
    api.ingest.patch(
        f"/api/v1/cycles/{cycle['id']}",
        json={"results_release_date": "2020-11-02"},
        headers=api.auth(),
    )
    for fmt in ({}, {"format": "csv"}, {"format": "json"}):
        body = assert_problem(
            api.metrics.get(f"{R}/comparison", params={**params, **fmt}, headers=who),
            403,
            "access_expired",
        )
        assert body["access_ended_on"] == "2021-11-02"
        assert "2021-11-02" in body["detail"] and "12 months" in body["detail"]
    assert api.metrics.get(f"{R}/comparison", params=params, headers=api.auth()).status_code == 200
    # unpublished: not for participants
    api.ingest.patch(f"/api/v1/cycles/{cycle['id']}", json={"status": "closed"}, headers=api.auth())
    assert_problem(
        api.metrics.get(f"{R}/comparison", params=params, headers=who), 403, "results_not_published"
    )


def _release_ending_on(day: date) -> str:
    """A release date whose 12 months of access end on ``day``."""
    for back in range(360, 372):
        release = day - timedelta(days=back)
        if add_months(release, 12) == day:
            return release.isoformat()
    pytest.skip(f"no release date has its access end on {day} (29 February)")


def test_access_is_refused_on_the_day_it_ends_and_given_the_day_before(api):
    cycle, orgs = _ten_exact(api)
    me = orgs[0]
    who = api.auth("participant", [me["id"]])
    params = {"organisation_id": me["id"], "cycle": 2020}
    today = date.today()
    release = _release_ending_on(today + timedelta(days=1))  # today is the last day
    api.ingest.patch(
        f"/api/v1/cycles/{cycle['id']}", json={"results_release_date": release}, headers=api.auth()
    )
    got = api.metrics.get(f"{R}/comparison", params=params, headers=who)
    assert got.status_code == 200, got.text
    assert got.json()["access_ends_on"] == (today + timedelta(days=1)).isoformat()
    release = _release_ending_on(today)  # access ended today
    api.ingest.patch(
        f"/api/v1/cycles/{cycle['id']}", json={"results_release_date": release}, headers=api.auth()
    )
    body = assert_problem(
        api.metrics.get(f"{R}/comparison", params=params, headers=who), 403, "access_expired"
    )
    assert body["access_ended_on"] == today.isoformat()


@pytest.mark.parametrize(
    ("today", "code"),
    [
        (date(2021, 3, 14), "results_not_released"),
        (date(2021, 3, 15), None),  # release day
        (date(2022, 3, 14), None),  # last day of access
        (date(2022, 3, 15), "access_expired"),  # the day access ends
    ],
)
def test_check_access_boundaries(today, code):
    snap = {
        "cycle_id": 1,
        "year": 2020,
        "status": "published",
        "organisation_exists": True,
        "results_release_date": date(2021, 3, 15),
        "version": (1,),
    }
    who = Principal("p", frozenset({"participant"}), frozenset({7}))
    check = partial(check_access, Settings(), who, 7, 2020, snap, today)
    if code is None:
        assert check().cycle["access_ends_on"] == date(2022, 3, 15)
    else:
        with pytest.raises(Forbidden) as raised:
            check()
        assert raised.value.code == code


def test_bad_result_requests_name_the_parameter(api):
    _cycle, orgs = _ten_exact(api)
    who = api.auth("participant", [orgs[0]["id"]])
    base = {"organisation_id": orgs[0]["id"], "cycle": 2020}
    body = assert_problem(
        api.metrics.get(f"{R}/comparison", params={**base, "peer_group": "type:Q"}, headers=who),
        422,
    )
    assert body["errors"][0]["field"] == "query.peer_group"
    body = assert_problem(
        api.metrics.get(f"{R}/distribution", params={**base, "metric": "nope"}, headers=who), 422
    )
    assert body["errors"][0]["field"] == "query.metric"
    assert_problem(
        api.metrics.get(f"{R}/comparison", params={**base, "cycle": 2031}, headers=who), 404
    )
    body = assert_problem(
        api.metrics.get(f"{R}/comparison", params={**base, "size": ["huge"]}, headers=who), 422
    )


def test_csv_and_flat_json_for_bi_with_an_api_key(api):
    cycle = make_cycle(api, 2020)
    orgs = []
    for k in range(1, 7):
        org = make_org(api, name=f"=HYPERLINK Council {k}")
        answers = {"us_s1_satisfaction_mean": 4 + k * 0.1, "us_s1_importance_mean": 5.5}
        accepted_submission(api, org["id"], cycle["id"], "user_satisfaction", answers)
        orgs.append(org)
    api.deliver()
    publish(api, cycle["id"], RECENT)
    me = orgs[0]
    created = api.ingest.post(
        "/api/v1/api-keys",
        json={"name": "Power BI", "role": "reader", "organisations": [me["id"]]},
        headers=api.auth(),
    )
    assert created.status_code == 201, created.text
    import base64

    basic = base64.b64encode(f"powerbi:{created.json()['key']}".encode()).decode()
    key_auth = {"Authorization": f"Basic {basic}"}
    params = {"organisation_id": me["id"], "cycle": 2020}
    got = api.metrics.get(f"{R}/comparison", params={**params, "format": "csv"}, headers=key_auth)
    assert got.status_code == 200, got.text
    assert got.headers["content-type"] == "text/csv; charset=utf-8"
    table = list(csv.reader(io.StringIO(got.content.decode("utf-8"))))
    flat = api.metrics.get(f"{R}/comparison", params=params, headers=key_auth).json()
    flat = flat["items"]
    assert table[0] == list(flat[0].keys())
    assert (
        table[0][:5] == ["organisation_code", "cycle_year", "data_year", "peer_group_key", "median"]
        or "median" in table[0]
    )
    gap = dict(
        zip(table[0], next(r for r in table[1:] if r[table[0].index("metric_key")] == "us_s1_gap"))
    )
    gap_flat = next(r for r in flat if r["metric_key"] == "us_s1_gap")
    # my gap is 4.1 - 5.5 = -1.4: a number in JSON and in CSV (numbers are never escaped)
    assert gap_flat["my_value"] == pytest.approx(-1.4)
    assert float(gap["my_value"]) == pytest.approx(-1.4)
    assert gap["results_release_date"] == RECENT  # ISO date
    assert gap["unit"] == "rating"
    for line in table:
        for c in line:
            # text never starts a formula; a cell starting with "-" is a plain number
            assert not c.startswith(("=", "+", "@")), c
            assert not c.startswith("-") or float(c) < 0, c
    # the key sees only its own organisation
    other = {**params, "organisation_id": orgs[1]["id"]}
    assert_problem(
        api.metrics.get(f"{R}/comparison", params={**other, "format": "csv"}, headers=key_auth), 403
    )


def test_trends_use_imported_history_and_flag_definition_changes(api):
    years = {y: make_cycle(api, y) for y in (2016, 2017, 2018)}
    orgs = [make_org(api, name=f"Trend Council {k}") for k in range(1, 6)]
    lines = ["organisation,cycle,module,question,value"]
    for k, org in enumerate(orgs, start=1):
        for y in years:
            lines.append(f"{org['id']},{y},estate,users,{1000 * k}")
            lines.append(f"{org['name']},{y},estate,devices,{1000 * k * (y - 2014)}")
            lines.append(f"{org['id']},{y},estate,workstations,{500 * k}")
    imported = api.ingest.post(
        "/api/v1/imports",
        content="\n".join(lines).encode(),
        headers={**api.auth(), "Content-Type": "text/csv"},
    )
    assert imported.status_code == 201, imported.text
    assert imported.json()["submissions"] == 15 and imported.json()["cycle_years"] == [
        2016,
        2017,
        2018,
    ]
    assert api.deliver() == 1
    for cycle in years.values():
        publish(api, cycle["id"], RECENT)
    me = orgs[0]
    trends = api.metrics.get(
        f"{R}/trends",
        params={"organisation_id": me["id"], "cycle": 2018, "metric": "devices_per_user"},
        headers=api.auth("participant", [me["id"]]),
    ).json()
    assert [
        (r["cycle_year"], r["median"], r["my_value"], r["definition_changed"])
        for r in trends["items"]
    ] == [
        (2016, 2.0, 2.0, False),
        (2017, 3.0, 3.0, True),
        (2018, 4.0, 4.0, False),
    ]
    assert all(r["unit"] == "ratio" for r in trends["items"])
    # past responses pool 2016 and 2017 for 2018: 10 responses from 5 organisations
    past = row(
        api.metrics.get(
            f"{R}/comparison",
            params={"organisation_id": me["id"], "cycle": 2018, "peer_group": "past"},
            headers=api.auth(),
        ).json(),
        "devices_per_user",
    )
    assert (past["n"], past["n_organisations"], past["median"]) == (10, 5, 2.5)
