from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Report(BaseModel):
    report: str
    columns: list[str] = Field(description="Column order (the CSV has the same columns)")
    units: dict[str, str] = Field(description="Unit of each figure column")
    notes: dict[str, str] = Field(description="How the figures were made (clock basis, as_of…)")
    rows: list[dict[str, Any]]
    total_rows: int
    limit: int | None = None
    offset: int | None = None
