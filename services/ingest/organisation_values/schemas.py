from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from shared.serialization import UtcDateTime
from shared.types import SingleLine

Value = Annotated[SingleLine, Field(min_length=1, max_length=200, pattern=r"^[^\x00]*\S[^\x00]*$")]


class ValueMappingIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"values": {"Brent": 12, "LBL": 14, "Southwark": 15}}]},
    )

    values: dict[Value, Annotated[int, Field(ge=1, le=2_147_483_647)]] = Field(
        min_length=1,
        max_length=10_000,
        description="The export's organisation value (matched ignoring case and surrounding "
        "spaces) → the organisation id its rows belong to. Replaces the whole mapping for "
        "this source system",
    )


class ValueMapping(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "organisation_id": 7,
                    "source_system": "topdesk",
                    "value": "Brent",
                    "target_organisation_id": 12,
                    "target_organisation_name": "London Borough of Brent",
                    "created_by": "desk-admin@shared-ict.example.gov.uk",
                    "created_at": "2024-05-01T09:30:00Z",
                }
            ]
        }
    )

    organisation_id: int = Field(description="The organisation whose exports use the value")
    source_system: str = Field(description="The source system the exports come from")
    value: str = Field(description="The value as the export writes it")
    target_organisation_id: int = Field(description="The organisation its rows belong to")
    target_organisation_name: str = Field(description="That organisation's name")
    created_by: str = Field(description="Who set it")
    created_at: UtcDateTime = Field(description="When it was set")
