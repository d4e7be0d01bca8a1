"""Column-mapping profiles for ticket exports from common ITSM tools.

A profile maps each canonical field to candidate source columns (the first present in
the file wins; header matching ignores case and surrounding spaces), plus value maps for
priority, type and status. JSON-lines records are flattened with dots
(``{"priority": {"name": "P1"}}`` → ``priority.name``), so API field paths work too.

Canonical fields: organisation, ticket_ref, type, priority, request_type, team,
closure_category, logged_at, resolved_at, closed_at, status, reopen_count,
resolved_first_contact, nps_rating.

Where the field names come from (public documentation):

* ServiceNow — the ``incident`` table dictionary (Task/Incident fields: ``number``,
  ``priority`` with choices "1 - Critical" … "5 - Planning", ``opened_at``,
  ``resolved_at``, ``closed_at``, ``state`` (1 New, 2 In Progress, 3 On Hold,
  6 Resolved, 7 Closed, 8 Canceled), ``assignment_group``, ``close_code``,
  ``reopen_count``, ``category``, ``company``) and ``sc_req_item`` for requests
  (``cat_item``). Priority 5 - Planning maps to P4.
* TOPdesk — the Incident REST API (``/tas/api/incidents``): ``number``, ``callDate``,
  ``completedDate``, ``closedDate``, ``priority.name``, ``processingStatus.name``,
  ``operatorGroup.name``, ``closureCode.name``, ``category.name``, ``callType.name``,
  ``branch.name``; plus the English list-export headers ("Number", "Call date", …).
* Ivanti Service Manager (formerly HEAT) — Incident and ServiceReq business objects:
  ``IncidentNumber``/``ServiceReqNumber``, ``Priority`` (1–5), ``CreatedDateTime``,
  ``ResolvedDateTime``, ``ClosedDateTime``, ``Status`` (Logged, Active, Waiting for …,
  Resolved, Closed), ``OwnerTeam``, ``CauseCode``, ``Category``, ``Subcategory``.
* Hornbill Service Manager — the ``h_itsm_requests`` table: ``h_pk_reference``,
  ``h_requesttype`` (Incident, Service Request, …), ``h_fk_priorityname``,
  ``h_datelogged``, ``h_dateresolved``, ``h_dateclosed``, ``h_status``
  (status.open, status.onHold, status.resolved, status.closed, status.cancelled),
  ``h_fk_team_name``, ``h_closure_category``, ``h_category``, ``h_reopencount``,
  ``h_company_name``.
* Freshservice — API v2 Ticket attributes: ``id``, ``type`` (Incident, Service Request),
  ``priority`` (1 Low, 2 Medium, 3 High, 4 Urgent), ``status`` (2 Open, 3 Pending,
  4 Resolved, 5 Closed), ``created_at``, ``stats.resolved_at``, ``stats.closed_at``,
  ``group_id``, ``category``; and the ticket-export headers ("Ticket Id", "Created Date",
  "Resolved Date", "Closed Date", "Group", "Priority", "Status", "Type", "Category").
* Jira Service Management — the issue CSV export headers ("Issue key", "Issue Type",
  "Priority", "Status", "Created", "Resolved", "Resolution",
  "Custom field (Request Type)") and REST API fields (``key``,
  ``fields.issuetype.name``, ``fields.priority.name``, ``fields.created``,
  ``fields.resolutiondate``, ``fields.status.name``, ``fields.resolution.name``).
  Its default CSV date format "05/Mar/21 5:30 PM" is accepted.

Field names marked best-effort above (Hornbill team/closure/reopen columns, Ivanti
reopen count) vary by instance: override them with a custom profile.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

CANONICAL_FIELDS = (
    "organisation",
    "ticket_ref",
    "type",
    "priority",
    "request_type",
    "team",
    "closure_category",
    "logged_at",
    "resolved_at",
    "closed_at",
    "status",
    "reopen_count",
    "resolved_first_contact",
    "nps_rating",
)

PRIORITIES = ("P0", "P1", "P2", "P3", "P4")
TYPES = ("incident", "request")
STATUSES = ("new", "open", "on_hold", "resolved", "closed", "cancelled")

# Accepted by every profile, compared case-insensitively.
_COMMON_PRIORITY = {p.lower(): p for p in PRIORITIES} | {
    "0": "P0",
    "1": "P1",
    "2": "P2",
    "3": "P3",
    "4": "P4",
    "priority 1": "P1",
    "priority 2": "P2",
    "priority 3": "P3",
    "priority 4": "P4",
}
_COMMON_TYPE = {
    "incident": "incident",
    "request": "request",
    "service request": "request",
    "servicereq": "request",
    "sc_req_item": "request",
    "ritm": "request",
}
_COMMON_STATUS = {s: s for s in STATUSES} | {
    "in progress": "open",
    "active": "open",
    "on hold": "on_hold",
    "pending": "on_hold",
    "canceled": "cancelled",
}


@dataclass(frozen=True)
class Profile:
    """How one source system's export maps to canonical ticket fields."""

    name: str
    columns: Mapping[str, tuple[str, ...]]
    priority_map: Mapping[str, str] = field(default_factory=dict)
    type_map: Mapping[str, str] = field(default_factory=dict)
    status_map: Mapping[str, str] = field(default_factory=dict)
    default_type: str | None = None
    extra_datetime_formats: tuple[str, ...] = ()

    def priority_values(self) -> dict[str, str]:
        return _COMMON_PRIORITY | {k.strip().lower(): v for k, v in self.priority_map.items()}

    def type_values(self) -> dict[str, str]:
        return _COMMON_TYPE | {k.strip().lower(): v for k, v in self.type_map.items()}

    def status_values(self) -> dict[str, str]:
        return _COMMON_STATUS | {k.strip().lower(): v for k, v in self.status_map.items()}


def custom_profile(
    columns: Mapping[str, str],
    *,
    name: str = "custom",
    priority_map: Mapping[str, str] | None = None,
    type_map: Mapping[str, str] | None = None,
    status_map: Mapping[str, str] | None = None,
    default_type: str | None = None,
    base: Profile | None = None,
) -> Profile:
    """A profile from a {source column: canonical field} dict and optional value maps.

    With ``base``, the mapping and value maps extend that profile (custom entries win).
    """
    unknown = set(columns.values()) - set(CANONICAL_FIELDS)
    if unknown:
        raise ValueError(f"unknown canonical field(s): {sorted(unknown)}")
    for label, mapping, allowed in (
        ("priority", priority_map, PRIORITIES),
        ("type", type_map, TYPES),
        ("status", status_map, STATUSES),
    ):
        bad = {v for v in (mapping or {}).values() if v not in allowed}
        if bad:
            raise ValueError(f"{label} map targets {sorted(bad)} not in {allowed}")
    cols: dict[str, tuple[str, ...]] = {}
    for src, canonical in columns.items():
        cols[canonical] = (*cols.get(canonical, ()), src)
    if base is not None:
        merged = {k: cols.get(k, ()) + tuple(v) for k, v in base.columns.items()}
        merged |= {k: v for k, v in cols.items() if k not in merged}
        return replace(
            base,
            name=name,
            columns=merged,
            priority_map={**base.priority_map, **(priority_map or {})},
            type_map={**base.type_map, **(type_map or {})},
            status_map={**base.status_map, **(status_map or {})},
            default_type=default_type or base.default_type,
        )
    return Profile(
        name=name,
        columns=cols,
        priority_map=dict(priority_map or {}),
        type_map=dict(type_map or {}),
        status_map=dict(status_map or {}),
        default_type=default_type,
    )


SERVICENOW = Profile(
    name="servicenow",
    columns={
        "organisation": ("company", "company.name"),
        "ticket_ref": ("number",),
        "type": ("sys_class_name",),
        "priority": ("priority",),
        "request_type": ("cat_item", "cat_item.name", "subcategory"),
        "team": ("assignment_group", "assignment_group.name"),
        "closure_category": ("close_code",),
        "logged_at": ("opened_at",),
        "resolved_at": ("resolved_at",),
        "closed_at": ("closed_at",),
        "status": ("state", "incident_state"),
        "reopen_count": ("reopen_count",),
        "resolved_first_contact": ("u_first_contact_resolution", "first_call_resolution"),
        "nps_rating": ("u_nps_rating",),
    },
    priority_map={
        "1 - Critical": "P1",
        "2 - High": "P2",
        "3 - Moderate": "P3",
        "4 - Low": "P4",
        "5 - Planning": "P4",
        "5": "P4",
        "Critical": "P1",
        "High": "P2",
        "Moderate": "P3",
        "Low": "P4",
        "Planning": "P4",
    },
    type_map={"incident": "incident", "sc_req_item": "request", "sc_request": "request"},
    status_map={
        "1": "new",
        "2": "open",
        "3": "on_hold",
        "6": "resolved",
        "7": "closed",
        "8": "cancelled",
    },
    default_type="incident",
)

TOPDESK = Profile(
    name="topdesk",
    columns={
        "organisation": ("branch.name", "Branch"),
        "ticket_ref": ("number", "Number", "Incident number"),
        "type": ("callType.name", "Call type"),
        "priority": ("priority.name", "Priority"),
        "request_type": ("subcategory.name", "Subcategory"),
        "team": ("operatorGroup.name", "Operator group"),
        "closure_category": ("closureCode.name", "Closure code"),
        "logged_at": ("callDate", "Call date"),
        "resolved_at": ("completedDate", "Completed date", "Date completed"),
        "closed_at": ("closedDate", "Closed date", "Date closed"),
        "status": ("processingStatus.name", "Status"),
        "reopen_count": ("reopenCount",),
        "resolved_first_contact": ("firstLineResolved",),
        "nps_rating": ("feedbackRating",),
    },
    priority_map={
        "P1": "P1",
        "P2": "P2",
        "P3": "P3",
        "P4": "P4",
        "Critical": "P1",
        "High": "P2",
        "Normal": "P3",
        "Low": "P4",
    },
    type_map={
        "Incident": "incident",
        "Request": "request",
        "Service request": "request",
        "Complaint": "incident",
        "Question": "request",
    },
    status_map={
        "Logged": "new",
        "Registered": "new",
        "In progress": "open",
        "Waiting for user": "on_hold",
        "Waiting for supplier": "on_hold",
        "Completed": "resolved",
        "Closed": "closed",
    },
    default_type="incident",
)

IVANTI = Profile(
    name="ivanti",
    columns={
        "organisation": ("OrganizationalUnit", "Customer Department"),
        "ticket_ref": ("IncidentNumber", "ServiceReqNumber", "Incident Number"),
        "type": ("RecordType", "Type"),
        "priority": ("Priority",),
        "request_type": ("Subject", "ServiceReqTemplate", "Category"),
        "team": ("OwnerTeam", "Owner Team"),
        "closure_category": ("CauseCode", "Cause Code", "ResolutionCategory"),
        "logged_at": ("CreatedDateTime", "Created On"),
        "resolved_at": ("ResolvedDateTime", "Resolved On"),
        "closed_at": ("ClosedDateTime", "Closed On"),
        "status": ("Status",),
        "reopen_count": ("ReopenCount",),
        "resolved_first_contact": ("FirstCallResolution", "FirstCallFix"),
        "nps_rating": ("SurveyScore",),
    },
    priority_map={"5": "P4"},
    type_map={"Incident": "incident", "ServiceReq": "request", "Service Request": "request"},
    status_map={
        "Logged": "new",
        "Active": "open",
        "Waiting for Customer": "on_hold",
        "Waiting for 3rd Party": "on_hold",
        "Waiting for Resolution": "on_hold",
        "Resolved": "resolved",
        "Closed": "closed",
        "Cancelled": "cancelled",
    },
    default_type="incident",
)

HORNBILL = Profile(
    name="hornbill",
    columns={
        "organisation": ("h_company_name",),
        "ticket_ref": ("h_pk_reference",),
        "type": ("h_requesttype",),
        "priority": ("h_fk_priorityname",),
        "request_type": ("h_catalog", "h_fk_catalog_name", "h_category"),
        "team": ("h_fk_team_name", "h_fk_team_id"),
        "closure_category": ("h_closure_category", "h_resolution_category"),
        "logged_at": ("h_datelogged",),
        "resolved_at": ("h_dateresolved",),
        "closed_at": ("h_dateclosed",),
        "status": ("h_status",),
        "reopen_count": ("h_reopencount", "h_reopen_count"),
        "resolved_first_contact": ("h_fixed_first_contact",),
        "nps_rating": ("h_feedback_rating",),
    },
    type_map={"Incident": "incident", "Service Request": "request"},
    status_map={
        "status.new": "new",
        "status.open": "open",
        "status.onHold": "on_hold",
        "status.resolved": "resolved",
        "status.closed": "closed",
        "status.cancelled": "cancelled",
    },
)

FRESHSERVICE = Profile(
    name="freshservice",
    columns={
        "organisation": ("department", "Department", "department_id"),
        "ticket_ref": ("id", "Ticket Id", "Ticket ID"),
        "type": ("type", "Type"),
        "priority": ("priority", "Priority"),
        "request_type": ("sub_category", "Sub-Category", "category", "Category"),
        "team": ("group", "Group", "group_id"),
        "closure_category": ("custom_fields.closure_code", "Closure Code"),
        "logged_at": ("created_at", "Created Date", "Created Time"),
        "resolved_at": ("stats.resolved_at", "Resolved Date", "Resolved Time"),
        "closed_at": ("stats.closed_at", "Closed Date", "Closed Time"),
        "status": ("status", "Status"),
        "reopen_count": ("stats.reopened_count", "Reopened Count"),
        "resolved_first_contact": ("First Call Resolution",),
        "nps_rating": ("Satisfaction Rating",),
    },
    # Freshservice numbers priority upwards (4 = Urgent), so the common digit map is
    # overridden.
    priority_map={
        "4": "P1",
        "3": "P2",
        "2": "P3",
        "1": "P4",
        "Urgent": "P1",
        "High": "P2",
        "Medium": "P3",
        "Low": "P4",
    },
    type_map={"Incident": "incident", "Service Request": "request"},
    status_map={
        "2": "open",
        "3": "on_hold",
        "4": "resolved",
        "5": "closed",
        "Open": "open",
        "Pending": "on_hold",
        "Resolved": "resolved",
        "Closed": "closed",
    },
)

JIRA_SERVICE_MANAGEMENT = Profile(
    name="jira_service_management",
    columns={
        "organisation": ("Organizations", "Custom field (Organizations)"),
        "ticket_ref": ("Issue key", "key"),
        "type": ("Issue Type", "fields.issuetype.name"),
        "priority": ("Priority", "fields.priority.name"),
        "request_type": (
            "Custom field (Request Type)",
            "Request Type",
            "fields.customfield_10010.requestType.name",
        ),
        "team": ("Custom field (Team)", "Team", "Component/s", "fields.components.name"),
        "closure_category": ("Resolution", "fields.resolution.name"),
        "logged_at": ("Created", "fields.created"),
        "resolved_at": ("Resolved", "fields.resolutiondate"),
        "closed_at": ("Custom field (Closed)",),
        "status": ("Status", "fields.status.name"),
        "reopen_count": ("Custom field (Reopen count)",),
        "resolved_first_contact": ("Custom field (First contact resolution)",),
        "nps_rating": ("Satisfaction rating", "Custom field (Satisfaction)"),
    },
    priority_map={"Highest": "P1", "High": "P2", "Medium": "P3", "Low": "P4", "Lowest": "P4"},
    type_map={
        "Incident": "incident",
        "Service Request": "request",
        "Service request with approvals": "request",
        "IT help": "request",
        "Get IT help": "request",
    },
    status_map={
        "Open": "open",
        "Waiting for support": "open",
        "In Progress": "open",
        "Waiting for customer": "on_hold",
        "Pending": "on_hold",
        "Resolved": "resolved",
        "Done": "resolved",
        "Closed": "closed",
        "Canceled": "cancelled",
        "Declined": "cancelled",
    },
    extra_datetime_formats=("%d/%b/%y %I:%M %p", "%d/%b/%Y %I:%M %p"),
)

PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (SERVICENOW, TOPDESK, IVANTI, HORNBILL, FRESHSERVICE, JIRA_SERVICE_MANAGEMENT)
}
