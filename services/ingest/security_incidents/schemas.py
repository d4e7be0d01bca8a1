from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.serialization import UtcDateTime
from shared.types import IsoDate, MultiLine, SingleLine

Severity = Literal["low", "medium", "high", "critical"]

INCIDENT_EXAMPLE: dict[str, Any] = {
    "reference": "SEC-2024-017",
    "title": "Phishing campaign against finance staff",
    "opened_on": "2024-05-14",
    "closed_on": "2024-05-20",
    "severity": "high",
    "os": "Windows 11",
    "assets_affected": "3 mailboxes",
    "status": "closed",
}


class IncidentIn(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [INCIDENT_EXAMPLE]})

    reference: SingleLine = Field(min_length=1, max_length=50, description="Unique per service")
    title: SingleLine = Field(min_length=1, max_length=500)
    opened_on: IsoDate = Field(description="When it was opened (YYYY-MM-DD)")
    closed_on: IsoDate | None = Field(default=None, description="On or after opened_on")
    severity: Severity
    os: SingleLine | None = Field(default=None, max_length=200, description="Operating system")
    assets_affected: MultiLine | None = Field(default=None, max_length=2000)
    status: SingleLine = Field(
        default="open", min_length=1, max_length=50, description="e.g. open, contained, closed"
    )


class IncidentUpdate(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"closed_on": "2024-05-20", "status": "closed"}]},
    )

    title: SingleLine | None = Field(default=None, min_length=1, max_length=500)
    opened_on: IsoDate | None = None
    closed_on: IsoDate | None = None
    severity: Severity | None = None
    os: SingleLine | None = Field(default=None, max_length=200)
    assets_affected: MultiLine | None = Field(default=None, max_length=2000)
    status: SingleLine | None = Field(default=None, min_length=1, max_length=50)


class Incident(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 5,
                    "service_id": 30,
                    **INCIDENT_EXAMPLE,
                    "created_at": "2024-05-14T10:00:00Z",
                    "updated_at": "2024-05-20T16:30:00Z",
                }
            ]
        }
    )

    id: int
    service_id: int
    reference: str
    title: str
    opened_on: date
    closed_on: date | None
    severity: Severity
    os: str | None
    assets_affected: str | None
    status: str
    created_at: UtcDateTime
    updated_at: UtcDateTime


class IncidentImport(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"rows": 5, "created": 4, "updated": 1}]}
    )

    rows: int
    created: int = Field(description="New references")
    updated: int = Field(description="References already stored, replaced by the file's row")
