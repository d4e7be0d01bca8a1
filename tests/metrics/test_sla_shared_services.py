"""A shared service's export, end to end through the HTTP API: the partner council is a
name in a column, a value mapping lands each row on its council, the service's figures
cover its partners' tickets, and each partner reads its own and the service's totals but
never another partner's tickets."""

from __future__ import annotations

from typing import Any

from tests.factories import assert_problem, make_org
from tests.ingest.test_tickets import errors
from tests.metrics.test_sla_reports import STD_HOURS

HEADER = "ticket_ref,organisation,type,priority,team,logged_at,resolved_at,status\n"


def calendar_and_policy(api: Any, org: int) -> None:
    cal = api.ingest.post(
        f"/api/v1/organisations/{org}/calendars",
        json={"name": "Office", "nation": "GB-ENG", "hours": STD_HOURS},
        headers=api.auth("admin"),
    )
    assert cal.status_code == 201, cal.text
    pol = api.ingest.post(
        f"/api/v1/organisations/{org}/sla-policies",
        json={
            "priority": "P1",
            "target_hours": "4",
            "calendar_id": cal.json()["id"],
            "target_share_pct": "95",
            "effective_from": "2020-01-01",
        },
        headers=api.auth("admin"),
    )
    assert pol.status_code == 201, pol.text


def shared_service(api: Any) -> tuple[int, list[int], int]:
    """A shared service with three partner councils, and a council outside it."""
    service = make_org(api, name="Shared ICT Service", type="O", partnership=True)["id"]
    partners = [make_org(api, name=n)["id"] for n in ("Brent", "Lewisham", "Southwark")]
    outsider = make_org(api, name="Croydon")["id"]
    r = api.ingest.put(
        f"/api/v1/organisations/{service}/partners",
        json={"partner_ids": partners},
        headers=api.auth("admin"),
    )
    assert r.status_code == 200, r.text
    for org in partners:
        calendar_and_policy(api, org)
    return service, partners, outsider


def monthly(api: Any, org: int, who: dict[str, str]) -> Any:
    return api.metrics.get("/api/v1/sla/monthly", params={"organisation_id": org}, headers=who)


def test_a_three_council_export_with_names_lands_per_council(api):
    service, (brent, lewisham, southwark), croydon = shared_service(api)
    desk = api.auth("partner", [service])
    # The service's desk names councils as its tool does; a value it may not push for is
    # refused, naming the entry, and nothing is stored.
    refused = api.ingest.put(
        f"/api/v1/organisations/{service}/organisation-values/topdesk",
        json={"values": {"Brent": brent, "Croydon": croydon}},
        headers=desk,
    )
    body = assert_problem(refused, 422, "invalid_value_mapping")
    assert [e["field"] for e in body["errors"]] == ["values.Croydon"]
    mapping = api.ingest.put(
        f"/api/v1/organisations/{service}/organisation-values/topdesk",
        json={"values": {"Brent": brent, "LBL": lewisham, " southwark ": southwark}},
        headers=desk,
    )
    assert mapping.status_code == 200, mapping.text
    assert [(m["value"], m["target_organisation_id"]) for m in mapping.json()["items"]] == [
        ("Brent", brent),
        ("LBL", lewisham),
        ("southwark", southwark),
    ]
    export = (
        HEADER
        # Brent: 3 working hours (met) and 10 (missed)
        + "B1,Brent,incident,P1,Desk,01/03/2021 09:00,01/03/2021 12:00,resolved\n"
        + "B2,BRENT,incident,P1,Desk,01/03/2021 09:00,02/03/2021 09:00,resolved\n"
        # Lewisham: 1 h (met)
        + "L1,LBL,incident,P1,Desk,02/03/2021 10:00,02/03/2021 11:00,resolved\n"
        # Southwark: 2 h (met), and 5 h (missed)
        + "S1,Southwark,incident,P1,Network,03/03/2021 09:00,03/03/2021 11:00,resolved\n"
        + "S2,Southwark,incident,P1,Network,03/03/2021 09:00,03/03/2021 14:00,resolved\n"
        # Not in the mapping
        + "X1,Croydon,incident,P1,Desk,03/03/2021 09:00,03/03/2021 10:00,resolved\n"
    ).encode()
    job = api.ingest.post(
        "/api/v1/ticket-imports",
        params={"organisation_id": service, "source_system": "topdesk", "profile": "yardstick"},
        content=export,
        headers={**desk, "Content-Type": "text/csv"},
    )
    assert job.status_code == 202, job.text
    api.deliver()
    done = api.ingest.get(job.headers["location"], headers=desk).json()
    assert done["status"] == "done"
    assert (done["progress"]["rows_accepted"], done["progress"]["rows_rejected"]) == (5, 1)
    assert [(e["row"], e["code"]) for e in errors(api, done["id"])] == [
        (7, "unmapped_organisation")
    ]
    # The import says when its figures were ready, and which run made them.
    assert done["figures_ready_at"] is not None and done["computation_run_id"] is not None
    assert done["touched_months"] == {str(o): ["2021-03"] for o in (brent, lewisham, southwark)}

    # Each council's own figures, and the service's: the sum of its partners'.
    staff = api.auth("participant", [service])
    rows = {
        r["organisation_id"]: (r["met"], r["missed"], r["total"], r["pct_met"])
        for org in (brent, lewisham, southwark, service)
        for r in monthly(api, org, staff).json()["items"]
    }
    assert rows == {
        brent: (1, 1, 2, 50.0),
        lewisham: (1, 0, 1, 100.0),
        southwark: (1, 1, 2, 50.0),
        service: (3, 2, 5, 60.0),
    }
    report = monthly(api, service, staff).json()
    assert "its partners" in report["notes"]["shared_services"]
    assert report["notes"]["reopen_rule"].startswith("gap_excluded")
    # Totals over the range, by team, for the service: its partners' tickets together.
    totals = api.metrics.get(
        "/api/v1/sla/totals",
        params={"organisation_id": service, "by": "team", "resolved_from": "2021-03-01",
                "resolved_to": "2021-03-31"},
        headers=staff,
    ).json()  # fmt: skip
    assert [(r["team"], r["met"], r["missed"]) for r in totals["items"]] == [
        ("Desk", 2, 1),
        ("Network", 1, 1),
    ]
    # The service's staff list every partner's tickets.
    listed = api.metrics.get(
        "/api/v1/sla/tickets", params={"organisation_id": service}, headers=staff
    ).json()
    assert sorted(r["reference"] for r in listed["items"]) == ["B1", "B2", "L1", "S1", "S2"]

    # A partner reads its own figures and the service's totals...
    lewisham_staff = api.auth("participant", [lewisham])
    assert monthly(api, service, lewisham_staff).json()["items"][0]["met"] == 3
    own = api.metrics.get("/api/v1/sla/tickets", headers=lewisham_staff).json()
    assert [r["reference"] for r in own["items"]] == ["L1"]
    # ...but never another partner's figures or tickets.
    assert_problem(monthly(api, brent, lewisham_staff), 403, "organisation_forbidden")
    assert_problem(
        api.metrics.get(
            "/api/v1/sla/tickets", params={"organisation_id": service}, headers=lewisham_staff
        ),
        403,
        "partner_tickets_forbidden",
    )
    assert_problem(
        api.metrics.get(
            "/api/v1/sla/tickets", params={"organisation_id": brent}, headers=lewisham_staff
        ),
        403,
        "organisation_forbidden",
    )


def test_a_mapping_to_an_organisation_the_uploader_may_not_push_for_is_refused_by_row(api):
    service, (brent, _lewisham, _southwark), croydon = shared_service(api)
    # An administrator maps a value to a council outside the service...
    r = api.ingest.put(
        f"/api/v1/organisations/{service}/organisation-values/desk",
        json={"values": {"Brent": brent, "Croydon": croydon}},
        headers=api.auth("admin"),
    )
    assert r.status_code == 200, r.text
    # ...the service's desk may not push for it: that row is refused, the others land.
    export = (
        HEADER
        + "B1,Brent,incident,P1,Desk,01/03/2021 09:00,01/03/2021 12:00,resolved\n"
        + "C1,Croydon,incident,P1,Desk,01/03/2021 09:00,01/03/2021 12:00,resolved\n"
    ).encode()
    desk = api.auth("partner", [service])
    job = api.ingest.post(
        "/api/v1/ticket-imports",
        params={"organisation_id": service, "source_system": "desk", "profile": "yardstick"},
        content=export,
        headers={**desk, "Content-Type": "text/csv"},
    )
    api.deliver()
    done = api.ingest.get(job.headers["location"], headers=desk).json()
    assert (done["progress"]["rows_accepted"], done["progress"]["rows_rejected"]) == (1, 1)
    assert [(e["row"], e["code"]) for e in errors(api, done["id"])] == [
        (3, "organisation_forbidden")
    ]
    listed = api.ingest.get(
        f"/api/v1/organisations/{service}/organisation-values",
        params={"format": "csv"},
        headers=desk,
    )
    assert listed.status_code == 200
    assert listed.text.splitlines()[0] == (
        "organisation_id,source_system,value,target_organisation_id,"
        "target_organisation_name,created_by,created_at"
    )
    assert len(listed.text.splitlines()) == 3
