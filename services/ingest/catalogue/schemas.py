from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SUMMARY_EXAMPLE: dict[str, Any] = {
    "cycle": 2021,
    "file": "2021.yaml",
    "extends": "2020",
    "extends_cycle": 2020,
    "description": "2020/21 data. ISO 14001 leaves the governance index; "
    "Cyber Essentials Plus joins it.",
}


class CatalogueSummary(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [SUMMARY_EXAMPLE]})

    cycle: int = Field(description="Collection year")
    file: str = Field(description="The data file that defines this cycle's catalogue")
    extends: str | None = Field(description="The file (cycle year or 'base') it starts from")
    extends_cycle: int | None = Field(description="The previous cycle it extends, if any")
    description: str


class CatalogueModule(BaseModel):
    key: str
    name: str
    description: str
    peer_comparison: bool


class CatalogueChoice(BaseModel):
    key: str
    label: str
    points: float


class CatalogueQuestion(BaseModel):
    key: str
    module: str
    type: str = Field(description="count, amount_gbp, percentage, number, choice or boolean")
    label: str
    unit: str
    help: str
    min: float | None
    max: float | None
    required: bool
    choices: list[CatalogueChoice]


class OutlierThresholds(BaseModel):
    modified_z: float = Field(description="Flag when |0.6745 (x - median) / MAD| is above this")
    iqr_fence: float = Field(description="k: flag below Q1 - k IQR or above Q3 + k IQR")
    history_sd: float = Field(description="Flag outside the organisation's mean +- this many SD")
    year_on_year_pct: float | None = Field(
        description="Flag a change from last year above this per cent; null: not checked"
    )


class CatalogueNeighbourVariable(BaseModel):
    key: str
    label: str
    source: Literal["question", "attribute"]
    name: str = Field(description="The question key or organisation attribute")
    weight: float
    compare: Literal["value", "same"] = Field(
        description="value: a number; same: 1 when equal to the organisation's own, else 0"
    )


class CatalogueMetric(BaseModel):
    key: str
    name: str
    module: str
    formula: str
    inputs: list[str]
    unit: str
    polarity: str
    introduced_in: int
    changed_in: list[int]
    description: str
    outliers: OutlierThresholds = Field(description="Reviewer-check thresholds (catalogue data)")


class CatalogueRule(BaseModel):
    key: str
    check: str
    severity: str
    message: str
    questions: list[str]


class Catalogue(CatalogueSummary):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **SUMMARY_EXAMPLE,
                    "data_year": "2020/21",
                    "modules": [
                        {
                            "key": "estate",
                            "name": "Estate",
                            "description": "ICT staffing, devices, flexible working, governance.",
                            "peer_comparison": True,
                        }
                    ],
                    "questions": [
                        {
                            "key": "users",
                            "module": "estate",
                            "type": "count",
                            "label": "ICT users",
                            "unit": "users",
                            "help": "People with a network login who use the ICT service, "
                            "counted at the end of the financial year.",
                            "min": 1.0,
                            "max": 500000.0,
                            "required": True,
                            "choices": [],
                        }
                    ],
                    "metrics": [
                        {
                            "key": "users_per_ict_fte",
                            "name": "Users per ICT FTE",
                            "module": "estate",
                            "formula": "users / nonzero(ict_fte)",
                            "inputs": ["users", "ict_fte"],
                            "unit": "ratio",
                            "polarity": "higher_better",
                            "introduced_in": 2016,
                            "changed_in": [],
                            "description": "",
                            "outliers": {
                                "modified_z": 3.5,
                                "iqr_fence": 3.0,
                                "history_sd": 2.0,
                                "year_on_year_pct": 50.0,
                            },
                        }
                    ],
                    "rules": [
                        {
                            "key": "change_fte_within_ict",
                            "check": "change_project_fte <= ict_fte",
                            "severity": "error",
                            "message": "Change-project FTE ({change_project_fte}) cannot "
                            "exceed ICT FTE ({ict_fte}).",
                            "questions": ["change_project_fte", "ict_fte"],
                        }
                    ],
                    "neighbours": [
                        {
                            "key": "users",
                            "label": "ICT users",
                            "source": "attribute",
                            "name": "users",
                            "weight": 1.0,
                            "compare": "value",
                        }
                    ],
                }
            ]
        }
    )

    data_year: str
    modules: list[CatalogueModule]
    questions: list[CatalogueQuestion]
    metrics: list[CatalogueMetric]
    rules: list[CatalogueRule]
    neighbours: list[CatalogueNeighbourVariable] = Field(
        description="Nearest-neighbours variables and weights (catalogue data)"
    )
