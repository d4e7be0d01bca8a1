import re

from sqlalchemy import text

from tests.factories import assert_problem, make_cycle, make_org


def test_cycle_lifecycle_and_data_year(api):
    cycle = make_cycle(api, 2020)
    assert cycle["status"] == "open" and cycle["data_year"] == "2019/20"
    refused = api.ingest.patch(
        f"/api/v1/cycles/{cycle['id']}", json={"status": "published"}, headers=api.auth()
    )
    body = assert_problem(refused, 422, "release_date_required")
    assert body["errors"][0]["field"] == "results_release_date"
    ok = api.ingest.patch(
        f"/api/v1/cycles/{cycle['id']}",
        json={"status": "published", "results_release_date": "2020-11-02"},
        headers=api.auth(),
    )
    assert ok.status_code == 200 and ok.json()["status"] == "published"


def test_status_change_reaches_metrics_through_the_outbox(api, owner_engine):
    cycle = make_cycle(api, 2021)
    api.ingest.patch(f"/api/v1/cycles/{cycle['id']}", json={"status": "closed"}, headers=api.auth())
    with owner_engine.connect() as conn:
        pending = conn.execute(
            text("SELECT event_type, payload->>'status' FROM ingest_outbox WHERE status='pending'")
        ).all()
    assert pending == [("cycle.status_changed", "closed")]
    assert api.deliver() == 1
    runs = api.metrics.get("/api/v1/computation-runs", headers=api.auth()).json()["items"]
    assert [(r["kind"], r["scope"]) for r in runs] == [
        ("cycle_status", {"cycle_id": cycle["id"], "status": "closed"})
    ]


def test_codes_follow_domain_rules_and_are_stable(api):
    plain = make_org(api, type="L")
    partner = make_org(api, type="M", partnership=True)
    cycle = make_cycle(api, 2020)
    codes = api.ingest.post(f"/api/v1/cycles/{cycle['id']}/codes", headers=api.auth()).json()
    by_org = {c["organisation_id"]: c["code"] for c in codes}
    assert re.fullmatch(r"L19\d\d", by_org[plain["id"]])
    assert re.fullmatch(r"M19\d\d \(P\)", by_org[partner["id"]])
    # drawing again keeps existing codes and only adds new organisations
    late = make_org(api, type="D")
    again = api.ingest.post(f"/api/v1/cycles/{cycle['id']}/codes", headers=api.auth()).json()
    again_by_org = {c["organisation_id"]: c["code"] for c in again}
    assert again_by_org[plain["id"]] == by_org[plain["id"]]
    assert again_by_org[partner["id"]] == by_org[partner["id"]]
    assert re.fullmatch(r"D19\d\d", again_by_org[late["id"]])
    # a participant sees only their own code, never names
    mine = api.ingest.get(
        f"/api/v1/cycles/{cycle['id']}/codes", headers=api.auth("participant", [plain["id"]])
    )
    assert mine.json()["items"] == [
        {"cycle_id": cycle["id"], "organisation_id": plain["id"], "code": by_org[plain["id"]]}
    ]


def test_code_numbers_are_random_not_id_order():
    from services.ingest.cycles.service import draw_numbers, format_code

    draws = [tuple(draw_numbers(set(), 10)) for _ in range(20)]
    assert len(set(draws)) > 1, "numbers must be drawn at random"
    assert all(len(set(d)) == 10 and all(10 <= n <= 99 for n in d) for d in draws)
    # more organisations than two-digit numbers: three digits take over, no repeats
    many = draw_numbers(set(), 200)
    assert len(set(many)) == 200 and sum(n >= 100 for n in many) == 110
    assert format_code("L", 2020, 31, False) == "L1931"
    assert format_code("M", 2020, 34, True) == "M1934 (P)"


def test_duplicate_year_is_409(api):
    make_cycle(api, 2019)
    assert_problem(
        api.ingest.post("/api/v1/cycles", json={"year": 2019}, headers=api.auth()), 409, "duplicate"
    )
