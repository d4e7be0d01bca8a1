from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class ComputationRun(BaseModel):
    id: int
    kind: str
    scope: dict[str, Any]
    trigger: str
    status: str
    detail: dict[str, Any]
    started_at: datetime
    finished_at: datetime | None


JobStatus = Literal["pending", "running", "done", "failed"]


class ComputationJob(BaseModel):
    """Long work an event asked for, run in the background with retries."""

    id: int
    event_key: str = Field(description="The outbox event that asked for it")
    event_type: str
    payload: dict[str, Any]
    status: JobStatus
    attempts: int
    run_after: datetime = Field(description="Not run again before this (back-off)")
    leased_until: datetime | None = Field(description="While running: taken up again after this")
    last_error: str | None
    run_id: int | None = Field(description="The computation run it recorded, when known")
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
