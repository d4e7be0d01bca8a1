from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.serialization import UtcDateTime


class ComputationRun(BaseModel):
    id: int
    kind: str
    scope: dict[str, Any]
    trigger: str
    status: str
    detail: dict[str, Any]
    started_at: UtcDateTime
    finished_at: UtcDateTime | None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 418,
                    "kind": "sla_outcomes",
                    "scope": {"import_id": 77, "organisations": [12]},
                    "trigger": "manual:admin@example.org",
                    "status": "done",
                    "detail": {"tickets": 14941},
                    "started_at": "2026-11-29T23:45:20Z",
                    "finished_at": "2026-11-29T23:45:31Z",
                }
            ]
        }
    )


JobStatus = Literal["pending", "running", "done", "failed"]


class ComputationJob(BaseModel):
    """Long work an event asked for, run in the background with retries."""

    id: int
    event_key: str = Field(description="The outbox event that asked for it")
    event_type: str
    payload: dict[str, Any]
    status: JobStatus
    attempts: int
    run_after: UtcDateTime = Field(description="Not run again before this (back-off)")
    leased_until: UtcDateTime | None = Field(description="While running: taken up again after this")
    last_error: str | None
    run_id: int | None = Field(description="The computation run it recorded, when known")
    created_at: UtcDateTime
    started_at: UtcDateTime | None
    finished_at: UtcDateTime | None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 93,
                    "event_key": "ingest-outbox-77",
                    "event_type": "sla" + ".recompute",
                    "payload": {"organisation_id": 12, "reason": "policy_changed"},
                    "status": "done",
                    "attempts": 1,
                    "run_after": "2026-11-29T23:45:19Z",
                    "leased_until": None,
                    "last_error": None,
                    "run_id": 418,
                    "created_at": "2026-11-29T23:45:19Z",
                    "started_at": "2026-11-29T23:45:20Z",
                    "finished_at": "2026-11-29T23:45:31Z",
                }
            ]
        }
    )
