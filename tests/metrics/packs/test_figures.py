"""The pack's figures from the engine alone (no database): DOMAIN.md's worked outturn,
cost-table totals, risk priorities, bands and trends, RAG and the change since the
previous pack, periods, money in sentences, what changed between two versions."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import polars as pl
import pytest

from services.metrics.packs import engine
from services.metrics.packs.examples import worked_outturn_frames
from services.metrics.packs.schemas import Organisation

P = 100  # pence per pound


def test_worked_outturn_totals_from_its_rows():
    lines, printed = worked_outturn_frames()
    outturn, _ = engine.outturn(lines, printed, {}, financial_year=2024, period=3)
    expenditure, staffing = outturn.groups
    assert (expenditure.key, expenditure.label, staffing.key) == (
        "expenditure",
        "Expenditure",
        "staffing",
    )
    # Group totals computed from the rows (not the printed totals)
    assert (
        expenditure.budget_pence,
        expenditure.forecast_pence,
        expenditure.variance_pence,
        expenditure.actuals_pence,
        expenditure.remaining_pence,
    ) == (566_250 * P, 577_750 * P, 11_500 * P, 157_394 * P, 408_856 * P)
    assert (
        staffing.budget_pence,
        staffing.forecast_pence,
        staffing.variance_pence,
        staffing.actuals_pence,
        staffing.remaining_pence,
    ) == (1_228_000 * P, 1_324_000 * P, 96_000 * P, 354_692 * P, 873_308 * P)
    # DOMAIN.md's computed grand totals
    t = outturn.total
    assert (
        t.budget_pence,
        t.forecast_pence,
        t.variance_pence,
        t.actuals_pence,
        t.remaining_pence,
    ) == (1_794_250 * P, 1_901_750 * P, 107_500 * P, 512_086 * P, 1_282_164 * P)
    sick = staffing.lines[2]
    assert (sick.line, sick.remaining_pence, sick.printed_remaining_pence) == (
        "STATUTORY SICK PAY",
        7_750 * P,
        8_250 * P,
    )
    assert [line.position for g in outturn.groups for line in g.lines] == list(range(1, 9))
    assert outturn.recharges == [] and outturn.actuals_by_period_pence is None


def test_cost_table_row_organisation_column_and_grand_totals():
    orgs = [
        Organisation(id=1, name="Brent"),
        Organisation(id=2, name="Lewisham"),
        Organisation(id=3, name="Southwark"),
    ]
    cells = pl.DataFrame(
        [
            (1, "Courier", 0, 10_000),
            (1, "Courier", 1, 20_050),
            (1, "Equipment", 2, 300_000),
            (2, "Courier", 0, 5_000),
            (2, "Mobile telephony", 1, 12_345),
            (3, "Equipment", 0, 99_999),
            (3, "Equipment", 2, 1),
        ],
        schema=["organisation_id", "category", "column_index", "amount_pence"],
        orient="row",
    )
    printed = pl.DataFrame(
        [
            (None, None, 447_300),
            (1, None, 330_200),
            (None, 2, 300_001),
            (2, 0, 5_000),
            (3, None, 99_000),
        ],
        schema={"organisation_id": pl.Int64, "column_index": pl.Int64, "amount_pence": pl.Int64},
        orient="row",
    )
    table, checks = engine.cost_table("Covid-19 costs", ["P1", "P2", "P3"], cells, printed, orgs)
    assert [
        (r.organisation.name, r.category, r.amounts_pence, r.total_pence) for r in table.rows
    ] == [
        ("Brent", "Courier", [10_000, 20_050, 0], 30_050),
        ("Brent", "Equipment", [0, 0, 300_000], 300_000),
        ("Lewisham", "Courier", [5_000, 0, 0], 5_000),
        ("Lewisham", "Mobile telephony", [0, 12_345, 0], 12_345),
        ("Southwark", "Equipment", [99_999, 0, 1], 100_000),
    ]
    assert [
        (r.organisation.name, r.category, r.amounts_pence, r.total_pence)
        for r in table.organisation_totals
    ] == [
        ("Brent", "Total", [10_000, 20_050, 300_000], 330_050),
        ("Lewisham", "Total", [5_000, 12_345, 0], 17_345),
        ("Southwark", "Total", [99_999, 0, 1], 100_000),
    ]
    assert table.column_totals_pence == [114_999, 32_395, 300_001]
    assert table.grand_total_pence == 447_395
    # The grand total is 95p out over 5 rows (£2.50 allowed): not flagged.
    assert [
        (c.row, c.column, c.printed, c.computed, c.difference, c.tolerance) for c in checks
    ] == [
        ("Covid-19 costs / Brent / total", "total", "330200", "330050", "150", "100 pence"),
        ("Covid-19 costs / Southwark / total", "total", "99000", "100000", "-1000", "50 pence"),
    ]
    assert {c.kind for c in checks} == {"cost_total"}


def _risks(rows: list[tuple]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "risk_id": i,
                "reference": ref,
                "section": section,
                "title": f"Risk {ref}",
                "cause": None,
                "event": None,
                "consequence": None,
                "developments": None,
                "impact": impact,
                "probability": probability,
                "imported_priority": imported,
                "actions": None,
                "owner": "Head of Service",
            }
            for i, (ref, section, impact, probability, imported) in enumerate(rows)
        ],
        schema=engine.RISK_SCHEMA,
    )


def test_risk_priorities_bands_trends_and_imported_priority_checks():
    current = _risks(
        [
            ("R10", "financial", 2, 2, None),  # 4 low
            ("R2", "financial", 5, 1, 5),  # 5 medium
            ("R1", "financial", 3, 3, 9),  # 9 medium
            ("S1", "supportability", 2, 5, 12),  # 10 high, imported 12
            ("L1", "loss_of_service", 4, 4, None),  # 16 high
            ("X1", "partnership", 4, 5, 20),  # 20 very high, the service's own section
            ("RS1", "resourcing", 5, 5, 24),  # 25 very high, imported 24
        ]
    )
    previous = pl.DataFrame(
        [(0, 2, 3), (1, 5, 1), (2, 2, 2), (4, 5, 5)],
        schema=engine.PREVIOUS_RISK_SCHEMA,
        orient="row",
    )
    sections, checks = engine.risk_register(current, previous, engine.RiskBands())
    got = [
        (s.key, r.reference, r.priority, r.band, r.previous_priority, r.trend)
        for s in sections
        for r in s.risks
    ]
    assert got == [
        ("financial", "R1", 9, "medium", 4, "up"),
        ("financial", "R2", 5, "medium", 5, "same"),
        ("financial", "R10", 4, "low", 6, "down"),
        ("resourcing", "RS1", 25, "very high", None, "new"),
        ("loss_of_service", "L1", 16, "high", 25, "down"),
        ("supportability", "S1", 10, "high", None, "new"),
        ("partnership", "X1", 20, "very high", None, "new"),
    ]
    assert [s.label for s in sections] == [
        "Financial",
        "Resourcing",
        "Loss of service",
        "Supportability",
        "Partnership",
    ]
    assert [(c.row, c.printed, c.computed, c.difference, c.unit) for c in checks] == [
        ("RS1 Risk RS1", "24", "25", "-1", "priority"),
        ("S1 Risk S1", "12", "10", "2", "priority"),
    ]
    assert checks[1].message == "Risk S1: imported priority 12 but impact 2 × probability 5 = 10."
    # Bands are a setting
    tight, _ = engine.risk_register(current, previous, engine.RiskBands(3, 6, 12))
    assert [r.band for s in tight for r in s.risks] == [
        "high",
        "medium",
        "medium",
        "very high",
        "very high",
        "high",
        "very high",
    ]


@pytest.mark.parametrize(
    ("value", "rag"),
    [
        ("95", "green"),
        ("99.99", "green"),
        ("94.99", "amber"),
        ("90.00", "amber"),
        ("89.99", "red"),
        (None, None),
    ],
)
def test_rag_green_at_target_amber_within_margin_red_below(value, rag):
    v = None if value is None else Decimal(value)
    assert engine.rag(v, Decimal("95.00"), Decimal("5")) == rag


def test_kpi_change_since_the_previous_issued_pack_and_comments():
    targets = {
        "P1": engine.SlaTarget("P1", Decimal("95.00"), "4 hours", "1"),
        "P2": engine.SlaTarget("P2", Decimal("95.00"), "8 hours", "1"),
    }
    inputs = engine.KpiInputs(
        p1_incidents=20,
        p1_met=19,
        sla_window={"P1": (19, 20), "P2": (452, 500)},
        nps=Decimal("12.5"),
        nps_responses=80,
        severe_security_incidents=2,
    )
    previous = {"sla.P1": Decimal("100.00"), "sla.P2": Decimal("91.00"), "nps": None}
    kpi = engine.kpi_summary(
        inputs, targets, previous, {"sla.P2": "Vacancies on the desk."}, Decimal("5")
    )
    got = {m.key: (m.value, m.target, m.rag, m.previous, m.change, m.comment) for m in kpi.measures}
    assert got == {
        "sla.P1": (
            Decimal("95.00"),
            Decimal("95.00"),
            "green",
            Decimal("100.00"),
            Decimal("-5.00"),
            None,
        ),
        "sla.P2": (
            Decimal("90.40"),
            Decimal("95.00"),
            "amber",
            Decimal("91.00"),
            Decimal("-0.60"),
            "Vacancies on the desk.",
        ),
        "nps": (Decimal("12.5"), None, None, None, None, None),
        "security.severe": (Decimal(2), None, None, None, None, None),
    }
    first = engine.kpi_summary(inputs, targets, None, {}, Decimal("5"))
    assert all(m.previous is None and m.change is None for m in first.measures)
    sentences = engine.sentences(
        engine.PackPeriod(2024, 3), kpi, targets, inputs.sla_window, 80, None, [], [], []
    )
    text = {s.key: s.text for s in sentences}
    assert text["kpi.p1"] == (
        "20 P1 incidents resolved in April–June 2024; 19 (95%) met the target of 4 hours."
    )
    assert text["kpi.sla.P2"] == (
        "P2: 90.40% of 500 tickets met the target of 95% within 8 hours (amber), down 0.60 "
        "points since the previous pack."
    )
    assert text["kpi.nps"] == "NPS for April–June 2024 was 12.5 from 80 responses."
    assert text["kpi.security"] == (
        "2 severe security incidents (high or critical) were opened in April–June 2024."
    )


@pytest.mark.parametrize(
    ("pence", "text"),
    [
        (313_000_000, "£3.13M"),
        (1_462_000_000, "£14.62M"),
        (312_500_000, "£3.13M"),  # £3,125,000: half up
        (312_499_999, "£3.12M"),
        (51_208_600, "£512,086"),
        (50, "£1"),
        (49, "£0"),
        (-3_000_000, "-£30,000"),
        (100_000_000, "£1.00M"),
    ],
)
def test_money_in_sentences(pence, text):
    assert engine.money_sentence(pence) == text


def test_ytd_sentence_from_the_outturn():
    lines, printed = worked_outturn_frames()
    outturn, checks = engine.outturn(lines, printed, {}, financial_year=2024, period=3)
    kpi = engine.kpi_summary(engine.KpiInputs(0, 0, {}, None, 0, 0), {}, None, {}, Decimal("5"))
    text = {
        s.key: s.text
        for s in engine.sentences(
            engine.PackPeriod(2024, 3), kpi, {}, {}, 0, outturn, [], [], checks
        )
    }
    assert text["finance.ytd"] == "YTD spend £512,086 against a full-year budget of £1.79M."
    assert text["finance.forecast"] == "The forecast outturn is £1.90M, £107,500 over budget."
    assert text["checks.summary"] == "4 consistency checks need attention."
    assert text["kpi.nps"] == "No NPS ratings were received in April–June 2024."


@pytest.mark.parametrize(
    ("fy", "period", "label", "start", "end", "instant"),
    [
        (
            2024,
            3,
            "Q1 2024/25 (P1–P3, April–June 2024)",
            date(2024, 4, 1),
            date(2024, 6, 30),
            datetime(2024, 6, 30, 23, tzinfo=UTC),
        ),
        (
            2024,
            4,
            "P2–P4 2024/25 (May–July 2024)",
            date(2024, 5, 1),
            date(2024, 7, 31),
            datetime(2024, 7, 31, 23, tzinfo=UTC),
        ),
        (
            2024,
            1,
            "P11 2023/24–P1 2024/25 (February–April 2024)",
            date(2024, 2, 1),
            date(2024, 4, 30),
            datetime(2024, 4, 30, 23, tzinfo=UTC),
        ),
        (
            2024,
            10,
            "P8–P10 2024/25 (November 2024–January 2025)",
            date(2024, 11, 1),
            date(2025, 1, 31),
            datetime(2025, 2, 1, 0, tzinfo=UTC),
        ),
        (
            2024,
            12,
            "Q4 2024/25 (P10–P12, January–March 2025)",
            date(2025, 1, 1),
            date(2025, 3, 31),
            datetime(2025, 3, 31, 23, tzinfo=UTC),
        ),
    ],
)
def test_periods(fy, period, label, start, end, instant):
    p = engine.PackPeriod(fy, period)
    assert (p.label, p.period_start, p.period_end, p.end_instant) == (label, start, end, instant)
    assert len(p.history_months) == 13 and p.history_months[-1] == p.month


def test_seconds_to_issue_from_midnight_london_after_the_period():
    p = engine.PackPeriod(2024, 3)
    assert engine.seconds_to_issue(p, datetime(2024, 7, 12, 15, 30, tzinfo=UTC)) == (
        11 * 86_400 + 16 * 3600 + 30 * 60
    )


def test_changes_name_each_figure_that_moved():
    before = {
        "header": {"version": 1, "generated_at": "a", "period": 3},
        "kpi": {"measures": [{"key": "sla.P1", "value": 90.0}, {"key": "nps", "value": 5.0}]},
        "outturn": {
            "groups": [
                {
                    "key": "staffing",
                    "actuals_pence": 100,
                    "lines": [{"line": "SALARIES", "actuals_pence": 100}],
                }
            ]
        },
        "nps": [
            {"month": "2024-06-01", "organisation": None, "nps": 5.0},
            {"month": "2024-06-01", "organisation": {"id": 1, "name": "Brent"}, "nps": 1.0},
        ],
        "checks": [{"kind": "late_data"}],
    }
    after = {
        "header": {"version": 2, "generated_at": "b", "period": 3},
        "kpi": {"measures": [{"key": "sla.P1", "value": 92.5}, {"key": "nps", "value": 5.0}]},
        "outturn": {
            "groups": [
                {
                    "key": "staffing",
                    "actuals_pence": 250,
                    "lines": [
                        {"line": "SALARIES", "actuals_pence": 100},
                        {"line": "AGENCY", "actuals_pence": 150},
                    ],
                }
            ]
        },
        "nps": [
            {"month": "2024-06-01", "organisation": None, "nps": 5.0},
            {"month": "2024-06-01", "organisation": {"id": 1, "name": "Brent"}, "nps": 2.0},
        ],
        "checks": [],
    }
    assert engine.changes(before, after) == [
        {"path": "kpi.measures[sla.P1].value", "before": 90.0, "after": 92.5},
        {"path": "nps[2024-06-01|Brent].nps", "before": 1.0, "after": 2.0},
        {"path": "outturn.groups[staffing].actuals_pence", "before": 100, "after": 250},
        {
            "path": "outturn.groups[staffing].lines[AGENCY].actuals_pence",
            "before": None,
            "after": 150,
        },
        {"path": "outturn.groups[staffing].lines[AGENCY].line", "before": None, "after": "AGENCY"},
    ]
    assert engine.changes(before, before) == []


def test_data_version_is_the_sha256_of_the_sources_in_order():
    a = pl.DataFrame({"x": [1, 2], "y": [[1, 2], None]})
    v1 = engine.data_version({"frame": a, "text": "t"})
    assert v1 == engine.data_version({"text": "t", "frame": a.clone()})
    assert len(v1) == 64 and int(v1, 16) >= 0
    assert v1 != engine.data_version({"frame": a.with_columns(x=pl.Series([1, 3])), "text": "t"})
    assert v1 != engine.data_version({"frame": a, "text": "u"})
