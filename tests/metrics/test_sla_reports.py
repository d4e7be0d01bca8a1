"""SLA figures through the HTTP API: upload → outbox → recompute → report."""

from __future__ import annotations

import csv
import io
from typing import Any

from tests.factories import assert_problem, make_org
from tests.ingest.test_tickets import HEADER, push

STD_HOURS = {
    d: [{"start": "08:00", "end": "18:00"}]
    for d in ("monday", "tuesday", "wednesday", "thursday", "friday")
}


def setup_org(api: Any, share: str = "95") -> tuple[int, int]:
    org = make_org(api)["id"]
    cal = api.ingest.post(
        f"/api/v1/organisations/{org}/calendars",
        json={"name": "Office", "nation": "GB-ENG", "hours": STD_HOURS},
        headers=api.auth("participant", [org]),
    )
    assert cal.status_code == 201, cal.text
    assert cal.json()["working_day_hours"] == "10.00"
    for priority in ("P1", "P2"):
        pol = api.ingest.post(
            f"/api/v1/organisations/{org}/sla-policies",
            json={
                "priority": priority,
                "target_hours": "4" if priority == "P1" else "8",
                "calendar_id": cal.json()["id"],
                "target_share_pct": share,
                "effective_from": "2020-01-01",
            },
            headers=api.auth("admin"),
        )
        assert pol.status_code == 201, pol.text
    return org, cal.json()["id"]


def report(api: Any, name: str, org: int, role: str = "admin", **params: Any) -> Any:
    return api.metrics.get(
        f"/api/v1/sla/{name}",
        params={"organisation_id": org, **params},
        headers=api.auth(role, [org]),
    )


def test_domain_worked_examples(api):
    org, _ = setup_org(api)
    body = (
        HEADER
        + "W1,incident,P1,,Desk,Fixed,05/03/2021 17:30,08/03/2021 09:30,resolved\n"
        + "W2,incident,P1,,Desk,Fixed,06/03/2021 10:00,08/03/2021 08:45,resolved\n"
        + "W3,incident,P1,,Desk,Fixed,24/12/2021 17:00,29/12/2021 09:00,resolved\n"
        + "W4,incident,P1,,Desk,Fixed,07/06/2021 09:00,09/06/2021 12:00,resolved\n"
    ).encode()
    push(api, org, body)
    hold = api.ingest.post(
        "/api/v1/ticket-intervals",
        json={
            "organisation_id": org,
            "source_system": "sn",
            "intervals": [
                {
                    "reference": "W4",
                    "kind": "hold",
                    "start": "2021-06-07T11:00:00+01:00",
                    "end": "2021-06-09T10:00:00+01:00",
                }
            ],
        },
        headers=api.auth("partner", [org]),
    )
    assert hold.status_code == 200, hold.text
    api.deliver()
    rows = report(api, "monthly", org).json()["items"]
    by_month = {r["month"]: r for r in rows}
    # 2 h, 0 h 45 m → both met (4 h); averages in hours on the SLA clock
    assert by_month["2021-03-01"]["met"] == 2
    assert by_month["2021-03-01"]["avg_closure_sla_clock_hours"] == 1.38  # (2 + 0.75) / 2
    assert by_month["2021-12-01"]["avg_closure_sla_clock_hours"] == 2.0
    assert by_month["2021-06-01"]["avg_closure_sla_clock_hours"] == 4.0
    assert by_month["2021-06-01"]["met"] == 1  # exactly on target is met


def test_month_of_1585_met_and_1117_missed(api):
    org, _ = setup_org(api, share="95")
    lines = [HEADER]
    for i in range(1585 + 1117):
        # P2 target 8 business hours; met = 1 h, missed = resolved the next week
        resolved = "01/03/2021 10:00" if i < 1585 else "09/03/2021 17:00"
        lines.append(f"T{i},incident,P2,,Desk,Fixed,01/03/2021 09:00,{resolved},resolved\n")
    job = push(api, org, "".join(lines).encode())
    assert job["progress"]["rows_accepted"] == 2702
    api.deliver()
    body = report(api, "monthly", org).json()
    assert body["units"]["pct_met"].startswith("%")
    (row,) = body["items"]
    assert (row["met"], row["missed"], row["total"], row["pct_met"]) == (1585, 1117, 2702, 58.66)
    assert row["target_share_pct"] == 95.0 and row["target_achieved"] is False
    got = report(api, "monthly", org, format="csv")
    assert got.headers["content-type"].startswith("text/csv")
    header, first = got.text.splitlines()[:2]
    assert header.split(",") == body["columns"]
    assert first.startswith(f"{org},P2,2021-03-01,1585,1117,2702,58.66,95.00,false")


def test_csv_escapes_formula_cells_and_participants_see_only_their_own(api):
    org, _ = setup_org(api)
    other = make_org(api)["id"]
    # Four references a spreadsheet would run, on tickets resolved before they were logged
    # (so they are listed, by reference, in the data-quality report).
    hostile = ['=HYPERLINK("http://x")', "+SUM(1)", "-2+3", "@SUM(1)"]
    body = (
        HEADER
        + "F1,incident,P1,,=cmd|' /C calc'!A0,@SUM(1),05/03/2021 09:00,,open\n"
        + "".join(
            f'"{ref.replace(chr(34), chr(34) * 2)}",incident,P1,,Desk,Fixed,'
            "05/03/2021 10:00,05/03/2021 09:00,resolved\n"
            for ref in hostile
        )
    ).encode()
    job = push(api, org, body)
    assert job["progress"]["rows_accepted"] == 5, job
    api.deliver()
    quality = report(api, "data-quality", org).json()
    assert sorted(r["reference"] for r in quality["items"]) == sorted(hostile)  # JSON: as sent
    got = report(api, "data-quality", org, format="csv")
    assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(got.text)))
    assert table[0] == quality["columns"]
    column = table[0].index("reference")
    assert sorted(line[column] for line in table[1:]) == sorted("'" + ref for ref in hostile)
    back = report(api, "backlog", org, format="csv", as_of="2021-03-05T12:00:00+00:00")
    lines = back.text.splitlines()
    assert (
        lines[0]
        == "organisation_id,priority,open,open_within,open_breached,on_hold,reopened,data_quality"
    )
    assert lines[1] == f"{org},P1,1,1,0,0,0,4"  # the four hostile references
    # one second after the 4 h due time (09:00 + 4 h = 13:00 GMT) it is breached
    late = report(api, "backlog", org, as_of="2021-03-05T13:00:01+00:00").json()["items"][0]
    assert (late["open_within"], late["open_breached"]) == (0, 1)
    on_time = report(api, "backlog", org, as_of="2021-03-05T13:00:00+00:00").json()["items"][0]
    assert (on_time["open_within"], on_time["open_breached"]) == (1, 0)
    teams = report(api, "logged", org, format="csv", team="=cmd|' /C calc'!A0")
    assert teams.text.splitlines()[1] == f"{org},P1,2021-03-01,1"
    denied = api.metrics.get(
        "/api/v1/sla/monthly",
        params={"organisation_id": org},
        headers=api.auth("participant", [other]),
    )
    assert_problem(denied, 403, "organisation_forbidden")


def test_nps_by_month(api):
    org, _ = setup_org(api)
    head = HEADER.strip() + ",nps_rating\n"
    rows = "".join(
        f"N{i},incident,P1,,Desk,Fixed,05/03/2021 09:00,05/03/2021 10:00,resolved,{r}\n"
        for i, r in enumerate([10, 9, 8, 6, 0])
    )
    push(api, org, (head + rows).encode())
    api.deliver()
    got = api.metrics.get(
        "/api/v1/nps", params={"source": "tickets", "organisation_id": org}, headers=api.auth()
    )
    month, whole = got.json()["items"]
    assert (month["month"], whole["month"]) == ("2021-03-01", None)
    for row in (month, whole):
        assert (row["responses"], row["promoters"], row["detractors"], row["nps"]) == (5, 2, 2, 0.0)
