from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer, WithJsonSchema

from shared.clock import LONDON
from shared.deps import MAX_INT32
from shared.serialization import UtcDateTime
from shared.types import IsoDateTime, SingleLine

ConsentState = Literal["pending", "consented", "declined"]
ConsentChoice = Literal["consented", "declined"]
WorkshopStatus = Literal["scheduled", "in_progress", "ended"]


def london_iso(value: datetime) -> str:
    """``2026-03-10T10:00:00+00:00``: the instant as Europe/London wall-clock time, whole
    seconds, with London's offset at that moment (+00:00 GMT, +01:00 BST)."""
    return value.astimezone(LONDON).replace(microsecond=0).isoformat()


LondonDateTime = Annotated[
    datetime,
    PlainSerializer(london_iso, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\+0[01]:00$",
            "examples": ["2026-03-10T10:00:00+00:00"],
        },
        mode="serialization",
    ),
]
"""An instant shown in Europe/London, e.g. ``2026-06-10T10:00:00+01:00``."""

_WHEN = (
    "Europe/London: a time without an offset is London wall-clock time "
    "(2026-06-10T10:00); one with an offset is that instant"
)
OrganisationId = Annotated[int, Field(ge=1, le=MAX_INT32)]


class WorkshopCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: SingleLine = Field(min_length=1, max_length=200)
    cycle_id: int = Field(ge=1, le=MAX_INT32, description="The cycle whose results it discusses")
    starts_at: IsoDateTime = Field(description=f"When names start to be shown. {_WHEN}")
    ends_at: IsoDateTime = Field(description=f"When names stop being shown. {_WHEN}")
    organisation_ids: list[OrganisationId] = Field(
        min_length=2,
        max_length=500,
        description="Member organisations: participants of the cycle (each has its code)",
    )


class ConsentBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    consent: ConsentChoice = Field(
        description="consented: show this organisation's name to the other consenting "
        "members during the workshop; declined (also to withdraw consent): never"
    )


_MEMBER: dict[str, Any] = {
    "organisation_id": 12,
    "organisation_name": "London Borough of Camden",
    "consent": "consented",
    "consent_by": "j.smith@camden.gov.uk",
    "consent_at": "2026-06-01T14:05:00+01:00",
}


class WorkshopMember(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_MEMBER]})

    organisation_id: int
    organisation_name: str
    consent: ConsentState | None = Field(
        description="Shown to admins and to the organisation's own staff; null otherwise"
    )
    consent_by: str | None = Field(description="Who set the current state (as consent)")
    consent_at: LondonDateTime | None = Field(description="When, in Europe/London")


class Workshop(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 4,
                    "title": "London boroughs results workshop",
                    "cycle_id": 3,
                    "cycle_year": 2026,
                    "starts_at": "2026-06-10T10:00:00+01:00",
                    "ends_at": "2026-06-10T12:30:00+01:00",
                    "ended_early_at": None,
                    "status": "scheduled",
                    "members": [_MEMBER],
                    "created_by": "admin@yardstick.example",
                    "created_at": "2026-05-20T08:00:00Z",
                }
            ]
        }
    )

    id: int
    title: str
    cycle_id: int
    cycle_year: int
    starts_at: LondonDateTime
    ends_at: LondonDateTime
    ended_early_at: LondonDateTime | None = Field(description="Set when an admin ended it early")
    status: WorkshopStatus = Field(
        description="scheduled (consent may change), in_progress (names shown to consenting "
        "members), ended"
    )
    members: list[WorkshopMember]
    created_by: str
    created_at: UtcDateTime
