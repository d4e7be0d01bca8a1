from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class ImportBatch(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 7,
                    "filename": "returns-2021.csv",
                    "created_by": "admin@example.gov.uk",
                    "rows": 48,
                    "submissions": 46,
                    "cycle_years": [2021],
                    "created_at": "2024-05-01T09:30:00Z",
                }
            ]
        }
    )

    id: int
    filename: str | None
    created_by: str
    rows: int = Field(description="Data rows in the file")
    submissions: int = Field(description="Accepted submissions created")
    cycle_years: list[int] = Field(description="Cycles whose benchmarks are recomputed")
    created_at: datetime
