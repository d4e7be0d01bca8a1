"""Explanations: the figure and how it was made beside ``items``, one typed row per input
(the same columns as CSV)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.metrics.surveys.schemas import GroupWeighting, WeightingSummary
from shared.pagination import Page

_PAGE: dict[str, Any] = {"total": 1, "limit": 500, "offset": 0, "next": None}
_RUN: dict[str, Any] = {
    "id": 41,
    "kind": "benchmark",
    "trigger": "submission.accepted",
    "started_at": "2024-05-02T14:06:00Z",
    "cycle_years": [2021],
}


class FigureRun(BaseModel):
    id: int
    kind: str
    trigger: str
    started_at: datetime
    cycle_years: list[int]


INPUT_EXAMPLE: dict[str, Any] = {
    "role": "input",
    "name": "users",
    "label": "ICT users",
    "value": 4200.0,
    "raw_answer": None,
    "unit": "users",
    "cycle_year": 2021,
    "source": "submission 31 (estate, accepted 2021-05-02), question users",
    "submission_id": 31,
    "is_mine": True,
}


class ExplanationRow(BaseModel):
    """One input of the figure: an answer of your own (with the submission it came from)
    or a peer's metric value (by code)."""

    model_config = ConfigDict(json_schema_extra={"examples": [INPUT_EXAMPLE]})

    role: Literal["input", "peer_value", "ticket_count"]
    name: str = Field(description="The question key, or the peer's code")
    label: str
    value: float | None = Field(description="The number the formula or statistic used")
    raw_answer: str | None = Field(description="A choice's key or yes/no as answered")
    unit: str
    cycle_year: int
    source: str = Field(description="Where the value came from")
    submission_id: int | None = Field(description="Your submission it came from")
    is_mine: bool


class MetricValueExplanation(Page[ExplanationRow]):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "metric_value",
                    "organisation_id": 12,
                    "organisation_code": "L2031",
                    "cycle_year": 2021,
                    "metric_key": "users_per_ict_fte",
                    "metric_name": "Users per ICT FTE",
                    "unit": "ratio",
                    "value": 68.29,
                    "formula": "users / nonzero(ict_fte)",
                    "formula_source": "catalogue 2021, base.yaml",
                    "rule": "The organisation's own formula result over its accepted answers",
                    "recomputed": 68.29,
                    "my_value_restated_at": None,
                    "my_previous_value": None,
                    "computation_run": _RUN,
                    "data_version": "41|2024-05-02T14:06:00+00:00",
                    "items": [INPUT_EXAMPLE],
                    **_PAGE,
                }
            ]
        }
    )

    kind: Literal["metric_value"]
    organisation_id: int
    organisation_code: str | None
    cycle_year: int
    metric_key: str
    metric_name: str
    unit: str
    value: float = Field(description="The figure, in its unit")
    formula: str
    formula_source: str = Field(description="The catalogue cycle and file defining it")
    rule: str
    recomputed: float | None = Field(description="The formula over the inputs listed")
    my_value_restated_at: datetime | None
    my_previous_value: float | None
    computation_run: FigureRun | None
    data_version: str


PEER_EXAMPLE: dict[str, Any] = {
    "role": "peer_value",
    "name": "L2047",
    "label": "Users per ICT FTE of a peer",
    "value": 44.5,
    "raw_answer": None,
    "unit": "ratio",
    "cycle_year": 2021,
    "source": "metric value of cycle 2021 (computation run)",
    "submission_id": None,
    "is_mine": False,
}


class BenchmarkExplanation(Page[ExplanationRow]):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "benchmark_statistic",
                    "organisation_id": 12,
                    "organisation_code": "L2031",
                    "cycle_year": 2021,
                    "metric_key": "users_per_ict_fte",
                    "metric_name": "Users per ICT FTE",
                    "unit": "ratio",
                    "peer_group_key": "type:L",
                    "peer_group_definition": "organisations of type L",
                    "quantile_method": "Hyndman-Fan type 7",
                    "rule": "n, min, Q1, median, Q3 and max of the peer group's values",
                    "suppression_rule": "statistics over fewer than 5 organisations are "
                    "withheld (disclosure control)",
                    "suppressed": False,
                    "suppression_reason": None,
                    "n": 1,
                    "n_organisations": 1,
                    "median": 44.5,
                    "q1": 44.5,
                    "q3": 44.5,
                    "min": 44.5,
                    "max": 44.5,
                    "member_codes": ["L2047"],
                    "computation_run": _RUN,
                    "data_version": "41|2024-05-02T14:06:00+00:00",
                    "items": [PEER_EXAMPLE],
                    **_PAGE,
                }
            ]
        }
    )

    kind: Literal["benchmark_statistic"]
    organisation_id: int
    organisation_code: str | None
    cycle_year: int
    metric_key: str
    metric_name: str
    unit: str
    peer_group_key: str
    peer_group_definition: str
    quantile_method: str
    rule: str
    suppression_rule: str
    suppressed: bool = Field(description="Withheld: then no figure, member or value is shown")
    suppression_reason: str | None
    n: int | None
    n_organisations: int | None
    median: float | None
    q1: float | None
    q3: float | None
    min: float | None
    max: float | None
    member_codes: list[str] = Field(description="The peer group's members, in value order")
    computation_run: FigureRun | None
    data_version: str


COUNT_EXAMPLE: dict[str, Any] = {
    "role": "ticket_count",
    "name": "met",
    "label": "Tickets resolved within target",
    "value": 1585.0,
    "raw_answer": None,
    "unit": "tickets",
    "cycle_year": 2021,
    "source": "SLA outcomes of the tickets pushed for organisation 12, priority P2, resolved "
    "2021-03-01 to 2021-03-31 (Europe/London)",
    "submission_id": None,
    "is_mine": True,
}


class SlaPercentageExplanation(Page[ExplanationRow]):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "sla_percentage",
                    "organisation_id": 12,
                    "priority": "P2",
                    "month": "2021-03-01",
                    "met": 1585,
                    "missed": 1117,
                    "total": 2702,
                    "pct_met": 58.66,
                    "target_share_pct": 95.0,
                    "target_achieved": False,
                    "rule": "% met = 100 × met / (met + missed), 2 decimals, half up",
                    "filter": "organisation 12, priority P2, resolved 2021-03-01 to 2021-03-31",
                    "computation_run": {**_RUN, "kind": "sla_outcomes", "cycle_years": []},
                    "data_version": "41|2024-05-02T14:06:00+00:00",
                    "items": [COUNT_EXAMPLE],
                    **_PAGE,
                }
            ]
        }
    )

    kind: Literal["sla_percentage"]
    organisation_id: int
    priority: str
    month: date = Field(description="First day of the month (Europe/London)")
    met: int
    missed: int
    total: int
    pct_met: float = Field(description="% of resolved tickets met (2 dp, half up)")
    target_share_pct: float
    target_achieved: bool
    rule: str
    filter: str = Field(description="Which tickets were counted")
    computation_run: FigureRun | None
    data_version: str


SURVEY_INPUT_EXAMPLE: dict[str, Any] = {
    "role": "response_count",
    "name": "n",
    "label": "Ratings given",
    "value": 22.0,
    "unit": "ratings",
    "source": "responses to campaign 31 (survey service), aggregated; no respondent's "
    "answers are shown",
}


class SurveyExplanationRow(BaseModel):
    """One input of a survey figure: a count or sum over the responses (never one
    respondent's answer), a setting of the campaign, or a constant of the method."""

    model_config = ConfigDict(json_schema_extra={"examples": [SURVEY_INPUT_EXAMPLE]})

    role: Literal["response_count", "input", "constant"]
    name: str = Field(description="n, sum, sum_of_squares, t, population, fpc, responses …")
    label: str
    value: float | None = Field(description="The number the formula or interval used")
    unit: str
    source: str = Field(description="Where the value came from")


class SurveyThresholds(BaseModel):
    internal: int = Field(description="The campaign's own threshold (responses; never below 5)")
    publication_min_responses: int
    publication_min_response_rate: float = Field(description="%")


class SurveyFigureExplanation(Page[SurveyExplanationRow]):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "survey_figure",
                    "campaign_id": 31,
                    "organisation_id": 12,
                    "survey_kind": "user_satisfaction",
                    "audience": "internal",
                    "figure": "mean",
                    "key": "overall",
                    "attribute": None,
                    "cell": None,
                    "value": 4.14,
                    "unit": "mean rating 1-7",
                    "formula": "Σx / n",
                    "rule": "mean = Σx / n over the ratings given, 2 decimals, half up",
                    "n": 22,
                    "thresholds": {
                        "internal": 5,
                        "publication_min_responses": 10,
                        "publication_min_response_rate": 30.0,
                    },
                    "threshold_met": "internal",
                    "suppression_rule": "anyone else sees a figure only when …",
                    "suppressed": False,
                    "suppression_reason": None,
                    "ci_low": 3.63,
                    "ci_high": 4.64,
                    "ci_method": "95% t-interval: mean ± t(0.975, n − 1) × s / √n × fpc",
                    "weighting": "none: the campaign's results are unweighted",
                    "computed_at": "2024-07-01T06:00:00+00:00",
                    "computation": "kept results of the closed campaign",
                    "data_version": "campaign 31|responses 22|2024-07-01T06:00:00+00:00",
                    "items": [SURVEY_INPUT_EXAMPLE],
                    **_PAGE,
                }
            ]
        }
    )

    kind: Literal["survey_figure"]
    campaign_id: int
    organisation_id: int
    survey_kind: str
    audience: Literal["internal", "publication"]
    figure: Literal["response_rate", "response_rate_adjusted", "mean", "percent_worse", "nps"]
    key: str | None = Field(description="The question of a mean: overall, S1.satisfaction …")
    attribute: str | None = Field(description="The breakdown attribute of a cell's mean")
    cell: str | None = Field(description="The attribute's value of the cell")
    value: float | None = Field(description="The figure as served; null when withheld")
    unit: str
    formula: str
    rule: str
    n: int | None = Field(description="Ratings (or responses) the figure counts")
    thresholds: SurveyThresholds
    threshold_met: Literal["publication", "internal"] | None
    suppression_rule: str
    suppressed: bool = Field(description="Withheld: then no figure, n, interval or input")
    suppression_reason: str | None
    ci_low: float | None = Field(description="95% interval bound as served (2 dp)")
    ci_high: float | None
    ci_method: str | None = Field(description="The interval's method and formula")
    weighting: str
    computed_at: str = Field(description="When the figures were computed (UTC)")
    computation: str = Field(description="Kept results or computed on request")
    data_version: str


PACK_ROW_EXAMPLE: dict[str, Any] = {
    "role": "row",
    "name": "staffing / SALARIES",
    "label": "SALARIES (Staffing) budget",
    "value": 125_000_00,
    "unit": "pence",
    "source": "finance import 14 (xlsx outturn-p3.xlsx, P3), row 12, line 3",
}


class PackExplanationRow(BaseModel):
    """One row a pack total sums: an outturn line, a cost-table row, or a month's ticket
    counts, with where it came from."""

    model_config = ConfigDict(json_schema_extra={"examples": [PACK_ROW_EXAMPLE]})

    role: Literal["row"]
    name: str
    label: str
    value: int = Field(description="In its unit (pence exact; tickets)")
    unit: str
    source: str = Field(description="The import and its row, or the SLA outcomes counted")


class PackTotalExplanation(Page[PackExplanationRow]):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "pack_total",
                    "service_id": 3,
                    "financial_year": 2024,
                    "period": 3,
                    "version": 2,
                    "status": "issued",
                    "figure": "outturn_group",
                    "key": "staffing",
                    "column": "budget",
                    "organisation_id": None,
                    "frozen": True,
                    "computation": "frozen with version 2 at 2024-07-10T08:00:00+00:00",
                    "data_version": "9b0e5c1f6a2d4e8b7c3a1f0e9d8c7b6a5f4e3d2c1b0a9988776655443322"
                    "1100",
                    "data_as_of": "2024-07-08T09:12:00Z",
                    "value": 125_000_00,
                    "unit": "pence",
                    "rule": "the sum of the rows listed, in pence, exact",
                    "tolerance": "allowing 50 pence per row: 50 pence for 1 rows",
                    "checks": [],
                    "items": [PACK_ROW_EXAMPLE],
                    **_PAGE,
                }
            ]
        }
    )

    kind: Literal["pack_total"]
    service_id: int
    financial_year: int
    period: int
    version: int | None = Field(description="The stored version; null for the live draft")
    status: str
    figure: Literal["outturn_group", "outturn_total", "cost_total", "kpi_sla"]
    key: str | None = Field(description="The group key, cost table title or priority")
    column: str | None = Field(description="The money column, or the cost table's column")
    organisation_id: int | None = Field(description="A cost table's organisation, if one")
    frozen: bool = Field(description="A stored version's frozen figures")
    computation: str
    data_version: str = Field(description="sha256 of the source data the figures came from")
    data_as_of: datetime | None
    value: int | float | None = Field(description="The total as the pack shows it")
    unit: str
    rule: str
    tolerance: str | None = Field(description="What a printed total's check allows")
    checks: list[str] = Field(description="Checks the pack lists for this total")


NPS_ROW_EXAMPLE: dict[str, Any] = {
    "role": "rating_count",
    "name": "rating_9",
    "label": "Ratings of 9 (promoter)",
    "value": 2,
    "unit": "ratings",
    "source": "the nps_rating column of the organisation's ticket exports, organisation "
    "12, 2021-03 (month of resolution (logged month while unresolved), Europe/London)",
}


class NpsExplanationRow(BaseModel):
    """A count of ratings (one value 0-10, a band, all counted, or the opportunities
    without a rating): never a ticket or a response."""

    model_config = ConfigDict(json_schema_extra={"examples": [NPS_ROW_EXAMPLE]})

    role: Literal["rating_count", "category_count", "not_counted"]
    name: str = Field(description="rating_0 … rating_10, promoters, passives, detractors, …")
    label: str
    value: int
    unit: str
    source: str = Field(description="The ratings counted: source, organisation, months")


class NpsExplanation(Page[NpsExplanationRow]):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "nps",
                    "source": "tickets",
                    "organisation_id": 12,
                    "month": "2021-03-01",
                    "month_from": None,
                    "month_to": None,
                    "value": -16.7,
                    "unit": "points (-100 to 100)",
                    "formula": "round_half_up(100 × (promoters − detractors) / responses, 1)",
                    "rule": "ratings 0-10 only …",
                    "month_basis": "month of resolution (logged month while unresolved)",
                    "responses": 6,
                    "promoters": 2,
                    "passives": 1,
                    "detractors": 3,
                    "suppression_rule": "none: the NPS report shows every organisation you "
                    "may see, whatever its count",
                    "data_version": "tickets|opportunities 7|sha256 0c4f5e2a9b1d3e77",
                    "items": [NPS_ROW_EXAMPLE],
                    **_PAGE,
                }
            ]
        }
    )

    kind: Literal["nps"]
    source: Literal["tickets", "feedback", "survey"]
    organisation_id: int
    month: date | None = Field(description="The row's month; null = the whole period")
    month_from: date | None = Field(description="The report's first month, as asked")
    month_to: date | None = Field(description="The report's last month, as asked")
    value: float | None = Field(description="The NPS as the report shows it; null: no ratings")
    unit: str
    formula: str
    rule: str
    month_basis: str
    responses: int
    promoters: int
    passives: int
    detractors: int
    suppression_rule: str
    data_version: str = Field(
        description="The source, the opportunities and a hash of "
        "their ratings: changes whenever a counted rating does"
    )


class GroupThresholdsExplained(BaseModel):
    min_responses: int = Field(description="Responses (ratings) a group figure needs")
    min_organisations: int = Field(description="Organisations a group figure needs")
    rule: str


GROUP_ROW_EXAMPLE: dict[str, Any] = {
    "role": "response_count",
    "name": "overall.ratings",
    "label": "overall: Ratings given",
    "value": 412,
    "unit": "ratings",
    "source": "Sums over the responses of each organisation's latest closed "
    "user-satisfaction campaign in the cycles …; cycles 2021; cell attr.role = Manager",
}


class SurveyGroupExplanation(Page[SurveyExplanationRow]):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "survey_group",
                    "view": "breakdowns",
                    "cycles": [2021],
                    "baseline_cycles": [],
                    "scope": "2021",
                    "attribute": "attr.role",
                    "value": "Manager or team leader",
                    "factor": None,
                    "measure": "overall",
                    "formula": "Σx / n; Σwx / Σw; (Σw)² / Σw²",
                    "rule": "mean = Σx / n over the ratings given in the cell …",
                    "thresholds": {
                        "min_responses": 10,
                        "min_organisations": 3,
                        "rule": "a group cell is shown when …",
                    },
                    "threshold_met": "publication",
                    "suppression_rule": "a group cell is shown when …",
                    "suppressed": False,
                    "suppression_reason": None,
                    "figures": {"n_overall": 412, "mean_overall_2dp": 5.12},
                    "population": None,
                    "ci_method": "95% t-interval: mean ± t(0.975, n − 1) × s / √n × fpc …",
                    "weighted_ci_method": "95% t-interval of the weighted mean …",
                    "weighting": {
                        "organisations_by_method": {"cell": 2, "raking": 1, "scope": 0},
                        "why": "each organisation is weighted to its own headcount …",
                        "effective_sample_size_1dp": 388.2,
                    },
                    "data_version": "campaigns 31,32,35|responses 1204",
                    "items": [GROUP_ROW_EXAMPLE],
                    **_PAGE,
                }
            ]
        }
    )

    kind: Literal["survey_group"]
    view: Literal["breakdowns", "factors"]
    cycles: list[int] = Field(description="The cycles the figure pools")
    baseline_cycles: list[int] = Field(description="factors: the baseline the view compares")
    scope: str = Field(description="The cycles as the view names them (2019+2020)")
    attribute: str | None = Field(description="breakdowns: all or the attribute")
    value: str | None = Field(description="breakdowns: the cell's value")
    factor: str | None = Field(description="factors: S1 … S20")
    measure: str = Field(
        description="breakdowns: overall or improvement; factors: cycle or "
        "baseline (which of the row's figures)"
    )
    formula: str
    rule: str
    thresholds: GroupThresholdsExplained
    threshold_met: Literal["publication", "internal"] | None
    suppression_rule: str
    suppressed: bool = Field(description="Withheld: then no figure, sum or population")
    suppression_reason: str | None
    figures: dict[str, float | int | None] = Field(
        description="The row's figures as the view serves them, by column"
    )
    population: int | None = Field(
        description="Users in scope (N) of the finite-population correction; null on a cell"
    )
    ci_method: str
    weighted_ci_method: str | None
    weighting: GroupWeighting = Field(description="The view's weighting summary")
    data_version: str = Field(description="The campaigns pooled and their responses")


WEIGHTED_FORMULA_EXAMPLE = "Σx / n beside Σwx / Σw; n_eff = (Σw)² / Σw²; design effect = n / n_eff"


class SurveyWeightedExplanation(Page[SurveyExplanationRow]):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "survey_weighted",
                    "campaign_id": 31,
                    "audience": "internal",
                    "figure": "overall",
                    "attribute": None,
                    "value": None,
                    "formula": WEIGHTED_FORMULA_EXAMPLE,
                    "rule": "mean = Σx / n …; weighted mean = Σwx / Σw …",
                    "suppression_rule": "the organisation's own staff see …",
                    "suppressed": False,
                    "suppression_reason": None,
                    "threshold_met": "internal",
                    "figures": {"n": 22, "mean_2dp": 4.14, "weighted_mean_2dp": 4.3},
                    "population": 100,
                    "ci_method": "95% t-interval: mean ± t(0.975, n − 1) × s / √n × fpc …",
                    "weighted_ci_method": "95% t-interval of the weighted mean …",
                    "weighting": {
                        "method": "cell",
                        "why": "the headcount gives every combination of role × location …",
                        "attributes": ["role", "location"],
                        "merged": [],
                        "iterations": 0,
                        "headcount_total": 100,
                        "responses": 22,
                        "effective_sample_size_1dp": 19.9,
                        "design_effect_2dp": 1.11,
                    },
                    "data_version": "campaign 31|responses 22|headcount 100",
                    "items": [SURVEY_INPUT_EXAMPLE],
                    **_PAGE,
                }
            ]
        }
    )

    kind: Literal["survey_weighted"]
    campaign_id: int
    audience: Literal["internal", "publication"]
    figure: str = Field(description="overall, improvement, or a factor's S1.satisfaction …")
    attribute: str | None = Field(description="The breakdown attribute; null: all responses")
    value: str | None = Field(description="The attribute's value")
    formula: str
    rule: str
    suppression_rule: str
    suppressed: bool = Field(description="Withheld: then no figure, sum or weight")
    suppression_reason: str | None
    threshold_met: Literal["publication", "internal"] | None
    figures: dict[str, float | int | None] = Field(
        description="The row's figures as the weighted table serves them, by column"
    )
    population: int | None = Field(description="Users in scope (N) of the correction")
    ci_method: str
    weighted_ci_method: str
    weighting: WeightingSummary = Field(description="The table's weighting summary")
    data_version: str
