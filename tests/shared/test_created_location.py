"""Every 201 says where the created resource lives (``Location``, a URL path), on an
idempotent replay too, so a client can follow it without building URLs itself."""

from __future__ import annotations

from typing import Any

from tests.factories import make_cycle, make_org
from tests.metrics.test_sla_reports import STD_HOURS


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
    # no GET of one key (the secret is shown once); the address is where it is revoked
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
    assert api.ingest.delete(policy.headers["location"], headers=admin).status_code == 204

    mapping = api.ingest.post(
        f"{base}/ticket-mappings",
        json={"name": "desk", "columns": {"Ref": "ticket_ref", "Opened": "logged_at"}},
        headers=who,
    )
    _created(mapping, f"{base}/ticket-mappings/{mapping.json()['id']}")
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
