from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictInt, model_validator

from shared.deps import MAX_INT32
from shared.serialization import UtcDateTime
from shared.types import IsoAwareDateTime, SingleLine

NO_NUL = r"^[^\x00]*$"  # PostgreSQL text cannot hold NUL


class FeedbackIn(BaseModel):
    """One post-interaction rating: satisfaction (1-7), recommendation (0-10), or both."""

    model_config = ConfigDict(extra="forbid")

    organisation_id: Annotated[StrictInt, Field(ge=1, le=MAX_INT32)]
    source_system: Annotated[SingleLine, Field(min_length=1, max_length=200, pattern=NO_NUL)]
    ticket_reference: Annotated[
        SingleLine | None, Field(min_length=1, max_length=200, pattern=NO_NUL)
    ] = None
    received_at: Annotated[IsoAwareDateTime, Field(description="ISO 8601 with an offset")]
    satisfaction: Annotated[
        StrictInt | None, Field(ge=1, le=7, description="Service-desk satisfaction, 1-7")
    ] = None
    recommendation: Annotated[
        StrictInt | None, Field(ge=0, le=10, description="Likelihood to recommend, 0-10 (NPS)")
    ] = None

    @model_validator(mode="after")
    def _has_rating(self) -> FeedbackIn:
        if self.satisfaction is None and self.recommendation is None:
            raise ValueError("give satisfaction (1-7), recommendation (0-10) or both")
        return self


class FeedbackBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ratings: Annotated[list[FeedbackIn], Field(min_length=1, max_length=10_000)]


class FeedbackAccepted(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "stored": 250,
                    "organisations": [12],
                    "first_received_at": "2024-04-01T08:12:00Z",
                    "last_received_at": "2024-04-30T17:45:00Z",
                }
            ]
        }
    )

    stored: int
    organisations: list[int]
    first_received_at: UtcDateTime
    last_received_at: UtcDateTime
