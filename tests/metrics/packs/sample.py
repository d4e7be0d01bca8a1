"""A realistic committee pack, built by hand for render tests (and for helper tests that
need a finished ``Pack``): the DOMAIN.md worked outturn with its four checks, 13 months of
P1, a quarter of P2–P4, NPS for three partner councils, five security incidents, a cost
table, eight risks, commentary and the charts. Totals are computed here from the rows so
the sample is internally consistent (figures code is tested elsewhere)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import ROUND_HALF_UP, Decimal

from services.metrics.packs.schemas import (
    Chart,
    ChartSeries,
    Check,
    Commentary,
    CostRow,
    CostTable,
    KpiMeasure,
    KpiSummary,
    LoggedMonth,
    Money,
    NpsRow,
    Organisation,
    Outturn,
    OutturnGroup,
    OutturnLine,
    Pack,
    PackHeader,
    Rag,
    Risk,
    RiskSection,
    SecurityIncident,
    Sentence,
    SlaMonth,
    SlaPriorityTable,
    SlaSubtotal,
)

SERVICE = Organisation(id=1, name="Shared ICT Service")
BRENT = Organisation(id=2, name="Brent")
LEWISHAM = Organisation(id=3, name="Lewisham")
SOUTHWARK = Organisation(id=4, name="Southwark")
PARTNERS = [BRENT, LEWISHAM, SOUTHWARK]
POUND = 100  # pence


def pct(part: int, whole: int, places: str = "0.01") -> Decimal | None:
    """100 × part / whole, half up (None when whole is 0)."""
    if whole == 0:
        return None
    return (Decimal(100 * part) / Decimal(whole)).quantize(Decimal(places), ROUND_HALF_UP)


def month_label(month: date) -> str:
    return f"{month:%b %Y}"


def _months(first: date, count: int) -> list[date]:
    out = []
    year, month = first.year, first.month
    for _ in range(count):
        out.append(date(year, month, 1))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    return out


# (met, missed) per month. P1: June 2023 … June 2024 (13 months ending at the period end).
P1_COUNTS = [
    (14, 1),
    (11, 0),
    (9, 2),
    (12, 1),
    (15, 0),
    (10, 1),
    (8, 0),
    (13, 2),
    (11, 1),
    (9, 0),
    (4, 1),
    (3, 0),
    (4, 0),
]
OTHER_COUNTS = {
    "P2": [(212, 9), (198, 14), (230, 8)],
    "P3": [(1585, 1117), (1490, 402), (1622, 388)],
    "P4": [(2410, 380), (2288, 301), (2502, 297)],
}
TARGETS = {
    "P1": (Decimal(95), "95% within 4 hours"),
    "P2": (Decimal(95), "95% within 8 hours"),
    "P3": (Decimal(80), "80% within 2 working days"),
    "P4": (Decimal(80), "80% within the request type's target"),
}
PREVIOUS = {
    "P1": Decimal("91.67"),
    "P2": Decimal("94.10"),
    "P3": Decimal("71.20"),
    "P4": Decimal("87.95"),
}
AMBER_MARGIN = Decimal(5)


def _sla_table(priority: str, first: date, counts: list[tuple[int, int]]) -> SlaPriorityTable:
    months = [
        SlaMonth(
            month=m,
            met=met,
            missed=missed,
            total=met + missed,
            met_pct=pct(met, met + missed),
            missed_pct=pct(missed, met + missed),
        )
        for m, (met, missed) in zip(_months(first, len(counts)), counts, strict=True)
    ]
    subtotals: list[SlaSubtotal] = []
    for year in sorted({m.month.year for m in months}):
        met = sum(m.met for m in months if m.month.year == year)
        missed = sum(m.missed for m in months if m.month.year == year)
        subtotals.append(_subtotal(str(year), met, missed))
    met = sum(m.met for m in months)
    missed = sum(m.missed for m in months)
    subtotals.append(_subtotal("Total", met, missed))
    target, label = TARGETS[priority]
    logged = [LoggedMonth(month=m.month, logged=m.total + (m.total // 10)) for m in months]
    return SlaPriorityTable(
        priority=priority,
        target_label=label,
        target_pct=target,
        months=months,
        subtotals=subtotals,
        logged=logged,
        average_closure_hours={
            "P1": Decimal("3.42"),
            "P2": Decimal("6.15"),
            "P3": Decimal("14.80"),
            "P4": Decimal("22.05"),
        }[priority],
        average_closure_unit="business hours",
        on_hold={"P1": 0, "P2": 3, "P3": 41, "P4": 77}[priority],
        reopened={"P1": 1, "P2": 6, "P3": 52, "P4": 40}[priority],
        open={"P1": 1, "P2": 12, "P3": 230, "P4": 318}[priority],
        open_breached={"P1": 0, "P2": 4, "P3": 61, "P4": 45}[priority],
        open_within={"P1": 1, "P2": 8, "P3": 169, "P4": 273}[priority],
    )


def _subtotal(label: str, met: int, missed: int) -> SlaSubtotal:
    total = met + missed
    return SlaSubtotal(
        label=label,
        met=met,
        missed=missed,
        total=total,
        met_pct=pct(met, total),
        missed_pct=pct(missed, total),
    )


def _rag(value: Decimal | None, target: Decimal) -> Rag | None:
    if value is None:
        return None
    if value >= target:
        return "green"
    return "amber" if value >= target - AMBER_MARGIN else "red"


def _quarter(table: SlaPriorityTable) -> tuple[int, int]:
    last3 = table.months[-3:]
    return sum(m.met for m in last3), sum(m.total for m in last3)


# ---------------------------------------------------------------- finance (DOMAIN.md)

# (group, category, line, budget, forecast, printed variance, actuals, printed remaining)
OUTTURN_ROWS = [
    (
        "expenditure",
        "Supplies and services",
        "SOFTWARE LICENCES",
        410_000,
        425_500,
        15_500,
        118_204,
        291_796,
    ),
    (
        "expenditure",
        "Supplies and services",
        "NETWORK AND INTERNET",
        180_250,
        180_250,
        0,
        47_310,
        132_940,
    ),
    ("expenditure", "Supplies and services", "TELEPHONY", 96_000, 92_000, -4_000, 21_880, 74_120),
    ("expenditure", "Income", "INCOME FROM PARTNERS", -120_000, -120_000, 0, -30_000, -90_000),
    ("staffing", "Employees", "SALARIES", 1_200_000, 1_236_000, 36_000, 301_422, 898_578),
    ("staffing", "Employees", "AGENCY STAFF", 0, 60_000, 60_000, 48_900, -48_900),
    ("staffing", "Employees", "STATUTORY SICK PAY", 8_000, 8_000, 0, 250, 8_250),
    ("staffing", "Employees", "TRAINING", 20_000, 20_000, 0, 4_120, 15_880),
]
GROUP_LABELS = {"expenditure": "Expenditure", "staffing": "Staffing"}


def _money(budget: int, forecast: int, actuals: int) -> dict[str, int]:
    return {
        "budget_pence": budget,
        "forecast_pence": forecast,
        "variance_pence": forecast - budget,
        "actuals_pence": actuals,
        "remaining_pence": budget - actuals,
    }


def _outturn() -> Outturn:
    groups: list[OutturnGroup] = []
    for key, label in GROUP_LABELS.items():
        lines = [
            OutturnLine(
                position=i,
                category=category,
                line=line,
                printed_variance_pence=variance * POUND,
                printed_remaining_pence=remaining * POUND,
                period_actuals_pence=None,
                **_money(budget * POUND, forecast * POUND, actuals * POUND),
            )
            for i, (
                group,
                category,
                line,
                budget,
                forecast,
                variance,
                actuals,
                remaining,
            ) in enumerate(OUTTURN_ROWS, start=1)
            if group == key
        ]
        groups.append(
            OutturnGroup(
                key=key,
                label=label,
                lines=lines,
                **_money(
                    sum(x.budget_pence for x in lines),
                    sum(x.forecast_pence for x in lines),
                    sum(x.actuals_pence for x in lines),
                ),
            )
        )
    total = Money(
        **_money(
            sum(g.budget_pence for g in groups),
            sum(g.forecast_pence for g in groups),
            sum(g.actuals_pence for g in groups),
        )
    )
    recharge = OutturnLine(
        position=9,
        category="Recharges",
        line="RECHARGE OF HOUSING SYSTEM HOSTING",
        printed_variance_pence=None,
        printed_remaining_pence=None,
        period_actuals_pence=None,
        **_money(45_000 * POUND, 45_000 * POUND, 11_250 * POUND),
    )
    # P1…P3 actuals of all lines; they add up to the year-to-date actuals.
    by_period = [165_000_00, 170_500_00]
    by_period.append(total.actuals_pence - sum(by_period))
    return Outturn(
        financial_year=2024,
        period=3,
        groups=groups,
        total=total,
        actuals_by_period_pence=by_period,
        recharges=[recharge],
    )


FINANCE_CHECKS = [
    Check(
        kind="line_remaining",
        section="finance",
        row="staffing / STATUTORY SICK PAY",
        column="remaining",
        printed="825000",
        computed="775000",
        difference="50000",
        unit="pence",
        tolerance=None,
        message="Remaining printed as £8,250 but budget − actuals is £7,750 (Δ £500).",
    ),
    Check(
        kind="group_total",
        section="finance",
        row="staffing / printed total",
        column="forecast",
        printed="132404000",
        computed="132400000",
        difference="4000",
        unit="pence",
        tolerance="200",
        message="Staffing forecast total printed as £1,324,040; its rows add up to £1,324,000.",
    ),
    Check(
        kind="group_total",
        section="finance",
        row="staffing / printed total",
        column="variance",
        printed="9604000",
        computed="9600000",
        difference="4000",
        unit="pence",
        tolerance="200",
        message="Staffing variance total printed as £96,040; its rows add up to £96,000.",
    ),
    Check(
        kind="group_total",
        section="finance",
        row="staffing / printed total",
        column="actuals",
        printed="35419200",
        computed="35469200",
        difference="-50000",
        unit="pence",
        tolerance="200",
        message="Staffing actuals total printed as £354,192; its rows add up to £354,692.",
    ),
]

# ---------------------------------------------------------------- costs, risks, incidents

COST_COLUMNS = ["P1", "P2", "P3"]
# (organisation, category, pounds per column)
COST_ROWS = [
    (BRENT, "Courier", [1_250, 980, 1_105]),
    (BRENT, "Equipment", [14_300, 6_210, 2_480]),
    (BRENT, "Mobile telephony", [3_020, 3_020, 3_150]),
    (LEWISHAM, "Courier", [870, 655, 720]),
    (LEWISHAM, "Equipment", [9_840, 4_115, 1_960]),
    (LEWISHAM, "Mobile telephony", [2_210, 2_210, 2_335]),
    (SOUTHWARK, "Courier", [1_030, 815, 940]),
    (SOUTHWARK, "Equipment", [11_675, 5_390, 2_045]),
    (SOUTHWARK, "Mobile telephony", [2_640, 2_640, 2_700]),
]


def _cost_table() -> CostTable:
    rows = [
        CostRow(
            organisation=org,
            category=category,
            amounts_pence=[a * POUND for a in amounts],
            total_pence=sum(amounts) * POUND,
        )
        for org, category, amounts in COST_ROWS
    ]
    org_totals = []
    for org in PARTNERS:
        mine = [r for r in rows if r.organisation == org]
        columns = [sum(r.amounts_pence[c] for r in mine) for c in range(len(COST_COLUMNS))]
        org_totals.append(
            CostRow(
                organisation=org, category="Total", amounts_pence=columns, total_pence=sum(columns)
            )
        )
    column_totals = [sum(r.amounts_pence[c] for r in rows) for c in range(len(COST_COLUMNS))]
    return CostTable(
        title="Covid-19 costs by council",
        columns=COST_COLUMNS,
        rows=rows,
        organisation_totals=org_totals,
        column_totals_pence=column_totals,
        grand_total_pence=sum(column_totals),
    )


def _band(priority: int) -> str:
    if priority <= 4:
        return "low"
    if priority <= 9:
        return "medium"
    return "high" if priority <= 16 else "very high"


# (ref, section, title, cause, event, consequence, impact, probability, previous, owner)
RISK_ROWS = [
    (
        "F1",
        "financial",
        "Partner funding shortfall",
        "Savings targets at each council",
        "Partner contributions reduced mid-year",
        "Service cuts or an overspend",
        4,
        3,
        12,
        "Head of Finance",
    ),
    (
        "F2",
        "financial",
        "Licence price rises",
        "Vendor moving to per-user subscriptions",
        "Renewal costs rise above inflation",
        "Budget pressure in software licences",
        3,
        4,
        9,
        "Commercial Lead",
    ),
    (
        "R1",
        "resourcing",
        "Loss of key engineers",
        "Market rates above council pay scales",
        "Senior network engineers leave",
        "Slower fixes and more agency spend",
        4,
        4,
        16,
        "Head of Service",
    ),
    (
        "R2",
        "resourcing",
        "Agency dependence",
        "Vacancies covered by agency staff",
        "Agency costs continue past the year end",
        "Staffing overspend",
        3,
        3,
        6,
        "Head of Service",
    ),
    (
        "L1",
        "loss of service",
        "Data centre power failure",
        "Single power feed to the primary site",
        "Extended power outage",
        "All three councils lose core systems",
        5,
        2,
        10,
        "Infrastructure Manager",
    ),
    (
        "L2",
        "loss of service",
        "Ransomware attack",
        "Phishing and unpatched edge devices",
        "Encryption of file servers",
        "Weeks of disruption and data loss",
        5,
        4,
        20,
        "Security Manager",
    ),
    (
        "S1",
        "supportability",
        "Unsupported operating systems",
        "Legacy line-of-business systems",
        "Servers past vendor support",
        "Unpatchable vulnerabilities",
        3,
        3,
        12,
        "Infrastructure Manager",
    ),
    (
        "S2",
        "supportability",
        "Single-supplier telephony platform",
        "Contract ends in 2026",
        "Supplier withdraws the product",
        "Forced migration at short notice",
        2,
        2,
        None,
        "Commercial Lead",
    ),
]
SECTION_LABELS = {
    "financial": "Financial",
    "resourcing": "Resourcing",
    "loss of service": "Loss of service",
    "supportability": "Supportability",
}


def _risks() -> list[RiskSection]:
    sections = []
    for key, label in SECTION_LABELS.items():
        risks = []
        for (
            ref,
            section,
            title,
            cause,
            event,
            consequence,
            impact,
            prob,
            previous,
            owner,
        ) in RISK_ROWS:
            if section != key:
                continue
            priority = impact * prob
            trend = (
                "new"
                if previous is None
                else "up"
                if priority > previous
                else "down"
                if priority < previous
                else "same"
            )
            risks.append(
                Risk(
                    reference=ref,
                    section=label,
                    title=title,
                    cause=cause,
                    event=event,
                    consequence=consequence,
                    developments=f"Reviewed at the June board; {title.lower()} monitored monthly.",
                    impact=impact,
                    probability=prob,
                    priority=priority,
                    band=_band(priority),  # type: ignore[arg-type]
                    imported_priority=priority if ref != "S2" else None,
                    actions="Mitigation plan agreed; next review in September.",
                    owner=owner,
                    previous_priority=previous,
                    trend=trend,  # type: ignore[arg-type]
                )
            )
        sections.append(RiskSection(key=key, label=label, risks=risks))
    return sections


INCIDENTS = [
    SecurityIncident(
        reference="SEC-2024-014",
        title="Phishing campaign against finance staff",
        opened_on=date(2024, 4, 9),
        closed_on=date(2024, 4, 11),
        severity="medium",
        os="Windows 11",
        assets_affected="3 mailboxes",
        status="Closed",
    ),
    SecurityIncident(
        reference="SEC-2024-017",
        title="Unpatched VPN appliance exploited",
        opened_on=date(2024, 4, 23),
        closed_on=date(2024, 5, 2),
        severity="high",
        os="FortiOS 7.0",
        assets_affected="1 VPN gateway",
        status="Closed",
    ),
    SecurityIncident(
        reference="SEC-2024-021",
        title="Malware on a library public PC",
        opened_on=date(2024, 5, 14),
        closed_on=date(2024, 5, 14),
        severity="low",
        os="Windows 10",
        assets_affected="1 workstation",
        status="Closed",
    ),
    SecurityIncident(
        reference="SEC-2024-026",
        title="Credential stuffing on the staff portal",
        opened_on=date(2024, 6, 3),
        closed_on=None,
        severity="critical",
        os=None,
        assets_affected="Staff portal (212 accounts locked)",
        status="Under investigation",
    ),
    SecurityIncident(
        reference="SEC-2024-029",
        title="Lost laptop (encrypted)",
        opened_on=date(2024, 6, 19),
        closed_on=date(2024, 6, 20),
        severity="low",
        os="Windows 11",
        assets_affected="1 laptop",
        status="Closed",
    ),
]

# ---------------------------------------------------------------- NPS

# (promoters, passives, detractors) per organisation per month (April, May, June 2024)
NPS_COUNTS = {
    BRENT.id: [(48, 20, 12), (51, 18, 15), (55, 22, 9)],
    LEWISHAM.id: [(30, 15, 18), (33, 14, 16), (29, 17, 20)],
    SOUTHWARK.id: [(40, 25, 10), (38, 22, 14), (44, 20, 11)],
}
QUARTER = _months(date(2024, 4, 1), 3)


def _nps_row(month: date, org: Organisation | None, p: int, pa: int, d: int) -> NpsRow:
    n = p + pa + d
    score = None
    if n:
        score = (Decimal(100 * (p - d)) / Decimal(n)).quantize(Decimal("0.1"), ROUND_HALF_UP)
    return NpsRow(
        month=month,
        organisation=org,
        promoters=p,
        passives=pa,
        detractors=d,
        responses=n,
        nps=score,
    )


def _nps() -> list[NpsRow]:
    rows = []
    for i, month in enumerate(QUARTER):
        counts = [NPS_COUNTS[o.id][i] for o in PARTNERS]
        rows.append(_nps_row(month, None, *(sum(c[k] for c in counts) for k in range(3))))
        for org in PARTNERS:
            rows.append(_nps_row(month, org, *NPS_COUNTS[org.id][i]))
    return rows


# ---------------------------------------------------------------- the pack


def sample_pack() -> Pack:
    """The sample pack: FY 2024/25 to P3 (Q1), status in review."""
    sla = [_sla_table("P1", date(2023, 6, 1), P1_COUNTS)] + [
        _sla_table(p, date(2024, 4, 1), counts) for p, counts in OTHER_COUNTS.items()
    ]
    measures = []
    for table in sla:
        met, total = _quarter(table)
        value = pct(met, total)
        previous = PREVIOUS[table.priority]
        rag = _rag(value, table.target_pct)
        measures.append(
            KpiMeasure(
                key=f"sla.{table.priority}",
                label=f"{table.priority} resolved {table.target_label.split(' ', 1)[1]}",
                value=value,
                unit="%",
                target=table.target_pct,
                rag=rag,
                previous=previous,
                change=None if value is None else value - previous,
                comment=(
                    "P3 backlog from the April telephony migration; two agency analysts "
                    "added until September."
                    if rag == "red"
                    else None
                ),
            )
        )
    p1_met, p1_total = _quarter(sla[0])
    nps = _nps()
    quarter_nps_counts = [
        sum(r.promoters for r in nps if r.organisation is None),
        sum(r.passives for r in nps if r.organisation is None),
        sum(r.detractors for r in nps if r.organisation is None),
    ]
    overall = _nps_row(QUARTER[0], None, *quarter_nps_counts).nps
    measures.append(
        KpiMeasure(
            key="nps",
            label="Net Promoter Score (all partners, quarter)",
            value=overall,
            unit="score",
            target=None,
            rag=None,
            previous=Decimal("24.1"),
            change=None if overall is None else overall - Decimal("24.1"),
            comment=None,
        )
    )
    severe = sum(1 for i in INCIDENTS if i.severity in ("high", "critical"))
    outturn = _outturn()
    costs = _cost_table()
    risks = _risks()
    kpi = KpiSummary(
        p1_incidents=p1_total,
        p1_met=p1_met,
        measures=measures,
        nps=overall,
        severe_security_incidents=severe,
        amber_margin_points=AMBER_MARGIN,
    )
    return Pack(
        header=PackHeader(
            service=SERVICE,
            partners=PARTNERS,
            financial_year=2024,
            financial_year_label="2024/25",
            period=3,
            period_label="Q1 2024/25 (P1–P3, April–June 2024)",
            period_start=date(2024, 4, 1),
            period_end=date(2024, 6, 30),
            status="in_review",
            version=None,
            data_version="3f1c9a0e5b7d2c4a6e8f0b1d3c5e7a9b2d4f6a8c0e1b3d5f7a9c2e4b6d8f0a1c",
            data_as_of=datetime(2024, 7, 8, 16, 42, tzinfo=UTC),
            generated_at=datetime(2024, 7, 10, 9, 30, tzinfo=UTC),
        ),
        sentences=_sentences(kpi, outturn, costs, risks),
        kpi=kpi,
        sla=sla,
        nps=nps,
        security_incidents=INCIDENTS,
        outturn=outturn,
        cost_tables=[costs],
        risks=risks,
        commentary=[
            Commentary(
                section="kpi",
                measure="sla.P3",
                body="P3 performance fell after the April telephony migration moved "
                "calls to the new platform; two agency analysts are working the "
                "backlog until September.",
                author="Head of Service",
            ),
            Commentary(
                section="finance",
                measure="finance.staffing",
                body="Agency staff cover two vacant engineer posts; the staffing "
                "forecast includes them to the year end.",
                author="Head of Finance",
            ),
            Commentary(
                section="security",
                measure="security.severe",
                body="The VPN appliance was patched within 24 hours of the vendor "
                "advisory; the credential stuffing attack is with the police.",
                author="Security Manager",
            ),
        ],
        checks=FINANCE_CHECKS,
        charts=_charts(sla, nps, outturn),
    )


def _sentences(
    kpi: KpiSummary, outturn: Outturn, costs: CostTable, risks: list[RiskSection]
) -> list[Sentence]:
    from services.metrics.charts.format import money

    high = [r for s in risks for r in s.risks if r.band in ("high", "very high")]
    return [
        Sentence(
            key="kpi.p1",
            text=f"{kpi.p1_met} of {kpi.p1_incidents} P1 incidents in the "
            "quarter were resolved within 4 hours.",
        ),
        Sentence(
            key="kpi.security",
            text=f"{kpi.severe_security_incidents} severe security "
            "incidents were opened in the quarter.",
        ),
        Sentence(
            key="finance.ytd",
            text=f"YTD spend {money(outturn.total.actuals_pence)} "
            f"against a full-year budget of {money(outturn.total.budget_pence)}.",
        ),
        Sentence(
            key="finance.forecast",
            text="The year-end forecast is "
            f"{money(outturn.total.forecast_pence)}, a variance of "
            f"{money(outturn.total.variance_pence)}.",
        ),
        Sentence(
            key="costs.total",
            text=f"Covid-19 costs to P3 total "
            f"{money(costs.grand_total_pence)} across the three councils.",
        ),
        Sentence(key="risks.high", text=f"{len(high)} risks are rated high or very high."),
    ]


def _charts(sla: list[SlaPriorityTable], nps: list[NpsRow], outturn: Outturn) -> list[Chart]:
    charts = []
    for table in sla:
        months = [month_label(m.month) for m in table.months]
        charts.append(
            Chart(
                key=f"sla.{table.priority}",
                kind="stacked_bar",
                title=f"{table.priority}: share resolved within target, by month",
                description=(
                    f"Stacked bars of the share of {table.priority} tickets that met and missed "
                    f"the SLA each month from {months[0]} to {months[-1]}, against a target "
                    f"of {table.target_pct}% met. Figures are in the table below."
                ),
                categories=months,
                series=[
                    ChartSeries(name="Met", values=[m.met_pct for m in table.months]),
                    ChartSeries(name="Missed", values=[m.missed_pct for m in table.months]),
                ],
                unit="%",
                target=table.target_pct,
            )
        )
    charts.append(
        Chart(
            key="nps",
            kind="line",
            title="Net Promoter Score by month and council",
            description=(
                "Lines of the Net Promoter Score each month from April to June 2024 for "
                "Brent, Lewisham and Southwark. Figures are in the table below."
            ),
            categories=[month_label(m) for m in QUARTER],
            series=[
                ChartSeries(
                    name=org.name,
                    values=[r.nps for r in nps if r.organisation == org],
                )
                for org in PARTNERS
            ],
            unit="score",
            target=None,
        )
    )
    charts.append(
        Chart(
            key="outturn",
            kind="bar",
            title="Outturn by group: budget, forecast and actuals to date",
            description=(
                "Grouped bars of the full-year budget, the forecast and the actuals to P3 for "
                "each budget group and the total service charge. Figures are in the table below."
            ),
            categories=[g.label for g in outturn.groups] + ["Total service charge"],
            series=[
                ChartSeries(
                    name="Budget",
                    values=[Decimal(g.budget_pence) for g in [*outturn.groups, outturn.total]],
                ),
                ChartSeries(
                    name="Forecast",
                    values=[Decimal(g.forecast_pence) for g in [*outturn.groups, outturn.total]],
                ),
                ChartSeries(
                    name="Actuals",
                    values=[Decimal(g.actuals_pence) for g in [*outturn.groups, outturn.total]],
                ),
            ],
            unit="pence",
            target=None,
        )
    )
    return charts
