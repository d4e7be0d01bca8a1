"""Every 201 says where the created resource lives (``Location``, a URL path), on an
idempotent replay too, so a client can follow it without building URLs itself."""

from __future__ import annotations

from typing import Any

from tests.factories import make_cycle, make_org
from tests.metrics.test_sla_reports import STD_HOURS
from tests.shared.test_one_shape import TICKETS


def _created(response: Any, expected: str) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    assert response.headers.get("location") == expected, dict(response.headers)
    return dict(response.json())


def test_every_ingest_create_answers_with_location(api):
    admin = api.auth("admin")
    org = _created(
        api.ingest.post(
            "/api/v1/organisations",
            json={"name": "Cyngor Sir Ynys Môn", "type": "W", "nation": "Wales", "users": 10},
            headers={**admin, "Idempotency-Key": "org-1"},
        ),
        "/api/v1/organisations/1",
    )
    replay = api.ingest.post(
        "/api/v1/organisations",
        json={"name": "Cyngor Sir Ynys Môn", "type": "W", "nation": "Wales", "users": 10},
        headers={**admin, "Idempotency-Key": "org-1"},
    )
    assert replay.headers["idempotent-replayed"] == "true"
    assert replay.headers["location"] == "/api/v1/organisations/1"
    assert api.ingest.get("/api/v1/organisations/1", headers=admin).json()["id"] == org["id"]

    cycle = _created(
        api.ingest.post("/api/v1/cycles", json={"year": 2021}, headers=admin),
        "/api/v1/cycles/1",
    )
    assert api.ingest.get("/api/v1/cycles/1", headers=admin).json()["id"] == cycle["id"]

    who = api.auth("participant", [org["id"]])
    sub = api.ingest.post(
        "/api/v1/submissions",
        json={"organisation_id": org["id"], "cycle_id": cycle["id"], "module": "estate"},
        headers=who,
    )
    sub_body = _created(sub, f"/api/v1/submissions/{sub.json()['id']}")
    assert api.ingest.get(sub.headers["location"], headers=who).json()["id"] == sub_body["id"]

    key = api.ingest.post(
        "/api/v1/api-keys",
        json={"name": "Power BI", "role": "reader", "organisations": [org["id"]]},
        headers=admin,
    )
    _created(key, f"/api/v1/api-keys/{key.json()['id']}")
    # GET shows the key without its secret (shown once); the same address revokes it
    got_key = api.ingest.get(key.headers["location"], headers=admin)
    assert got_key.status_code == 200 and "key" not in got_key.json()
    assert api.ingest.delete(key.headers["location"], headers=admin).status_code == 200

    base = f"/api/v1/organisations/{org['id']}"
    cal = _created(
        api.ingest.post(
            f"{base}/calendars",
            json={"name": "Swyddfa", "nation": "GB-WLS", "hours": STD_HOURS},
            headers=who,
        ),
        f"{base}/calendars/1",
    )
    assert api.ingest.get(f"{base}/calendars/1", headers=who).json()["id"] == cal["id"]

    policy = api.ingest.post(
        f"{base}/sla-policies",
        json={
            "priority": "P1",
            "target_hours": "4",
            "calendar_id": cal["id"],
            "target_share_pct": "95",
            "effective_from": "2020-01-01",
        },
        headers=admin,
    )
    _created(policy, f"{base}/sla-policies/{policy.json()['id']}")
    got_policy = api.ingest.get(policy.headers["location"], headers=who)
    assert got_policy.status_code == 200 and got_policy.json() == policy.json()
    assert api.ingest.delete(policy.headers["location"], headers=admin).status_code == 204

    mapping = api.ingest.post(
        f"{base}/ticket-mappings",
        json={"name": "desk", "columns": {"Ref": "ticket_ref", "Opened": "logged_at"}},
        headers=who,
    )
    _created(mapping, f"{base}/ticket-mappings/{mapping.json()['id']}")
    got_mapping = api.ingest.get(mapping.headers["location"], headers=who)
    assert got_mapping.status_code == 200 and got_mapping.json() == mapping.json()
    assert api.ingest.delete(mapping.headers["location"], headers=who).status_code == 204

    other = make_org(api)
    make_cycle(api, 2019)
    imported = api.ingest.post(
        "/api/v1/imports",
        content=f"organisation,cycle,module,question,value\n{other['id']},2019,estate,users,5\n",
        headers={**admin, "Content-Type": "text/csv"},
    )
    _created(imported, f"/api/v1/imports/{imported.json()['id']}")
    got = api.ingest.get(imported.headers["location"], headers=admin)
    assert got.status_code == 200 and got.json()["id"] == imported.json()["id"]

    # 202: the import job to poll, at a path (never an absolute URL from the Host header)
    pushed = api.ingest.post(
        "/api/v1/ticket-imports",
        params={"organisation_id": org["id"]},
        content=TICKETS,
        headers={**who, "Content-Type": "text/csv", "Host": "evil.test"},
    )
    assert pushed.status_code == 202, pushed.text
    job = pushed.json()
    assert pushed.headers["location"] == f"/api/v1/ticket-imports/{job['id']}"
    assert job["errors_url"] == f"/api/v1/ticket-imports/{job['id']}/errors"
    assert api.ingest.get(pushed.headers["location"], headers=who).status_code == 200
    assert api.ingest.get(job["errors_url"], headers=who).status_code == 200


def test_feedback_batch_answers_200_without_location(api):
    org = make_org(api)
    r = api.ingest.post(
        "/api/v1/feedback",
        json={
            "ratings": [
                {
                    "organisation_id": org["id"],
                    "source_system": "sn",
                    "received_at": "2021-03-11T10:00:00Z",
                    "satisfaction": 6,
                }
            ]
        },
        headers=api.auth("participant", [org["id"]]),
    )
    assert r.status_code == 200, r.text
    assert "location" not in r.headers and r.json()["stored"] == 1


def test_campaign_create_answers_with_location(api):
    org = make_org(api)
    who = api.auth("participant", [org["id"]])
    body = {"organisation_id": org["id"], "kind": "user_satisfaction", "users_in_scope": 313}
    created = api.survey.post(
        "/api/v1/campaigns", json=body, headers={**who, "Idempotency-Key": "c-1"}
    )
    _created(created, f"/api/v1/campaigns/{created.json()['id']}")
    got = api.survey.get(created.headers["location"], headers=who)
    assert got.status_code == 200 and got.json()["id"] == created.json()["id"]
    replay = api.survey.post(
        "/api/v1/campaigns", json=body, headers={**who, "Idempotency-Key": "c-1"}
    )
    assert replay.headers["location"] == created.headers["location"]
    # 202: sending is followed on the campaign itself
    sent = api.survey.post(f"{created.headers['location']}/send", headers=who)
    assert sent.status_code == 202, sent.text
    assert sent.headers["location"] == created.headers["location"]
