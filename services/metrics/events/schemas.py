from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from shared.types import SingleLine


class Event(BaseModel):
    event_type: SingleLine = Field(max_length=100)
    payload: dict[str, Any]


class EventAck(BaseModel):
    event_key: str
    handled: bool = Field(description="False when this event had been handled before")
    job_id: int | None = Field(
        default=None,
        description="The job that will do the event's work (answered 202), if it is long work",
    )
