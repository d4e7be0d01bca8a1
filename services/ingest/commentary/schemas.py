from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.serialization import UtcDateTime
from shared.types import MultiLine

# As the pack_commentary table's CHECK constraint lists them, in the pack's order.
Section = Literal["kpi", "sla", "nps", "security", "finance", "costs", "risks"]
Measure = Annotated[
    str,
    Field(
        max_length=100,
        pattern=r"^[A-Za-z0-9_.:-]*$",
        description="'' for the section's summary; a measure's key for a comment on it "
        "(e.g. sla.P2, nps, security.severe)",
    ),
]


class CommentIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    section: Section
    measure: Measure = ""
    body: MultiLine = Field(min_length=1, max_length=10_000)


class CommentaryIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "entries": [
                        {"section": "kpi", "body": "Three of four SLAs met this quarter."},
                        {
                            "section": "sla",
                            "measure": "sla.P2",
                            "body": "A storage fault in May delayed P2 fixes; resolved.",
                        },
                    ]
                }
            ]
        },
    )

    entries: list[CommentIn] = Field(min_length=1, max_length=200)


class Comment(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "financial_year": 2024,
                    "period": 3,
                    "section": "sla",
                    "measure": "sla.P2",
                    "body": "A storage fault in May delayed P2 fixes; resolved.",
                    "author": "service.manager@shared-ict.example",
                    "created_at": "2024-07-08T09:30:00Z",
                    "updated_at": "2024-07-08T09:30:00Z",
                }
            ]
        }
    )

    financial_year: int
    period: int
    section: Section
    measure: str = Field(description="'' for the section's summary")
    body: str
    author: str
    created_at: UtcDateTime
    updated_at: UtcDateTime
