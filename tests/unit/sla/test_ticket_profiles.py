"""Each ready profile maps an export written with the tool's documented column names.

The headers and values below are the ones named in the public material cited in the
``services.ingest.tickets.profiles`` docstring (field names, state codes, display labels,
date formats); the assertions are the canonical values the SLA engine receives.
"""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from typing import Any

import polars as pl

from services.ingest.tickets.parsing import RowIssue, parse_tickets
from services.ingest.tickets.profiles import (
    FRESHSERVICE,
    HORNBILL,
    IVANTI,
    JIRA_SERVICE_MANAGEMENT,
    SERVICENOW,
    TMF621,
    TOPDESK,
    Profile,
)
from services.ingest.tickets.service import YARDSTICK_PROFILE

COLUMNS = (
    "organisation_id",
    "ticket_ref",
    "type",
    "priority",
    "request_type",
    "team",
    "closure_category",
    "status",
    "reopen_count",
    "resolved_first_contact",
    "nps_rating",
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def run(data: bytes, profile: Profile, **kw: Any) -> tuple[pl.DataFrame, list[RowIssue]]:
    batches, _ = parse_tickets(io.BytesIO(data), profile, organisation_id="o1", **kw)
    rows = pl.concat([b.rows for b in batches])
    return rows, [i for b in batches for i in b.issues]


def jsonl(*records: dict[str, Any]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in records).encode()


def mapped(rows: pl.DataFrame) -> list[tuple[Any, ...]]:
    return rows.select(COLUMNS).rows()


def dates(rows: pl.DataFrame) -> list[tuple[Any, ...]]:
    return rows.select("logged_at", "resolved_at", "closed_at").rows()


# --- ServiceNow ----------------------------------------------------------------------------


def test_servicenow_incident_list_csv_field_names_and_display_values() -> None:
    # A list CSV export: field names as headers, display values as cells.
    text = (
        "number,sys_class_name,company,priority,state,opened_at,resolved_at,closed_at,"
        "assignment_group,close_code,reopen_count,category,subcategory\n"
        "INC0010001,Incident,Borough,1 - Critical,Closed,2021-03-05 17:30:00,"
        "2021-03-08 09:30:00,2021-03-09 09:30:00,Service Desk,Solved (Permanently),1,"
        "Inquiry / Help,email\n"
        "INC0010002,Incident,Borough,5 - Planning,On Hold,2021-03-05 10:00:00,,,Network,,0,"
        "Network,vpn\n"
        "INC0010003,Incident,County,3 - Moderate,In Progress,2021-06-01 09:00:00,,,Desk,,2,"
        "Software,\n"
        "INC0010004,Incident,County,2 - High,Canceled,2021-06-01 09:00:00,,,Desk,,0,,\n"
    )
    rows, issues = run(text.encode(), SERVICENOW)
    assert issues == []
    assert mapped(rows) == [
        (
            "Borough",
            "INC0010001",
            "incident",
            "P1",
            "email",
            "Service Desk",
            "Solved (Permanently)",
            "closed",
            1,
            None,
            None,
        ),
        (
            "Borough",
            "INC0010002",
            "incident",
            "P4",
            "vpn",
            "Network",
            None,
            "on_hold",
            0,
            None,
            None,
        ),
        ("County", "INC0010003", "incident", "P3", None, "Desk", None, "open", 2, None, None),
        ("County", "INC0010004", "incident", "P2", None, "Desk", None, "cancelled", 0, None, None),
    ]
    # Naive times are UK local: 5 March is GMT, 1 June is BST.
    assert dates(rows)[0] == (
        utc(2021, 3, 5, 17, 30),
        utc(2021, 3, 8, 9, 30),
        utc(2021, 3, 9, 9, 30),
    )
    assert dates(rows)[2] == (utc(2021, 6, 1, 8, 0), None, None)


def test_servicenow_requested_item_list_csv() -> None:
    text = (
        "number,sys_class_name,priority,state,opened_at,closed_at,assignment_group,cat_item\n"
        "RITM0010003,Requested Item,4 - Low,Closed Complete,2021-06-01 09:00:00,"
        "2021-06-02 12:00:00,Fulfilment,Standard Laptop\n"
        "RITM0010004,Requested Item,3 - Moderate,Closed Skipped,2021-06-01 09:00:00,"
        "2021-06-01 10:00:00,Fulfilment,Monitor\n"
        "RITM0010005,Requested Item,4 - Low,Work in Progress,2021-06-01 09:00:00,,"
        "Fulfilment,Monitor\n"
    )
    rows, issues = run(text.encode(), SERVICENOW)
    assert issues == []
    assert rows.select("ticket_ref", "type", "priority", "request_type", "status").rows() == [
        ("RITM0010003", "request", "P4", "Standard Laptop", "closed"),
        ("RITM0010004", "request", "P3", "Monitor", "cancelled"),
        ("RITM0010005", "request", "P4", "Monitor", "open"),
    ]
    # A requested item has no resolved_at: only the closed date arrives.
    assert dates(rows)[0] == (utc(2021, 6, 1, 8, 0), None, utc(2021, 6, 2, 11, 0))


def test_servicenow_table_api_raw_values_and_display_value_references() -> None:
    record = {
        "number": "INC0000013",
        "sys_class_name": "incident",
        "priority": "2",
        "state": "6",
        "incident_state": "6",
        "opened_at": "2020-07-06 23:15:58",
        "resolved_at": "2020-07-07 08:00:00",
        "closed_at": "",
        "close_code": "Solved (Work Around)",
        "reopen_count": "0",
        "hold_reason": "",
        "subcategory": "",
        "assignment_group": {"display_value": "Hardware", "link": "https://x/sys_user_group/1"},
        "company": {"display_value": "ACME", "link": "https://x/core_company/2"},
    }
    new = {**record, "number": "INC0000014", "state": "1", "priority": "5", "resolved_at": ""}
    cancelled = {**record, "number": "INC0000015", "state": "8", "priority": "1"}
    rows, issues = run(jsonl(record, new, cancelled), SERVICENOW, file_format="jsonl")
    assert issues == []
    assert rows.select("organisation_id", "ticket_ref", "priority", "status", "team").rows() == [
        ("ACME", "INC0000013", "P2", "resolved", "Hardware"),
        ("ACME", "INC0000014", "P4", "new", "Hardware"),
        ("ACME", "INC0000015", "P1", "cancelled", "Hardware"),
    ]
    assert rows["closure_category"].to_list() == ["Solved (Work Around)"] * 3
    assert rows["reopen_count"].to_list() == [0, 0, 0]
    assert dates(rows)[0] == (utc(2020, 7, 6, 22, 15, 58), utc(2020, 7, 7, 7, 0), None)


# --- TOPdesk -------------------------------------------------------------------------------


def test_topdesk_incident_api_record() -> None:
    # The shape of GET /tas/api/incidents: `status` is the line, not the processing status.
    logged = {
        "number": "I 2103 017",
        "status": "firstLine",
        "callDate": "2021-02-11T06:32:36.303+0000",
        "completedDate": None,
        "closedDate": None,
        "branch": None,
        "callerBranch": {"id": "b1", "name": "Borough"},
        "callType": {"id": "c1", "name": "Incident"},
        "category": {"id": "k1", "name": "Hardware"},
        "subcategory": {"id": "k2", "name": "Printer"},
        "priority": {"id": "p1", "name": "P2"},
        "operatorGroup": {"id": "g1", "name": "Second line"},
        "processingStatus": {"id": "s1", "name": "Logged"},
        "closureCode": None,
        "feedbackRating": None,
        "onHold": False,
    }
    closed = {
        **logged,
        "number": "I 2103 018",
        "status": "secondLine",
        "branch": {"id": "b2", "name": "County"},
        "completedDate": "2021-02-12T10:00:00.000+0000",
        "closedDate": "2021-02-13T10:00:00.000+0000",
        "processingStatus": {"id": "s2", "name": "Closed"},
        "closureCode": {"id": "x1", "name": "Solved"},
        "feedbackRating": 4,
    }
    rows, issues = run(jsonl(logged, closed), TOPDESK, file_format="jsonl")
    assert issues == []
    assert mapped(rows) == [
        (
            "Borough",
            "I 2103 017",
            "incident",
            "P2",
            "Printer",
            "Second line",
            None,
            "new",
            None,
            None,
            None,
        ),
        (
            "County",
            "I 2103 018",
            "incident",
            "P2",
            "Printer",
            "Second line",
            "Solved",
            "closed",
            None,
            None,
            4,
        ),
    ]
    assert dates(rows)[1] == (
        utc(2021, 2, 11, 6, 32, 36, 303000),
        utc(2021, 2, 12, 10, 0),
        utc(2021, 2, 13, 10, 0),
    )


def test_topdesk_list_export_prefers_processing_status_over_line_status() -> None:
    text = (
        "Number,Call date,Completed date,Priority,Call type,Operator group,Status,"
        "Processing status,Closure code\n"
        "I 2103 001,05/03/2021 17:30,08/03/2021 09:30,P1,Incident,Desk,Second line,"
        "Completed,Solved\n"
    )
    rows, issues = run(text.encode(), TOPDESK)
    assert issues == []
    assert mapped(rows) == [
        ("o1", "I 2103 001", "incident", "P1", None, "Desk", "Solved", "resolved", None, None, None)
    ]


# --- Ivanti Service Manager ------------------------------------------------------------------


def test_ivanti_odata_incident_records() -> None:
    logged = {
        "IncidentNumber": 12345,
        "CreatedDateTime": "2020-08-12T16:33:37-07:00",
        "Priority": "5",
        "Status": "Logged",
        "TypeOfIncident": "Request",
        "OwnerTeam": "Service Management Team",
        "OrganizationUnitID": "Consulting Services",
        "CustomerDepartment": "Corporate Services and Training",
        "Category": "Software Installation",
        "Subject": "InsightConnect Test",
        "FirstCallResolution": False,
        "ClosedDateTime": None,
    }
    resolved = {
        **logged,
        "IncidentNumber": 12346,
        "Priority": "1",
        "Status": "Resolved",
        "TypeOfIncident": "Failure",
        "CauseCode": "Software",
        "ResolvedDateTime": "2020-08-13T09:00:00-07:00",
        "FirstCallResolution": True,
    }
    waiting = {**logged, "IncidentNumber": 12347, "Status": "Waiting for 3rd Party"}
    rows, issues = run(jsonl(logged, resolved, waiting), IVANTI, file_format="jsonl")
    assert issues == []
    assert mapped(rows) == [
        (
            "Consulting Services",
            "12345",
            "request",
            "P4",
            "Software Installation",
            "Service Management Team",
            None,
            "new",
            None,
            False,
            None,
        ),
        (
            "Consulting Services",
            "12346",
            "incident",
            "P1",
            "Software Installation",
            "Service Management Team",
            "Software",
            "resolved",
            None,
            True,
            None,
        ),
        (
            "Consulting Services",
            "12347",
            "request",
            "P4",
            "Software Installation",
            "Service Management Team",
            None,
            "on_hold",
            None,
            False,
            None,
        ),
    ]
    assert dates(rows)[1] == (utc(2020, 8, 12, 23, 33, 37), utc(2020, 8, 13, 16, 0), None)


def test_ivanti_csv_with_business_object_field_names() -> None:
    text = (
        "IncidentNumber,TypeOfIncident,Priority,Status,OwnerTeam,CauseCode,CreatedDateTime,"
        "ResolvedDateTime,ClosedDateTime,FirstCallResolution,CustomerDepartment,Category,"
        "Subject\n"
        "10001,Failure,2,Closed,Service Desk,Hardware,05/03/2021 17:30,08/03/2021 09:30,"
        "09/03/2021 09:30,true,Housing,Printing,Printer jams on floor 2\n"
        "10002,Failure,3,Active,Networks,,06/03/2021 10:00,,,false,Housing,Network,VPN\n"
    )
    rows, issues = run(text.encode(), IVANTI)
    assert issues == []
    assert mapped(rows) == [
        (
            "Housing",
            "10001",
            "incident",
            "P2",
            "Printing",
            "Service Desk",
            "Hardware",
            "closed",
            None,
            True,
            None,
        ),
        (
            "Housing",
            "10002",
            "incident",
            "P3",
            "Network",
            "Networks",
            None,
            "open",
            None,
            False,
            None,
        ),
    ]
    assert dates(rows)[0] == (
        utc(2021, 3, 5, 17, 30),
        utc(2021, 3, 8, 9, 30),
        utc(2021, 3, 9, 9, 30),
    )


# --- Hornbill Service Manager ----------------------------------------------------------------

HORNBILL_HEADER = (
    "h_pk_reference,h_requesttype,h_fk_priorityname,h_datelogged,h_dateresolved,"
    "h_dateclosed,h_status,h_fk_team_id,h_fk_team_name,h_closure_category,"
    "h_closure_category_id,h_category,h_reopencount,h_firsttimefix\n"
)


def test_hornbill_requests_table_columns() -> None:
    text = HORNBILL_HEADER + (
        "IN00012345,Incident,P2,2021-03-05 17:30:00,2021-03-08 09:30:00,2021-03-09 10:00:00,"
        "status.closed,organisation/ServiceDesk/,Service Desk,Fixed,12,Hardware,1,1\n"
        "SR00012346,Service Request,P4,2021-03-06 10:00:00,,,status.onHold,"
        "organisation/Desktop/,Desktop,,,Laptop,0,\n"
        "IN00012347,Incident,P1,2021-03-07 08:00:00,,,status.new,"
        "organisation/ServiceDesk/,Service Desk,,,Email,0,0\n"
        "CH00012348,Change Request,P3,2021-03-07 08:00:00,,,status.open,"
        "organisation/Change/,Change,,,Server,0,\n"
    )
    rows, issues = run(text.encode(), HORNBILL)
    assert mapped(rows) == [
        (
            "o1",
            "IN00012345",
            "incident",
            "P2",
            "Hardware",
            "Service Desk",
            "Fixed",
            "closed",
            1,
            True,
            None,
        ),
        ("o1", "SR00012346", "request", "P4", "Laptop", "Desktop", None, "on_hold", 0, None, None),
        (
            "o1",
            "IN00012347",
            "incident",
            "P1",
            "Email",
            "Service Desk",
            None,
            "new",
            0,
            False,
            None,
        ),
    ]
    assert dates(rows)[0] == (
        utc(2021, 3, 5, 17, 30),
        utc(2021, 3, 8, 9, 30),
        utc(2021, 3, 9, 10, 0),
    )
    # A change request is neither an incident nor a request: rejected, not guessed.
    assert [(i.row, i.code) for i in issues] == [(5, "unknown_type")]


def test_hornbill_team_and_closure_ids_when_names_are_absent() -> None:
    text = (
        "h_pk_reference,h_requesttype,h_datelogged,h_status,h_fk_team_id,h_closure_category_id\n"
        "IN00000001,Incident,2021-03-05 17:30:00,status.resolved,organisation/ServiceDesk/,12\n"
    )
    rows, issues = run(text.encode(), HORNBILL)
    assert [(i.row, i.code, i.severity) for i in issues] == [(2, "no_priority", "warning")]
    assert rows.select("team", "closure_category", "status").row(0) == (
        "organisation/ServiceDesk/",
        "12",
        "resolved",
    )


# --- Freshservice ----------------------------------------------------------------------------


def test_freshservice_api_v2_tickets_with_stats() -> None:
    urgent = {
        "id": 100,
        "type": "Incident",
        "priority": 4,
        "status": 5,
        "created_at": "2023-02-24T03:30:30Z",
        "group_id": 21000188,
        "department_id": 2100,
        "category": "Software",
        "sub_category": "Email",
        "stats": {
            "ticket_id": 100,
            "opened_at": None,
            "pending_since": None,
            "resolved_at": "2023-02-24T05:00:00Z",
            "closed_at": "2023-02-25T05:00:00Z",
            "first_resp_time_in_secs": None,
            "resolution_time_in_secs": 5370,
        },
    }
    pending = {
        **urgent,
        "id": 101,
        "type": "Service Request",
        "priority": 1,
        "status": 3,
        "sub_category": "Laptop",
        "stats": {"ticket_id": 101, "resolved_at": None, "closed_at": None},
    }
    rows, issues = run(jsonl(urgent, pending), FRESHSERVICE, file_format="jsonl")
    assert issues == []
    assert mapped(rows) == [
        ("2100", "100", "incident", "P1", "Email", "21000188", None, "closed", None, None, None),
        ("2100", "101", "request", "P4", "Laptop", "21000188", None, "on_hold", None, None, None),
    ]
    assert dates(rows) == [
        (utc(2023, 2, 24, 3, 30, 30), utc(2023, 2, 24, 5, 0), utc(2023, 2, 25, 5, 0)),
        (utc(2023, 2, 24, 3, 30, 30), None, None),
    ]


def test_freshservice_medium_and_high_priorities_and_open_resolved_status() -> None:
    records = [
        {
            "id": 1,
            "type": "Incident",
            "priority": 3,
            "status": 2,
            "created_at": "2023-01-02T09:00Z",
        },
        {
            "id": 2,
            "type": "Incident",
            "priority": 2,
            "status": 4,
            "created_at": "2023-01-02T09:00Z",
        },
    ]
    rows, issues = run(jsonl(*records), FRESHSERVICE, file_format="jsonl")
    assert issues == []
    assert rows.select("priority", "status").rows() == [("P2", "open"), ("P3", "resolved")]


# --- Jira Service Management -----------------------------------------------------------------


def test_jira_service_management_csv_all_fields_export() -> None:
    text = (
        "Summary,Issue key,Issue id,Issue Type,Status,Status Category,Priority,Resolution,"
        "Created,Resolved,Custom field (Customer Request Type),Custom field (Organizations),"
        "Satisfaction rating\n"
        "Printer down,ITSM-1,10001,Fault,Done,Done,Highest,Done,09/Oct/25 1:42 PM,"
        "10/Oct/25 9:05 AM,Report a problem,Borough,5\n"
        "New laptop,ITSM-2,10002,Purchase,Waiting for customer,In Progress,Medium,,"
        "11/Oct/25 10:00 AM,,Request new hardware,Borough,\n"
        "VPN,ITSM-3,10003,Incident,Reopened,To Do,Low,,05/Mar/21 5:30 PM,,,County,\n"
        "Access,ITSM-4,10004,Access,Escalated,In Progress,Lowest,,05/Mar/21 5:30 PM,,,County,\n"
    )
    rows, issues = run(text.encode(), JIRA_SERVICE_MANAGEMENT)
    assert issues == []
    assert mapped(rows) == [
        (
            "Borough",
            "ITSM-1",
            "incident",
            "P1",
            "Report a problem",
            None,
            "Done",
            "resolved",
            None,
            None,
            5,
        ),
        (
            "Borough",
            "ITSM-2",
            "request",
            "P3",
            "Request new hardware",
            None,
            None,
            "on_hold",
            None,
            None,
            None,
        ),
        ("County", "ITSM-3", "incident", "P4", None, None, None, "open", None, None, None),
        ("County", "ITSM-4", "request", "P4", None, None, None, "open", None, None, None),
    ]
    # 09/Oct/25 13:42 is BST; 05/Mar/21 17:30 is GMT.
    assert dates(rows)[0] == (utc(2025, 10, 9, 12, 42), utc(2025, 10, 10, 8, 5), None)
    assert dates(rows)[2] == (utc(2021, 3, 5, 17, 30), None, None)


def test_jira_rest_issue_search_results() -> None:
    fields: dict[str, Any] = {
        "summary": "Database outage",
        "issuetype": {"id": "1", "name": "Incident"},
        "priority": {"name": "High"},
        "status": {"name": "Resolved", "statusCategory": {"key": "done"}},
        "resolution": {"id": "1", "name": "Fixed"},
        "created": "2021-03-05T17:30:00.000+0000",
        "resolutiondate": "2021-03-08T09:30:00.000+0000",
    }
    done = {"id": "10001", "key": "ITSM-7", "fields": fields}
    working = {
        "id": "10002",
        "key": "ITSM-8",
        "fields": {
            **fields,
            "issuetype": {"id": "2", "name": "Service Request"},
            "status": {"name": "Work in progress"},
            "resolution": None,
            "resolutiondate": None,
        },
    }
    rows, issues = run(jsonl(done, working), JIRA_SERVICE_MANAGEMENT, file_format="jsonl")
    assert issues == []
    assert rows.select("ticket_ref", "type", "priority", "status", "closure_category").rows() == [
        ("ITSM-7", "incident", "P2", "resolved", "Fixed"),
        ("ITSM-8", "request", "P2", "open", None),
    ]
    assert dates(rows) == [
        (utc(2021, 3, 5, 17, 30), utc(2021, 3, 8, 9, 30), None),
        (utc(2021, 3, 5, 17, 30), None, None),
    ]


# --- what the profiles no longer guess ---------------------------------------------------------


def test_dropped_guesses_are_gone_and_documented_names_listed() -> None:
    assert "reopen_count" not in TOPDESK.columns
    assert "resolved_first_contact" not in TOPDESK.columns
    assert HORNBILL.columns["resolved_first_contact"] == ("h_firsttimefix",)
    assert HORNBILL.columns["closure_category"] == ("h_closure_category", "h_closure_category_id")
    assert FRESHSERVICE.columns["reopen_count"] == ("Reopened Count",)
    assert SERVICENOW.columns["resolved_first_contact"] == ("u_first_contact_resolution",)
    assert IVANTI.columns["resolved_first_contact"] == ("FirstCallResolution",)


# --- TM Forum TMF621 -------------------------------------------------------------------


def _tmf621_ticket(n: int, **kw: Any) -> dict[str, Any]:
    return {
        "id": f"TT-{n}",
        "href": f"https://tt.example/troubleTicket/TT-{n}",
        "@type": "TroubleTicket",
        "ticketType": "incident",
        "priority": "High",
        "severity": "Major",
        "status": "resolved",
        "creationDate": "2021-06-07T08:00:00Z",
        "resolutionDate": "2021-06-07T15:00:00Z",
        "relatedParty": [
            {"id": "u1", "name": "A. Caller", "role": "Originator", "@referredType": "Individual"},
            {"id": "c7", "name": "Brent", "role": "customer", "@referredType": "Organization"},
        ],
        "statusChangeHistory": [
            {"changeDate": "2021-06-07T08:00:00Z", "status": "acknowledged"},
            {"changeDate": "2021-06-07T09:00:00Z", "status": "pending", "changeReason": "user"},
            {"changeDate": "2021-06-07T10:00:00Z", "status": "inProgress"},
            {"changeDate": "2021-06-07T15:00:00Z", "status": "resolved"},
        ],
        **kw,
    }


def test_tmf621_array_document_with_status_change_history() -> None:
    body = json.dumps(
        [_tmf621_ticket(1), _tmf621_ticket(2, ticketType="serviceRequest", priority="Low")]
    ).encode()
    batches, stats = parse_tickets(io.BytesIO(body), TMF621, file_format="json")
    rows = pl.concat([b.rows for b in batches])
    assert [i for b in batches for i in b.issues] == []
    assert rows.select("organisation_id", "ticket_ref", "type", "priority", "status").rows() == [
        ("Brent", "TT-1", "incident", "P2", "resolved"),
        ("Brent", "TT-2", "request", "P4", "resolved"),
    ]
    events = pl.concat([b.events for b in batches if b.events is not None])
    first = events.filter(pl.col("source_row") == 1)
    assert first.select("kind", "at", "value", "canonical").rows() == [
        ("status", utc(2021, 6, 7, 8), "acknowledged", "new"),
        ("status", utc(2021, 6, 7, 9), "pending", "on_hold"),
        ("status", utc(2021, 6, 7, 10), "inProgress", "open"),
        ("status", utc(2021, 6, 7, 15), "resolved", "resolved"),
    ]
    assert stats.rows_accepted == 2


def test_tmf621_history_event_after_the_ticket_closed_refuses_the_row() -> None:
    late = _tmf621_ticket(3)
    late["statusChangeHistory"].append({"changeDate": "2021-06-08T09:00:00Z", "status": "closed"})
    body = jsonl(_tmf621_ticket(1), late)
    batches, _ = parse_tickets(io.BytesIO(body), TMF621, file_format="jsonl")
    rows = pl.concat([b.rows for b in batches])
    issues = [i for b in batches for i in b.issues]
    assert rows["ticket_ref"].to_list() == ["TT-1"]
    assert [(i.row, i.column, i.code) for i in issues] == [(2, "history", "event_after_closed")]
    assert "event 5 (status at 2021-06-08T09:00:00Z)" in issues[0].message


def test_a_history_in_a_json_record_is_checked_against_its_own_ticket() -> None:
    def record(ref: str, *events: dict[str, Any]) -> dict[str, Any]:
        return {"ticket_ref": ref, "priority": "P1", "type": "incident",
                "logged_at": "2021-06-07T09:00:00+01:00",
                "resolved_at": "2021-06-07T15:00:00+01:00", "events": list(events)}  # fmt: skip

    def ev(kind: str, at: str, value: str | None = None, **kw: Any) -> dict[str, Any]:
        return {"kind": kind, "at": f"2021-06-07T{at}:00+01:00", "value": value, **kw}

    body = jsonl(
        record("OK", ev("status", "10:00", "Pending"), ev("assignment", "10:00", "Net")),
        record("EARLY", ev("status", "08:00", "New")),
        record(
            "OVERLAP",
            ev("assignment", "10:00", "Net", end_at="2021-06-07T13:00:00+01:00"),
            ev("assignment", "12:00", "Desk"),
        ),
        record("KIND", ev("escalation", "10:00", "L2")),
    )
    batches, _ = parse_tickets(io.BytesIO(body), YARDSTICK_PROFILE, file_format="jsonl",
                               organisation_id="o1")  # fmt: skip
    rows = pl.concat([b.rows for b in batches])
    issues = [(i.row, i.code) for b in batches for i in b.issues]
    assert rows["ticket_ref"].to_list() == ["OK"]
    assert issues == [
        (2, "event_before_logged"),
        (3, "overlapping_assignment"),
        (4, "unknown_event_kind"),
    ]
    events = pl.concat([b.events for b in batches if b.events is not None])
    assert events.select("source_row", "kind", "value", "canonical").rows() == [
        (1, "status", "Pending", "on_hold"),
        (1, "assignment", "Net", None),
    ]
