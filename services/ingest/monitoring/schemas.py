"""Validation monitoring and follow-ups as the API shows them."""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from shared.pagination import Page
from shared.serialization import UtcDateTime
from shared.types import MultiLine, SingleLine

FollowUpState = Literal["open", "contacted", "resolved", "dismissed"]
_PAGE: dict[str, Any] = {"total": 1, "limit": 500, "offset": 0, "next": None}

VIOLATION_EXAMPLE: dict[str, Any] = {
    "id": 7,
    "submission_id": 31,
    "organisation_id": 12,
    "module": "estate",
    "submission_state": "accepted",
    "cycle_year": 2021,
    "kind": "outlier",
    "key": "users_per_ict_fte:modified_z",
    "severity": "warning",
    "message": "Users per ICT FTE 70 is far from the median 45 of type:L in 2020 (n = 6)",
    "question_keys": ["users", "ict_fte"],
    "first_run_id": 3,
    "last_run_id": 5,
    "first_seen_at": "2024-05-03T02:00:00Z",
    "resolved_at": None,
}


class ViolationRow(BaseModel):
    """What validation monitoring found on a submitted or accepted submission: a
    cross-field rule that fails (kind rule, key the rule) or an outlier flag (kind
    outlier, key metric:check)."""

    model_config = ConfigDict(json_schema_extra={"examples": [VIOLATION_EXAMPLE]})

    id: int
    submission_id: int
    organisation_id: int
    module: str
    submission_state: str
    cycle_year: int
    kind: Literal["rule", "outlier"]
    key: str
    severity: Literal["error", "warning"]
    message: str
    question_keys: list[str]
    first_run_id: int
    last_run_id: int
    first_seen_at: UtcDateTime
    resolved_at: UtcDateTime | None = Field(description="Set when a later run no longer finds it")


class ViolationTable(Page[ViolationRow]):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"cycle_year": 2021, "items": [VIOLATION_EXAMPLE], **_PAGE}]
        }
    )

    cycle_year: int | None


class ValidationRun(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 5,
                    "cycle_year": 2021,
                    "fingerprint": "3f2a…",
                    "trigger": "worker",
                    "submissions": 12,
                    "violations": 4,
                    "new_violations": 1,
                    "resolved": 2,
                    "created_at": "2024-05-03T02:00:00Z",
                    "notified_at": "2024-05-03T02:00:05Z",
                    "notified_to": "reviewers@yardstick.example",
                }
            ]
        }
    )

    id: int
    cycle_year: int
    fingerprint: str = Field(description="What the cycle was checked against, hashed")
    trigger: str
    submissions: int = Field(description="Submissions with a finding")
    violations: int
    new_violations: int
    resolved: int
    created_at: UtcDateTime
    notified_at: UtcDateTime | None
    notified_to: str | None


class MonitoringJob(BaseModel):
    # Tests inject the time and force a run; the worker sends neither.
    now: AwareDatetime | None = None
    force: bool = False


class MonitoringResult(BaseModel):
    run_id: int
    cycle_year: int
    violations: int
    new_violations: int
    resolved: int


class FollowUpCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    submission_id: int = Field(ge=1, le=2_147_483_647)
    question_key: SingleLine | None = Field(default=None, max_length=100)
    metric_key: SingleLine | None = Field(default=None, max_length=100)
    violation_id: int | None = Field(default=None, ge=1, le=2_147_483_647)
    note: MultiLine = Field(min_length=1, max_length=4000, description="What to follow up")
    due_on: date | None = None


class FollowUpUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    state: FollowUpState | None = None
    note: MultiLine | None = Field(default=None, min_length=1, max_length=4000)
    resolution: MultiLine | None = Field(default=None, max_length=4000)
    due_on: date | None = None


FOLLOW_UP_EXAMPLE: dict[str, Any] = {
    "id": 2,
    "submission_id": 31,
    "organisation_id": 12,
    "cycle_year": 2021,
    "module": "estate",
    "question_key": "ict_fte",
    "metric_key": "users_per_ict_fte",
    "violation_id": 7,
    "state": "contacted",
    "note": "Ask whether agency staff are counted.",
    "due_on": "2024-05-20",
    "resolution": None,
    "created_by": "reviewer@yardstick.example",
    "created_at": "2024-05-03T09:00:00Z",
    "updated_by": "reviewer@yardstick.example",
    "updated_at": "2024-05-04T10:00:00Z",
}


class FollowUp(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [FOLLOW_UP_EXAMPLE]})

    id: int
    submission_id: int
    organisation_id: int
    cycle_year: int
    module: str
    question_key: str | None
    metric_key: str | None
    violation_id: int | None
    state: FollowUpState
    note: str
    due_on: date | None
    resolution: str | None
    created_by: str
    created_at: UtcDateTime
    updated_by: str
    updated_at: UtcDateTime


class FollowUpTable(Page[FollowUp]):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [FOLLOW_UP_EXAMPLE], **_PAGE}]}
    )
