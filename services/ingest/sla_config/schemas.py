from __future__ import annotations

from datetime import date as date_
from decimal import Decimal
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.serialization import JsonDecimal, UtcDateTime
from shared.types import IsoDate, SingleLine

Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
WEEKDAYS: tuple[str, ...] = Weekday.__args__  # type: ignore[attr-defined]
Nation = Literal["GB-ENG", "GB-WLS", "GB-SCT", "GB-NIR"]
_HHMM = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
Priority = Literal["P0", "P1", "P2", "P3", "P4"]
StatusName = Annotated[SingleLine, Field(min_length=1, max_length=200)]


class Window(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: str = Field(pattern=_HHMM, description="Local (Europe/London) start, HH:MM")
    end: str = Field(
        pattern=_HHMM, description="Local end, HH:MM; 00:00 means midnight at the day's end"
    )


class Closure(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: IsoDate
    reason: SingleLine = Field(default="", max_length=200)


class StoredClosure(BaseModel):
    """A closure as stored: read back as it is, without the input checks (a value stored
    before a check existed must never turn a read into a 500)."""

    date: date_
    reason: str = ""


class CalendarIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: SingleLine = Field(min_length=1, max_length=100)
    nation: Nation = Field(
        description="Whose bank holidays: England (GB-ENG), Wales (GB-WLS, same as England), "
        "Scotland (GB-SCT) or Northern Ireland (GB-NIR)"
    )
    hours: dict[Weekday, list[Window]] = Field(
        description="Working windows per weekday, local time; split shifts allowed"
    )
    closures: list[Closure] = Field(default=[], max_length=3660, description="Local closures")


class Calendar(CalendarIn):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "name": "Service desk hours",
                    "nation": "GB-ENG",
                    "hours": {
                        "monday": [{"start": "08:30", "end": "17:00"}],
                        "tuesday": [{"start": "08:30", "end": "17:00"}],
                        "wednesday": [{"start": "08:30", "end": "17:00"}],
                        "thursday": [{"start": "08:30", "end": "17:00"}],
                        "friday": [{"start": "08:30", "end": "17:00"}],
                    },
                    "closures": [
                        {
                            "date": "2024-12-27",
                            "reason": "Office closed between Christmas and New Year",
                        }
                    ],
                    "id": 4,
                    "organisation_id": 12,
                    "time_zone": "Europe/London",
                    "working_day_hours": 8.5,
                    "created_at": "2024-05-01T09:30:00Z",
                    "updated_at": "2024-05-01T09:30:00Z",
                }
            ]
        },
    )

    # Output: stored values are read back as they are (input checks apply to CalendarIn).
    name: str
    closures: list[StoredClosure] = Field(default=[], description="Local closures")  # type: ignore[assignment]
    id: int
    organisation_id: int
    time_zone: str = "Europe/London"
    working_day_hours: JsonDecimal = Field(
        description='Length of a normal working day in hours (used for "N working days")'
    )
    created_at: UtcDateTime
    updated_at: UtcDateTime


class PolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    priority: Priority
    request_type: SingleLine | None = Field(
        default=None, max_length=200, description="For P4: the request type it applies to"
    )
    target_hours: Decimal | None = Field(
        default=None, gt=0, le=100_000, decimal_places=4, description="Target in hours"
    )
    target_working_days: Decimal | None = Field(
        default=None, gt=0, le=1000, decimal_places=2, description="Target in working days"
    )
    calendar_id: int | None = Field(
        default=None, ge=1, le=2_147_483_647, description="Business calendar; null = 24x7"
    )
    target_share_pct: Decimal = Field(
        gt=0, le=100, decimal_places=2, description="Share of tickets to meet it, in %"
    )
    effective_from: IsoDate = Field(description="Applies to tickets logged from this date")
    pause_statuses: list[StatusName] = Field(
        default=[],
        max_length=50,
        description="Statuses of a ticket history (as your tool names them; case and "
        "surrounding spaces ignored) during which the clock stops, e.g. 'Awaiting "
        "customer'. Merged with on-hold intervals, never subtracted twice",
    )
    known_statuses: list[StatusName] = Field(
        default=[],
        max_length=200,
        description="Every status you expect in histories besides the pause statuses; a "
        "history event with any other status is refused by row. Empty: any status",
    )
    priority_change: Literal["retroactive", "from_change"] = Field(
        default="retroactive",
        description="After a priority change the new priority's target runs from logging "
        "(retroactive) or from the change (from_change); pauses before it stay paused",
    )
    reopen_rule: Literal["gap_excluded", "new_cycle"] = Field(
        default="gap_excluded",
        description="A reopened ticket: the time between resolution and reopening does not "
        "count (gap_excluded), or the clock restarts as a new cycle (new_cycle)",
    )
    response_target_hours: Decimal | None = Field(
        default=None,
        gt=0,
        le=100_000,
        decimal_places=4,
        description="Time to first response, on the same clock; null: no response target",
    )
    warning_pcts: list[Annotated[Decimal, Field(gt=0, le=100, decimal_places=2)]] = Field(
        default=[],
        max_length=5,
        description="Warning thresholds in % of the target elapsed, e.g. [75, 90]",
    )


class Policy(PolicyIn):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "priority": "P2",
                    "request_type": None,
                    "target_hours": None,
                    "target_working_days": 2.0,
                    "calendar_id": 4,
                    "target_share_pct": 90.0,
                    "effective_from": "2024-04-01",
                    "pause_statuses": ["Awaiting customer", "Pending - supplier"],
                    "known_statuses": ["New", "In progress", "Resolved", "Closed"],
                    "priority_change": "retroactive",
                    "reopen_rule": "gap_excluded",
                    "response_target_hours": 0.5,
                    "warning_pcts": [75.0, 90.0],
                    "statuses_never_seen": ["Pending - supplier"],
                    "id": 9,
                    "organisation_id": 12,
                    "clock": "business calendar 4",
                    "created_at": "2024-05-01T09:30:00Z",
                }
            ]
        },
    )

    request_type: str | None = Field(
        default=None, description="For P4: the request type it applies to"
    )
    effective_from: date_ = Field(description="Applies to tickets logged from this date")
    target_hours: JsonDecimal | None = Field(default=None, description="Target in hours")
    target_working_days: JsonDecimal | None = Field(
        default=None, description="Target in working days"
    )
    target_share_pct: JsonDecimal = Field(description="Share of tickets to meet it, in %")
    pause_statuses: list[str] = Field(default=[], description="Statuses that stop the clock")
    known_statuses: list[str] = Field(default=[], description="Other statuses expected")
    statuses_never_seen: list[str] = Field(
        default=[],
        description="The pause and known statuses this policy names that no status event "
        "of the organisation's ticket histories carries (yet): a misspelt pause status "
        "never stops the clock",
    )
    response_target_hours: JsonDecimal | None = Field(
        default=None, description="First-response target in hours"
    )
    warning_pcts: list[JsonDecimal] = Field(default=[], description="Warning thresholds, %")
    id: int
    organisation_id: int
    clock: str = Field(description="'24x7' or 'business calendar <id>'")
    created_at: UtcDateTime


class OlaPolicyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resolver_group: SingleLine = Field(
        min_length=1,
        max_length=200,
        description="The resolver group, as your tool names it in assignment events (case "
        "and surrounding spaces ignored)",
    )
    priority: Priority | None = Field(default=None, description="null: every priority")
    target_hours: Decimal | None = Field(
        default=None, gt=0, le=100_000, decimal_places=4, description="Target in hours"
    )
    target_working_days: Decimal | None = Field(
        default=None, gt=0, le=1000, decimal_places=2, description="Target in working days"
    )
    calendar_id: int | None = Field(
        default=None, ge=1, le=2_147_483_647, description="Business calendar; null = 24x7"
    )
    target_share_pct: Decimal = Field(
        gt=0, le=100, decimal_places=2, description="Share of assignments to meet it, in %"
    )
    pause_statuses: list[StatusName] = Field(
        default=[], max_length=50, description="Statuses during which the OLA clock stops"
    )
    effective_from: IsoDate = Field(description="Applies to assignments from this date")


class OlaPolicy(OlaPolicyIn):
    model_config = ConfigDict(
        extra="ignore",
        json_schema_extra={
            "examples": [
                {
                    "resolver_group": "Network",
                    "priority": None,
                    "target_hours": 4.0,
                    "target_working_days": None,
                    "calendar_id": 4,
                    "target_share_pct": 90.0,
                    "pause_statuses": ["Pending - supplier"],
                    "effective_from": "2024-04-01",
                    "statuses_never_seen": [],
                    "id": 3,
                    "organisation_id": 12,
                    "clock": "business calendar 4",
                    "created_at": "2024-05-01T09:30:00Z",
                }
            ]
        },
    )

    resolver_group: str = Field(description="The resolver group")
    effective_from: date_ = Field(description="Applies to assignments from this date")
    target_hours: JsonDecimal | None = Field(default=None, description="Target in hours")
    target_working_days: JsonDecimal | None = Field(
        default=None, description="Target in working days"
    )
    target_share_pct: JsonDecimal = Field(description="Share of assignments to meet it, in %")
    pause_statuses: list[str] = Field(default=[], description="Statuses that stop the clock")
    statuses_never_seen: list[str] = Field(
        default=[],
        description="The pause statuses this OLA names that no status event of the "
        "organisation's ticket histories carries (yet)",
    )
    id: int
    organisation_id: int
    clock: str = Field(description="'24x7' or 'business calendar <id>'")
    created_at: UtcDateTime
