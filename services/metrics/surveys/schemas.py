from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Table(BaseModel):
    columns: list[str] = Field(description="Column order; the CSV has the same header")
    rows: list[dict[str, Any]]


class SurveyResults(BaseModel):
    campaign_id: int
    organisation_id: int
    kind: str
    status: str
    final: bool = Field(description="True once the campaign has closed")
    computed_at: str
    suppression_threshold: int
    response_rate: dict[str, Any] = Field(description='e.g. text "6.4% (20 out of 313)"')
    overall: dict[str, Any] | None = None
    factors: list[dict[str, Any]] | None = None
    breakdowns: list[dict[str, Any]] | None = None
    skills: list[dict[str, Any]] | None = None
    sdma: dict[str, Any] | None = None
