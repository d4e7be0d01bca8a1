"""Survey results: the campaign summary and its tables, each row typed.

Tables (factors, breakdowns, comments, benchmark) answer the page envelope
(shared/pagination.py) with ``columns`` beside it (the CSV's column order). Means are on
the 1-7 rating scale; a field ending ``_2dp`` is rounded once, half up, to 2 places.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from shared.pagination import Page
from shared.serialization import UtcDateTime

Row = TypeVar("Row")


class Table(Page[Row], Generic[Row]):
    columns: list[str] = Field(description="Column order; the CSV has the same header")


def _example(row: dict[str, Any], **meta: Any) -> ConfigDict:
    return ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [row],
                    "total": 1,
                    "limit": 500,
                    "offset": 0,
                    "next": None,
                    "columns": list(row),
                    **meta,
                }
            ]
        }
    )


_MEAN = "Mean rating on the 1-7 scale (2 dp, half up); null when no ratings"
_CI = (
    "95% confidence interval bound of the mean, in rating points (2 dp, half up; Student t, "
    "finite-population correction from users in scope on whole-organisation figures); null "
    "with fewer than 2 ratings or when withheld"
)
_MET = (
    "The threshold this figure met: publication (others, exports and BI may see it), "
    "internal (the organisation's own staff only) or null (neither)"
)
ThresholdMet = Literal["publication", "internal"] | None


class FactorRow(BaseModel):
    factor: str = Field(description="Factor key, S1 to S20")
    n_satisfaction: int = Field(description="Satisfaction ratings given (ratings)")
    mean_satisfaction_2dp: float | None = Field(description=_MEAN)
    n_importance: int = Field(description="Importance ratings given (ratings)")
    mean_importance_2dp: float | None = Field(description=_MEAN)
    gap_2dp: float | None = Field(
        description="Satisfaction minus importance (rating points, 2 dp, half up); negative "
        "= less satisfied than it matters"
    )
    weight_gap_2dp: float | None = Field(
        description="The gap weighted by importance (rating points, 2 dp, half up)"
    )
    satisfaction_ci_low_2dp: float | None = Field(default=None, description=_CI)
    satisfaction_ci_high_2dp: float | None = Field(default=None, description=_CI)
    importance_ci_low_2dp: float | None = Field(default=None, description=_CI)
    importance_ci_high_2dp: float | None = Field(default=None, description=_CI)
    threshold_met: ThresholdMet = Field(default=None, description=_MET)


_FACTOR: dict[str, Any] = {
    "factor": "S1",
    "n_satisfaction": 41,
    "mean_satisfaction_2dp": 5.12,
    "n_importance": 40,
    "mean_importance_2dp": 5.94,
    "gap_2dp": -0.82,
    "weight_gap_2dp": -0.7,
    "satisfaction_ci_low_2dp": 4.71,
    "satisfaction_ci_high_2dp": 5.53,
    "importance_ci_low_2dp": 5.6,
    "importance_ci_high_2dp": 6.28,
    "threshold_met": "publication",
}


class FactorTable(Table[FactorRow]):
    model_config = _example(_FACTOR)


class BreakdownRow(BaseModel):
    attribute: str = Field(description="The answer key broken down by, e.g. attr.role")
    value: str | None = Field(description="The attribute's value (Not stated: unanswered)")
    n: int | None = Field(description="Responses in the cell; null when suppressed")
    mean_overall_2dp: float | None = Field(description="Overall satisfaction: " + _MEAN)
    mean_improvement_2dp: float | None = Field(
        description="Improvement (below 4 = worse): " + _MEAN
    )
    suppressed: bool = Field(description="Withheld: too few responses to show")
    reason: str | None = Field(description="Why it was withheld")
    overall_ci_low_2dp: float | None = Field(
        default=None, description=_CI + " (no finite-population correction in a cell)"
    )
    overall_ci_high_2dp: float | None = Field(default=None, description=_CI)
    improvement_ci_low_2dp: float | None = Field(default=None, description=_CI)
    improvement_ci_high_2dp: float | None = Field(default=None, description=_CI)
    threshold_met: ThresholdMet = Field(default=None, description=_MET)


class BreakdownTable(Table[BreakdownRow]):
    model_config = _example(
        {
            "attribute": "attr.role",
            "value": "Front line",
            "n": 23,
            "mean_overall_2dp": 5.3,
            "mean_improvement_2dp": 4.48,
            "suppressed": False,
            "reason": None,
            "overall_ci_low_2dp": 4.81,
            "overall_ci_high_2dp": 5.79,
            "improvement_ci_low_2dp": 3.98,
            "improvement_ci_high_2dp": 4.98,
            "threshold_met": "publication",
        }
    )


class CommentRow(BaseModel):
    response_date: date = Field(description="The day the response was given")
    comment: str = Field(description="The respondent's free text, as written")


class CommentTable(Table[CommentRow]):
    model_config = _example(
        {"response_date": "2024-05-14", "comment": "The new laptops are much quicker."}
    )


class BenchmarkValue(BaseModel):
    code: str = Field(description="The organisation's anonymous code in the cycle")
    name: str | None = Field(
        description="Beside the code: the organisation's name, shown only during a results "
        "workshop to the members that consented, for those members; null otherwise"
    )
    value: float = Field(description="Its figure, in the row's unit (2 dp, half up)")
    yours: bool = Field(description="The figure is one of your organisations'")


class SurveyBenchmarkRow(BaseModel):
    metric: str = Field(description="response_rate, overall, improvement or a factor S1-S20")
    unit: str = Field(description="% (response_rate, 0-100) or mean rating 1-7")
    n: int = Field(description="Organisations with a figure (organisations)")
    lower_quartile: float | None = Field(description="In the unit (2 dp); null when suppressed")
    median: float | None = Field(description="In the unit (2 dp); null when suppressed")
    upper_quartile: float | None = Field(description="In the unit (2 dp); null when suppressed")
    suppressed: bool = Field(description="Withheld: fewer organisations than the minimum")
    reason: str | None = Field(description="Why it was withheld")
    values: list[BenchmarkValue] = Field(description="Each organisation's figure, by code")


class SurveyBenchmarkTable(Table[SurveyBenchmarkRow]):
    workshop_ids: list[int] = Field(
        description="The workshops under which names are shown in this response; empty: codes only"
    )
    model_config = _example(
        {
            "metric": "overall",
            "unit": "mean rating 1-7",
            "n": 6,
            "lower_quartile": 4.81,
            "median": 5.12,
            "upper_quartile": 5.4,
            "suppressed": False,
            "reason": None,
            "values": [{"code": "A7", "name": None, "value": 5.12, "yours": True}],
        },
        workshop_ids=[],
    )


# ------------------------------------------------------------------ a campaign's results


class ResponseRate(BaseModel):
    responses: int = Field(description="Responses received")
    users_in_scope: int = Field(description="Users the survey was sent to")
    percent: float | None = Field(
        description="Responses as % of users in scope (0-100, 1 dp, half up); null when "
        "nobody was in scope"
    )
    unit: str = Field(description="Unit of percent: %")
    text: str = Field(description='For reports, e.g. "6.4% (20 out of 313)"')


class AdjustedResponseRate(ResponseRate):
    users_in_scope: int = Field(
        description="Users in scope less the invitations that bounced or could not be "
        "delivered (people)"
    )
    undeliverable: int = Field(
        description="Invitations that bounced or were undeliverable (an address no mail "
        "could be sent to)"
    )


class Thresholds(BaseModel):
    internal: int = Field(
        description="The campaign's own threshold (responses; never below 5): what the "
        "organisation's staff see"
    )
    publication_min_responses: int = Field(
        description="Responses a figure needs before others, exports and BI see it"
    )
    publication_min_response_rate: float = Field(
        description="Response rate (%) the organisation needs before others see its figures"
    )
    met: ThresholdMet = Field(description="The threshold the campaign as a whole met")


class ConfidenceNote(BaseModel):
    level: float = Field(description="Confidence level of every interval (0.95)")
    mean_method: str
    proportion_method: str
    finite_population_correction: str
    population: int = Field(description="N of the correction: users in scope (people)")


class OverallSummary(BaseModel):
    responses: int
    n_overall: int = Field(description="Overall-satisfaction ratings given")
    mean_overall_2dp: float | None = Field(description=_MEAN)
    n_improvement: int = Field(description="Improvement ratings given")
    mean_improvement_2dp: float | None = Field(description=_MEAN)
    n_worse: int = Field(description="Improvement ratings below 4 (worse)")
    unit: str
    overall_ci_low_2dp: float | None = Field(default=None, description=_CI)
    overall_ci_high_2dp: float | None = Field(default=None, description=_CI)
    improvement_ci_low_2dp: float | None = Field(default=None, description=_CI)
    improvement_ci_high_2dp: float | None = Field(default=None, description=_CI)
    percent_worse_2dp: float | None = Field(
        default=None, description="n_worse as % of improvement ratings (2 dp, half up)"
    )
    percent_worse_ci_low_2dp: float | None = Field(
        default=None, description="95% Wilson interval bound of percent_worse (%, 2 dp)"
    )
    percent_worse_ci_high_2dp: float | None = Field(
        default=None, description="95% Wilson interval bound of percent_worse (%, 2 dp)"
    )
    threshold_met: ThresholdMet = Field(default=None, description=_MET)


class SkillsArea(BaseModel):
    area: str | None = Field(description="Skills area")
    n: int = Field(description="Ratings given")
    mean_2dp: float | None = Field(description="Mean rating (2 dp, half up)")
    respondents: int | None = Field(default=None, description="Respondents with a rating")
    ci_low_2dp: float | None = Field(
        default=None,
        description="95% interval bound (linearised ratio interval, the respondent as the "
        "unit; 2 dp)",
    )
    ci_high_2dp: float | None = Field(default=None, description="95% interval bound (2 dp)")
    threshold_met: ThresholdMet = Field(default=None, description=_MET)


class SdmaArea(BaseModel):
    area: str = Field(description="Maturity area key, M1-M9")
    n: int = Field(description="Answers given")
    mean_2dp: float | None = Field(description="Mean maturity (2 dp, half up)")
    ci_low_2dp: float | None = Field(default=None, description=_CI.replace("1-7", "1-5"))
    ci_high_2dp: float | None = Field(default=None, description=_CI.replace("1-7", "1-5"))
    threshold_met: ThresholdMet = Field(default=None, description=_MET)


class SdmaOverall(BaseModel):
    areas_rated: int = Field(description="Areas with at least one answer")
    mean_maturity_2dp: float | None = Field(
        description="Mean of the area means (2 dp, half up); each area weighs the same"
    )


class Sdma(BaseModel):
    areas: list[SdmaArea]
    overall: list[SdmaOverall]


class SurveyResults(BaseModel):
    campaign_id: int
    organisation_id: int
    kind: str = Field(description="user_satisfaction, user_skills or sdma")
    status: str
    final: bool = Field(description="True once the campaign has closed")
    computed_at: UtcDateTime = Field(description="When the figures were computed (UTC)")
    suppression_threshold: int = Field(description="Breakdown cells below this are withheld")
    response_rate: ResponseRate
    response_rate_adjusted: AdjustedResponseRate | None = Field(
        default=None,
        description="Responses as % of the users in scope that the invitation could reach",
    )
    audience: Literal["internal", "publication"] | None = Field(
        default=None, description="Whose view these figures are"
    )
    thresholds: Thresholds | None = None
    withheld: str | None = Field(
        default=None, description="Why nothing of the campaign is shown in this view, if so"
    )
    confidence: ConfidenceNote | None = None
    overall: OverallSummary | None = None
    factors: list[FactorRow] | None = None
    breakdowns: list[BreakdownRow] | None = None
    skills: list[SkillsArea] | None = None
    sdma: Sdma | None = None
    explanations: dict[str, str] = Field(
        default_factory=dict,
        description="Where each figure is explained: response_rate, response_rate_adjusted, "
        "nps, overall.mean_overall, overall.mean_improvement, overall.percent_worse, "
        "factors.S1.satisfaction …, breakdowns.<attribute>=<cell>.overall … → the path of "
        "its explanation (issue 14)",
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "campaign_id": 31,
                    "organisation_id": 12,
                    "kind": "user_satisfaction",
                    "status": "closed",
                    "final": True,
                    "computed_at": "2024-07-01T06:00:00Z",
                    "suppression_threshold": 5,
                    "response_rate": {
                        "responses": 20,
                        "users_in_scope": 313,
                        "percent": 6.4,
                        "unit": "%",
                        "text": "6.4% (20 out of 313)",
                    },
                    "response_rate_adjusted": {
                        "responses": 20,
                        "users_in_scope": 301,
                        "undeliverable": 12,
                        "percent": 6.6,
                        "unit": "%",
                        "text": "6.6% (20 out of 301)",
                    },
                    "audience": "internal",
                    "thresholds": {
                        "internal": 5,
                        "publication_min_responses": 10,
                        "publication_min_response_rate": 30.0,
                        "met": "internal",
                    },
                    "withheld": None,
                    "confidence": {
                        "level": 0.95,
                        "mean_method": "95% Student t-interval",
                        "proportion_method": "95% Wilson score interval",
                        "finite_population_correction": "sqrt((N - n) / (N - 1))",
                        "population": 313,
                    },
                    "overall": {
                        "responses": 20,
                        "n_overall": 20,
                        "mean_overall_2dp": 5.3,
                        "n_improvement": 19,
                        "mean_improvement_2dp": 4.48,
                        "n_worse": 3,
                        "unit": "mean rating, 1-7 (improvement below 4 = worse)",
                        "overall_ci_low_2dp": 4.79,
                        "overall_ci_high_2dp": 5.81,
                        "improvement_ci_low_2dp": 3.9,
                        "improvement_ci_high_2dp": 5.06,
                        "percent_worse_2dp": 15.79,
                        "percent_worse_ci_low_2dp": 5.74,
                        "percent_worse_ci_high_2dp": 36.68,
                        "threshold_met": "internal",
                    },
                    "factors": [_FACTOR],
                    "breakdowns": [],
                    "skills": None,
                    "sdma": None,
                    "explanations": {
                        "response_rate": "/api/v1/explain/survey-figure?campaign_id=31"
                        "&audience=internal&figure=response_rate",
                        "overall.mean_overall": "/api/v1/explain/survey-figure?campaign_id=31"
                        "&audience=internal&figure=mean&key=overall",
                    },
                }
            ]
        }
    )


# ------------------------------------------------------------- weighted (issue 15)

_W_MEAN = "Mean rating (1-7; factors' satisfaction and importance too), 2 dp, half up"


class WeightedRow(BaseModel):
    figure: str = Field(description="overall, improvement, or a factor's S1.satisfaction …")
    attribute: str | None = Field(description="The breakdown attribute; null: all responses")
    value: str | None = Field(description="The attribute's value (Not stated: unanswered)")
    n: int | None = Field(description="Ratings given (unweighted count)")
    mean_2dp: float | None = Field(description="Unweighted: " + _W_MEAN)
    ci_low_2dp: float | None = Field(description="Unweighted: " + _CI)
    ci_high_2dp: float | None = Field(description="Unweighted: " + _CI)
    weighted_mean_2dp: float | None = Field(description="Weighted: " + _W_MEAN)
    weighted_ci_low_2dp: float | None = Field(
        description="Weighted: 95% interval bound (t with Kish's effective sample size)"
    )
    weighted_ci_high_2dp: float | None = Field(description="Weighted: 95% interval bound")
    effective_n_1dp: float | None = Field(
        description="Kish's effective sample size (sum w)^2 / sum w^2 of the ratings (1 dp)"
    )
    suppressed: bool = Field(description="Withheld (as the unweighted breakdown's cell)")
    reason: str | None = Field(description="Why it was withheld")
    threshold_met: ThresholdMet = Field(description=_MET)


class WeightingSummary(BaseModel):
    method: Literal["cell", "raking", "scope"] = Field(
        description="cell weighting (the headcount gives every combination), raking (margins "
        "only) or scope (users in scope as one cell)"
    )
    why: str = Field(description="Why this method")
    attributes: list[str] = Field(description="The attributes weighted by")
    merged: list[str] = Field(description="Cells or values merged with a neighbour, and why")
    iterations: int = Field(description="Raking iterations to converge (0: not raked)")
    headcount_total: int = Field(description="People in the headcount (people)")
    responses: int = Field(description="Responses weighted")
    effective_sample_size_1dp: float | None = Field(
        description="(sum w)^2 / sum w^2 over all responses (responses, 1 dp)"
    )
    design_effect_2dp: float | None = Field(
        description="responses / effective sample size: how much the weighting widens the "
        "intervals, squared (2 dp)"
    )


class WeightedConfidence(ConfidenceNote):
    weighted_method: str


class WeightedTable(Table[WeightedRow]):
    campaign_id: int
    audience: Literal["internal", "publication"]
    weighting: WeightingSummary
    confidence: WeightedConfidence
    explanations: dict[str, str] = Field(
        default_factory=dict,
        description="JSON only: each row → its explanation's path, by <figure> (all "
        "responses) or <attribute>=<value>.<figure> (a cell)",
    )

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "figure": "overall",
                            "attribute": None,
                            "value": None,
                            "n": 120,
                            "mean_2dp": 5.1,
                            "ci_low_2dp": 4.88,
                            "ci_high_2dp": 5.32,
                            "weighted_mean_2dp": 4.97,
                            "weighted_ci_low_2dp": 4.71,
                            "weighted_ci_high_2dp": 5.23,
                            "effective_n_1dp": 98.4,
                            "suppressed": False,
                            "reason": None,
                            "threshold_met": "publication",
                        }
                    ],
                    "total": 1,
                    "limit": 500,
                    "offset": 0,
                    "next": None,
                    "columns": [
                        "figure",
                        "attribute",
                        "value",
                        "n",
                        "mean_2dp",
                        "ci_low_2dp",
                        "ci_high_2dp",
                        "weighted_mean_2dp",
                        "weighted_ci_low_2dp",
                        "weighted_ci_high_2dp",
                        "effective_n_1dp",
                        "suppressed",
                        "reason",
                        "threshold_met",
                    ],
                    "campaign_id": 31,
                    "audience": "internal",
                    "weighting": {
                        "method": "cell",
                        "why": "the headcount gives every combination of role × location, so "
                        "each cell is weighted to its own headcount (cell weighting)",
                        "attributes": ["role", "location"],
                        "merged": [],
                        "iterations": 0,
                        "headcount_total": 400,
                        "responses": 120,
                        "effective_sample_size_1dp": 98.4,
                        "design_effect_2dp": 1.22,
                    },
                    "confidence": {
                        "level": 0.95,
                        "mean_method": "95% Student t-interval",
                        "proportion_method": "95% Wilson score interval",
                        "finite_population_correction": "sqrt((N - n) / (N - 1))",
                        "population": 400,
                        "weighted_method": "t with Kish's effective sample size",
                    },
                }
            ]
        }
    )


# ------------------------------------------------------------- group views (issue 15)

_PUB = "Always publication when shown (group views are what every participant sees)"


def _table_example(row: dict[str, Any], **meta: Any) -> ConfigDict:
    return ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [row],
                    "total": 1,
                    "limit": 500,
                    "offset": 0,
                    "next": None,
                    "columns": list(row),
                    **meta,
                }
            ]
        }
    )


class GroupThresholds(BaseModel):
    min_responses: int = Field(description="Responses a group cell needs (responses)")
    min_organisations: int = Field(description="Organisations a group cell needs")
    rule: str = Field(description="The disclosure rule, in words")


class GroupWeighting(BaseModel):
    organisations_by_method: dict[Literal["cell", "raking", "scope"], int] = Field(
        description="How many organisations were weighted by each method"
    )
    why: str
    effective_sample_size_1dp: float | None = Field(
        description="(sum w)^2 / sum w^2 over all responses (responses, 1 dp)"
    )


class GroupConfidence(ConfidenceNote):
    weighted_method: str


_GROUP_CONFIDENCE = {
    "level": 0.95,
    "mean_method": "95% Student t-interval",
    "proportion_method": "95% Wilson score interval",
    "finite_population_correction": "sqrt((N - n) / (N - 1))",
    "population": 64000,
    "weighted_method": "t with Kish's effective sample size",
}
_GROUP_WEIGHTING = {
    "organisations_by_method": {"cell": 12, "raking": 3, "scope": 35},
    "why": "each organisation is weighted to its own headcount",
    "effective_sample_size_1dp": 15321.4,
}


class GroupBreakdownRow(BaseModel):
    scope: str = Field(description="The cycle, or the pooled cycles joined by + (2019+2020)")
    attribute: str = Field(description="all (every respondent) or the attribute, attr.role …")
    value: str = Field(description="The attribute's value (Not stated: unanswered)")
    n: int | None = Field(description="Responses in the cell; null when withheld")
    n_overall: int | None = Field(description="Overall-satisfaction ratings")
    mean_overall_2dp: float | None = Field(description="Overall satisfaction: " + _MEAN)
    overall_ci_low_2dp: float | None = Field(description=_CI)
    overall_ci_high_2dp: float | None = Field(description=_CI)
    weighted_overall_mean_2dp: float | None = Field(description="Weighted: " + _MEAN)
    weighted_overall_ci_low_2dp: float | None = Field(description="Weighted 95% bound")
    weighted_overall_ci_high_2dp: float | None = Field(description="Weighted 95% bound")
    weighted_overall_n_eff_1dp: float | None = Field(description="Effective sample size")
    n_improvement: int | None = Field(description="Improvement ratings")
    mean_improvement_2dp: float | None = Field(description="Improvement: " + _MEAN)
    improvement_ci_low_2dp: float | None = Field(description=_CI)
    improvement_ci_high_2dp: float | None = Field(description=_CI)
    weighted_improvement_mean_2dp: float | None = Field(description="Weighted: " + _MEAN)
    weighted_improvement_ci_low_2dp: float | None = Field(description="Weighted 95% bound")
    weighted_improvement_ci_high_2dp: float | None = Field(description="Weighted 95% bound")
    weighted_improvement_n_eff_1dp: float | None = Field(description="Effective sample size")
    suppressed: bool = Field(description="Withheld for disclosure control")
    reason: str | None = Field(description="Why it was withheld")
    threshold_met: ThresholdMet = Field(description=_PUB)


_GROUP_ROW: dict[str, Any] = {
    "scope": "2020",
    "attribute": "attr.device_type",
    "value": "Laptop",
    "n": 2510,
    "n_overall": 2498,
    "mean_overall_2dp": 5.02,
    "overall_ci_low_2dp": 4.96,
    "overall_ci_high_2dp": 5.08,
    "weighted_overall_mean_2dp": 4.99,
    "weighted_overall_ci_low_2dp": 4.92,
    "weighted_overall_ci_high_2dp": 5.06,
    "weighted_overall_n_eff_1dp": 2133.7,
    "n_improvement": 2490,
    "mean_improvement_2dp": 4.4,
    "improvement_ci_low_2dp": 4.34,
    "improvement_ci_high_2dp": 4.46,
    "weighted_improvement_mean_2dp": 4.38,
    "weighted_improvement_ci_low_2dp": 4.31,
    "weighted_improvement_ci_high_2dp": 4.45,
    "weighted_improvement_n_eff_1dp": 2127.9,
    "suppressed": False,
    "reason": None,
    "threshold_met": "publication",
}


class GroupBreakdownTable(Table[GroupBreakdownRow]):
    cycles: list[int]
    organisations: int = Field(description="Organisations with a closed campaign in them")
    thresholds: GroupThresholds
    weighting: GroupWeighting
    confidence: GroupConfidence
    explanations: dict[str, str] = Field(
        default_factory=dict,
        description="JSON only: each row's figures → the explanation's path, by "
        "<attribute>=<value>.overall / .improvement (withheld cells' say withheld and why)",
    )

    model_config = _table_example(
        _GROUP_ROW,
        cycles=[2020],
        organisations=50,
        thresholds={"min_responses": 10, "min_organisations": 5, "rule": "…"},
        weighting=_GROUP_WEIGHTING,
        confidence=_GROUP_CONFIDENCE,
    )


class GroupFactorRow(BaseModel):
    factor: str = Field(description="S1 to S20")
    n_satisfaction: int | None
    mean_satisfaction_2dp: float | None = Field(description=_MEAN)
    satisfaction_ci_low_2dp: float | None = Field(description=_CI)
    satisfaction_ci_high_2dp: float | None = Field(description=_CI)
    n_importance: int | None
    mean_importance_2dp: float | None = Field(description=_MEAN)
    importance_ci_low_2dp: float | None = Field(description=_CI)
    importance_ci_high_2dp: float | None = Field(description=_CI)
    gap_2dp: float | None = Field(description="Satisfaction − importance (rating points)")
    weight_gap_2dp: float | None = Field(description="Gap × mean importance / 7")
    weighted_mean_satisfaction_2dp: float | None = Field(description="Weighted: " + _MEAN)
    weighted_mean_importance_2dp: float | None = Field(description="Weighted: " + _MEAN)
    weighted_gap_2dp: float | None = Field(description="Weighted gap (rating points)")
    weighted_weight_gap_2dp: float | None = Field(description="Weighted weight gap")
    weighted_satisfaction_n_eff_1dp: float | None = Field(description="Effective sample size")
    baseline_n_satisfaction: int | None = Field(description="Baseline: ratings")
    baseline_mean_satisfaction_2dp: float | None = Field(description="Baseline: " + _MEAN)
    baseline_satisfaction_ci_low_2dp: float | None = Field(description="Baseline: " + _CI)
    baseline_satisfaction_ci_high_2dp: float | None = Field(description="Baseline: " + _CI)
    baseline_n_importance: int | None = Field(description="Baseline: ratings")
    baseline_mean_importance_2dp: float | None = Field(description="Baseline: " + _MEAN)
    baseline_importance_ci_low_2dp: float | None = Field(description="Baseline: " + _CI)
    baseline_importance_ci_high_2dp: float | None = Field(description="Baseline: " + _CI)
    baseline_gap_2dp: float | None = Field(description="Baseline gap (rating points)")
    baseline_weight_gap_2dp: float | None = Field(description="Baseline weight gap")
    change_satisfaction_2dp: float | None = Field(
        description="Mean satisfaction this cycle − baseline (rating points)"
    )
    change_gap_2dp: float | None = Field(description="Gap this cycle − baseline gap")
    suppressed: bool = Field(description="This cycle's figures withheld")
    baseline_suppressed: bool | None = Field(description="The baseline's figures withheld")
    reason: str | None
    threshold_met: ThresholdMet = Field(description=_PUB)


_FACTOR_ROW: dict[str, Any] = {
    "factor": "S1",
    "n_satisfaction": 49950,
    "mean_satisfaction_2dp": 5.12,
    "satisfaction_ci_low_2dp": 5.1,
    "satisfaction_ci_high_2dp": 5.14,
    "n_importance": 49950,
    "mean_importance_2dp": 5.94,
    "importance_ci_low_2dp": 5.92,
    "importance_ci_high_2dp": 5.96,
    "gap_2dp": -0.82,
    "weight_gap_2dp": -0.7,
    "weighted_mean_satisfaction_2dp": 5.1,
    "weighted_mean_importance_2dp": 5.95,
    "weighted_gap_2dp": -0.85,
    "weighted_weight_gap_2dp": -0.72,
    "weighted_satisfaction_n_eff_1dp": 42697.9,
    "baseline_n_satisfaction": 250100,
    "baseline_mean_satisfaction_2dp": 4.98,
    "baseline_satisfaction_ci_low_2dp": 4.97,
    "baseline_satisfaction_ci_high_2dp": 4.99,
    "baseline_n_importance": 250100,
    "baseline_mean_importance_2dp": 5.9,
    "baseline_importance_ci_low_2dp": 5.89,
    "baseline_importance_ci_high_2dp": 5.91,
    "baseline_gap_2dp": -0.92,
    "baseline_weight_gap_2dp": -0.78,
    "change_satisfaction_2dp": 0.14,
    "change_gap_2dp": 0.1,
    "suppressed": False,
    "baseline_suppressed": False,
    "reason": None,
    "threshold_met": "publication",
}


class GroupFactorTable(Table[GroupFactorRow]):
    cycle: int
    baseline_cycles: list[int]
    organisations: int
    weighting: GroupWeighting
    confidence: GroupConfidence
    explanations: dict[str, str] = Field(
        default_factory=dict,
        description="JSON only: each factor's figures → the explanation's path, by "
        "<factor>.cycle (this cycle's) and <factor>.baseline (the pooled baseline's)",
    )

    model_config = _table_example(
        _FACTOR_ROW,
        cycle=2020,
        baseline_cycles=[2015, 2016, 2017, 2018, 2019],
        organisations=50,
        weighting=_GROUP_WEIGHTING,
        confidence=_GROUP_CONFIDENCE,
    )


class RateRow(BaseModel):
    code: str = Field(description="The organisation's anonymous code (the cycle asked about)")
    yours: bool = Field(description="One of your organisations")
    cycle: int
    responses: int
    users_in_scope: int
    percent: float | None = Field(description="Responses / users in scope (%, 1 dp)")
    text: str = Field(description='e.g. "6.4% (20 out of 313)"')
    undeliverable: int = Field(description="Invitations that bounced or were undeliverable")
    adjusted_percent: float | None = Field(
        description="Responses / (users in scope − undeliverable) (%, 1 dp)"
    )
    adjusted_text: str = Field(description='e.g. "6.6% (20 out of 301)"')
    threshold_met: ThresholdMet = Field(
        description="The threshold the organisation's campaign met (responses and rate)"
    )


class RateBenchmark(BaseModel):
    n: int = Field(description="Organisation-cycles pooled")
    organisations: int
    lower_quartile: float | None = Field(description="% (type 7, 2 dp)")
    median: float | None = Field(description="% (type 7, 2 dp)")
    upper_quartile: float | None = Field(description="% (type 7, 2 dp)")
    pooled_percent: float | None = Field(description="All responses / all users in scope (%)")
    pooled_text: str | None
    unit: str
    suppressed: bool
    reason: str | None


class RateTable(Table[RateRow]):
    cycles: list[int] = Field(description="The last three cycles with results, pooled")
    benchmark: RateBenchmark

    model_config = _table_example(
        {
            "code": "L2031",
            "yours": True,
            "cycle": 2020,
            "responses": 20,
            "users_in_scope": 313,
            "percent": 6.4,
            "text": "6.4% (20 out of 313)",
            "undeliverable": 12,
            "adjusted_percent": 6.6,
            "adjusted_text": "6.6% (20 out of 301)",
            "threshold_met": "internal",
        },
        cycles=[2018, 2019, 2020],
        benchmark={
            "n": 140,
            "organisations": 52,
            "lower_quartile": 15.2,
            "median": 23.8,
            "upper_quartile": 34.1,
            "pooled_percent": 24.6,
            "pooled_text": "24.6% (31,400 out of 127,642)",
            "unit": "%",
            "suppressed": False,
            "reason": None,
        },
    )


class SdmaProgressRow(BaseModel):
    code: str = Field(description="The organisation's code (the cycle asked about)")
    yours: bool
    cycle: int
    area: str = Field(description="M1-M9, or overall (the mean of the nine area means)")
    n: int | None = Field(description="Answers (respondents)")
    mean_2dp: float | None = Field(description="Mean maturity 1-5 (2 dp)")
    ci_low_2dp: float | None = Field(description=_CI.replace("1-7", "1-5"))
    ci_high_2dp: float | None = Field(description=_CI.replace("1-7", "1-5"))
    change_2dp: float | None = Field(
        description="Progress: the change since the organisation's previous cycle shown "
        "(maturity points, 2 dp)"
    )
    suppressed: bool
    reason: str | None
    threshold_met: ThresholdMet = Field(description=_MET)


class SdmaTable(Table[SdmaProgressRow]):
    cycles: list[int]
    no_peer_comparison: bool = Field(
        description="SDMA has no peer comparison: participants see their own organisations"
    )

    model_config = _table_example(
        {
            "code": "L2031",
            "yours": True,
            "cycle": 2020,
            "area": "M1",
            "n": 6,
            "mean_2dp": 3.17,
            "ci_low_2dp": 2.41,
            "ci_high_2dp": 3.92,
            "change_2dp": 0.5,
            "suppressed": False,
            "reason": None,
            "threshold_met": "internal",
        },
        cycles=[2018, 2019, 2020],
        no_peer_comparison=True,
    )


class SkillsGroupRow(BaseModel):
    code: str = Field(description="The organisation's code, or All organisations")
    yours: bool
    area: str = Field(description="it_literacy or it_policies")
    respondents: int | None
    n: int | None = Field(description="Ratings (all the area's questions)")
    mean_2dp: float | None = Field(description="Mean rating 1-5 (2 dp)")
    ci_low_2dp: float | None = Field(description="95% bound (ratio interval, 2 dp)")
    ci_high_2dp: float | None = Field(description="95% bound (ratio interval, 2 dp)")
    group_mean_2dp: float | None = Field(description="The group's mean for the area")
    difference_2dp: float | None = Field(description="The organisation's mean − the group's")
    suppressed: bool
    reason: str | None
    threshold_met: ThresholdMet = Field(description=_MET)


class SkillsTable(Table[SkillsGroupRow]):
    cycle: int
    organisations: int

    model_config = _table_example(
        {
            "code": "All organisations",
            "yours": False,
            "area": "it_literacy",
            "respondents": 4210,
            "n": 25211,
            "mean_2dp": 3.91,
            "ci_low_2dp": 3.88,
            "ci_high_2dp": 3.94,
            "group_mean_2dp": 3.91,
            "difference_2dp": None,
            "suppressed": False,
            "reason": None,
            "threshold_met": "publication",
        },
        cycle=2020,
        organisations=18,
    )
