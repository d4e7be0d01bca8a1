"""Consistency checks from the engine alone: DOMAIN.md's worked outturn gives exactly the
four checks it lists (a rounding difference within tolerance is not one), the tolerance
is half a pound per row summed, and recharges stand apart from every total. (Cost-table
and risk-priority checks: test_figures.py beside their totals.)"""

from __future__ import annotations

import polars as pl

from services.metrics.packs import engine
from services.metrics.packs.examples import worked_outturn_frames


def test_worked_outturn_gives_exactly_its_four_checks():
    lines, printed = worked_outturn_frames()
    _, checks = engine.outturn(lines, printed, {}, financial_year=2024, period=3)
    found = [
        (c.kind, c.row, c.column, c.printed, c.computed, c.difference, c.tolerance) for c in checks
    ]
    assert found == [
        (
            "line_remaining",
            "staffing / STATUTORY SICK PAY",
            "remaining",
            "825000",
            "775000",
            "50000",
            None,
        ),
        (
            "group_total",
            "staffing / total",
            "forecast",
            "132404000",
            "132400000",
            "4000",
            "200 pence",
        ),
        ("group_total", "staffing / total", "variance", "9604000", "9600000", "4000", "200 pence"),
        (
            "group_total",
            "staffing / total",
            "actuals",
            "35419200",
            "35469200",
            "-50000",
            "200 pence",
        ),
    ]
    # The expenditure actuals total is £1 out on four rows: within £2, not flagged.
    assert not [c for c in checks if c.row.startswith("expenditure")]
    assert checks[0].message == (
        "staffing / STATUTORY SICK PAY: printed remaining £8,250 but budget − actuals is "
        "£7,750 (difference £500)."
    )
    assert checks[3].message == (
        "Staffing total actuals: printed £354,192 but its 4 rows sum to £354,692 "
        "(difference -£500; allowed £2)."
    )


def _line(group: str, line: str, budget: int, forecast: int, actuals: int, **more) -> dict:
    return {
        "position": more.pop("position", 1),
        "group_key": group,
        "category": None,
        "line": line,
        "budget_pence": budget,
        "forecast_pence": forecast,
        "actuals_pence": actuals,
        "printed_variance_pence": None,
        "printed_remaining_pence": None,
        "is_recharge": False,
        "period_actuals_pence": None,
        **more,
    }


def test_tolerance_is_half_a_pound_per_row_and_recharges_stand_apart():
    lines = pl.DataFrame(
        [
            _line(
                "expenditure",
                "A",
                100_00,
                100_00,
                30_00,
                position=1,
                period_actuals_pence=[10_00, 20_00],
            ),
            _line(
                "expenditure",
                "B",
                200_00,
                210_00,
                50_00,
                position=2,
                period_actuals_pence=[25_00, 25_00, 7],
            ),
            _line("expenditure", "C", 0, 0, 0, position=3, printed_variance_pence=1),
            _line(
                "recharges",
                "IT recharge to partners",
                0,
                0,
                40_000_00,
                position=4,
                is_recharge=True,
            ),
        ],
        schema=engine.FINANCE_LINE_SCHEMA,
    )
    printed = pl.DataFrame(
        [
            # 3 rows: £1.50 allowed. actuals 80.00 + 1.50 = not flagged; 80.00 + 1.51 flagged
            {
                "group_key": "expenditure",
                "budget_pence": 300_00,
                "forecast_pence": 310_00,
                "variance_pence": 10_00 + 1 + 150,
                "actuals_pence": 80_00 + 151,
                "remaining_pence": None,
            },
            # the grand total: the same 3 rows (the recharge is in no total)
            {
                "group_key": "",
                "budget_pence": 300_00,
                "forecast_pence": None,
                "variance_pence": None,
                "actuals_pence": 80_00 - 150,
                "remaining_pence": None,
            },
        ],
        schema=engine.PRINTED_TOTAL_SCHEMA,
    )
    outturn, checks = engine.outturn(lines, printed, {}, financial_year=2024, period=3)
    assert [(c.kind, c.row, c.column, c.difference, c.tolerance) for c in checks] == [
        ("line_variance", "expenditure / C", "variance", "1", None),
        ("group_total", "expenditure / total", "actuals", "151", "150 pence"),
    ]
    assert outturn.total.actuals_pence == 80_00
    assert [r.line for r in outturn.recharges] == ["IT recharge to partners"]
    assert outturn.actuals_by_period_pence == [35_00, 45_00, 7]
