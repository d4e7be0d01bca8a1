"""Deleting a business calendar that SLA policies still use is a 409 naming them (it was a
500: PostgreSQL 18 reports ON DELETE RESTRICT as SQLSTATE 23001, which was not mapped)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from tests.factories import assert_problem, make_org
from tests.metrics.test_sla_reports import STD_HOURS


def _calendar(api: Any, org: int) -> int:
    r = api.ingest.post(
        f"/api/v1/organisations/{org}/calendars",
        json={"name": "Office", "nation": "GB-ENG", "hours": STD_HOURS},
        headers=api.auth("participant", [org]),
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def _policy(api: Any, org: int, calendar_id: int, priority: str) -> int:
    r = api.ingest.post(
        f"/api/v1/organisations/{org}/sla-policies",
        json={
            "priority": priority,
            "target_working_days": "2",
            "calendar_id": calendar_id,
            "target_share_pct": "95",
            "effective_from": "2020-01-01",
        },
        headers=api.auth("participant", [org]),
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_deleting_a_calendar_still_used_by_policies_is_a_409_naming_them(api, owner_engine):
    org = make_org(api)["id"]
    cal = _calendar(api, org)
    first, second = _policy(api, org, cal, "P1"), _policy(api, org, cal, "P2")
    path = f"/api/v1/organisations/{org}/calendars/{cal}"
    headers = api.auth("participant", [org])

    body = assert_problem(api.ingest.delete(path, headers=headers), 409, "calendar_in_use")
    assert body["detail"].startswith(
        f"Calendar {cal} is still used by SLA policies {first}, {second}"
    )
    assert body["sla_policy_ids"] == [first, second]
    assert api.ingest.get(path, headers=headers).status_code == 200  # nothing deleted
    with owner_engine.connect() as conn:
        recomputes = conn.execute(
            text("SELECT count(*) FROM ingest_outbox WHERE event_type = 'sla.recompute'")
        ).scalar()
    assert recomputes == 3  # the calendar and the two policies; none for the refused delete

    # Once no policy uses it, it goes.
    for policy in (first, second):
        r = api.ingest.delete(f"/api/v1/organisations/{org}/sla-policies/{policy}", headers=headers)
        assert r.status_code == 204, r.text
    assert api.ingest.delete(path, headers=headers).status_code == 204
    assert_problem(api.ingest.get(path, headers=headers), 404, "calendar_not_found")


def test_one_policy_is_named_in_the_singular(api):
    org = make_org(api)["id"]
    cal = _calendar(api, org)
    policy = _policy(api, org, cal, "P3")
    response = api.ingest.delete(
        f"/api/v1/organisations/{org}/calendars/{cal}", headers=api.auth("admin")
    )
    body = assert_problem(response, 409, "calendar_in_use")
    assert f"SLA policy {policy};" in body["detail"]


def test_a_name_stored_before_the_input_checks_reads_back_instead_of_a_500(api, owner_engine):
    """Input types refuse control characters; output models read stored values as they are,
    so a name stored before that check existed is shown, not turned into a 500."""
    org = make_org(api)["id"]
    cal = _calendar(api, org)
    policy = _policy(api, org, cal, "P4")
    headers = api.auth("participant", [org])
    with owner_engine.begin() as conn:
        conn.execute(
            text("UPDATE business_calendars SET name = :n WHERE id = :i"),
            {"n": "Office\r\nhours", "i": cal},
        )
        conn.execute(
            text("UPDATE sla_policies SET request_type = :t WHERE id = :i"),
            {"t": "Laptop\nrequest", "i": policy},
        )
    r = api.ingest.get(f"/api/v1/organisations/{org}/calendars/{cal}", headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "Office\r\nhours"
    r = api.ingest.get(f"/api/v1/organisations/{org}/sla-policies", headers=headers)
    assert r.status_code == 200, r.text
    assert [p["request_type"] for p in r.json()] == ["Laptop\nrequest"]
    # ... while the same value sent in is refused, naming the field.
    r = api.ingest.put(
        f"/api/v1/organisations/{org}/calendars/{cal}",
        json={"name": "Office\r\nhours", "nation": "GB-ENG", "hours": STD_HOURS},
        headers=headers,
    )
    body = assert_problem(r, 422, "validation_error")
    assert any(e["field"].endswith("name") for e in body["errors"])
