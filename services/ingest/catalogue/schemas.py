from __future__ import annotations

from pydantic import BaseModel, Field


class CatalogueSummary(BaseModel):
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
    data_year: str
    modules: list[CatalogueModule]
    questions: list[CatalogueQuestion]
    metrics: list[CatalogueMetric]
    rules: list[CatalogueRule]
