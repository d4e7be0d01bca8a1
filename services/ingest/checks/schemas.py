"""Reviewer checks as the API shows them: flat, typed rows (the same columns as JSON
``items`` and as CSV), with the context beside them."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.pagination import Page
from shared.serialization import UtcDateTime

FlagCheck = Literal["modified_z", "iqr_fence", "history_sd", "year_on_year"]

_PAGE: dict[str, Any] = {"total": 1, "limit": 500, "offset": 0, "next": None}

FLAG_EXAMPLE: dict[str, Any] = {
    "submission_id": 31,
    "organisation_id": 12,
    "cycle_year": 2021,
    "metric_key": "users_per_ict_fte",
    "metric_name": "Users per ICT FTE",
    "check": "modified_z",
    "value": 120.0,
    "reason": "Users per ICT FTE 120 is far from the median 44 of type:L in 2020 (n = 6): "
    "modified z-score 25.29 (0.6745 × (x − median) / MAD, MAD 2), beyond ±3.5.",
    "peer_group_key": "type:L",
    "reference_cycle_year": 2020,
    "n_organisations": 6,
    "median": 44.0,
    "mad": 2.0,
    "modified_z": 25.2863,
    "q1": None,
    "q3": None,
    "iqr": None,
    "lower_fence": None,
    "upper_fence": None,
    "history_n": None,
    "history_mean": None,
    "history_sd": None,
    "previous_value": None,
    "change_pct": None,
    "threshold": 3.5,
    "comment": "Most staff moved to a managed service this year.",
    "commented_by": "participant@camden.gov.uk",
    "checked_at": "2024-05-02T14:05:00Z",
}


class FlagRow(BaseModel):
    """One check that flagged one metric value, with the numbers behind it (null where a
    column belongs to another check)."""

    model_config = ConfigDict(json_schema_extra={"examples": [FLAG_EXAMPLE]})

    submission_id: int
    organisation_id: int
    cycle_year: int
    metric_key: str
    metric_name: str
    check: FlagCheck = Field(
        description="modified_z and iqr_fence: against peers; history_sd and year_on_year: "
        "against the organisation's own earlier values"
    )
    value: float = Field(description="The submission's value of the metric, in its unit")
    reason: str
    peer_group_key: str | None = Field(description="Peer checks: the group compared with")
    reference_cycle_year: int | None = Field(description="Peer checks: the published cycle")
    n_organisations: int | None
    median: float | None
    mad: float | None = Field(description="Median absolute deviation from the median")
    modified_z: float | None = Field(description="0.6745 × (value − median) / MAD")
    q1: float | None
    q3: float | None
    iqr: float | None
    lower_fence: float | None = Field(description="Q1 − k × IQR")
    upper_fence: float | None = Field(description="Q3 + k × IQR")
    history_n: int | None = Field(description="Earlier values the history check used")
    history_mean: float | None
    history_sd: float | None = Field(description="Sample standard deviation (n − 1)")
    previous_value: float | None = Field(description="Year on year: last cycle's value")
    change_pct: float | None = Field(description="Year on year: change in per cent")
    threshold: float = Field(description="The catalogue's threshold for this check")
    comment: str | None = Field(description="The participant's comment on the flagged metric")
    commented_by: str | None
    checked_at: UtcDateTime


class FlagTable(Page[FlagRow]):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"submission_id": 31, "state": "submitted", "items": [FLAG_EXAMPLE], **_PAGE}
            ]
        }
    )

    submission_id: int
    state: str


QUALITY_EXAMPLE: dict[str, Any] = {
    "submission_id": 31,
    "organisation_id": 12,
    "cycle_year": 2021,
    "module": "estate",
    "score": 85.0,
    "completeness": 0.9,
    "timeliness": 1.0,
    "consistency": 1.0,
    "outliers": 0.5,
    "days_late": 0,
    "deadline": "2021-06-30",
    "missing_questions": ["monitors"],
    "rules_failed": [],
    "metrics_flagged": ["users_per_ict_fte"],
    "computed_at": "2024-05-02T14:05:00Z",
}


class QualityRow(BaseModel):
    """One submission's data quality: the score (0-100, the mean of the four parts × 100)
    and its parts (each 0-1)."""

    model_config = ConfigDict(json_schema_extra={"examples": [QUALITY_EXAMPLE]})

    submission_id: int
    organisation_id: int
    cycle_year: int
    module: str
    score: float = Field(
        description="0-100: 25 × (completeness + timeliness + consistency + outliers)"
    )
    completeness: float = Field(
        description="Expected questions answered (required ones and the module's metric inputs)"
    )
    timeliness: float = Field(
        description="1 when first submitted by the deadline; 1/30 less per day late"
    )
    consistency: float = Field(description="Cross-field rules passed of those checked")
    outliers: float = Field(description="Metrics not flagged of those with a value")
    days_late: int
    deadline: str | None = Field(description="The cycle's submission deadline (ISO date)")
    missing_questions: list[str]
    rules_failed: list[str]
    metrics_flagged: list[str]
    computed_at: UtcDateTime


class QualityTable(Page[QualityRow]):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"cycle_year": 2021, "items": [QUALITY_EXAMPLE], **_PAGE}]}
    )

    cycle_year: int | None


ORG_QUALITY_EXAMPLE: dict[str, Any] = {
    "organisation_id": 12,
    "cycle_year": 2021,
    "submissions": 2,
    "score": 80.0,
    "completeness": 0.85,
    "timeliness": 1.0,
    "consistency": 0.9,
    "outliers": 0.45,
}


class OrganisationQualityRow(BaseModel):
    """An organisation's data quality in a cycle: the mean of its submissions' scores and
    parts."""

    model_config = ConfigDict(json_schema_extra={"examples": [ORG_QUALITY_EXAMPLE]})

    organisation_id: int
    cycle_year: int
    submissions: int
    score: float
    completeness: float
    timeliness: float
    consistency: float
    outliers: float


class OrganisationQualityTable(Page[OrganisationQualityRow]):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"cycle_year": 2021, "items": [ORG_QUALITY_EXAMPLE], **_PAGE}]
        }
    )

    cycle_year: int | None
