"""Ticket pushes through the HTTP API, end to end on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text

from tests.factories import assert_problem, make_org

HEADER = (
    "ticket_ref,type,priority,request_type,team,closure_category,logged_at,resolved_at,status\n"
)


def push(api: Any, org: int, body: bytes, **params: Any) -> dict[str, Any]:
    query = {"organisation_id": org, "profile": "yardstick", "source_system": "sn", **params}
    response = api.ingest.post(
        "/api/v1/ticket-imports",
        params=query,
        content=body,
        headers={**api.auth("admin"), "Content-Type": "text/csv"},
    )
    assert response.status_code == 202, response.text
    job_id = response.json()["id"]
    assert response.headers["location"].endswith(f"/api/v1/ticket-imports/{job_id}")
    api.deliver()
    job = api.ingest.get(response.headers["location"], headers=api.auth("admin")).json()
    return dict(job)


def errors(api: Any, job_id: int) -> list[dict[str, Any]]:
    r = api.ingest.get(f"/api/v1/ticket-imports/{job_id}/errors", headers=api.auth("admin"))
    return list(r.json()["items"])


def test_push_twice_changes_nothing_and_later_export_updates(api, owner_engine):
    org = make_org(api)["id"]
    body = (
        HEADER
        + "INC1,incident,P1,,Desk,Fixed,05/03/2021 17:30,08/03/2021 09:30,resolved\n"
        + "INC2,incident,P2,,Desk,Fixed,06/03/2021 10:00,08/03/2021 08:45,resolved\n"
    ).encode()
    first = push(api, org, body)
    assert first["status"] == "done"
    assert first["progress"]["rows_read"] == 2
    assert first["progress"]["rows_inserted"] == 2
    assert first["encoding"] == "utf-8"
    with owner_engine.connect() as conn:
        before = conn.execute(text("SELECT reference, updated_at FROM tickets ORDER BY 1")).all()
    second = push(api, org, body)
    p = second["progress"]
    assert (p["rows_read"], p["rows_inserted"], p["rows_updated"], p["rows_unchanged"]) == (
        2,
        0,
        0,
        2,
    )
    with owner_engine.connect() as conn:
        after = conn.execute(text("SELECT reference, updated_at FROM tickets ORDER BY 1")).all()
        assert after == before
    later = push(api, org, body.replace(b"Desk,Fixed,06/03", b"Field,Fixed,06/03"))
    assert (later["progress"]["rows_updated"], later["progress"]["rows_unchanged"]) == (1, 1)
    with owner_engine.connect() as conn:
        team = conn.execute(text("SELECT team FROM tickets WHERE reference='INC2'")).scalar()
    assert team == "Field"


def test_windows_1252_file_keeps_pound_and_quote(api, owner_engine):
    org = make_org(api)["id"]
    row = "INC9,incident,P3,,Desk,Cost £5 – user’s PC,05/03/2021 10:00,,open\n"
    job = push(api, org, (HEADER + row).encode("cp1252"))
    assert job["status"] == "done" and job["encoding"] == "cp1252"
    with owner_engine.connect() as conn:
        cat = conn.execute(text("SELECT closure_category FROM tickets")).scalar()
    assert cat == "Cost £5 – user’s PC"


def test_bad_rows_are_reported_by_row_and_good_rows_land(api, owner_engine):
    org = make_org(api)["id"]
    body = (
        HEADER
        + "A1,incident,P1,,Desk,,05/03/2021 10:00,05/03/2021 11:00,resolved\n"  # row 2 ok
        + "A2,incident,P1,,Desk,,31/02/2021 10:00,,open\n"  # row 3 bad date
        + "A3,incident,P9,,Desk,,05/03/2021 10:00,,open\n"  # row 4 unknown priority
        + "A4,incident,P2,,Desk,,05/03/2021 10:00,04/03/2021 10:00,resolved\n"  # row 5 kept
        + ",incident,P2,,Desk,,05/03/2021 10:00,,open\n"  # row 6 missing reference
        + "A1,incident,P2,,Desk,,05/03/2021 10:00,05/03/2021 11:00,resolved\n"  # row 7 dup
    ).encode()
    job = push(api, org, body)
    p = job["progress"]
    assert (p["rows_read"], p["rows_accepted"], p["rows_rejected"]) == (6, 2, 4)
    found = {(e["row"], e["column"], e["code"], e["severity"]) for e in errors(api, job["id"])}
    assert found == {
        (3, "logged_at", "unparseable_date", "error"),
        (4, "priority", "unknown_priority", "error"),
        (5, "resolved_at", "resolved_before_logged", "warning"),
        (6, "ticket_ref", "missing_reference", "error"),
        (7, "ticket_ref", "duplicate_conflict", "error"),
    }
    with owner_engine.connect() as conn:
        refs = conn.execute(text("SELECT reference FROM tickets ORDER BY 1")).scalars().all()
    assert refs == ["A1", "A4"]
    api.deliver()
    dq = api.metrics.get(
        "/api/v1/sla/data-quality", params={"organisation_id": org}, headers=api.auth("admin")
    ).json()
    # No policy exists yet, so the good row is listed too, with its own reason.
    assert [(r["reference"], r["reason"]) for r in dq["items"]] == [
        ("A1", "no_policy_for_priority"),
        ("A4", "resolved_before_logged"),
    ]


def test_bad_input_is_refused_and_nothing_changes(api, owner_engine):
    org = make_org(api)["id"]
    other = make_org(api)["id"]
    url = "/api/v1/ticket-imports"
    auth = api.auth("participant", [org])
    body = (HEADER + "X1,incident,P1,,,,05/03/2021 10:00,,open\n").encode()
    r = api.ingest.post(
        url, params={"organisation_id": org, "profile": "nope"}, content=body, headers=auth
    )
    assert assert_problem(r, 422, "unknown_profile")["errors"][0]["field"] == "query.profile"
    r = api.ingest.post(url, params={"organisation_id": other}, content=body, headers=auth)
    assert_problem(r, 403, "organisation_forbidden")
    r = api.ingest.post(url, params={"organisation_id": org}, content=b"", headers=auth)
    assert assert_problem(r, 422, "empty_file")["errors"][0]["field"] == "body"
    assert_problem(api.ingest.get(f"{url}/999999", headers=auth), 404, "ticket_import_not_found")
    with owner_engine.connect() as conn:
        counts = conn.execute(
            text(
                "SELECT (SELECT count(*) FROM ticket_imports), (SELECT count(*) FROM tickets), "
                "(SELECT count(*) FROM ingest_outbox)"
            )
        ).one()
    assert tuple(counts) == (0, 0, 0)


def test_hornbill_export_through_the_ready_profile(api, owner_engine):
    org = make_org(api)["id"]
    body = (
        b"h_pk_reference,h_requesttype,h_fk_priorityname,h_datelogged,h_dateresolved,"
        b"h_status,h_fk_team_id,h_fk_team_name,h_closure_category,h_reopencount,h_firsttimefix\n"
        b"IN00000101,Incident,P2,2021-03-05 17:30:00,2021-03-08 09:30:00,status.resolved,"
        b"organisation/ServiceDesk/,Service Desk,Fixed,1,0\n"
        b"SR00000102,Service Request,P4,2021-03-06 10:00:00,,status.onHold,"
        b"organisation/Desktop/,Desktop,,0,\n"
    )
    job = push(api, org, body, profile="hornbill", source_system="hornbill")
    assert job["status"] == "done"
    assert job["progress"]["rows_inserted"] == 2
    with owner_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT reference, type, priority, team, closure_category, status, reopen_count,"
                " resolved_first_contact, resolved_at FROM tickets WHERE organisation_id = :org"
                " ORDER BY reference"
            ),
            {"org": org},
        ).all()
    assert [tuple(r)[:8] for r in rows] == [
        ("IN00000101", "incident", "P2", "Service Desk", "Fixed", "resolved", 1, False),
        ("SR00000102", "request", "P4", "Desktop", None, "on_hold", 0, None),
    ]
    assert rows[0].resolved_at == datetime(2021, 3, 8, 9, 30, tzinfo=UTC)
    assert rows[1].resolved_at is None


def test_profile_listing_shows_the_documented_columns(api):
    r = api.ingest.get("/api/v1/ticket-profiles", headers=api.auth("admin"))
    assert r.status_code == 200, r.text
    profiles = {p["name"]: p for p in r.json()["items"]}
    assert profiles["hornbill"]["columns"]["team"] == ["h_fk_team_name", "h_fk_team_id"]
    assert profiles["hornbill"]["columns"]["resolved_first_contact"] == ["h_firsttimefix"]
    topdesk = profiles["topdesk"]["columns"]
    assert topdesk["status"] == ["processingStatus.name", "Processing status"]
    assert "reopen_count" not in topdesk
    assert profiles["ivanti"]["columns"]["type"][0] == "TypeOfIncident"
