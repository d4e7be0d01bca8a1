from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field


class ImportBatch(BaseModel):
    id: int
    filename: str | None
    created_by: str
    rows: int = Field(description="Data rows in the file")
    submissions: int = Field(description="Accepted submissions created")
    cycle_years: list[int] = Field(description="Cycles whose benchmarks are recomputed")
    created_at: datetime
