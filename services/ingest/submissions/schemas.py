from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.serialization import UtcDateTime
from shared.types import MultiLine, SingleLine

SubmissionState = Literal["draft", "submitted", "returned", "accepted"]
# Numbers may be sent as JSON numbers or decimal strings (money: "1234.56").
AnswerValue = bool | int | float | str | None
# What a client may send: text answers may span lines, never hold control characters.
AnswerIn = bool | int | float | MultiLine | None

MAX_ID = 2_147_483_647

SUMMARY_EXAMPLE: dict[str, Any] = {
    "id": 31,
    "organisation_id": 12,
    "cycle_id": 3,
    "cycle_year": 2021,
    "module": "estate",
    "state": "submitted",
    "imported": False,
    "created_at": "2024-05-01T09:30:00Z",
    "updated_at": "2024-05-02T14:05:00Z",
    "submitted_at": "2024-05-02T14:05:00Z",
    "decided_at": None,
}


class SubmissionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organisation_id: int = Field(ge=1, le=MAX_ID)
    cycle_id: int = Field(ge=1, le=MAX_ID)
    module: SingleLine = Field(min_length=1, max_length=100, description="Module key, e.g. estate")


class AnswersUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answers: dict[str, AnswerIn] = Field(
        default_factory=dict,
        description="Question key → answer; null removes an answer",
    )
    comments: dict[str, MultiLine | None] = Field(
        default_factory=dict,
        description="Question key → a comment on that answer; null or empty removes it",
    )


class SubmitBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    warning_comments: dict[str, MultiLine] = Field(
        default_factory=dict, description="Rule key → why the warning is expected"
    )


class ReturnBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reasons: dict[str, MultiLine] = Field(
        description="Question key → what the participant should check (one or more)"
    )


class AcceptBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    note: MultiLine | None = Field(default=None, max_length=2000)


class ReopenBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: MultiLine = Field(max_length=2000, description="Why the accepted data must change")


class WarningComment(BaseModel):
    rule_key: str
    message: str
    comment: str
    created_by: str
    created_at: UtcDateTime


class ReviewReason(BaseModel):
    question_key: str
    reason: str
    created_by: str
    created_at: UtcDateTime


class ValidationIssue(BaseModel):
    question_keys: list[str]
    severity: Literal["error", "warning"]
    code: str
    message: str
    rule_key: str | None


class ChangeSinceAcceptance(BaseModel):
    question_key: str
    accepted_value: AnswerValue = Field(description="The answer when last accepted")
    current_value: AnswerValue = Field(description="The answer now (null: removed)")
    changed_by: str
    changed_at: UtcDateTime


class SubmissionSummary(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [SUMMARY_EXAMPLE]})

    id: int
    organisation_id: int
    cycle_id: int
    cycle_year: int
    module: str
    state: SubmissionState
    imported: bool
    created_at: UtcDateTime
    updated_at: UtcDateTime
    submitted_at: UtcDateTime | None
    decided_at: UtcDateTime | None


class Submission(SubmissionSummary):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **SUMMARY_EXAMPLE,
                    "answers": {"users": 4200, "ict_fte": 61.5, "cyber_essentials_plus": True},
                    "answer_comments": {"ict_fte": "Includes 4 FTE seconded from the county."},
                    "warning_comments": [
                        {
                            "rule_key": "users_per_fte_range",
                            "message": "Users per ICT FTE (68.3) is outside the usual range.",
                            "comment": "Most staff moved to self-service laptops this year.",
                            "created_by": "participant@camden.gov.uk",
                            "created_at": "2024-05-02T14:05:00Z",
                        }
                    ],
                    "review_reasons": [],
                    "issues": [],
                    "reacceptance_required": False,
                    "reopened_reason": None,
                    "changes_since_acceptance": [],
                }
            ]
        }
    )

    answers: dict[str, AnswerValue]
    answer_comments: dict[str, str]
    warning_comments: list[WarningComment]
    review_reasons: list[ReviewReason] = Field(
        description="The reviewer's reasons, while the submission is returned"
    )
    issues: list[ValidationIssue] = Field(
        description="What validation would say if the submission were submitted now"
    )
    reacceptance_required: bool = Field(
        description="Accepted before and reopened: it must be submitted and accepted again"
    )
    reopened_reason: str | None = Field(default=None, description="Why it was reopened")
    changes_since_acceptance: list[ChangeSinceAcceptance] = Field(
        description="Answers changed since the last acceptance (from the audit trail)"
    )


class AuditEntry(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 205,
                    "submission_id": 31,
                    "actor": "participant@camden.gov.uk",
                    "at": "2024-05-01T09:30:00Z",
                    "action": "answer_set",
                    "question_key": "ict_fte",
                    "old_value": 58,
                    "new_value": 61.5,
                    "reason": None,
                }
            ]
        }
    )

    id: int
    submission_id: int
    actor: str
    at: UtcDateTime
    action: str
    question_key: str | None
    old_value: Any = None
    new_value: Any = None
    reason: str | None
