from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from services.survey.instruments import Instrument
from shared.types import MultiLine

# A text answer (a comment) may span lines; keys are checked against the instrument.
AnswerIn = int | MultiLine | None


class Choice(BaseModel):
    value: str
    label: str


class Point(BaseModel):
    value: int
    label: str


class SurveyQuestion(BaseModel):
    key: str = Field(description="Answer key, e.g. S1.satisfaction, overall, attr.role")
    label: str
    type: Literal["rating", "choice", "text", "nps"]
    required: bool
    min: int | None = None
    max: int | None = None
    points: list[Point] = []
    options: list[Choice] = []
    max_length: int | None = None
    hint: str | None = None
    group: str | None = Field(default=None, description="Factor key (S1) for factor ratings")
    measure: str | None = None


class SurveyPage(BaseModel):
    number: int
    title: str
    intro: str | None = None
    questions: list[SurveyQuestion]


class RespondentSurvey(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "kind": "user_satisfaction",
                    "title": "ICT user satisfaction survey",
                    "description": "Tell us how well the ICT service supports your work.",
                    "organisation_name": "London Borough of Camden",
                    "closes_on": "2024-06-28",
                    "pages": [
                        {
                            "number": 1,
                            "title": "ICT services, factors 1 to 10",
                            "intro": "Say how satisfied you are with each part of the service.",
                            "questions": [
                                {
                                    "key": "S1.satisfaction",
                                    "label": "How satisfied are you?",
                                    "type": "rating",
                                    "required": False,
                                    "min": 1,
                                    "max": 7,
                                    "points": [
                                        {"value": 1, "label": "Very dissatisfied"},
                                        {"value": 7, "label": "Very satisfied"},
                                    ],
                                    "options": [],
                                    "max_length": None,
                                    "hint": None,
                                    "group": "S1",
                                    "measure": "satisfaction",
                                }
                            ],
                        }
                    ],
                    "answers": {"S1.satisfaction": 6},
                    "page": 1,
                }
            ]
        }
    )

    kind: str
    title: str
    description: str | None
    organisation_name: str
    closes_on: date
    pages: list[SurveyPage]
    answers: dict[str, int | str] = Field(description="Answers saved so far with this link")
    page: int = Field(description="Page the respondent was on when they last saved")


class DraftIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answers: dict[str, AnswerIn] = Field(
        max_length=200, description="Answers to save; null clears an answer"
    )
    page: int = Field(default=1, ge=1, le=100)


class DraftOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"answers": {"S1.satisfaction": 6, "S1.importance": 7}, "page": 2}]
        }
    )

    answers: dict[str, int | str]
    page: int


class SubmissionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    answers: dict[str, AnswerIn] = Field(max_length=200, description="Every answer, by key")


class SubmissionOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{"status": "received"}]})

    status: Literal["received"]


def describe(
    instrument: Instrument,
    organisation_name: str,
    closes_on: date,
    answers: dict[str, int | str],
    page: int,
) -> RespondentSurvey:
    pages = [
        SurveyPage(
            number=p.number,
            title=p.title,
            intro=p.intro,
            questions=[
                SurveyQuestion(
                    key=q.key,
                    label=q.label,
                    type=q.type,
                    required=q.required,
                    min=q.min,
                    max=q.max,
                    points=[Point(value=pt.value, label=pt.label) for pt in q.points],
                    options=[Choice(value=o.value, label=o.label) for o in q.options],
                    max_length=q.max_length,
                    hint=q.hint,
                    group=q.group,
                    measure=q.measure,
                )
                for q in p.questions
            ],
        )
        for p in instrument.pages
    ]
    return RespondentSurvey(
        kind=instrument.kind,
        title=instrument.title,
        description=instrument.description,
        organisation_name=organisation_name,
        closes_on=closes_on,
        pages=pages,
        answers=answers,
        page=page,
    )
