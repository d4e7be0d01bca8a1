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


def _example(row: dict[str, Any]) -> ConfigDict:
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
            "values": [{"code": "A7", "value": 5.12, "yours": True}],
        }
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
                }
            ]
        }
    )
