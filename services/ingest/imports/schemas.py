from __future__ import annotations

from pydantic import BaseModel, Field

from shared.serialization import UtcDateTime


class ImportBatch(BaseModel):
    id: int
    filename: str | None
    created_by: str
    rows: int = Field(description="Data rows in the file")
    submissions: int = Field(description="Accepted submissions created")
    cycle_years: list[int] = Field(description="Cycles whose benchmarks are recomputed")
    created_at: UtcDateTime
