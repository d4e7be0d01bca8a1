"""Column-mapping profiles for ticket exports from common ITSM tools.

A profile maps each canonical field to candidate source columns (the first present in
the file wins; header matching ignores case and surrounding spaces), plus value maps for
priority, type and status. JSON-lines records are flattened with dots
(``{"priority": {"name": "P1"}}`` → ``priority.name``), so API field paths work too.

The canonical fields a column maps to are ``MAPPED_FIELDS`` of the ticket declaration
(``shared/tickets.py``, which says what each means): organisation, ticket_ref, type,
priority, request_type, team, closure_category, logged_at, resolved_at, closed_at, status,
reopen_count, resolved_first_contact, nps_rating, first_response_at.

Where the names come from
-------------------------
Each profile below was checked against public material (stored public copies).
"Confirmed" means the column name (and, where given, its values) appears in that
material; everything else is listed as unconfirmed. A name we had guessed was dropped
when the material showed the field absent or gave the real name for the same field;
unconfirmed names with nothing better known are kept (they only match if a file has
them). On-hold time is not a column here: it comes in through ``/api/v1/ticket-intervals``.

* ServiceNow — sources: the ``incident`` record sample in ansible-collections/servicenow.itsm
  ``docs/servicenow.itsm.incident_info_module.rst`` (fields ``number``, ``opened_at``,
  ``resolved_at``, ``closed_at``, ``state``, ``incident_state``, ``priority``,
  ``assignment_group``, ``close_code``, ``reopen_count``, ``hold_reason``, ``company``,
  ``category``, ``subcategory``, ``sys_class_name``); incident state codes
  1 New, 2 In Progress, 3 On Hold, 6 Resolved, 7 Closed, 8 Canceled from the same
  repository's ``plugins/module_utils/incident.py``; priority labels "1 - Critical" …
  "5 - Planning" from ServiceNow/ServiceNowDocs
  ``markdown/it-service-management/problem-management/prioritise-problems.md``; requested
  item states Closed Complete / Closed Incomplete / Closed Skipped from ServiceNowDocs
  ``…/request-management/state-closure-request.md``; and "Default values for column
  headers and column values" (servicenow.com docs): a CSV list export uses field
  *names* as headers and *display* values as cells, so "1 - Critical", "On Hold",
  "Incident" / "Requested Item" arrive as text. The numeric state map is the incident
  table's (a requested item's numeric states differ; its display values are mapped).
  Reference fields fetched over REST with ``sysparm_display_value=true`` come as
  ``{"display_value": …, "link": …}`` objects (seen in public record dumps), hence the
  ``.display_value`` candidates. Unconfirmed: ``cat_item`` for requested items (widely
  used in public code, not read in ServiceNow's own docs); ``u_first_contact_resolution``
  and ``u_nps_rating`` are instance custom fields (``u_`` prefix) — the out-of-the-box
  record has neither, so ``first_call_resolution`` was dropped. Requested items have no
  ``resolved_at``. Export incidents and requested items as separate lists: in one file
  with both ``cat_item`` and ``subcategory`` columns, ``cat_item`` (empty on incidents)
  is the request type of every row.
* TOPdesk — source: the ``/tas/api/incidents`` record in demisto/content
  ``Packs/TOPdesk/Integrations/TOPdesk/test_data/topdesk_incident.json`` (``number``,
  ``callDate``, ``completedDate``, ``closedDate``, ``priority``, ``processingStatus``
  ("Logged"), ``operatorGroup``, ``closureCode``, ``category``, ``subcategory``,
  ``callType``, ``branch``, ``callerBranch``, ``feedbackRating``, ``onHold``). The API's
  own ``status`` field is the line (firstLine, secondLine, partial), not the processing
  status, so the list header "Status" was replaced by "Processing status". The record
  has no reopen count and no first-contact flag: ``reopenCount`` and
  ``firstLineResolved`` were dropped. Unconfirmed: every English list-export header
  ("Number", "Call date", …); priority, call type and processing-status names other
  than "Logged" (all are configured per instance); the scale of ``feedbackRating``.
* Ivanti Service Manager (formerly HEAT) — sources: Ivanti's "Incident Business Object
  Reference" (help.ivanti.com, ISM 2017.3–2019.1: ``CauseCode``, ``ClosedDateTime``,
  ``CreatedDateTime``, ``CustomerDepartment``, ``FirstCallResolution``,
  ``IncidentNumber``) and the OData incident and service-request samples in
  rapid7/insightconnect-plugins ``plugins/ivanti_service_manager/help.md``
  (``OwnerTeam``, ``Priority`` "1"–"5", ``Status`` Logged / Active / Waiting for
  Customer / Waiting for 3rd Party / Waiting for Resolution / Resolved / Closed,
  ``TypeOfIncident`` Request / Failure, ``OrganizationUnitID``, ``Category``,
  ``Subject``, ``ServiceReqNumber``, service-request status "Submitted"). ``Subject`` is
  an incident's free-text summary, so ``Category`` now comes before it for the request
  type. Unconfirmed (best-effort): ``ResolvedDateTime`` (the stored copy of Ivanti's
  field table was cut off before R), ``ReopenCount``, ``SurveyScore``,
  ``ServiceReqTemplate``, ``ResolutionCategory``, ``RecordType``/``Type``,
  ``OrganizationalUnit`` (seen on a problem record in demisto/content
  ``Packs/IvantiHeat/Integrations/IvantiHeat/README.md``, not on incidents), the status
  "Cancelled" and the spaced grid headers ("Owner Team", "Created On", …).
  ``FirstCallFix`` was dropped for the documented ``FirstCallResolution``. Other
  ``TypeOfIncident`` values (configured per instance) are rejected as an unknown type
  unless a custom mapping maps them; a service-request export without a type column
  still defaults to incident.
* Hornbill Service Manager — sources: hornbill/goHornbillRequestImport
  ``main.requests.go``, ``main.structs.go`` and ``conf_csv_demo.json`` (``Requests``
  entity / ``h_itsm_requests``: ``h_pk_reference``, ``h_requesttype`` Incident / Service
  Request / Change Request / Problem / Known Error, ``h_fk_priorityid`` +
  ``h_fk_priorityname``, ``h_fk_team_id`` + ``h_fk_team_name``, ``h_category_id`` +
  ``h_category``, ``h_closure_category_id`` + ``h_closure_category``, ``h_datelogged``,
  ``h_dateresolved``, ``h_dateclosed``, ``h_company_name``, ``h_status`` status.new /
  status.open / status.onHold / status.resolved / status.closed / status.cancelled) and
  Hornbill's "First Time Fix" page (Hornbill-Docs): ``h_itsm_requests.h_firsttimefix``
  is 1, 0 or null. Team and closure columns are therefore confirmed; the guesses
  ``h_resolution_category``, ``h_reopen_count``, ``h_fixed_first_contact`` and
  ``h_fk_catalog_name`` were dropped. Unconfirmed (best-effort): ``h_reopencount`` and
  ``h_catalog`` (seen only in a third-party client's sample record, not in Hornbill's
  own material), ``h_feedback_rating``, and priority names (configured per instance,
  so only the common forms P0–P4, 0–4 and "Priority 1"–"Priority 4" are accepted).
* Freshservice — sources: theapsgroup/go-freshservice ``freshservice/ticket.go`` (API v2
  ticket attributes ``id``, ``type``, ``priority`` 1 Low … 4 Urgent, ``status`` 2 Open,
  3 Pending, 4 Resolved, 5 Closed, ``created_at``, ``group_id``, ``department_id``,
  ``category``, ``sub_category``), JupiterOne/graph-freshservice ``src/types.ts``, and the
  ``include=stats`` sample in flycastpartnersinc/FreshservicePS (``Get-FreshServiceTicket``
  help: ``stats.resolved_at``, ``stats.closed_at``; ticket type choices Incident /
  Service Request). The stats object has no reopen count: ``stats.reopened_count`` was
  dropped. Unconfirmed: all CSV export headers ("Ticket Id", "Created Date", "Resolved
  Date", "Group", "Reopened Count", …), ``department``, ``group``,
  ``custom_fields.closure_code`` (a custom field), "First Call Resolution",
  "Satisfaction Rating". ``group_id`` and ``department_id`` are numeric ids.
* Jira Service Management — sources: Atlassian's "What are priority levels in Jira
  Service Management?" (Highest, High, Medium, Low, Lowest), "Manage how work flows in
  your team-managed service project" (default statuses Open, Reopened, Pending, Work in
  progress, Waiting for customer, Waiting for support, Escalated, Done, Canceled) and
  "Default configurations for Jira Service Management" (issue types IT Help, Purchase,
  Change, Fault, Access). CSV headers "Issue key", "Issue Type", "Priority", "Status",
  "Created", "Resolved" (with dates like "09/Oct/25 1:42 PM"), "Resolution",
  "Satisfaction rating", "Custom field (Request Type)", "Custom field (Customer Request
  Type)" and "Custom field (Organizations)", and the REST fields ``key``,
  ``fields.issuetype.name``, ``fields.priority.name``, ``fields.status.name``,
  ``fields.resolution.name``, ``fields.created``, ``fields.resolutiondate``, are as they
  appear in several public export parsers and API fixtures (third-party code, not an
  Atlassian field reference). Unconfirmed: "Organizations", "Request Type", "Team",
  "Component/s", "Custom field (Team)", "Custom field (Closed)", "Custom field (Reopen
  count)", "Custom field (First contact resolution)", "Custom field (Satisfaction)" and
  ``customfield_10010`` (custom fields are named and numbered per site); the older
  Server priorities (Blocker … Trivial) are not mapped.

Field names marked unconfirmed or best-effort vary by instance: override them with a
custom mapping (``base_profile`` keeps the rest of the ready profile).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from shared.tickets import MAPPED_FIELDS

CANONICAL_FIELDS = MAPPED_FIELDS

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


EVENT_KINDS = ("status", "priority", "assignment", "response")


@dataclass(frozen=True)
class EventSource:
    """Where a JSON record keeps (part of) its ticket's history: a list of objects under
    ``path``, each an event at ``at`` with ``value``. The kind is fixed (``kind``) or read
    from each object (``kind_field``); an assignment may say when it ended (``end``)."""

    path: str
    at: str
    value: str | None = None
    kind: str | None = None
    kind_field: str | None = None
    end: str | None = None


# A record's own history, in Yardstick's words: "events": [{"kind", "at", "value",
# "end_at"}] (kind: status, priority, assignment or response).
YARDSTICK_EVENTS = EventSource(
    path="events", at="at", value="value", kind_field="kind", end="end_at"
)


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
    # JSON records only: lists holding the ticket's history (status changes and so on).
    history: tuple[EventSource, ...] = (YARDSTICK_EVENTS,)

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
        # Reference fields: a name (CSV, or REST with sysparm_exclude_reference_link), a
        # {"display_value", "link"} object (REST with sysparm_display_value=true) or a
        # dot-walked name requested in sysparm_fields.
        "organisation": ("company", "company.display_value", "company.name"),
        "ticket_ref": ("number",),
        "type": ("sys_class_name",),
        "priority": ("priority",),
        "request_type": ("cat_item", "cat_item.display_value", "cat_item.name", "subcategory"),
        "team": ("assignment_group", "assignment_group.display_value", "assignment_group.name"),
        "closure_category": ("close_code",),
        "logged_at": ("opened_at",),
        "resolved_at": ("resolved_at",),
        "closed_at": ("closed_at",),
        "status": ("state", "incident_state"),
        "reopen_count": ("reopen_count",),
        "resolved_first_contact": ("u_first_contact_resolution",),
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
    # sys_class_name: raw table names, or the table labels a CSV export shows.
    type_map={
        "incident": "incident",
        "sc_req_item": "request",
        "sc_request": "request",
        "Requested Item": "request",
        "Request": "request",
    },
    # Numeric codes are the incident table's states; display values are matched too
    # (New, In Progress, On Hold, Resolved, Closed, Canceled via the common map, and the
    # requested-item states below).
    status_map={
        "1": "new",
        "2": "open",
        "3": "on_hold",
        "6": "resolved",
        "7": "closed",
        "8": "cancelled",
        "Work in Progress": "open",
        "Closed Complete": "closed",
        "Closed Incomplete": "closed",
        "Closed Skipped": "cancelled",
    },
    default_type="incident",
)

TOPDESK = Profile(
    name="topdesk",
    columns={
        "organisation": ("branch.name", "callerBranch.name", "Branch"),
        "ticket_ref": ("number", "Number", "Incident number"),
        "type": ("callType.name", "Call type"),
        "priority": ("priority.name", "Priority"),
        "request_type": ("subcategory.name", "Subcategory"),
        "team": ("operatorGroup.name", "Operator group"),
        "closure_category": ("closureCode.name", "Closure code"),
        "logged_at": ("callDate", "Call date"),
        "resolved_at": ("completedDate", "Completed date", "Date completed"),
        "closed_at": ("closedDate", "Closed date", "Date closed"),
        "status": ("processingStatus.name", "Processing status"),
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
        "organisation": (
            "OrganizationUnitID",
            "OrganizationalUnit",
            "CustomerDepartment",
            "Customer Department",
        ),
        "ticket_ref": ("IncidentNumber", "ServiceReqNumber", "Incident Number"),
        "type": ("TypeOfIncident", "RecordType", "Type"),
        "priority": ("Priority",),
        # Subject is an incident's free-text summary: the last resort.
        "request_type": ("ServiceReqTemplate", "Category", "Subject"),
        "team": ("OwnerTeam", "Owner Team"),
        "closure_category": ("CauseCode", "Cause Code", "ResolutionCategory"),
        "logged_at": ("CreatedDateTime", "Created On"),
        "resolved_at": ("ResolvedDateTime", "Resolved On"),
        "closed_at": ("ClosedDateTime", "Closed On"),
        "status": ("Status",),
        "reopen_count": ("ReopenCount",),
        "resolved_first_contact": ("FirstCallResolution",),
        "nps_rating": ("SurveyScore",),
    },
    priority_map={"5": "P4"},
    type_map={
        "Incident": "incident",
        "Failure": "incident",
        "Request": "request",
        "ServiceReq": "request",
        "Service Request": "request",
    },
    status_map={
        "Logged": "new",
        "Submitted": "new",
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
        "request_type": ("h_catalog", "h_category"),
        "team": ("h_fk_team_name", "h_fk_team_id"),
        "closure_category": ("h_closure_category", "h_closure_category_id"),
        "logged_at": ("h_datelogged",),
        "resolved_at": ("h_dateresolved",),
        "closed_at": ("h_dateclosed",),
        "status": ("h_status",),
        "reopen_count": ("h_reopencount",),
        "resolved_first_contact": ("h_firsttimefix",),
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
        "reopen_count": ("Reopened Count",),
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
            "Custom field (Customer Request Type)",
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
        "Fault": "incident",
        "Service Request": "request",
        "Service request with approvals": "request",
        "IT help": "request",
        "Get IT help": "request",
        "Purchase": "request",
        "Access": "request",
    },
    status_map={
        "Open": "open",
        "Reopened": "open",
        "Waiting for support": "open",
        "In Progress": "open",
        "Work in progress": "open",
        "Escalated": "open",
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

# TM Forum TMF621 Trouble Ticket (the REST API's TroubleTicket resource, as JSON lines or
# as one JSON array: a GET /troubleTicket answer). Fields as the TroubleTicket schema names
# them (id, ticketType, priority, severity, status, creationDate, resolutionDate,
# statusChangeHistory of StatusChange {changeDate, changeReason, status}, relatedParty)
# and TroubleTicketStatusType (acknowledged, rejected, pending, held, inProgress,
# cancelled, closed, resolved), checked against psi-consortium/psi's generated schema
# tables (doc/PSI/PSI-ICD/schema/TroubleTicket.md, StatusChange.md,
# TroubleTicketStatusType.md). statusChangeHistory is the status history. priority is a
# free string: Critical/High/Medium/Low (as TMF examples use) and the common forms are
# mapped. The organisation is the customer party (relatedParty with role customer, or
# Organization); use a value mapping to turn its name into your organisations. There is
# no standard team or closure field: map them with a custom mapping if your tool adds
# them (e.g. troubleTicketCharacteristic).
TMF621 = Profile(
    name="tmf621",
    columns={
        "organisation": (
            "relatedParty[role=customer].name",
            "relatedParty[role=customer].partyOrPartyRole.name",
            "relatedParty[role=organization].name",
            "relatedParty[role=organization].partyOrPartyRole.name",
        ),
        "ticket_ref": ("id", "externalId"),
        "type": ("ticketType",),
        "priority": ("priority",),
        "request_type": ("troubleTicketSpecification.name",),
        "logged_at": ("creationDate",),
        "resolved_at": ("resolutionDate",),
        "status": ("status",),
    },
    priority_map={"Critical": "P1", "High": "P2", "Medium": "P3", "Low": "P4"},
    type_map={
        "incident": "incident",
        "trouble": "incident",
        "troubleticket": "incident",
        "complaint": "incident",
        "request": "request",
        "serviceRequest": "request",
        "service request": "request",
    },
    status_map={
        "acknowledged": "new",
        "inProgress": "open",
        "pending": "on_hold",
        "held": "on_hold",
        "resolved": "resolved",
        "closed": "closed",
        "cancelled": "cancelled",
        "rejected": "cancelled",
    },
    default_type="incident",
    history=(
        EventSource(path="statusChangeHistory", at="changeDate", value="status", kind="status"),
        YARDSTICK_EVENTS,
    ),
)

PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        SERVICENOW,
        TOPDESK,
        IVANTI,
        HORNBILL,
        FRESHSERVICE,
        JIRA_SERVICE_MANAGEMENT,
        TMF621,
    )
}
