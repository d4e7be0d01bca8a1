"""The results cache: never stale figures, never another organisation's body, and access
decided afresh on every request (the cache holds bodies, not decisions)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import text

from services.metrics.benchmark.cache import Body, ResultCache
from services.metrics.benchmark.service import add_months
from tests.factories import accepted_submission, assert_problem, make_cycle, make_org, publish

RECENT = (date.today() - timedelta(days=30)).isoformat()
R = "/api/v1/results"
METRIC = "users_per_ict_fte"


def _row(body, metric=METRIC):
    return next(r for r in body["items"] if r["metric_key"] == metric)


def _cache(api) -> ResultCache:
    cache: ResultCache = api.apps["metrics"].state.results_cache
    return cache


def _ten(api):
    """Ten organisations with users/ICT FTE 1..10 in a published 2020 cycle."""
    cycle = make_cycle(api, 2020)
    orgs = []
    for k in range(1, 11):
        org = make_org(api, name=f"Borough {k} Council", type="L")
        accepted_submission(api, org["id"], cycle["id"], "estate", {"users": 50 * k, "ict_fte": 50})
        orgs.append(org)
    assert api.deliver() == 10
    publish(api, cycle["id"], RECENT)
    return cycle, orgs


def _get(api, path, params, headers):
    path, _, fmt = path.partition("?format=")
    params = {**params, **({"format": fmt} if fmt else {})}
    response = api.metrics.get(f"{R}/{path}", params=params, headers=headers)
    assert response.status_code == 200, response.text
    return response


def test_a_finished_recompute_changes_the_next_response(api):
    _cycle, orgs = _ten(api)
    me = orgs[0]
    who = api.auth("participant", [me["id"]])
    params = {"organisation_id": me["id"], "cycle": 2020}
    cache = _cache(api)
    first = _get(api, "comparison", params, who).json()
    hits = cache.hits
    again = _get(api, "comparison", params, who).json()
    assert cache.hits == hits + 1 and again == first  # served from the cache
    assert (_row(first)["n"], _row(first)["median"], _row(first)["max"]) == (10, 5.5, 10.0)
    csv_before = _get(api, "comparison?format=csv", params, who).text
    dist_before = _get(api, "distribution", {**params, "metric": METRIC}, who).json()
    assert len(dist_before["items"]) == 10

    # An admin reopens the top organisation's accepted submission: the outbox runs the
    # recompute, and the very next request shows the figures without it.
    top = orgs[9]
    sub = api.ingest.get(
        "/api/v1/submissions", params={"organisation_id": top["id"]}, headers=api.auth()
    ).json()["items"][0]
    reopened = api.ingest.post(
        f"/api/v1/submissions/{sub['id']}/reopen", json={"reason": "typo"}, headers=api.auth()
    )
    assert reopened.status_code == 200, reopened.text
    assert api.deliver() >= 1

    after = _row(_get(api, "comparison", params, who).json())
    assert (after["n"], after["median"], after["max"]) == (9, 5.0, 9.0)
    assert (after["rank"], after["rank_of"]) == (9, 9)
    assert _get(api, "comparison?format=csv", params, who).text != csv_before
    dist_after = _get(api, "distribution", {**params, "metric": METRIC}, who).json()
    assert [r["value"] for r in dist_after["items"]] == [float(k) for k in range(1, 10)]


def test_a_cycle_change_is_seen_by_the_next_request(api):
    cycle, orgs = _ten(api)
    me = orgs[0]
    who = api.auth("participant", [me["id"]])
    params = {"organisation_id": me["id"], "cycle": 2020}
    body = _get(api, "comparison", params, who).json()
    assert body["results_release_date"] == RECENT
    newer = (date.today() - timedelta(days=3)).isoformat()
    api.ingest.patch(
        f"/api/v1/cycles/{cycle['id']}", json={"results_release_date": newer}, headers=api.auth()
    )
    body = _get(api, "comparison", params, who).json()
    assert body["results_release_date"] == newer
    assert body["access_ends_on"] == add_months(date.fromisoformat(newer), 12).isoformat()
    assert _row(body)["results_release_date"] == newer


def test_a_participant_of_one_organisation_never_gets_anothers_cached_body(api):
    _cycle, orgs = _ten(api)
    a, b = orgs[2], orgs[7]  # values 3 and 8
    as_a = api.auth("participant", [a["id"]])
    as_b = api.auth("participant", [b["id"]])
    cache = _cache(api)
    for suffix in ("comparison", "comparison?format=json", "comparison?format=csv"):
        _get(api, suffix, {"organisation_id": a["id"], "cycle": 2020}, as_a)
    _get(api, "distribution", {"organisation_id": a["id"], "cycle": 2020, "metric": METRIC}, as_a)
    assert len(cache) == 3  # comparison and ?format=json are one body
    # B asking for A's figures: refused, although A's bodies sit in the cache
    for suffix in ("comparison", "comparison?format=json", "comparison?format=csv"):
        assert_problem(
            api.metrics.get(
                f"{R}/comparison",
                params={
                    "organisation_id": a["id"],
                    "cycle": 2020,
                    "format": suffix.partition("?format=")[2] or "json",
                },
                headers=as_b,
            ),
            403,
            "organisation_forbidden",
        )
    # ... and an API key scoped to B likewise
    created = api.ingest.post(
        "/api/v1/api-keys",
        json={"name": "BI", "role": "reader", "organisations": [b["id"]]},
        headers=api.auth(),
    )
    key = {"Authorization": f"Bearer {created.json()['key']}"}
    assert_problem(
        api.metrics.get(
            f"{R}/comparison",
            params={"organisation_id": a["id"], "cycle": 2020, "format": "csv"},
            headers=key,
        ),
        403,
        "organisation_forbidden",
    )
    # B's own request builds B's body: B's id, code, value and rank, never A's
    body_a = _get(api, "comparison", {"organisation_id": a["id"], "cycle": 2020}, as_a).json()
    body_b = _get(api, "comparison", {"organisation_id": b["id"], "cycle": 2020}, as_b).json()
    assert (body_a["organisation_id"], body_b["organisation_id"]) == (a["id"], b["id"])
    assert body_a["organisation_code"] != body_b["organisation_code"]
    assert (_row(body_a)["my_value"], _row(body_a)["rank"]) == (3.0, 8)
    assert (_row(body_b)["my_value"], _row(body_b)["rank"]) == (8.0, 3)
    key_rows = _get(
        api, "comparison?format=json", {"organisation_id": b["id"], "cycle": 2020}, key
    ).json()
    assert _row(key_rows)["my_value"] == 8.0
    dist_b = _get(
        api, "distribution", {"organisation_id": b["id"], "cycle": 2020, "metric": METRIC}, as_b
    ).json()
    mine = [r for r in dist_b["items"] if r["is_mine"]]
    assert len(mine) == 1 and mine[0]["value"] == 8.0


def test_access_expiry_applies_to_a_cached_body(api, owner_engine):
    cycle, orgs = _ten(api)
    me = orgs[0]
    who = api.auth("participant", [me["id"]])
    params = {"organisation_id": me["id"], "cycle": 2020}
    cache = _cache(api)
    _get(api, "comparison", params, who)
    _get(api, "comparison", params, api.auth())  # the admin's body, filed separately
    # Time passes: the release now lies more than 12 months back. Written without touching
    # updated_at, so the data version (and the cached bodies) stay exactly as they were;
    # only the calendar moved on, as it does for a real cycle.
    expired = date.today() - timedelta(days=400)
    with owner_engine.begin() as conn:
        conn.execute(
            text("UPDATE cycles SET results_release_date = :d WHERE id = :id"),
            {"d": expired, "id": cycle["id"]},
        )
    hits = cache.hits
    body = assert_problem(api.metrics.get(f"{R}/comparison", params=params, headers=who), 403)
    assert body["code"] == "access_expired"
    assert body["access_ended_on"] == add_months(expired, 12).isoformat()
    assert cache.hits == hits  # refused before the cache was consulted
    # the cached entry is still there and still served to someone allowed to see it
    assert _get(api, "comparison", params, api.auth()).status_code == 200
    assert cache.hits == hits + 1


def _runs(api) -> int:
    listed = api.metrics.get("/api/v1/computation-runs", headers=api.auth())
    assert listed.status_code == 200, listed.text
    return int(listed.json()["total"])


def _recompute(api) -> dict:
    done = api.metrics.post("/api/v1/benchmarks/recompute", json={}, headers=api.auth())
    assert done.status_code == 200, done.text
    return done.json()


def test_a_recompute_that_writes_the_same_figures_keeps_the_cached_body_and_etag(api):
    """The data version is of the figures, not of the run: a recompute over unchanged
    submissions (the same digest) keeps every cached body, its ETag and the version an
    explanation quotes; the run history still records the run."""
    _cycle, orgs = _ten(api)
    me = orgs[0]
    who = api.auth("participant", [me["id"]])
    params = {"organisation_id": me["id"], "cycle": 2020}
    explain = {**params, "metric": METRIC, "peer_group": "all"}
    cache = _cache(api)
    first = _get(api, "comparison", params, who)
    why = api.metrics.get("/api/v1/explain/benchmark", params=explain, headers=who)
    assert why.status_code == 200, why.text
    runs_before = _runs(api)
    for _ in range(2):
        _recompute(api)
    assert _runs(api) == runs_before + 2
    hits = cache.hits
    again = _get(api, "comparison", params, who)
    why_again = api.metrics.get("/api/v1/explain/benchmark", params=explain, headers=who)
    assert cache.hits == hits + 2  # both served from the cache: nothing was dropped
    assert again.content == first.content and again.headers["etag"] == first.headers["etag"]
    assert why_again.content == why.content
    assert why_again.json()["data_version"] == why.json()["data_version"]
    # a conditional request with the ETag from before the recomputes is still current
    cond = api.metrics.get(
        f"{R}/comparison", params=params, headers={**who, "If-None-Match": first.headers["etag"]}
    )
    assert cond.status_code == 304, cond.text
    # and the body rebuilt from scratch (cache emptied) is byte for byte the cached one
    cache.clear()
    assert _get(api, "comparison", params, who).content == first.content
    rebuilt = api.metrics.get("/api/v1/explain/benchmark", params=explain, headers=who)
    assert rebuilt.content == why.content


def test_a_changed_submission_then_recompute_changes_the_figure_body_and_etag(api):
    """Read-your-writes through the cache: a changed submission (the top organisation's
    reopened) and its recompute change the figure, so the version, the body and the ETag
    all change; an identical recompute after it keeps the new ones."""
    _cycle, orgs = _ten(api)
    me = orgs[0]
    who = api.auth("participant", [me["id"]])
    params = {"organisation_id": me["id"], "cycle": 2020}
    explain = {**params, "metric": METRIC, "peer_group": "all"}
    first = _get(api, "comparison", params, who)
    why = api.metrics.get("/api/v1/explain/benchmark", params=explain, headers=who).json()
    assert (_row(first.json())["n"], _row(first.json())["max"]) == (10, 10.0)
    top = orgs[9]
    sub = api.ingest.get(
        "/api/v1/submissions", params={"organisation_id": top["id"]}, headers=api.auth()
    ).json()["items"][0]
    reopened = api.ingest.post(
        f"/api/v1/submissions/{sub['id']}/reopen", json={"reason": "typo"}, headers=api.auth()
    )
    assert reopened.status_code == 200, reopened.text
    assert api.deliver() >= 1  # the outbox runs the recompute
    after = _get(api, "comparison", params, who)
    assert (_row(after.json())["n"], _row(after.json())["max"]) == (9, 9.0)
    assert after.headers["etag"] != first.headers["etag"]
    cond = api.metrics.get(
        f"{R}/comparison", params=params, headers={**who, "If-None-Match": first.headers["etag"]}
    )
    assert cond.status_code == 200 and cond.content == after.content
    why_after = api.metrics.get("/api/v1/explain/benchmark", params=explain, headers=who).json()
    assert why_after["data_version"] != why["data_version"] and why_after["n"] == 9
    assert why_after["computation_run"]["id"] != why["computation_run"]["id"]
    # an identical recompute now keeps the new body, and names the run that wrote it
    _recompute(api)
    kept = _get(api, "comparison", params, who)
    assert kept.content == after.content and kept.headers["etag"] == after.headers["etag"]
    why_kept = api.metrics.get("/api/v1/explain/benchmark", params=explain, headers=who).json()
    assert why_kept["computation_run"] == why_after["computation_run"]
    assert why_kept["data_version"] == why_after["data_version"]


def test_the_cache_is_bounded_least_recently_used_first():
    cache = ResultCache(size=2)
    body = Body(b"{}", "application/json")
    cache.put(("a",), 1, body)
    cache.put(("b",), 1, body)
    assert cache.get(("a",), 1) is body  # a is now the most recently used
    cache.put(("c",), 1, body)
    assert len(cache) == 2
    assert cache.get(("b",), 1) is None  # evicted
    assert cache.get(("a",), 1) is body and cache.get(("c",), 1) is body
    # another version: nothing older is served
    assert cache.get(("a",), 2) is None and len(cache) == 0
    off = ResultCache(size=0)
    off.put(("a",), 1, body)
    assert off.get(("a",), 1) is None and len(off) == 0
