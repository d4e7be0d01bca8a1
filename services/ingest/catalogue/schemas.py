from __future__ import annotations

from typing import Any

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
                }
            ]
        }
    )

    data_year: str
    modules: list[CatalogueModule]
    questions: list[CatalogueQuestion]
    metrics: list[CatalogueMetric]
    rules: list[CatalogueRule]
