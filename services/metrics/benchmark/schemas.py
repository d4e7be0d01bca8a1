"""Result tables. Each ``*Row`` is one flat row: the same columns in the JSON ``rows``,
the flat JSON export and the CSV export (column names are these field names, stable)."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt

Unit = Literal["ratio", "percent", "gbp", "index", "rating", "count"]
Polarity = Literal["higher_better", "lower_better", "neutral"]


class _Context(BaseModel):
    organisation_code: str | None = Field(description="Your anonymous code in this cycle")
    cycle_year: int = Field(description="Collection year")
    data_year: str = Field(description="The financial year the data describe, e.g. 2019/20")
    peer_group_key: str


class _Figures(BaseModel):
    median: float | None
    q1: float | None
    q3: float | None
    min: float | None
    max: float | None
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
    my_value: float | None
    quartile_band: int | None = Field(description="1 = best quarter ... 4 = worst")
    rank: int | None = Field(description="1 = best")
    rank_of: int | None


class Comparison(_Context):
    organisation_id: int
    results_release_date: date | None
    access_ends_on: date | None
    peer_group_custom: bool
    min_n: int = Field(description="Statistics over fewer organisations are suppressed")
    rows: list[ComparisonRow]


class DistributionRow(_Context):
    results_release_date: date | None
    metric_key: str
    unit: Unit
    position: int = Field(description="1 = lowest value")
    peer_code: str = Field(description="The peer's anonymous code in its cycle")
    peer_cycle_year: int
    value: float
    is_mine: bool


class Distribution(_Context, _Figures):
    organisation_id: int
    results_release_date: date | None
    metric_key: str
    metric_name: str
    unit: Unit
    polarity: Polarity
    my_value: float | None
    rows: list[DistributionRow] = Field(description="Peers in value order; empty if suppressed")


class TrendRow(_Figures):
    organisation_code: str | None
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


class Trends(_Context):
    organisation_id: int
    results_release_date: date | None
    metric_key: str
    rows: list[TrendRow]


class PeerGroupInfo(BaseModel):
    peer_group_key: str
    n_organisations: int = Field(description="Organisations with any value in the group")


class RecomputeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    cycle_years: list[StrictInt] | None = Field(
        default=None, description="Cycles whose data changed (later cycles follow); all if absent"
    )


class RecomputeResult(BaseModel):
    cycles: list[int]
    metric_values: int
    statistics: int
    organisations: int
    seconds: float
