"""The committee performance pack as data: every figure, table, chart input and check.

This model is the one contract between the figures (``engine.py``/``service.py``), the
renderers (HTML and PDF templates) and the JSON API: a renderer only formats what is here
and never computes a figure of its own. Money is integer pence; percentages are numbers in
points (0-100) rounded once, half up (``services.metrics.figures``); a ``None`` figure is
one that cannot be computed (no tickets in the month) and is printed as a dash.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from shared.pagination import Page
from shared.serialization import JsonDecimal, UtcDateTime

Rag = Literal["green", "amber", "red"]
Trend = Literal["up", "down", "same", "new"]
PackStatus = Literal["draft", "in_review", "issued", "superseded", "withdrawn"]


class Organisation(BaseModel):
    id: int
    name: str


class PackHeader(BaseModel):
    service: Organisation = Field(description="The shared service")
    partners: list[Organisation] = Field(description="Its partner organisations, in order")
    financial_year: int = Field(description="Year the financial year starts (2024 = 2024/25)")
    financial_year_label: str = Field(examples=["2024/25"])
    period: int = Field(ge=1, le=12, description="Last period (P1 = April) of the pack")
    period_label: str = Field(examples=["Q1 2024/25 (P1–P3, April–June 2024)"])
    period_start: date = Field(description="First day of the reporting quarter")
    period_end: date = Field(description="Last day of the reporting period")
    status: PackStatus
    version: int | None = Field(description="Stored version; null for a live draft")
    data_version: str = Field(description="sha256 of the source data the figures came from")
    data_as_of: UtcDateTime | None = Field(description="Latest change in that source data")
    generated_at: UtcDateTime
    issued_at: UtcDateTime | None = None
    seconds_to_issue: int | None = Field(
        default=None, description="From the end of the period to the issue"
    )


class Sentence(BaseModel):
    """A sentence of numbers, generated from the figures (never typed)."""

    key: str = Field(examples=["finance.ytd"])
    text: str = Field(examples=["YTD spend £3.13M against a full-year budget of £14.62M."])


class KpiMeasure(BaseModel):
    key: str = Field(examples=["sla.P2"])
    label: str = Field(examples=["P2 incidents resolved within 8 hours"])
    value: JsonDecimal | None = Field(description="The measure's value in its unit")
    unit: str = Field(examples=["%", "count", "score"])
    target: JsonDecimal | None = None
    rag: Rag | None = Field(description="Null for a measure without a target")
    previous: JsonDecimal | None = Field(description="Value in the previous issued pack")
    change: JsonDecimal | None = Field(description="value − previous, in the measure's unit")
    comment: str | None = Field(description="The service's comment (required when red)")


class KpiSummary(BaseModel):
    p1_incidents: int
    p1_met: int
    measures: list[KpiMeasure]
    nps: JsonDecimal | None
    severe_security_incidents: int = Field(
        description="Severity high or critical, opened in the period"
    )
    amber_margin_points: JsonDecimal = Field(
        description="Amber = within this many points below target"
    )


class SlaMonth(BaseModel):
    month: date = Field(description="First day of the month of resolution")
    met: int
    missed: int
    total: int
    met_pct: JsonDecimal | None
    missed_pct: JsonDecimal | None


class SlaSubtotal(BaseModel):
    label: str = Field(examples=["2024", "Total"])
    met: int
    missed: int
    total: int
    met_pct: JsonDecimal | None
    missed_pct: JsonDecimal | None


class LoggedMonth(BaseModel):
    month: date
    logged: int


class SlaPriorityTable(BaseModel):
    priority: str = Field(examples=["P1"])
    target_label: str = Field(examples=["95% within 4 hours"])
    target_pct: JsonDecimal
    months: list[SlaMonth] = Field(description="Every month of the window, empty months as 0")
    subtotals: list[SlaSubtotal] = Field(description="Per calendar year, then the grand total")
    logged: list[LoggedMonth]
    average_closure_hours: JsonDecimal | None = Field(description="Mean, in business hours")
    average_closure_unit: str = Field(examples=["business hours"])
    on_hold: int = Field(description="On hold at the period end")
    reopened: int = Field(description="Resolved in the window with a reopen")
    open: int = Field(description="Open at the period end")
    open_breached: int
    open_within: int


class PackNpsRow(BaseModel):
    month: date
    organisation: Organisation | None = Field(description="Null = all organisations")
    promoters: int
    passives: int
    detractors: int
    responses: int
    nps: JsonDecimal | None


# The NPS report's row (services.metrics.nps) is also NpsRow: in the OpenAPI document this
# one is PackNpsRow (a schema's name is its class's), and NpsRow stays its name in Python.
NpsRow = PackNpsRow


class SecurityIncident(BaseModel):
    reference: str
    title: str
    opened_on: date
    closed_on: date | None
    severity: Literal["low", "medium", "high", "critical"]
    os: str | None
    assets_affected: str | None
    status: str


class Money(BaseModel):
    """Pence, exact. ``None`` where the source printed nothing."""

    budget_pence: int
    forecast_pence: int
    variance_pence: int = Field(description="forecast − budget")
    actuals_pence: int
    remaining_pence: int = Field(description="budget − actuals")


class OutturnLine(Money):
    position: int
    category: str | None
    line: str
    printed_variance_pence: int | None
    printed_remaining_pence: int | None
    period_actuals_pence: list[int] | None = Field(description="P1…Pn, when the source had them")


class OutturnGroup(Money):
    key: str
    label: str
    lines: list[OutturnLine]


class Outturn(BaseModel):
    financial_year: int
    period: int
    groups: list[OutturnGroup]
    total: Money = Field(description="The grand total (total service charge)")
    actuals_by_period_pence: list[int] | None = Field(description="All lines, P1…Pn")
    recharges: list[OutturnLine] = Field(description="Excluded from actuals, listed apart")


class CostRow(BaseModel):
    organisation: Organisation
    category: str
    amounts_pence: list[int] = Field(description="One per column")
    total_pence: int


class CostTable(BaseModel):
    title: str
    columns: list[str]
    rows: list[CostRow]
    organisation_totals: list[CostRow] = Field(description="category = 'Total'")
    column_totals_pence: list[int]
    grand_total_pence: int


class Risk(BaseModel):
    reference: str
    section: str
    title: str
    cause: str | None
    event: str | None
    consequence: str | None
    developments: str | None
    impact: int = Field(ge=1, le=5)
    probability: int = Field(ge=1, le=5)
    priority: int = Field(description="impact × probability")
    band: Literal["low", "medium", "high", "very high"]
    imported_priority: int | None
    actions: str | None
    owner: str | None
    previous_priority: int | None
    trend: Trend


class RiskSection(BaseModel):
    key: str
    label: str
    risks: list[Risk]


class Check(BaseModel):
    """One consistency finding: which row, what was printed, what it should be."""

    kind: Literal[
        "line_variance",
        "line_remaining",
        "group_total",
        "grand_total",
        "cost_total",
        "risk_priority",
        "late_data",
    ]
    section: str = Field(examples=["finance"])
    row: str = Field(examples=["staffing / STATUTORY SICK PAY"])
    column: str = Field(examples=["remaining"])
    printed: str = Field(description="As printed (money in pence as text; a date; a number)")
    computed: str
    difference: str = Field(description="printed − computed, same unit")
    unit: str = Field(examples=["pence", "priority", "timestamp"])
    tolerance: str | None = Field(description="What was allowed (e.g. 200 pence)")
    message: str


class Commentary(BaseModel):
    section: str
    measure: str
    body: str
    author: str


class ChartSeries(BaseModel):
    name: str
    values: list[JsonDecimal | None]


class Chart(BaseModel):
    """A chart's data as drawn: the chart module draws exactly this."""

    key: str = Field(examples=["sla.P1"])
    kind: Literal["stacked_bar", "line", "bar"]
    title: str
    description: str = Field(description="What the chart shows, in words (for screen readers)")
    categories: list[str]
    series: list[ChartSeries]
    unit: str
    target: JsonDecimal | None = Field(description="A horizontal target line, if any")


class Pack(BaseModel):
    header: PackHeader
    sentences: list[Sentence]
    kpi: KpiSummary
    sla: list[SlaPriorityTable]
    nps: list[PackNpsRow]
    security_incidents: list[SecurityIncident]
    outturn: Outturn | None
    cost_tables: list[CostTable]
    risks: list[RiskSection]
    commentary: list[Commentary]
    checks: list[Check]
    charts: list[Chart]


# ------------------------------------------------------------------ the API's own shapes
# (Added with the pack API: the stored versions, their checks and their changes.)

PACK_VERSION_EXAMPLE: dict[str, Any] = {
    "id": 7,
    "service_id": 3,
    "financial_year": 2024,
    "period": 3,
    "version": 2,
    "status": "issued",
    "period_end": "2024-06-30",
    "data_version": "9b0e5c1f6a2d4e8b7c3a1f0e9d8c7b6a5f4e3d2c1b0a99887766554433221100",
    "data_as_of": "2024-07-08T09:12:00Z",
    "created_by": "finance.lead@shared.example",
    "created_at": "2024-07-10T08:00:00Z",
    "reviewed_by": "head.of.service@shared.example",
    "reviewed_at": "2024-07-12T15:30:00Z",
    "issued_by": "head.of.service@shared.example",
    "issued_at": "2024-07-12T15:30:00Z",
    "seconds_to_issue": 1006200,
    "changes": 4,
}


class PackCreate(BaseModel):
    """Which pack to freeze for review: the live draft of this service and period."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"service_id": 3, "financial_year": 2024, "period": 3}]},
    )

    service_id: int = Field(ge=1, le=2_147_483_647, description="The shared service")
    financial_year: int = Field(ge=2000, le=2100, description="2024 = 2024/25")
    period: int = Field(ge=1, le=12, description="P1 = April … P12 = March")


class PackVersion(BaseModel):
    """A stored version of a pack (in review, issued, superseded or withdrawn)."""

    model_config = ConfigDict(json_schema_extra={"examples": [PACK_VERSION_EXAMPLE]})

    id: int
    service_id: int
    financial_year: int
    period: int
    version: int
    status: Literal["in_review", "issued", "superseded", "withdrawn"]
    period_end: date
    data_version: str = Field(description="sha256 of the source data the figures came from")
    data_as_of: UtcDateTime | None = Field(description="Latest change in that source data")
    created_by: str
    created_at: UtcDateTime
    reviewed_by: str | None
    reviewed_at: UtcDateTime | None
    issued_by: str | None
    issued_at: UtcDateTime | None
    seconds_to_issue: int | None = Field(description="From the end of the period to the issue")
    changes: int = Field(description="Figures changed since the version it superseded")


class PackVersionList(Page[PackVersion]):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [PACK_VERSION_EXAMPLE],
                    "total": 1,
                    "limit": 500,
                    "offset": 0,
                    "next": None,
                }
            ]
        }
    )


CHECK_EXAMPLE: dict[str, Any] = {
    "kind": "line_remaining",
    "section": "finance",
    "row": "staffing / STATUTORY SICK PAY",
    "column": "remaining",
    "printed": "825000",
    "computed": "775000",
    "difference": "50000",
    "unit": "pence",
    "tolerance": None,
    "message": "staffing / STATUTORY SICK PAY: printed remaining £8,250 but budget − actuals "
    "is £7,750 (difference £500).",
    "origin": "frozen",
}


class PackCheck(Check):
    origin: Literal["frozen", "live"] = Field(
        description="frozen: stored with the version; live: computed now (late data)"
    )


class PackCheckList(Page[PackCheck]):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"items": [CHECK_EXAMPLE], "total": 1, "limit": 500, "offset": 0, "next": None}
            ]
        }
    )


FigureValue = str | int | float | bool | list[str | int | float | bool | None] | None


class PackChange(BaseModel):
    path: str = Field(examples=["outturn.groups[staffing].actuals_pence"])
    before: FigureValue = Field(description="In the version superseded; null if absent")
    after: FigureValue = Field(description="In this version; null if absent")


class PackChangeList(Page[PackChange]):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "path": "outturn.groups[staffing].actuals_pence",
                            "before": 35469200,
                            "after": 35419200,
                        }
                    ],
                    "total": 1,
                    "limit": 500,
                    "offset": 0,
                    "next": None,
                }
            ]
        }
    )
