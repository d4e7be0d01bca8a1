"""Result tables. Each ``*Row`` is one flat row: the same columns in the JSON ``items``
and the CSV (``format=csv``; column names are these field names, stable). A result is the
page envelope (shared/pagination.py) with its context beside ``items``. Figures are in the
row's ``unit`` (percent: 0-100 points; gbp: pounds; ratio: a plain ratio)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from shared.pagination import Page

Unit = Literal["ratio", "percent", "gbp", "index", "rating", "count"]
Polarity = Literal["higher_better", "lower_better", "neutral"]


_NAME = (
    "Beside the code: the organisation's name, shown only during a results workshop to the "
    "members that consented, for those members; null otherwise"
)
_WORKSHOPS = "The workshops under which names are shown in this response; empty: codes only"


class _Context(BaseModel):
    organisation_code: str | None = Field(description="Your anonymous code in this cycle")
    organisation_name: str | None = Field(description=_NAME)
    cycle_year: int = Field(description="Collection year")
    data_year: str = Field(description="The financial year the data describe, e.g. 2019/20")
    peer_group_key: str


class _Figures(BaseModel):
    median: float | None = Field(description="The peer group's median, in the unit")
    q1: float | None = Field(description="Lower quartile, in the unit")
    q3: float | None = Field(description="Upper quartile, in the unit")
    min: float | None = Field(description="Lowest peer value, in the unit")
    max: float | None = Field(description="Highest peer value, in the unit")
    n: int = Field(description="Responses in the peer group with a value")
    n_organisations: int = Field(description="Distinct organisations among them")
    suppressed: bool = Field(description="Statistics withheld (disclosure control)")
    suppression_reason: str | None


class ComparisonRow(_Context, _Figures):
    results_release_date: date | None
    metric_key: str
    metric_name: str
    module: str
    unit: Unit = Field(description="Unit of every figure in the row (percent: 0-100 points)")
    polarity: Polarity
    my_value: float | None = Field(description="Your value, in the unit")
    quartile_band: int | None = Field(description="1 = best quarter ... 4 = worst")
    rank: int | None = Field(description="1 = best")
    rank_of: int | None


_CONTEXT: dict[str, Any] = {
    "organisation_code": "A7",
    "organisation_name": None,
    "cycle_year": 2020,
    "data_year": "2019/20",
    "peer_group_key": "all",
}
_FIGURES: dict[str, Any] = {
    "median": 0.42,
    "q1": 0.31,
    "q3": 0.58,
    "min": 0.12,
    "max": 0.93,
    "n": 41,
    "n_organisations": 41,
    "suppressed": False,
    "suppression_reason": None,
}
_PAGE: dict[str, Any] = {"total": 1, "limit": 500, "offset": 0, "next": None}
_COMPARISON_ROW: dict[str, Any] = {
    **_CONTEXT,
    **_FIGURES,
    "results_release_date": "2020-11-30",
    "metric_key": "cost_per_user",
    "metric_name": "ICT cost per user",
    "module": "finance",
    "unit": "gbp",
    "polarity": "lower_better",
    "my_value": 0.38,
    "quartile_band": 2,
    "rank": 15,
    "rank_of": 41,
}
_EXPLAINED: dict[str, Any] = {
    "explain_value": "/api/v1/explain/metric-value?organisation_id=12&cycle=2020"
    "&metric=cost_per_user",
    "explain_statistic": "/api/v1/explain/benchmark?organisation_id=12&cycle=2020"
    "&metric=cost_per_user&peer_group=all",
    "my_value_restated_at": "2021-02-01T10:00:00Z",
    "my_previous_value": 0.41,
}


class _Restated(BaseModel):
    my_value_restated_at: datetime | None = Field(
        description="When your value was restated (accepted data changed after acceptance)"
    )
    my_previous_value: float | None = Field(description="Your value before that restatement")


class FigureExplained(_Restated):
    """Where a row's figures are explained, and whether your value was restated."""

    explain_value: str | None = Field(description="Path of your value's explanation")
    explain_statistic: str = Field(description="Path of the benchmark statistics' explanation")


class Restatement(BaseModel):
    cycle_year: int
    metric_key: str
    value: float | None = Field(description="Your value now")
    previous_value: float = Field(description="Your value before the restatement")
    restated_at: datetime


class DataQuality(BaseModel):
    """The data quality of the organisation's accepted submissions in the cycle (scored by
    ingest at submission): the mean of their scores and parts."""

    submissions: int
    score: float = Field(description="0-100: 25 × the sum of the four parts")
    completeness: float = Field(description="0-1: expected questions answered")
    timeliness: float = Field(description="0-1: submitted by the cycle's deadline")
    consistency: float = Field(description="0-1: cross-field rules passed")
    outliers: float = Field(description="0-1: metric values not flagged")


class Comparison(Page[ComparisonRow], _Context):
    organisation_id: int
    explanations: dict[str, FigureExplained] = Field(
        description="By metric key: each row's explanations and restatement"
    )
    data_quality: DataQuality | None = Field(
        description="Your accepted data's quality score and its parts; null if not scored"
    )
    results_release_date: date | None
    access_ends_on: date | None
    peer_group_custom: bool
    min_n: int = Field(description="Statistics over fewer organisations are suppressed")
    workshop_ids: list[int] = Field(description=_WORKSHOPS)

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_CONTEXT,
                    "organisation_id": 12,
                    "results_release_date": "2020-11-30",
                    "access_ends_on": "2023-11-30",
                    "peer_group_custom": False,
                    "explanations": {"cost_per_user": _EXPLAINED},
                    "data_quality": {
                        "submissions": 2,
                        "score": 92.5,
                        "completeness": 0.9,
                        "timeliness": 1.0,
                        "consistency": 1.0,
                        "outliers": 0.8,
                    },
                    "min_n": 5,
                    "workshop_ids": [],
                    "items": [_COMPARISON_ROW],
                    **_PAGE,
                }
            ]
        }
    )


class DistributionRow(_Context):
    results_release_date: date | None
    metric_key: str
    unit: Unit
    position: int = Field(description="1 = lowest value")
    peer_code: str = Field(description="The peer's anonymous code in its cycle")
    peer_name: str | None = Field(description=_NAME)
    peer_cycle_year: int
    value: float
    is_mine: bool


class Distribution(Page[DistributionRow], _Context, _Figures, _Restated):
    """``items``: peers in value order; empty if suppressed."""

    explain_value: str | None = Field(description="Path of your value's explanation")
    explain_statistic: str = Field(description="Path of the statistics' explanation")
    organisation_id: int
    results_release_date: date | None
    metric_key: str
    metric_name: str
    unit: Unit
    polarity: Polarity
    my_value: float | None = Field(description="Your value, in the unit")
    workshop_ids: list[int] = Field(description=_WORKSHOPS)

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_CONTEXT,
                    **_FIGURES,
                    "organisation_id": 12,
                    "results_release_date": "2020-11-30",
                    "metric_key": "cost_per_user",
                    "metric_name": "ICT cost per user",
                    "unit": "gbp",
                    "polarity": "lower_better",
                    "my_value": 0.38,
                    "workshop_ids": [],
                    **_EXPLAINED,
                    "items": [
                        {
                            **_CONTEXT,
                            "results_release_date": "2020-11-30",
                            "metric_key": "cost_per_user",
                            "unit": "gbp",
                            "position": 1,
                            "peer_code": "B3",
                            "peer_name": None,
                            "peer_cycle_year": 2020,
                            "value": 0.12,
                            "is_mine": False,
                        }
                    ],
                    **_PAGE,
                }
            ]
        }
    )


class TrendRow(_Figures):
    organisation_code: str | None
    organisation_name: str | None = Field(description=_NAME)
    cycle_year: int
    data_year: str
    peer_group_key: str
    metric_key: str
    metric_name: str
    unit: Unit
    polarity: Polarity
    definition_changed: bool = Field(description="The metric's definition changed this cycle")
    introduced: bool = Field(description="First cycle with this metric")
    my_value: float | None


class TrendExplanation(BaseModel):
    """Where a trend point's figures are explained."""

    cycle_year: int
    explain_value: str | None = Field(description="Path of your value's explanation")
    explain_statistic: str = Field(description="Path of the statistics' explanation")


class Trends(Page[TrendRow], _Context):
    organisation_id: int
    explanations: list[TrendExplanation] = Field(
        default_factory=list,
        description="Each point's explanations, by cycle (the rows' order)",
    )
    restatements: list[Restatement] = Field(
        description="Your values in these rows that were restated, and what they were before"
    )
    results_release_date: date | None
    metric_key: str
    workshop_ids: list[int] = Field(description=_WORKSHOPS)

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **_CONTEXT,
                    "organisation_id": 12,
                    "results_release_date": "2020-11-30",
                    "metric_key": "cost_per_user",
                    "workshop_ids": [],
                    "restatements": [
                        {
                            "cycle_year": 2020,
                            "metric_key": "cost_per_user",
                            "value": 0.38,
                            "previous_value": 0.41,
                            "restated_at": "2021-02-01T10:00:00Z",
                        }
                    ],
                    "explanations": [
                        {
                            "cycle_year": 2020,
                            "explain_value": "/api/v1/explain/metric-value?organisation_id=12"
                            "&cycle=2020&metric=cost_per_user",
                            "explain_statistic": "/api/v1/explain/benchmark?organisation_id=12"
                            "&cycle=2020&metric=cost_per_user&peer_group=all",
                        }
                    ],
                    "items": [
                        {
                            **_FIGURES,
                            "organisation_code": "A7",
                            "organisation_name": None,
                            "cycle_year": 2020,
                            "data_year": "2019/20",
                            "peer_group_key": "all",
                            "metric_key": "cost_per_user",
                            "metric_name": "ICT cost per user",
                            "unit": "gbp",
                            "polarity": "lower_better",
                            "definition_changed": False,
                            "introduced": False,
                            "my_value": 0.38,
                        }
                    ],
                    **_PAGE,
                }
            ]
        }
    )


class PeerGroupInfo(BaseModel):
    peer_group_key: str = Field(description="all, past, type:L, nation:Wales, …")
    n_organisations: int = Field(description="Organisations with any value in the group")

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"peer_group_key": "nation:Wales", "n_organisations": 22}]}
    )


class PeerGroups(Page[PeerGroupInfo]):
    pass


class RecomputeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cycle_years: list[StrictInt] | None = Field(
        default=None, description="Cycles whose data changed (later cycles follow); all if absent"
    )


class RecomputeResult(BaseModel):
    cycles: list[int] = Field(description="Cycles (years) recomputed")
    metric_values: int = Field(description="Metric values written")
    statistics: int = Field(description="Peer-group statistics written")
    organisations: int = Field(description="Organisations with values")
    seconds: float = Field(description="Time taken (seconds)")

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "cycles": [2020, 2021],
                    "metric_values": 5904,
                    "statistics": 3120,
                    "organisations": 82,
                    "seconds": 1.84,
                }
            ]
        }
    )
