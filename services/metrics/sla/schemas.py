"""SLA and feedback reports: one typed row model per report, in the page envelope.

Every report answers ``{"items": [...], "total", "limit", "offset", "next"}``
(shared/pagination.py) with its metadata beside the page: ``report`` (its name),
``columns`` (the CSV's column order), ``units`` (the unit of each figure column) and
``notes`` (how the figures were made). Percentages are numbers in points (0-100), rounded
once, half up, to the places their description gives.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from shared.pagination import Page
from shared.serialization import UtcDateTime

Row = TypeVar("Row")

_ORG = "The organisation's id"
_MONTH = "First day of the month (Europe/London)"
_PRIORITY = "Ticket priority, P0 (highest) to P4"


class SlaReport(Page[Row], Generic[Row]):
    report: str = Field(description="The report's name")
    columns: list[str] = Field(description="Column order (the CSV has the same columns)")
    units: dict[str, str] = Field(description="Unit of each figure column")
    notes: dict[str, str] = Field(description="How the figures were made (clock basis, as_of…)")


def _example(report: str, row: dict[str, Any], units: dict[str, Any]) -> ConfigDict:
    return ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [row],
                    "total": 1,
                    "limit": 500,
                    "offset": 0,
                    "next": None,
                    "report": report,
                    "columns": list(row),
                    "units": units,
                    "notes": {},
                }
            ]
        }
    )


# ------------------------------------------------------------------ monthly


class MonthlyRow(BaseModel):
    organisation_id: int = Field(description=_ORG)
    priority: str | None = Field(description=_PRIORITY)
    month: date = Field(description=_MONTH + " of resolution")
    met: int = Field(description="Resolved tickets that met their SLA (tickets)")
    missed: int = Field(description="Resolved tickets that missed their SLA (tickets)")
    total: int = Field(description="Resolved tickets counted, met + missed (tickets)")
    pct_met: float | None = Field(description="% of resolved tickets that met (0-100, 2 dp)")
    target_share_pct: float | None = Field(
        description="The policy's target share of tickets to meet it (%, 0-100, 2 dp)"
    )
    target_achieved: bool | None = Field(description="pct_met >= target_share_pct")
    avg_closure_sla_clock_hours: float | None = Field(
        description="Mean time to close on the SLA clock, pauses deducted (hours, 2 dp)"
    )
    avg_closure_wall_hours: float | None = Field(
        description="Mean time to close, wall clock 24x7, nothing deducted (hours, 2 dp)"
    )


_MONTHLY_ROW: dict[str, Any] = {
    "organisation_id": 12,
    "priority": "P2",
    "month": "2021-03-01",
    "met": 172,
    "missed": 15,
    "total": 187,
    "pct_met": 91.98,
    "target_share_pct": 90.0,
    "target_achieved": True,
    "avg_closure_sla_clock_hours": 6.42,
    "avg_closure_wall_hours": 19.75,
}


class MonthlyReport(SlaReport[MonthlyRow]):
    model_config = _example("monthly", _MONTHLY_ROW, {"met": "tickets", "pct_met": "%"})


# ------------------------------------------------------------------ logged


class LoggedRow(BaseModel):
    organisation_id: int = Field(description=_ORG)
    priority: str | None = Field(description=_PRIORITY)
    month: date = Field(description=_MONTH + " the tickets were logged in")
    logged: int = Field(description="Tickets logged, data-quality rejects included (tickets)")


class LoggedReport(SlaReport[LoggedRow]):
    model_config = _example(
        "logged",
        {"organisation_id": 12, "priority": "P2", "month": "2021-03-01", "logged": 203},
        {"logged": "tickets"},
    )


# ------------------------------------------------------------------ backlog


class BacklogRow(BaseModel):
    organisation_id: int = Field(description=_ORG)
    priority: str | None = Field(description=_PRIORITY)
    open: int = Field(description="Open tickets (tickets)")
    open_within: int = Field(description="Open and still within their SLA (tickets)")
    open_breached: int = Field(description="Open and past their SLA (tickets)")
    on_hold: int = Field(description="Open and on hold (tickets)")
    reopened: int = Field(description="Reopened at least once, open or not (tickets)")
    data_quality: int = Field(description="Rejected for data quality (tickets)")


class BacklogReport(SlaReport[BacklogRow]):
    model_config = _example(
        "backlog",
        {
            "organisation_id": 12,
            "priority": "P2",
            "open": 31,
            "open_within": 27,
            "open_breached": 4,
            "on_hold": 3,
            "reopened": 2,
            "data_quality": 1,
        },
        {"open": "tickets"},
    )


# ------------------------------------------------------------------ performance


class PerformanceRow(BaseModel):
    """Resolution-time shares carry the clock basis in their names: ``_24x7`` (wall clock)
    or ``_sla_clock`` (each ticket's SLA clock); a report has one basis, so a row carries
    only that basis's three columns (the others are absent, not null)."""

    organisation_id: int = Field(description=_ORG)
    incidents: int = Field(description="Incidents logged (tickets)")
    requests: int = Field(description="Service requests logged (tickets)")
    resolved_incidents: int = Field(description="Resolved incidents counted (tickets)")
    pct_incidents_resolved_within_15m_24x7: float | None = Field(
        default=None, description="% of resolved incidents closed within 15 minutes (2 dp)"
    )
    pct_incidents_resolved_within_4h_24x7: float | None = Field(
        default=None, description="% of resolved incidents closed within 4 hours (2 dp)"
    )
    pct_incidents_over_16h_24x7: float | None = Field(
        default=None, description="% of resolved incidents taking over 16 hours (2 dp)"
    )
    pct_incidents_resolved_within_15m_sla_clock: float | None = Field(
        default=None, description="% within 15 minutes on the SLA clock (2 dp)"
    )
    pct_incidents_resolved_within_4h_sla_clock: float | None = Field(
        default=None, description="% within 4 hours on the SLA clock (2 dp)"
    )
    pct_incidents_over_16h_sla_clock: float | None = Field(
        default=None, description="% over 16 hours on the SLA clock (2 dp)"
    )
    pct_first_contact_resolution: float | None = Field(
        description="% of incidents resolved at first contact (2 dp)"
    )


class PerformanceReport(SlaReport[PerformanceRow]):
    model_config = _example(
        "performance",
        {
            "organisation_id": 12,
            "incidents": 1520,
            "requests": 2210,
            "resolved_incidents": 1488,
            "pct_incidents_resolved_within_15m_24x7": 18.41,
            "pct_incidents_resolved_within_4h_24x7": 52.02,
            "pct_incidents_over_16h_24x7": 21.37,
            "pct_first_contact_resolution": 33.82,
        },
        {"pct_first_contact_resolution": "%", "incidents": "tickets"},
    )


# ------------------------------------------------------------------ data quality


class DataQualityRow(BaseModel):
    organisation_id: int = Field(description=_ORG)
    source_system: str | None = Field(description="The service-desk system it came from")
    reference: str | None = Field(description="The ticket's reference in that system")
    priority: str | None = Field(description=_PRIORITY)
    logged_at: UtcDateTime | None = Field(description="When it was logged (UTC instant)")
    resolution_at: UtcDateTime | None = Field(description="When it was resolved (UTC instant)")
    reason: str | None = Field(description="Why it was never counted as met or missed")


class DataQualityReport(SlaReport[DataQualityRow]):
    model_config = _example(
        "data-quality",
        {
            "organisation_id": 12,
            "source_system": "topdesk",
            "reference": "I2103-0042",
            "priority": "P2",
            "logged_at": "2021-03-08T09:30:00Z",
            "resolution_at": "2021-03-08T08:10:00Z",
            "reason": "resolved_before_logged",
        },
        {"logged_at": "UTC instant"},
    )


# ------------------------------------------------------------------ feedback satisfaction


class SatisfactionRow(BaseModel):
    organisation_id: int = Field(description=_ORG)
    month: date | None = Field(description=_MONTH + "; null = the organisation's whole period")
    ratings: int = Field(description="Satisfaction ratings, 1-7 (ratings)")
    mean_satisfaction: float | None = Field(
        description="Mean rating on the 1-7 scale (2 dp, half up); null when no ratings"
    )
    satisfied: int = Field(description="Ratings of 5-7 (ratings)")
    dissatisfied: int = Field(description="Ratings of 1-3 (ratings)")


class SatisfactionReport(SlaReport[SatisfactionRow]):
    model_config = _example(
        "feedback-satisfaction",
        {
            "organisation_id": 12,
            "month": "2021-03-01",
            "ratings": 48,
            "mean_satisfaction": 5.83,
            "satisfied": 39,
            "dissatisfied": 4,
        },
        {"mean_satisfaction": "mean rating, 1-7"},
    )


# ------------------------------------------------------------------ totals


class TotalsRow(BaseModel):
    """One organisation (and priority, team or closure category, as grouped) over the
    whole date range asked for. Grouping columns not asked for are absent."""

    organisation_id: int = Field(description=_ORG)
    priority: str | None = Field(default=None, description=_PRIORITY)
    team: str | None = Field(default=None, description="Team (null: none given)")
    closure_category: str | None = Field(
        default=None, description="Closure category (null: none given)"
    )
    met: int = Field(description="Resolved tickets that met their SLA (tickets)")
    missed: int = Field(description="Resolved tickets that missed their SLA (tickets)")
    total: int = Field(description="Resolved tickets counted, met + missed (tickets)")
    pct_met: float | None = Field(description="% of resolved tickets that met (0-100, 2 dp)")
    target_share_pct: float | None = Field(
        description="The most recently effective policy's target share (%, 2 dp)"
    )
    target_achieved: bool | None = Field(description="pct_met >= target_share_pct")
    avg_closure_sla_clock_hours: float | None = Field(
        description="Mean time to close on the SLA clock, pauses deducted (hours, 2 dp)"
    )
    avg_closure_wall_hours: float | None = Field(
        description="Mean time to close, wall clock 24x7, nothing deducted (hours, 2 dp)"
    )
    open_within: int = Field(description="Open and within their SLA (tickets, as stored)")
    open_breached: int = Field(description="Open and past their SLA (tickets, as stored)")


class TotalsReport(SlaReport[TotalsRow]):
    model_config = _example(
        "totals",
        {
            "organisation_id": 7,
            "priority": "P2",
            "met": 523,
            "missed": 31,
            "total": 554,
            "pct_met": 94.4,
            "target_share_pct": 95.0,
            "target_achieved": False,
            "avg_closure_sla_clock_hours": 3.82,
            "avg_closure_wall_hours": 9.47,
            "open_within": 12,
            "open_breached": 2,
        },
        {"met": "tickets", "pct_met": "%"},
    )


# ------------------------------------------------------------------ tickets


class TicketRow(BaseModel):
    """One ticket: its policy, target, elapsed, remaining, due time, % of the target
    elapsed and status. Seconds are business seconds on the policy's clock."""

    organisation_id: int = Field(description=_ORG)
    source_system: str = Field(description="The service-desk system it came from")
    reference: str = Field(description="The ticket's reference in that system")
    type: str | None = Field(description="incident or request")
    priority: str | None = Field(description=_PRIORITY + " (after its priority history)")
    request_type: str | None = Field(description="What was asked for")
    team: str | None = Field(description="The team that held it")
    closure_category: str | None = Field(description="How it was closed")
    logged_at: UtcDateTime | None = Field(description="When it was logged (UTC)")
    resolution_at: UtcDateTime | None = Field(description="When it was resolved (UTC)")
    policy: str | None = Field(description="The SLA policy applied, in words")
    calendar_id: str | None = Field(description="The policy's clock: a calendar id or 24x7")
    target_seconds: int | None = Field(description="The target (seconds on the clock)")
    elapsed_seconds: int | None = Field(
        description="Elapsed on the clock, pauses deducted (seconds; as of the moment asked)"
    )
    remaining_seconds: int | None = Field(
        description="Target minus elapsed (seconds; negative once breached)"
    )
    due_at: UtcDateTime | None = Field(
        description="Open tickets: when the target is reached if work goes on (UTC)"
    )
    pct_target_elapsed: float | None = Field(description="Elapsed / target (%, 2 dp, half up)")
    status: str = Field(description="met, missed, open_within, open_breached or data_quality")
    warning_pct: float | None = Field(
        description="Open tickets: the highest warning threshold of the policy reached (%)"
    )
    on_hold: bool | None = Field(description="Open and paused (hold or pause status) now")
    paused_seconds: int | None = Field(
        description="Paused on the clock: holds, pause statuses and reopen gaps (seconds)"
    )
    pending_seconds: int | None = Field(
        description="Paused by holds and pause statuses only, not reopen gaps (seconds)"
    )
    cycles: int | None = Field(description="Reopenings + 1")
    reopen_rule: str | None = Field(description="gap_excluded or new_cycle (the policy's)")
    priority_change: str | None = Field(description="retroactive or from_change (the policy's)")
    priority_changed_at: UtcDateTime | None = Field(description="Its last priority change")
    first_response_at: UtcDateTime | None = Field(
        description="First response (a recorded one, else the resolution)"
    )
    response_target_seconds: int | None = Field(description="First-response target (seconds)")
    response_elapsed_seconds: int | None = Field(description="To first response (seconds)")
    response_due_at: UtcDateTime | None = Field(description="Waiting: response due (UTC)")
    response_status: str | None = Field(
        description="met, missed, open_within, open_breached, data_quality; null: no target"
    )
    data_quality_reason: str | None = Field(description="Why it is not counted, if it is not")


_TICKET_ROW: dict[str, Any] = {
    "organisation_id": 12,
    "source_system": "servicenow",
    "reference": "INC0012345",
    "type": "incident",
    "priority": "P2",
    "request_type": None,
    "team": "Service Desk",
    "closure_category": None,
    "logged_at": "2024-06-03T08:15:00Z",
    "resolution_at": None,
    "policy": "P2 within 8 h on the business calendar 4 clock, from 2024-04-01",
    "calendar_id": "4",
    "target_seconds": 28800,
    "elapsed_seconds": 23400,
    "remaining_seconds": 5400,
    "due_at": "2024-06-04T10:45:00Z",
    "pct_target_elapsed": 81.25,
    "status": "open_within",
    "warning_pct": 75.0,
    "on_hold": False,
    "paused_seconds": 1800,
    "pending_seconds": 1800,
    "cycles": 1,
    "reopen_rule": "gap_excluded",
    "priority_change": "retroactive",
    "priority_changed_at": None,
    "first_response_at": "2024-06-03T08:31:00Z",
    "response_target_seconds": 1800,
    "response_elapsed_seconds": 960,
    "response_due_at": None,
    "response_status": "met",
    "data_quality_reason": None,
}


class TicketReport(SlaReport[TicketRow]):
    model_config = _example(
        "tickets", _TICKET_ROW, {"target_seconds": "seconds on the policy's clock"}
    )


class BreachForecastReport(SlaReport[TicketRow]):
    model_config = _example(
        "breach-forecast", _TICKET_ROW, {"remaining_seconds": "seconds on the policy's clock"}
    )


# ------------------------------------------------------------------ OLAs


class OlaRow(BaseModel):
    organisation_id: int = Field(description=_ORG)
    resolver_group: str = Field(description="The resolver group the OLA is for")
    met: int = Field(description="Assignments ended within the OLA (ticket x group)")
    missed: int = Field(description="Assignments ended over the OLA (ticket x group)")
    total: int = Field(description="met + missed")
    pct_met: float | None = Field(description="% met (0-100, 2 dp, half up)")
    target_share_pct: float | None = Field(description="The OLA's target share (%, 2 dp)")
    target_achieved: bool | None = Field(description="pct_met >= target_share_pct")
    open_within: int = Field(description="Still assigned and within the OLA")
    open_breached: int = Field(description="Still assigned and past the OLA")


class OlaReport(SlaReport[OlaRow]):
    model_config = _example(
        "olas",
        {
            "organisation_id": 12,
            "resolver_group": "Network",
            "met": 88,
            "missed": 7,
            "total": 95,
            "pct_met": 92.63,
            "target_share_pct": 90.0,
            "target_achieved": True,
            "open_within": 4,
            "open_breached": 1,
        },
        {"met": "ticket assignments", "pct_met": "%"},
    )


class OlaTicketRow(BaseModel):
    """One ticket's time with one resolver group that has an OLA: the OLA, its target,
    elapsed, remaining, due time, % of the target elapsed and status. Seconds are
    business seconds on the OLA's clock."""

    organisation_id: int = Field(description=_ORG)
    source_system: str = Field(description="The service-desk system it came from")
    reference: str = Field(description="The ticket's reference in that system")
    priority: str | None = Field(description=_PRIORITY + " (after its priority history)")
    team: str | None = Field(description="The team that held it")
    closure_category: str | None = Field(description="How it was closed")
    resolution_at: UtcDateTime | None = Field(description="When the ticket was resolved (UTC)")
    resolver_group: str = Field(description="The resolver group, as its OLA names it")
    policy: str = Field(description="The OLA applied, in words")
    calendar_id: str = Field(description="The OLA's clock: a calendar id or 24x7")
    target_seconds: int = Field(description="The OLA's target (seconds on its clock)")
    assigned_at: UtcDateTime = Field(description="First assigned to the group (UTC)")
    released_at: UtcDateTime | None = Field(
        description="When the group last let go of it (UTC); null while assigned"
    )
    assignments: int = Field(description="Times assigned to the group (they add up)")
    elapsed_seconds: int = Field(
        description="Time with the group on the clock, pauses deducted (seconds)"
    )
    paused_seconds: int = Field(
        description="Paused while with the group: holds and the OLA's pause statuses (seconds)"
    )
    remaining_seconds: int = Field(
        description="Target minus elapsed (seconds; negative once breached)"
    )
    due_at: UtcDateTime | None = Field(
        description="Still assigned: when the target is reached if work goes on (UTC)"
    )
    pct_target_elapsed: float = Field(description="Elapsed / target (%, 2 dp, half up)")
    status: str = Field(
        description="met, missed (the group let go); open_within, open_warning (at or past "
        "the warning threshold), open_breached (still assigned)"
    )


class OlaTicketReport(SlaReport[OlaTicketRow]):
    model_config = _example(
        "ola-tickets",
        {
            "organisation_id": 12,
            "source_system": "servicenow",
            "reference": "INC0012345",
            "priority": "P2",
            "team": "Service Desk",
            "closure_category": None,
            "resolution_at": None,
            "resolver_group": "Network",
            "policy": "Network within 4 h on the business calendar 4 clock, from 2024-04-01",
            "calendar_id": "4",
            "target_seconds": 14400,
            "assigned_at": "2024-06-03T08:15:00Z",
            "released_at": None,
            "assignments": 1,
            "elapsed_seconds": 11700,
            "paused_seconds": 900,
            "remaining_seconds": 2700,
            "due_at": "2024-06-03T13:00:00Z",
            "pct_target_elapsed": 81.25,
            "status": "open_warning",
        },
        {"target_seconds": "seconds on the OLA's clock", "pct_target_elapsed": "%"},
    )
