from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.pagination import Page

Source = Literal["tickets", "feedback", "survey"]


class NpsRow(BaseModel):
    organisation_id: int = Field(description="The organisation's id")
    month: date | None = Field(
        description="First day of the month (Europe/London); null = the organisation's "
        "whole period (every month asked for)"
    )
    responses: int = Field(description="0-10 ratings counted (ratings)")
    promoters: int = Field(description="Ratings of 9-10 (ratings)")
    passives: int = Field(description="Ratings of 7-8 (ratings)")
    detractors: int = Field(description="Ratings of 0-6 (ratings)")
    nps: float | None = Field(
        description="Net Promoter Score: % promoters - % detractors, -100 to 100 (points, "
        "1 dp, half up); null when there are no ratings"
    )


class NpsRowExplanation(BaseModel):
    """Where an NPS row is explained."""

    organisation_id: int
    month: date | None
    explain: str = Field(description="Path of the row's explanation (GET /api/v1/explain/nps)")


class NpsReport(Page[NpsRow]):
    source: Source = Field(description="Where the ratings came from")
    columns: list[str] = Field(description="Column order (the CSV has the same columns)")
    notes: dict[str, str] = Field(description="How the figures were made (month basis…)")
    explanations: list[NpsRowExplanation] = Field(
        default_factory=list,
        description="The page's rows' explanations, in the rows' order (JSON only)",
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "organisation_id": 12,
                            "month": "2021-03-01",
                            "responses": 6,
                            "promoters": 2,
                            "passives": 1,
                            "detractors": 3,
                            "nps": -16.7,
                        }
                    ],
                    "total": 1,
                    "limit": 500,
                    "offset": 0,
                    "next": None,
                    "source": "tickets",
                    "columns": [
                        "organisation_id",
                        "month",
                        "responses",
                        "promoters",
                        "passives",
                        "detractors",
                        "nps",
                    ],
                    "notes": {"month_basis": "month of resolution (logged month while open)"},
                    "explanations": [
                        {
                            "organisation_id": 12,
                            "month": "2021-03-01",
                            "explain": "/api/v1/explain/nps?source=tickets&organisation_id=12"
                            "&month=2021-03-01",
                        }
                    ],
                }
            ]
        }
    )
