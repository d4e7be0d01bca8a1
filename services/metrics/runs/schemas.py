from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel


class ComputationRun(BaseModel):
    id: int
    kind: str
    scope: dict[str, Any]
    trigger: str
    status: str
    detail: dict[str, Any]
    started_at: datetime
    finished_at: datetime | None
