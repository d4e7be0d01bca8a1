from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt

from shared.money import Pence
from shared.serialization import UtcDateTime
from shared.types import SingleLine

OrganisationRef = Annotated[
    StrictInt | SingleLine,
    Field(description="The organisation's id, or its name (or a distinctive part: 'Brent')"),
]
ColumnLabel = Annotated[SingleLine, Field(min_length=1, max_length=50)]

ROW_EXAMPLE: dict[str, Any] = {
    "organisation_id": 31,
    "organisation": "London Borough of Brent",
    "category": "Courier",
    "amounts_pence": [125000, 98050, 0],
}
TOTAL_EXAMPLE: dict[str, Any] = {
    "organisation_id": 31,
    "organisation": "London Borough of Brent",
    "column_index": 0,
    "column": "P1",
    "amount_pence": 1450000,
}
TABLE_EXAMPLE: dict[str, Any] = {
    "id": 2,
    "service_id": 30,
    "financial_year": 2024,
    "period": 3,
    "title": "Covid-19 costs",
    "columns": ["P1", "P2", "P3"],
    "created_by": "finance@shared-ict.example",
    "created_at": "2024-07-08T09:30:00Z",
    "updated_at": "2024-07-08T09:30:00Z",
}


class CostRowIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organisation: OrganisationRef
    category: SingleLine = Field(min_length=1, max_length=200)
    amounts_pence: list[Pence] = Field(max_length=60, description="One per column, in order")


class CostTotalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organisation: OrganisationRef | None = Field(
        default=None, description="Null: a total across organisations"
    )
    column: ColumnLabel | None = Field(default=None, description="Null: a total across columns")
    amount_pence: Pence


class CostTableIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "title": "Covid-19 costs",
                    "columns": ["P1", "P2", "P3"],
                    "rows": [
                        {
                            "organisation": "Brent",
                            "category": "Courier",
                            "amounts_pence": [125000, 98050, 0],
                        }
                    ],
                    "printed_totals": [{"organisation": "Brent", "amount_pence": 223050}],
                }
            ]
        },
    )

    title: SingleLine = Field(min_length=1, max_length=200)
    columns: list[ColumnLabel] = Field(min_length=1, max_length=60)
    rows: list[CostRowIn] = Field(min_length=1, max_length=1000)
    printed_totals: list[CostTotalIn] = Field(default_factory=list, max_length=1000)


class CostRow(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [ROW_EXAMPLE]})

    organisation_id: int
    organisation: str
    category: str
    amounts_pence: list[int] = Field(description="One per column")


class CostPrintedTotal(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [TOTAL_EXAMPLE]})

    organisation_id: int | None = Field(description="Null: across organisations")
    organisation: str | None
    column_index: int | None = Field(description="From 0; null: across columns")
    column: str | None
    amount_pence: int


class CostTableSummary(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{**TABLE_EXAMPLE, "rows": 12}]})

    id: int
    service_id: int
    financial_year: int
    period: int
    title: str
    columns: list[str]
    rows: int = Field(description="Organisation × category rows")
    created_by: str
    created_at: UtcDateTime
    updated_at: UtcDateTime


class CostTable(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    **TABLE_EXAMPLE,
                    "categories": ["Mobile telephony", "Courier", "Equipment"],
                    "rows": [ROW_EXAMPLE],
                    "printed_totals": [TOTAL_EXAMPLE],
                }
            ]
        }
    )

    id: int
    service_id: int
    financial_year: int
    period: int
    title: str
    columns: list[str] = Field(description="Period columns, in order")
    categories: list[str] = Field(
        description="Categories in the order the source gave them (alphabetical for a table "
        "imported before that order was kept); each organisation's rows follow it"
    )
    created_by: str
    created_at: UtcDateTime
    updated_at: UtcDateTime
    rows: list[CostRow] = Field(
        description="By organisation (the service, then its partners), then category in "
        "the table's order"
    )
    printed_totals: list[CostPrintedTotal] = Field(description="Totals as the source printed")
