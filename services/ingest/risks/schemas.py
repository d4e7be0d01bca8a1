from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt

from shared.serialization import UtcDateTime
from shared.types import MultiLine, SingleLine

Score = Annotated[StrictInt, Field(ge=1, le=5)]
Text = Annotated[MultiLine, Field(max_length=2000)]

RISK_EXAMPLE: dict[str, Any] = {
    "id": 7,
    "service_id": 30,
    "reference": "SR04",
    "section": "loss_of_service",
    "title": "Data centre power failure",
    "cause": "Single power feed to the primary data centre",
    "event": "Loss of power beyond the UPS's runtime",
    "consequence": "Services unavailable to all three councils",
    "owner": "Head of Infrastructure",
    "closed": False,
    "created_at": "2024-04-10T09:00:00Z",
    "updated_at": "2024-07-08T09:30:00Z",
}
ASSESSMENT_EXAMPLE: dict[str, Any] = {
    "financial_year": 2024,
    "period": 3,
    "developments": "Generator contract signed; installation in August.",
    "impact": 5,
    "probability": 2,
    "imported_priority": 10,
    "actions": "Install a generator; test the failover quarterly.",
    "owner": "Head of Infrastructure",
    "updated_at": "2024-07-08T09:30:00Z",
}


class RiskRowIn(BaseModel):
    """One risk as the register shows it for the period: the risk and its assessment."""

    model_config = ConfigDict(extra="forbid")

    reference: SingleLine = Field(min_length=1, max_length=50, description="Unique per service")
    section: SingleLine = Field(
        min_length=1,
        max_length=100,
        description="financial, resourcing, loss_of_service, supportability (key or label), "
        "or the service's own section",
    )
    title: SingleLine = Field(min_length=1, max_length=500)
    cause: Text | None = None
    event: Text | None = None
    consequence: Text | None = None
    owner: SingleLine | None = Field(default=None, max_length=200)
    developments: Text | None = Field(default=None, description="Recent developments")
    impact: Score
    probability: Score
    priority: StrictInt | None = Field(
        default=None, ge=1, le=25, description="The source's own priority, if it has one"
    )
    actions: Text | None = None
    closed: StrictBool = False


class RiskRegisterIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "risks": [
                        {
                            "reference": "SR04",
                            "section": "Loss of service",
                            "title": "Data centre power failure",
                            "impact": 5,
                            "probability": 2,
                            "priority": 10,
                            "owner": "Head of Infrastructure",
                        }
                    ]
                }
            ]
        },
    )

    risks: list[RiskRowIn] = Field(min_length=1, max_length=200)


class Risk(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [RISK_EXAMPLE]})

    id: int
    service_id: int
    reference: str
    section: str = Field(description="A standard section's key, or the service's own")
    title: str
    cause: str | None
    event: str | None
    consequence: str | None
    owner: str | None
    closed: bool
    created_at: UtcDateTime
    updated_at: UtcDateTime


class Assessment(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [ASSESSMENT_EXAMPLE]})

    financial_year: int
    period: int
    developments: str | None
    impact: int = Field(description="1-5")
    probability: int = Field(description="1-5")
    imported_priority: int | None = Field(description="As the source printed it, if it did")
    actions: str | None
    owner: str | None
    updated_at: UtcDateTime


class RiskDetail(Risk):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{**RISK_EXAMPLE, "assessments": [ASSESSMENT_EXAMPLE]}]}
    )

    assessments: list[Assessment] = Field(description="Its history, oldest period first")


class RegisterRow(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "risk_id": 7,
                    **{k: v for k, v in RISK_EXAMPLE.items() if k not in ("id", "service_id")},
                    **{k: v for k, v in ASSESSMENT_EXAMPLE.items() if k != "owner"},
                    "assessment_owner": "Head of Infrastructure",
                }
            ]
        }
    )

    risk_id: int
    reference: str
    section: str
    title: str
    cause: str | None
    event: str | None
    consequence: str | None
    owner: str | None
    closed: bool
    financial_year: int
    period: int
    developments: str | None
    impact: int
    probability: int
    imported_priority: int | None
    actions: str | None
    assessment_owner: str | None
    created_at: UtcDateTime
    updated_at: UtcDateTime = Field(description="When the assessment was last written")


class RegisterImport(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "financial_year": 2024,
                    "period": 3,
                    "rows": 8,
                    "risks_created": 1,
                    "risks_updated": 7,
                }
            ]
        }
    )

    financial_year: int
    period: int
    rows: int = Field(description="Risks in the import, each assessed for the period")
    risks_created: int
    risks_updated: int
