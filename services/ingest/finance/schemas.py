from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from shared.money import Pence
from shared.serialization import UtcDateTime
from shared.types import SingleLine

GroupKey = Annotated[
    str,
    Field(
        pattern=r"^[a-z][a-z0-9_]{0,49}$",
        description="Lower-case key: letters, digits and _ (e.g. capital_projects)",
    ),
]

LINE_EXAMPLE: dict[str, Any] = {
    "position": 1,
    "group": "expenditure",
    "category": "Supplies and services",
    "line": "SOFTWARE LICENCES",
    "budget_pence": 41000000,
    "forecast_pence": 42550000,
    "actuals_pence": 11820400,
    "printed_variance_pence": 1550000,
    "printed_remaining_pence": 29179600,
    "is_recharge": False,
    "period_actuals_pence": [3900000, 3950000, 3970400],
    "source_row": 2,
}
TOTAL_EXAMPLE: dict[str, Any] = {
    "group": "expenditure",
    "budget_pence": 56625000,
    "forecast_pence": 57775000,
    "variance_pence": 1150000,
    "actuals_pence": 15739500,
    "remaining_pence": 40885600,
    "source_row": 6,
}


class FinanceGroup(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"key": "staffing", "label": "Staffing", "position": 1, "standard": True},
            ]
        }
    )

    key: str
    label: str
    position: int = Field(description="Order in which the outturn lists the groups")
    standard: bool = Field(description="One of the standard groups every service has")


class FinanceGroupIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"label": "Capital projects", "position": 10}]},
    )

    label: SingleLine = Field(min_length=1, max_length=100)
    position: int = Field(default=100, ge=0, le=1000)


class FinanceLineIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    group: SingleLine = Field(
        min_length=1, max_length=100, description="A group's key or label (standard or own)"
    )
    category: SingleLine | None = Field(default=None, max_length=200)
    line: SingleLine = Field(min_length=1, max_length=200, description="The budget line")
    budget_pence: Pence
    forecast_pence: Pence
    actuals_pence: Pence
    printed_variance_pence: Pence | None = Field(
        default=None, description="As the source printed it; null if it printed none"
    )
    printed_remaining_pence: Pence | None = Field(
        default=None, description="As the source printed it; null if it printed none"
    )
    is_recharge: StrictBool = Field(default=False, description="A recharge, excluded from actuals")
    period_actuals_pence: list[Pence] | None = Field(
        default=None,
        max_length=12,
        description="Actuals of P1…Pn, exactly n = the report's period entries",
    )


class PrintedTotalIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    group: SingleLine | None = Field(
        default=None, max_length=100, description="A group's key or label; null: the grand total"
    )
    budget_pence: Pence | None = None
    forecast_pence: Pence | None = None
    variance_pence: Pence | None = None
    actuals_pence: Pence | None = None
    remaining_pence: Pence | None = None


class FinanceReportIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "lines": [
                        {
                            "group": "expenditure",
                            "line": "SOFTWARE LICENCES",
                            "budget_pence": 41000000,
                            "forecast_pence": 42550000,
                            "actuals_pence": 11820400,
                            "printed_variance_pence": 1550000,
                            "printed_remaining_pence": 29179600,
                        }
                    ],
                    "printed_totals": [
                        {
                            "group": "expenditure",
                            "budget_pence": 41000000,
                            "forecast_pence": 42550000,
                            "actuals_pence": 11820400,
                        }
                    ],
                }
            ]
        },
    )

    lines: list[FinanceLineIn] = Field(min_length=1, max_length=2000)
    printed_totals: list[PrintedTotalIn] = Field(default_factory=list, max_length=100)


class FinanceLine(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [LINE_EXAMPLE]})

    position: int = Field(description="Order in the report, from 1")
    group: str = Field(description="The group's key")
    category: str | None
    line: str
    budget_pence: int
    forecast_pence: int
    actuals_pence: int
    printed_variance_pence: int | None = Field(description="As printed; null if none was")
    printed_remaining_pence: int | None = Field(description="As printed; null if none was")
    is_recharge: bool
    period_actuals_pence: list[int] | None = Field(description="P1…Pn, when the source had them")
    source_row: int | None = Field(description="The file's row (null for an API report)")


class PrintedTotal(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [TOTAL_EXAMPLE]})

    group: str | None = Field(description="The group's key; null: the grand total")
    budget_pence: int | None
    forecast_pence: int | None
    variance_pence: int | None
    actuals_pence: int | None
    remaining_pence: int | None
    source_row: int | None


class FinanceReportSummary(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 4,
                    "service_id": 30,
                    "financial_year": 2024,
                    "period": 3,
                    "source": "xlsx",
                    "file_name": "outturn-2024-25-p3.xlsx",
                    "created_by": "finance@shared-ict.example",
                    "lines": 10,
                    "created_at": "2024-07-08T09:30:00Z",
                    "updated_at": "2024-07-09T14:02:00Z",
                }
            ]
        }
    )

    id: int
    service_id: int
    financial_year: int = Field(description="The year it starts (2024 = 2024/25)")
    period: int = Field(description="The report is for the year to this period (1 = April)")
    source: Literal["csv", "xlsx", "api"]
    file_name: str | None
    created_by: str
    lines: int = Field(description="Budget lines in the report")
    created_at: UtcDateTime
    updated_at: UtcDateTime = Field(description="When the report was last replaced")


class FinanceReport(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": 4,
                    "service_id": 30,
                    "financial_year": 2024,
                    "period": 3,
                    "source": "xlsx",
                    "file_name": "outturn-2024-25-p3.xlsx",
                    "created_by": "finance@shared-ict.example",
                    "created_at": "2024-07-08T09:30:00Z",
                    "updated_at": "2024-07-09T14:02:00Z",
                    "lines": [LINE_EXAMPLE],
                    "printed_totals": [TOTAL_EXAMPLE],
                }
            ]
        }
    )

    id: int
    service_id: int
    financial_year: int
    period: int
    source: Literal["csv", "xlsx", "api"]
    file_name: str | None
    created_by: str
    created_at: UtcDateTime
    updated_at: UtcDateTime
    lines: list[FinanceLine]
    printed_totals: list[PrintedTotal] = Field(
        description="Totals as the source printed them (per group, and the grand total)"
    )
