"""Ticket histories end to end through the HTTP API: exported with the tickets (JSON
records, TMF621) or as a second file, timed by the policy's rules, seen per ticket, in
the breach forecast and in the OLA report. Calendar Mon-Fri 08:00-18:00, England & Wales;
Monday 7 June 2021 is an ordinary working day (BST = UTC+1)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
from typer.testing import CliRunner

from tests.factories import assert_problem, make_org
from tests.ingest.test_tickets import errors
from tests.metrics.test_sla_reports import STD_HOURS

H = 3600
STATUS_MAP = {"New": "new", "In progress": "open", "Pending": "on_hold", "Solved": "resolved"}


def setup(api: Any, **rules: Any) -> tuple[int, int]:
    """An organisation with the standard calendar, P1 4 h / P2 8 h / P3 16 h policies
    that pause on "Pending", and a mapping that knows its tool's statuses."""
    org = make_org(api)["id"]
    admin = api.auth("admin")
    cal = api.ingest.post(
        f"/api/v1/organisations/{org}/calendars",
        json={"name": "Office", "nation": "GB-ENG", "hours": STD_HOURS},
        headers=admin,
    ).json()["id"]
    for priority, hours in (("P1", "4"), ("P2", "8"), ("P3", "16")):
        r = api.ingest.post(
            f"/api/v1/organisations/{org}/sla-policies",
            json={
                "priority": priority,
                "target_hours": hours,
                "calendar_id": cal,
                "target_share_pct": "95",
                "effective_from": "2020-01-01",
                "pause_statuses": ["Pending"],
                "known_statuses": ["New", "In progress", "Solved", "Closed"],
                "response_target_hours": "0.5",
                "warning_pcts": ["75", "90"],
                **rules,
            },
            headers=admin,
        )
        assert r.status_code == 201, r.text
    mapping = api.ingest.post(
        f"/api/v1/organisations/{org}/ticket-mappings",
        json={
            "name": "desk",
            "base_profile": "yardstick",
            "columns": {"Ref": "ticket_ref"},
            "status_map": STATUS_MAP | {"Closed": "closed"},
        },
        headers=admin,
    )
    assert mapping.status_code == 201, mapping.text
    return org, mapping.json()["id"]


def push(api: Any, org: int, mapping: int, body: bytes, fmt: str, **params: Any) -> dict:
    r = api.ingest.post(
        "/api/v1/ticket-imports",
        params={"organisation_id": org, "mapping_id": mapping, "source_system": "desk",
                "format": fmt, **params},
        content=body,
        headers={**api.auth("partner", [org]), "Content-Type": "application/octet-stream"},
    )  # fmt: skip
    assert r.status_code == 202, r.text
    api.deliver()
    return dict(api.ingest.get(r.headers["location"], headers=api.auth("admin")).json())


def tickets(api: Any, org: int, **params: Any) -> dict[str, dict[str, Any]]:
    r = api.metrics.get(
        "/api/v1/sla/tickets",
        params={"organisation_id": org, **params},
        headers=api.auth("participant", [org]),
    )
    assert r.status_code == 200, r.text
    return {row["reference"]: row for row in r.json()["items"]}


def record(ref: str, priority: str, logged: str, resolved: str | None, *events: tuple) -> str:
    return json.dumps(
        {
            "ticket_ref": ref,
            "type": "incident",
            "priority": priority,
            "logged_at": logged,
            "resolved_at": resolved,
            "events": [
                {"kind": k, "at": at, "value": v} | ({"end_at": e[0]} if e else {})
                for k, at, v, *e in events
            ],
        }
    )


def test_glpi_cases_and_first_response_from_an_export_with_histories(api):
    org, mapping = setup(api)
    export = "\n".join(
        [
            # GLPI #24481: pending with a reason since 10:00, never breaches while pending.
            record("G24481", "P1", "07/06/2021 09:00", None,
                   ("status", "07/06/2021 09:00", "New"),
                   ("status", "07/06/2021 10:00", "Pending")),
            # GLPI #6902: pending 10:00-13:00, raised P3 → P2 at 14:00, resolved 16:00.
            record("G6902", "P2", "07/06/2021 09:00", "07/06/2021 16:00",
                   ("priority", "07/06/2021 09:00", "P3"),
                   ("status", "07/06/2021 10:00", "Pending"),
                   ("status", "07/06/2021 13:00", "In progress"),
                   ("priority", "07/06/2021 14:00", "P2")),
            # GLPI #23359: solved Monday 12:00, reopened Tuesday 10:00, solved 11:00.
            record("G23359", "P1", "07/06/2021 09:00", "08/06/2021 11:00",
                   ("status", "07/06/2021 10:00", "Pending"),
                   ("status", "07/06/2021 11:00", "In progress"),
                   ("status", "07/06/2021 12:00", "Solved"),
                   ("status", "08/06/2021 10:00", "In progress"),
                   ("status", "08/06/2021 11:00", "Solved")),
            # First response met (20 minutes) while the resolution is missed (13 h of 8).
            record("FR1", "P2", "07/06/2021 09:00", "08/06/2021 12:00",
                   ("response", "07/06/2021 09:20", None)),
        ]
    ).encode()  # fmt: skip
    job = push(api, org, mapping, export, "jsonl")
    assert job["status"] == "done" and job["progress"]["rows_accepted"] == 4, job
    rows = tickets(api, org, as_of="2021-06-25T15:00:00Z")  # Friday 16:00 BST
    pick = ("status", "elapsed_seconds", "pending_seconds", "on_hold", "priority")
    assert {ref: tuple(r[c] for c in pick) for ref, r in rows.items()} == {
        # Pending from Monday 7 June 10:00 to Friday 25 June 16:00: 8 + 40 + 50 + 40 + 8
        # working hours; one hour used of four, never breached while pending.
        "G24481": ("open_within", 1 * H, 146 * H, True, "P1"),
        "G6902": ("met", 4 * H, 3 * H, False, "P2"),
        "G23359": ("met", 3 * H, 1 * H, False, "P1"),
        "FR1": ("missed", 13 * H, 0, False, "P2"),
    }
    assert rows["G24481"]["due_at"] == "2021-06-28T08:00:00Z"  # Monday 09:00 BST
    assert rows["G24481"]["pct_target_elapsed"] == 25.0
    assert rows["G6902"]["priority_changed_at"] == "2021-06-07T13:00:00Z"
    assert rows["G6902"]["policy"] == (
        f"P2 within 8 h on the business calendar {rows['G6902']['calendar_id']} clock, "
        "from 2020-01-01"
    )
    assert (rows["G23359"]["cycles"], rows["G23359"]["paused_seconds"]) == (2, 9 * H)
    assert (rows["FR1"]["response_status"], rows["FR1"]["response_elapsed_seconds"]) == (
        "met",
        20 * 60,
    )
    report = api.metrics.get(
        "/api/v1/sla/tickets",
        params={"organisation_id": org, "format": "csv", "as_of": "2021-06-25T15:00:00Z"},
        headers=api.auth("participant", [org]),
    )
    assert report.headers["content-type"].startswith("text/csv")
    assert report.headers["x-total-count"] == "4"
    assert report.text.splitlines()[0].startswith(
        "organisation_id,source_system,reference,type,priority,"
    )


def test_the_reopen_rule_is_the_policys_and_every_report_prints_it(api):
    org, mapping = setup(api, reopen_rule="new_cycle")
    export = record("G23359", "P1", "07/06/2021 09:00", "08/06/2021 11:00",
                    ("status", "07/06/2021 12:00", "Solved"),
                    ("status", "08/06/2021 10:00", "In progress"),
                    ("status", "08/06/2021 11:00", "Solved")).encode()  # fmt: skip
    push(api, org, mapping, export, "jsonl")
    row = tickets(api, org)["G23359"]
    # Jira's way: the clock restarts at the reopening.
    assert (row["elapsed_seconds"], row["cycles"], row["reopen_rule"]) == (1 * H, 2, "new_cycle")
    who = api.auth("participant", [org])
    for report in ("monthly", "logged", "backlog", "performance", "data-quality", "totals",
                   "tickets", "breach-forecast", "olas"):  # fmt: skip
        r = api.metrics.get(f"/api/v1/sla/{report}", params={"organisation_id": org}, headers=who)
        assert r.status_code == 200, (report, r.text)
        assert r.json()["notes"]["reopen_rule"].startswith("new_cycle: a reopening restarts")


def test_a_history_file_reports_bad_rows_and_keeps_what_was_stored(api):
    org, mapping = setup(api)
    tickets_csv = (
        b"Ref,type,priority,logged_at,resolved_at,status\n"
        b"H1,incident,P1,07/06/2021 09:00,07/06/2021 17:00,Solved\n"
    )
    assert push(api, org, mapping, tickets_csv, "csv")["progress"]["rows_inserted"] == 1
    history = (
        b"ticket_ref,kind,at,value,end_at\n"
        b"H1,status,07/06/2021 10:00,Pending,\n"  # 2 good
        b"H1,status,07/06/2021 11:00,In progress,\n"  # 3 good
        b"H1,status,07/06/2021 08:00,New,\n"  # 4 before the ticket was logged
        b"H1,status,08/06/2021 09:00,Closed,\n"  # 5 after it was closed
        b"H1,status,07/06/2021 12:00,Escalated,\n"  # 6 a status the policy does not know
        b"H1,assignment,07/06/2021 10:00,Network,07/06/2021 13:00\n"  # 7 good
        b"H1,assignment,07/06/2021 12:00,Desktop,\n"  # 8 overlaps row 7
        b"NOPE,status,07/06/2021 10:00,Pending,\n"  # 9 no such ticket
        b"H1,priority,07/06/2021 10:00,P9,\n"  # 10 unknown priority
    )
    job = push(api, org, mapping, history, "csv", content="history")
    assert job["content"] == "history"
    p = job["progress"]
    assert (p["rows_read"], p["rows_accepted"], p["rows_rejected"], p["rows_inserted"]) == (
        9,
        3,
        6,
        3,
    )
    assert [(e["row"], e["code"]) for e in errors(api, job["id"])] == [
        (4, "event_before_logged"),
        (5, "event_after_closed"),
        (6, "unknown_status"),
        (8, "overlapping_assignment"),
        (9, "unknown_ticket"),
        (10, "unknown_priority"),
    ]
    assert job["figures_ready_at"] is not None
    row = tickets(api, org)["H1"]
    # 8 working hours less the pending hour: 7 h of a 4 h target.
    assert (row["status"], row["elapsed_seconds"], row["pending_seconds"]) == (
        "missed",
        7 * H,
        1 * H,
    )
    # A second file whose every row is bad stores nothing and loses nothing.
    again = push(
        api, org, mapping, b"ticket_ref,kind,at,value\nH1,status,09/06/2021 10:00,Pending\n",
        "csv", content="history",
    )  # fmt: skip
    assert (again["progress"]["rows_rejected"], again["progress"]["rows_inserted"]) == (1, 0)
    assert tickets(api, org)["H1"]["pending_seconds"] == 1 * H


def test_an_ola_starts_at_assignment(api):
    org, mapping = setup(api)
    admin = api.auth("admin")
    for group, hours in (("Network", "2"), ("Desktop", "4")):
        r = api.ingest.post(
            f"/api/v1/organisations/{org}/ola-policies",
            json={"resolver_group": group, "target_hours": hours, "target_share_pct": "90",
                  "effective_from": "2020-01-01"},
            headers=admin,
        )  # fmt: skip
        assert r.status_code == 201, r.text
    assert r.json()["clock"] == "24x7"
    export = "\n".join([
        # Logged 09:00, with Network 11:00-14:00 (3 h: missed), Desktop 14:00-15:00 (met).
        record("O1", "P1", "07/06/2021 09:00", "07/06/2021 15:00",
               ("assignment", "07/06/2021 11:00", "Network"),
               ("assignment", "07/06/2021 14:00", "Desktop")),
        # Network 09:30-10:30: met.
        record("O2", "P1", "07/06/2021 09:00", "07/06/2021 12:00",
               ("assignment", "07/06/2021 09:30", "network", "07/06/2021 10:30")),
    ]).encode()  # fmt: skip
    push(api, org, mapping, export, "jsonl")
    r = api.metrics.get(
        "/api/v1/sla/olas", params={"organisation_id": org}, headers=api.auth("reader", [org])
    )
    assert r.status_code == 200, r.text
    got = [(x["resolver_group"], x["met"], x["missed"], x["pct_met"]) for x in r.json()["items"]]
    assert got == [("Desktop", 1, 0, 100.0), ("Network", 1, 1, 50.0)]


def test_the_breach_forecast_lists_a_ticket_one_second_before_due_not_one_after(api):
    org, mapping = setup(api)
    push(api, org, mapping, b"Ref,type,priority,logged_at\nB1,incident,P1,07/06/2021 09:00\n",
         "csv")  # fmt: skip
    who = api.auth("participant", [org])

    def forecast(as_of: str) -> list[dict[str, Any]]:
        r = api.metrics.get(
            "/api/v1/sla/breach-forecast",
            params={"organisation_id": org, "within_hours": "1", "as_of": as_of},
            headers=who,
        )
        assert r.status_code == 200, r.text
        return list(r.json()["items"])

    # Due 13:00 BST (12:00 UTC): four working hours after 09:00.
    before = forecast("2021-06-07T11:59:59Z")
    assert [(x["reference"], x["remaining_seconds"], x["due_at"]) for x in before] == [
        ("B1", 1, "2021-06-07T12:00:00Z")
    ]
    assert (before[0]["warning_pct"], before[0]["pct_target_elapsed"]) == (90.0, 99.99)
    assert forecast("2021-06-07T12:00:01Z") == []
    breached = tickets(api, org, as_of="2021-06-07T12:00:01Z", status="open_breached")
    assert breached["B1"]["remaining_seconds"] == -1
    # An hour and a half before due it is outside a one-hour forecast.
    assert forecast("2021-06-07T10:30:00Z") == []
    bad = api.metrics.get(
        "/api/v1/sla/breach-forecast",
        params={"organisation_id": org, "within_hours": "0"},
        headers=who,
    )
    assert_problem(bad, 422)


def test_a_tmf621_export_lands_with_its_status_history(api):
    org, _mapping = setup(api, known_statuses=[])
    r = api.ingest.put(
        f"/api/v1/organisations/{org}/organisation-values/tt",
        json={"values": {"Brent": org}},
        headers=api.auth("participant", [org]),
    )
    assert r.status_code == 200, r.text
    ticket = {
        "id": "TT-1",
        "@type": "TroubleTicket",
        "ticketType": "incident",
        "priority": "Critical",
        "status": "resolved",
        "creationDate": "2021-06-07T08:00:00Z",
        "resolutionDate": "2021-06-07T14:00:00Z",
        "relatedParty": [{"id": "c1", "name": "Brent", "role": "customer"}],
        "statusChangeHistory": [
            {"changeDate": "2021-06-07T08:00:00Z", "status": "acknowledged"},
            {"changeDate": "2021-06-07T09:00:00Z", "status": "pending"},
            {"changeDate": "2021-06-07T11:00:00Z", "status": "inProgress"},
            {"changeDate": "2021-06-07T14:00:00Z", "status": "resolved"},
        ],
    }
    job = api.ingest.post(
        "/api/v1/ticket-imports",
        params={"organisation_id": org, "profile": "tmf621", "source_system": "tt"},
        content=json.dumps([ticket]).encode(),
        headers={**api.auth("partner", [org]), "Content-Type": "application/json"},
    )
    assert job.status_code == 202, job.text
    assert job.json()["file_format"] == "json"
    api.deliver()
    # The policy pauses on "Pending" (TMF621's "pending", case ignored): 6 h - 2 h.
    row = tickets(api, org)["TT-1"]
    assert (row["priority"], row["elapsed_seconds"], row["pending_seconds"], row["status"]) == (
        "P1",
        4 * H,
        2 * H,
        "met",
    )


def test_import_command_waits_for_the_figures_and_prints_the_headline(
    api, tmp_path: Path, monkeypatch
):
    from yardstick import cli

    org, _mapping = setup(api)
    path = tmp_path / "export.csv"
    path.write_text(
        "ticket_ref,type,priority,logged_at,resolved_at\n"
        "K1,incident,P1,07/06/2021 09:00,07/06/2021 10:00\n"
        "K2,incident,P1,07/06/2021 09:00,08/06/2021 10:00\n"
        "K3,incident,P2,07/06/2021 09:00,07/06/2021 10:00\n"
    )
    monkeypatch.setattr(
        cli,
        "_import_client",
        lambda: httpx.Client(transport=api.transports["ingest"], base_url="http://i", timeout=60),
    )
    monkeypatch.setattr(
        cli,
        "_metrics_client",
        lambda: httpx.Client(transport=api.transports["metrics"], base_url="http://m", timeout=60),
    )
    monkeypatch.setattr(cli, "_wait", lambda seconds: api.deliver())
    result = CliRunner().invoke(
        cli.app,
        ["import", str(path), "--org", str(org), "--url", "http://i", "--metrics-url",
         "http://m", "--token", api.token("participant", [org]), "--poll-seconds", "0"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[lines.index("SLA figures for tickets logged 2021-06-01 to 2021-06-30:") + 1 :][
        :2
    ] == [
        f"  organisation {org} P1: 1 met, 1 missed, 50.00% met (target 95.00%); 0 open",
        f"  organisation {org} P2: 1 met, 0 missed, 100.00% met (target 95.00%); 0 open",
    ]
    job = json.loads(result.output[result.output.index("{") :])
    assert job["figures_ready_at"] is not None and job["computation_run_id"] is not None


def test_totals_over_a_quarter_are_the_months_added_up_not_averaged(api):
    org, mapping = setup(api)
    csv = ("Ref,type,priority,logged_at,resolved_at\n" + "".join(
        f"{ref},incident,P1,{day}/2021 09:00,{day}/2021 {end}\n"
        for ref, day, end in (
            # January: 1 met, 1 missed; February: 3 met; March: 1 missed
            ("J1", "04/01", "10:00"), ("J2", "04/01", "17:00"),
            ("F1", "01/02", "10:00"), ("F2", "01/02", "11:00"), ("F3", "01/02", "12:00"),
            ("M1", "01/03", "16:00"),
        )
    )).encode()  # fmt: skip
    push(api, org, mapping, csv, "csv")
    who = api.auth("participant", [org])
    quarter = {"organisation_id": org, "resolved_from": "2021-01-01", "resolved_to": "2021-03-31"}
    months = api.metrics.get("/api/v1/sla/monthly", params=quarter, headers=who).json()["items"]
    assert [(m["month"], m["met"], m["missed"], m["pct_met"]) for m in months] == [
        ("2021-01-01", 1, 1, 50.0),
        ("2021-02-01", 3, 0, 100.0),
        ("2021-03-01", 0, 1, 0.0),
    ]
    totals = api.metrics.get("/api/v1/sla/totals", params=quarter, headers=who).json()
    (row,) = totals["items"]
    # 4 of 6, not the mean of 50 %, 100 % and 0 %.
    assert (row["priority"], row["met"], row["missed"], row["total"], row["pct_met"]) == (
        "P1",
        4,
        2,
        6,
        66.67,
    )
    assert (row["target_share_pct"], row["target_achieved"]) == (95.0, False)
    assert totals["notes"]["range"].startswith("resolved 2021-01-01 to 2021-03-31")


def test_tickets_at_or_past_a_warning_threshold(api):
    org, mapping = setup(api)
    push(api, org, mapping,
         b"Ref,type,priority,logged_at\nW1,incident,P1,07/06/2021 09:00\n"
         b"W2,incident,P1,07/06/2021 11:00\nW3,incident,P2,07/06/2021 09:00\n",
         "csv")  # fmt: skip
    # At 12:00 BST: W1 3 h of 4 (75 %), W2 1 h of 4 (25 %), W3 3 h of 8 (37.5 %).
    rows = tickets(api, org, as_of="2021-06-07T11:00:00Z", warning="true")
    assert {ref: (r["warning_pct"], r["pct_target_elapsed"]) for ref, r in rows.items()} == {
        "W1": (75.0, 75.0)
    }
    later = tickets(api, org, as_of="2021-06-07T11:36:00Z", warning="true")
    assert {ref: r["warning_pct"] for ref, r in later.items()} == {"W1": 90.0}
