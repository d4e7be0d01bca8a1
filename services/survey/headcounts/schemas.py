"""A campaign's headcount by breakdown attribute, as HR holds it: the request and answer."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.serialization import UtcDateTime
from shared.types import SingleLine

HeadcountKind = Literal["cells", "margins"]


class HeadcountCell(BaseModel):
    model_config = ConfigDict(extra="forbid")

    attributes: dict[SingleLine, SingleLine] = Field(
        description="One value per attribute of the cross-classification, e.g. "
        '{"role": "Frontline or operational", "location": "Home"}'
    )
    headcount: int = Field(description="People in the cell (people, at least 0)")


class HeadcountMargin(BaseModel):
    model_config = ConfigDict(extra="forbid")

    attribute: SingleLine = Field(description="A breakdown attribute, e.g. role")
    value: SingleLine = Field(description="One of its options, e.g. Manager or team leader")
    headcount: int = Field(description="People with that value (people, at least 0)")


class HeadcountUpload(BaseModel):
    """Exactly one of ``cells`` (the full cross-classification: cell weighting) or
    ``margins`` (each attribute's totals only: raking)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "cells": [
                        {
                            "attributes": {"role": "Senior manager", "location": "Main office"},
                            "headcount": 40,
                        },
                        {
                            "attributes": {"role": "Senior manager", "location": "Home"},
                            "headcount": 12,
                        },
                    ]
                },
                {
                    "margins": [
                        {"attribute": "role", "value": "Senior manager", "headcount": 52},
                        {"attribute": "location", "value": "Main office", "headcount": 40},
                        {"attribute": "location", "value": "Home", "headcount": 12},
                    ]
                },
            ]
        },
    )

    cells: list[HeadcountCell] | None = Field(default=None, min_length=1, max_length=5000)
    margins: list[HeadcountMargin] | None = Field(default=None, min_length=1, max_length=5000)


class HeadcountRow(BaseModel):
    attributes: dict[str, str] = Field(description="The cell (cells) or one value (margins)")
    headcount: int = Field(description="People (people)")
    responses: int = Field(description="Responses received so far that stated these values")


class Headcount(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "campaign_id": 5,
                    "kind": "cells",
                    "attributes": ["role", "location"],
                    "total": 52,
                    "responses": 20,
                    "weighting": "cell weighting: weight = cell headcount / cell responses",
                    "rows": [
                        {
                            "attributes": {"role": "Senior manager", "location": "Main office"},
                            "headcount": 40,
                            "responses": 15,
                        }
                    ],
                    "uploaded_by": "user-17",
                    "uploaded_at": "2024-06-03T08:00:00Z",
                }
            ]
        }
    )

    campaign_id: int
    kind: HeadcountKind = Field(description="cells (cross-classification) or margins")
    attributes: list[str] = Field(description="The attributes the headcount is broken down by")
    total: int = Field(description="People in all (people)")
    responses: int = Field(description="Responses received so far (responses)")
    weighting: str = Field(description="The weighting the metrics service applies with it")
    rows: list[HeadcountRow]
    uploaded_by: str
    uploaded_at: UtcDateTime
