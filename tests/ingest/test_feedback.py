"""Post-interaction feedback: POST /api/v1/feedback and the metrics NPS/satisfaction reports."""

from __future__ import annotations

import csv
import io
from typing import Any

from sqlalchemy import text

from tests.factories import assert_problem, make_org
from tests.ingest.test_tickets import push

HEADER = "ticket_ref,type,priority,logged_at,resolved_at,status,nps_rating\n"


def send(api: Any, org: int, ratings: list[dict[str, Any]], **headers: str) -> Any:
    return api.ingest.post(
        "/api/v1/feedback",
        json={"ratings": ratings},
        headers={**api.auth("partner", [org]), **headers},
    )


def rating(org: int, received_at: str, **kw: Any) -> dict[str, Any]:
    return {"organisation_id": org, "source_system": "sn", "received_at": received_at, **kw}


def report(api: Any, name: str, orgs: list[int], **params: Any) -> Any:
    # NPS: the one NPS family (GET /api/v1/nps?source=feedback); satisfaction: its report
    path, source = (
        ("/api/v1/nps", {"source": "feedback"})
        if name == "nps"
        else (
            f"/api/v1/sla/feedback/{name}",
            {},
        )
    )
    return api.metrics.get(
        path,
        params={"organisation_id": orgs, **source, **params},
        headers=api.auth("reader", orgs),
    )


def test_nps_and_satisfaction_combine_ticket_exports_and_endpoint_ratings(api):
    a, b = make_org(api)["id"], make_org(api)["id"]
    job = push(
        api,
        a,
        (
            HEADER
            + "T1,incident,P1,05/03/2021 09:00,08/03/2021 10:00,resolved,10\n"
            + "T2,incident,P1,05/03/2021 09:00,09/03/2021 10:00,resolved,6\n"
            + "T3,incident,P1,05/03/2021 09:00,10/03/2021 10:00,resolved,8\n"
            + "T4,incident,P1,25/03/2021 09:00,02/04/2021 10:00,resolved,9\n"
            + "T5,incident,P1,25/03/2021 09:00,02/04/2021 10:00,resolved,\n"
        ).encode(),
    )
    assert job["progress"]["rows_accepted"] == 5
    r = send(
        api,
        a,
        [
            # Replaces T3's export rating of 8 (same organisation, source system, reference).
            rating(
                a, "2021-03-11T10:00:00Z", ticket_reference="T3", recommendation=9, satisfaction=6
            ),
            # 23:30 UTC on 31 March is 00:30 BST on 1 April: an April rating.
            rating(a, "2021-03-31T23:30:00+00:00", recommendation=3, satisfaction=2),
            rating(a, "2021-03-15T09:00:00+00:00", satisfaction=7),
            rating(a, "2021-04-20T09:00:00+01:00", recommendation=7, satisfaction=5),
        ],
    )
    assert r.status_code == 201, r.text
    assert r.json() == {
        "stored": 4,
        "organisations": [a],
        "first_received_at": "2021-03-11T10:00:00Z",
        "last_received_at": "2021-04-20T08:00:00Z",
    }
    r = send(api, b, [rating(b, "2021-05-03T12:00:00+01:00", satisfaction=4)])
    assert r.status_code == 201, r.text

    nps = report(api, "nps", [a, b])
    assert nps.status_code == 200, nps.text
    # the figures the old /api/v1/sla/feedback/nps gave for the same ratings
    cols = ("organisation_id", "month", "responses")
    counts = ("promoters", "passives", "detractors", "nps")
    got = [tuple(row[c] for c in (*cols, *counts)) for row in nps.json()["items"]]
    assert got == [
        (a, "2021-03-01", 3, 2, 0, 1, 33.3),
        (a, "2021-04-01", 3, 1, 1, 1, 0.0),
        (a, None, 6, 3, 1, 2, 16.7),
        (b, "2021-05-01", 0, 0, 0, 0, None),
        (b, None, 0, 0, 0, 0, None),
    ]
    sat = report(api, "satisfaction", [a, b])
    got = [
        (row["organisation_id"], row["month"], row["ratings"], row["mean_satisfaction"])
        for row in sat.json()["items"]
    ]
    assert got == [
        (a, "2021-03-01", 2, 6.5),
        (a, "2021-04-01", 2, 3.5),
        (a, None, 4, 5.0),
        (b, "2021-05-01", 1, 4.0),
        (b, None, 1, 4.0),
    ]
    assert sat.json()["units"]["mean_satisfaction"].startswith("mean rating on the 1-7 scale")

    as_csv = report(api, "nps", [a], format="csv", month_from="2021-04-15")
    assert as_csv.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(as_csv.text)))
    assert rows == [
        [*cols, *counts],
        [str(a), "2021-04-01", "3", "1", "1", "1", "0.0"],
        [str(a), "", "3", "1", "1", "1", "0.0"],
    ]


def test_feedback_validation_names_each_item_and_stores_nothing(api, owner_engine):
    org = make_org(api)["id"]
    r = send(
        api,
        org,
        [
            rating(org, "2021-03-11T10:00:00Z", satisfaction=8),
            rating(org, "2021-03-11T10:00:00", recommendation=11),
            rating(org, "2021-03-11T10:00:00Z"),
        ],
    )
    body = assert_problem(r, 422)
    fields = sorted(e["field"] for e in body["errors"])
    assert fields == [
        "ratings.0.satisfaction",
        "ratings.1.received_at",
        "ratings.1.recommendation",
        "ratings.2",
    ]
    other = make_org(api)["id"]
    r = send(
        api,
        org,
        [
            rating(org, "2021-03-11T10:00:00Z", satisfaction=5),
            rating(other, "2021-03-11T10:00:00Z", satisfaction=5),
        ],
    )
    body = assert_problem(r, 403)
    assert [e["field"] for e in body["errors"]] == ["ratings.1.organisation_id"]
    r = api.ingest.post(
        "/api/v1/feedback",
        json={"ratings": [rating(999_999, "2021-03-11T10:00:00Z", satisfaction=5)]},
        headers=api.auth("admin"),
    )
    body = assert_problem(r, 422, "organisation_not_found")
    assert body["errors"] == [
        {"field": "ratings.0.organisation_id", "message": "there is no organisation 999999"}
    ]
    r = api.ingest.post(
        "/api/v1/feedback",
        json={"ratings": [rating(org, "2021-03-11T10:00:00Z", satisfaction=5)]},
        headers=api.auth("reader", [org]),
    )
    assert_problem(r, 403)
    with owner_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM feedback_ratings")).scalar_one() == 0


def test_feedback_idempotency_key_replays_the_first_answer(api, owner_engine):
    org = make_org(api)["id"]
    item = [rating(org, "2021-03-11T10:00:00Z", recommendation=10)]
    first = send(api, org, item, **{"Idempotency-Key": "batch-1"})
    again = send(api, org, item, **{"Idempotency-Key": "batch-1"})
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    changed = send(
        api,
        org,
        [rating(org, "2021-03-11T10:00:00Z", recommendation=0)],
        **{"Idempotency-Key": "batch-1"},
    )
    assert_problem(changed, 422, "idempotency_key_reused")
    with owner_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM feedback_ratings")).scalar_one() == 1
    nps = report(api, "nps", [org]).json()["items"]
    assert [(r["month"], r["responses"], r["nps"]) for r in nps] == [
        ("2021-03-01", 1, 100.0),
        (None, 1, 100.0),
    ]
