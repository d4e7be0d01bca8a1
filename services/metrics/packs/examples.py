"""The pack the OpenAPI document shows as its example: DOMAIN.md's worked outturn and a
small SLA, NPS and risk picture, put through the same engine as a real pack (so the
example's totals, checks and sentences are the engine's own)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from typing import Any

import polars as pl

from services.metrics import figures
from services.metrics.packs import engine
from services.metrics.packs.schemas import (
    LoggedMonth,
    NpsRow,
    Organisation,
    Pack,
    PackHeader,
    SecurityIncident,
    SlaMonth,
    SlaPriorityTable,
    SlaSubtotal,
)

WORKED_OUTTURN = [
    ("expenditure", "SOFTWARE LICENCES", 410_000, 425_500, 15_500, 118_204, 291_796),
    ("expenditure", "NETWORK AND INTERNET", 180_250, 180_250, 0, 47_310, 132_940),
    ("expenditure", "TELEPHONY", 96_000, 92_000, -4_000, 21_880, 74_120),
    ("expenditure", "INCOME FROM PARTNERS", -120_000, -120_000, 0, -30_000, -90_000),
    ("staffing", "SALARIES", 1_200_000, 1_236_000, 36_000, 301_422, 898_578),
    ("staffing", "AGENCY STAFF", 0, 60_000, 60_000, 48_900, -48_900),
    ("staffing", "STATUTORY SICK PAY", 8_000, 8_000, 0, 250, 8_250),
    ("staffing", "TRAINING", 20_000, 20_000, 0, 4_120, 15_880),
]
WORKED_PRINTED_TOTALS = [
    ("expenditure", 566_250, 577_750, 11_500, 157_395, 408_856),
    ("staffing", 1_228_000, 1_324_040, 96_040, 354_192, 873_808),
]


def worked_outturn_frames() -> tuple[pl.DataFrame, pl.DataFrame]:
    """DOMAIN.md's worked outturn (FY 2024/25 to P3) as the engine's input frames."""
    lines = pl.DataFrame(
        [
            {
                "position": i + 1,
                "group_key": g,
                "category": None,
                "line": line,
                "budget_pence": b * 100,
                "forecast_pence": f * 100,
                "actuals_pence": a * 100,
                "printed_variance_pence": v * 100,
                "printed_remaining_pence": r * 100,
                "is_recharge": False,
                "period_actuals_pence": None,
            }
            for i, (g, line, b, f, v, a, r) in enumerate(WORKED_OUTTURN)
        ],
        schema=engine.FINANCE_LINE_SCHEMA,
    )
    printed = pl.DataFrame(
        [
            {
                "group_key": g,
                "budget_pence": b * 100,
                "forecast_pence": f * 100,
                "variance_pence": v * 100,
                "actuals_pence": a * 100,
                "remaining_pence": r * 100,
            }
            for g, b, f, v, a, r in WORKED_PRINTED_TOTALS
        ],
        schema=engine.PRINTED_TOTAL_SCHEMA,
    )
    return lines, printed


def _sla_table() -> SlaPriorityTable:
    months = [(date(2024, 4, 1), 40, 2), (date(2024, 5, 1), 38, 3), (date(2024, 6, 1), 41, 1)]

    def pct(n: int, d: int) -> Decimal | None:
        return figures.half_up_value(n * 100, d, 2)

    met, missed = sum(m for _, m, _ in months), sum(x for _, _, x in months)
    total = met + missed
    return SlaPriorityTable(
        priority="P2",
        target_label="95% within 8 hours",
        target_pct=Decimal("95.00"),
        months=[
            SlaMonth(
                month=d,
                met=m,
                missed=x,
                total=m + x,
                met_pct=pct(m, m + x),
                missed_pct=pct(x, m + x),
            )
            for d, m, x in months
        ],
        subtotals=[
            SlaSubtotal(
                label=label,
                met=met,
                missed=missed,
                total=total,
                met_pct=pct(met, total),
                missed_pct=pct(missed, total),
            )
            for label in ("2024", "Total")
        ],
        logged=[LoggedMonth(month=d, logged=m + x) for d, m, x in months],
        average_closure_hours=Decimal("3.42"),
        average_closure_unit="business hours",
        on_hold=2,
        reopened=1,
        open=5,
        open_breached=1,
        open_within=4,
    )


@cache
def example_pack() -> dict[str, Any]:
    """The example, in its JSON form."""
    service = Organisation(id=3, name="Shared ICT Service")
    partners = [
        Organisation(id=4, name="Brent"),
        Organisation(id=5, name="Lewisham"),
        Organisation(id=6, name="Southwark"),
    ]
    period = engine.PackPeriod(2024, 3)
    lines, printed = worked_outturn_frames()
    outturn, checks = engine.outturn(lines, printed, {}, financial_year=2024, period=3)
    cells = pl.DataFrame(
        {
            "organisation_id": [4, 4, 5, 6],
            "category": ["Courier", "Equipment", "Equipment", "Mobile telephony"],
            "column_index": [0, 1, 0, 2],
            "amount_pence": [125_000, 480_000, 260_000, 90_000],
        }
    )
    printed_costs = pl.DataFrame(
        {"organisation_id": [None], "column_index": [None], "amount_pence": [955_000]},
        schema={
            "organisation_id": pl.Int64(),
            "column_index": pl.Int64(),
            "amount_pence": pl.Int64(),
        },
    )
    costs, cost_checks = engine.cost_table(
        "Covid-19 costs", ["P1", "P2", "P3"], cells, printed_costs, partners
    )
    current = pl.DataFrame(
        [
            {
                "risk_id": 1,
                "reference": "R1",
                "section": "financial",
                "title": "Partner contributions fall short of the budget",
                "cause": "A partner council's budget is cut",
                "event": "Contributions are reduced mid-year",
                "consequence": "Services are cut back",
                "developments": "Budget confirmed for 2024/25",
                "impact": 4,
                "probability": 3,
                "imported_priority": 16,
                "actions": "Quarterly review with the partners' finance leads",
                "owner": "Head of Service",
            }
        ],
        schema=engine.RISK_SCHEMA,
    )
    previous = pl.DataFrame(
        {"risk_id": [1], "previous_impact": [4], "previous_probability": [4]},
        schema=engine.PREVIOUS_RISK_SCHEMA,
    )
    risks, risk_checks = engine.risk_register(current, previous, engine.RiskBands())
    checks = checks + cost_checks + risk_checks
    table = _sla_table()
    targets = {"P2": engine.SlaTarget("P2", Decimal("95.00"), "8 hours", "1")}
    inputs = engine.KpiInputs(
        p1_incidents=12,
        p1_met=11,
        sla_window={"P2": (119, 125)},
        nps=Decimal("23.5"),
        nps_responses=200,
        severe_security_incidents=1,
    )
    previous_kpi = {"sla.P2": Decimal("96.10"), "nps": Decimal("20.0"), "security.severe": None}
    kpi = engine.kpi_summary(
        inputs, targets, previous_kpi, {"sla.P2": "Two staff vacancies."}, Decimal(5)
    )
    nps = [
        NpsRow(
            month=date(2024, 6, 1),
            organisation=None,
            promoters=80,
            passives=73,
            detractors=47,
            responses=200,
            nps=Decimal("16.5"),
        )
    ]
    pack = Pack(
        header=PackHeader(
            service=service,
            partners=partners,
            financial_year=2024,
            financial_year_label=period.fy_label,
            period=3,
            period_label=period.label,
            period_start=period.period_start,
            period_end=period.period_end,
            status="draft",
            version=None,
            data_version="3f1c9a2b7d4e6f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7081",
            data_as_of=datetime(2024, 7, 8, 9, 12, tzinfo=UTC),
            generated_at=datetime(2024, 7, 9, 10, 0, tzinfo=UTC),
        ),
        sentences=engine.sentences(
            period, kpi, targets, inputs.sla_window, 200, outturn, [costs], risks, checks
        ),
        kpi=kpi,
        sla=[table],
        nps=nps,
        security_incidents=[
            SecurityIncident(
                reference="SI-2024-014",
                title="Phishing campaign against finance staff",
                opened_on=date(2024, 5, 14),
                closed_on=date(2024, 5, 16),
                severity="high",
                os="Windows 11",
                assets_affected="12 mailboxes",
                status="closed",
            )
        ],
        outturn=outturn,
        cost_tables=[costs],
        risks=risks,
        commentary=[],
        checks=checks,
        charts=engine.charts([table], nps, partners, outturn),
    )
    return pack.model_dump(mode="json")
