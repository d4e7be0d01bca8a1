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
