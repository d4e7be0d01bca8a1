"""The committee pack's figures and consistency checks: frames in, pack parts out.

No database, no HTTP. The rules are DOMAIN.md's "Committee performance pack":

Periods
    ``financial_year`` is the year it starts (2024 = 2024/25); P1 = April … P12 = March.
    The reporting window is the three months ending with the period's month; the P0/P1
    SLA history the thirteen months ending there; the period ends at midnight
    Europe/London after the last day of its month.
Finance (integer pence throughout)
    variance = forecast − budget and remaining = budget − actuals, per line; group totals
    and the grand total ("total service charge") are sums of the lines. Recharges are
    excluded from actuals: they are listed apart and take no part in any total.
Checks (each names the row, the printed value, the computed value and the difference,
printed − computed)
    * a line's printed variance or remaining that differs from its own budget, forecast
      and actuals, to the penny;
    * a printed group, grand or cost-table total that differs from the sum of its rows'
      printed values (a row printing no variance or remaining counts with its computed
      one) by more than half a pound per row summed (printed figures are whole pounds);
    * an imported risk priority that is not impact × probability;
    * data of the period that changed after the issued pack's figures were taken (see
      ``late_data``).
    The pack shows computed figures and lists the checks; it never replaces a source value.
Risks
    priority = impact × probability; its band by the thresholds in :class:`RiskBands`;
    the trend compares the priority with the risk's previous assessment (chosen by the
    caller: at the previous issued pack's period, else the latest earlier one): up
    (worse), down, same, or new when there is none.
KPIs
    RAG: green at or above the target, amber within the margin below it, red below that.
    The change is against the same measure in the previous issued pack.
SLA tables
    From the SLA outcomes (services.metrics.sla.engine): per month of resolution met,
    missed, total, % met and % missed, year subtotals and the grand total; tickets logged
    per month; the mean closure time on the SLA clock; tickets reopened (resolved in the
    window with a reopen); on hold, open, open breached and open within target at the
    period end (from tickets evaluated as of that instant).
NPS
    :func:`services.metrics.figures.nps`, by month, and by month and organisation.

Every percentage is rounded once, half up (``services.metrics.figures``). Every sentence of
numbers is generated here from the same figures; money in sentences is written by
:func:`money_sentence` alone.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl

from services.metrics import figures
from services.metrics.packs.schemas import (
    Chart,
    ChartSeries,
    Check,
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
    Rag,
    Risk,
    RiskSection,
    Sentence,
    SlaMonth,
    SlaPriorityTable,
    SlaSubtotal,
)
from services.metrics.sla import engine as sla
from services.metrics.sla.calendar import LONDON
from shared.categories import category_rank
from shared.serialization import utc_iso

MONTH_NAMES = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)

# --------------------------------------------------------------------------- periods


def add_months(first: date, n: int) -> date:
    """The first day of the month ``n`` months after ``first``'s month."""
    index = first.year * 12 + first.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def period_month(financial_year: int, period: int) -> date:
    """First day of period ``period``'s month (P1 = April of ``financial_year``)."""
    return add_months(date(financial_year, 4, 1), period - 1)


def fy_label(financial_year: int) -> str:
    return f"{financial_year}/{(financial_year + 1) % 100:02d}"


def month_label(month: date) -> str:
    """``Jun 2024``: the short label of a month (tables' and charts' categories)."""
    return f"{MONTH_NAMES[month.month - 1][:3]} {month.year}"


def _months_text(first: date, last: date) -> str:
    a, b = MONTH_NAMES[first.month - 1], MONTH_NAMES[last.month - 1]
    if first == last:
        return f"{a} {first.year}"
    if first.year == last.year:
        return f"{a}–{b} {first.year}"
    return f"{a} {first.year}–{b} {last.year}"


def london_midnight(day: date) -> datetime:
    """The instant a day starts in Europe/London, in UTC."""
    return datetime.combine(day, time(0), ZoneInfo(LONDON)).astimezone(UTC)


@dataclass(frozen=True)
class PackPeriod:
    financial_year: int
    period: int

    @property
    def month(self) -> date:
        return period_month(self.financial_year, self.period)

    @property
    def period_start(self) -> date:
        """First day of the three-month reporting window."""
        return add_months(self.month, -2)

    @property
    def period_end(self) -> date:
        return add_months(self.month, 1) - timedelta(days=1)

    @property
    def history_start(self) -> date:
        """First day of the thirteen months of P0/P1 history."""
        return add_months(self.month, -12)

    @property
    def end_instant(self) -> datetime:
        """Midnight Europe/London after the period's last day, in UTC."""
        return london_midnight(self.period_end + timedelta(days=1))

    @property
    def months(self) -> list[date]:
        return [add_months(self.period_start, i) for i in range(3)]

    @property
    def history_months(self) -> list[date]:
        return [add_months(self.history_start, i) for i in range(13)]

    @property
    def fy_label(self) -> str:
        return fy_label(self.financial_year)

    @property
    def months_text(self) -> str:
        """``April–June 2024``: the reporting window in words."""
        return _months_text(self.period_start, self.month)

    @property
    def label(self) -> str:
        """``Q1 2024/25 (P1–P3, April–June 2024)``; a window that is not a quarter of the
        year is named by its periods (``P2–P4 2024/25 (May–July 2024)``)."""
        p, fy = self.period, self.financial_year
        if p % 3 == 0:
            return f"Q{p // 3} {self.fy_label} (P{p - 2}–P{p}, {self.months_text})"
        if p >= 3:
            return f"P{p - 2}–P{p} {self.fy_label} ({self.months_text})"
        first = p - 2 + 12
        return f"P{first} {fy_label(fy - 1)}–P{p} {self.fy_label} ({self.months_text})"


def seconds_to_issue(period: PackPeriod, issued_at: datetime) -> int:
    """Whole seconds from the end of the period to the issue (negative if issued early)."""
    return int((issued_at - period.end_instant).total_seconds())


# ----------------------------------------------------------------------------- text


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n:,} {one if n == 1 else (many or one + 's')}"


def money_sentence(pence: int) -> str:
    """Money as a sentence writes it: ``£3.13M`` from a million pounds up (2 dp), else
    whole pounds ``£512,086``; half up; a negative amount ``-£30,000``. The one function
    every sentence of the pack uses for money."""
    sign = "-" if pence < 0 else ""
    magnitude = abs(pence)
    if magnitude >= 100_000_000:
        millions = figures.half_up_decimal(Decimal(magnitude) / 100_000_000, 2)
        return f"{sign}£{millions:,.2f}M"
    pounds = figures.half_up_decimal(Decimal(magnitude) / 100, 0)
    return f"{sign}£{pounds:,.0f}"


def money_exact(pence: int) -> str:
    """Money to the penny for a check's message: ``£8,250``, ``£0.40``, ``-£500``."""
    sign = "-" if pence < 0 else ""
    pounds, rest = divmod(abs(pence), 100)
    return f"{sign}£{pounds:,}" + (f".{rest:02d}" if rest else "")


def pct_text(value: Decimal) -> str:
    """``95.62%``; a whole number without decimals (``95%``)."""
    if value == value.to_integral_value():
        return f"{int(value)}%"
    return f"{value}%"


def _number_text(value: Decimal) -> str:
    return str(int(value)) if value == value.to_integral_value() else str(value)


# ----------------------------------------------------------------------------- finance

TOLERANCE_PENCE_PER_ROW = 50
MONEY_COLUMNS = ("budget", "forecast", "variance", "actuals", "remaining")
STANDARD_GROUP_LABELS = {
    "expenditure": "Expenditure",
    "staffing": "Staffing",
    "contingency": "Contingency",
}
GRAND_TOTAL_ROW = "total service charge"

FINANCE_LINE_SCHEMA: dict[str, pl.DataType] = {
    "position": pl.Int64(),
    "group_key": pl.Utf8(),
    "category": pl.Utf8(),
    "line": pl.Utf8(),
    "budget_pence": pl.Int64(),
    "forecast_pence": pl.Int64(),
    "actuals_pence": pl.Int64(),
    "printed_variance_pence": pl.Int64(),
    "printed_remaining_pence": pl.Int64(),
    "is_recharge": pl.Boolean(),
    "period_actuals_pence": pl.List(pl.Int64()),
}
PRINTED_TOTAL_SCHEMA: dict[str, pl.DataType] = {
    "group_key": pl.Utf8(),
    **{f"{c}_pence": pl.Int64() for c in MONEY_COLUMNS},
}

# Each column's "printed" value on a line: what the source printed, or for variance and
# remaining when it printed none, the computed value (what it would have printed).
_SHOWN = {
    "budget": pl.col("budget_pence"),
    "forecast": pl.col("forecast_pence"),
    "variance": pl.coalesce("printed_variance_pence", "variance_pence"),
    "actuals": pl.col("actuals_pence"),
    "remaining": pl.coalesce("printed_remaining_pence", "remaining_pence"),
}


def group_label(key: str, labels: Mapping[str, str]) -> str:
    return labels.get(key) or STANDARD_GROUP_LABELS.get(key) or key.replace("_", " ").title()


def _money(row: Mapping[str, Any]) -> dict[str, int]:
    return {f"{c}_pence": int(row[f"{c}_pence"]) for c in MONEY_COLUMNS}


def _total_check(
    kind: str,
    section: str,
    row: str,
    column: str,
    printed: int,
    rows_sum: int,
    rows: int,
    what: str,
) -> Check | None:
    tolerance = TOLERANCE_PENCE_PER_ROW * rows
    difference = printed - rows_sum
    if abs(difference) <= tolerance:
        return None
    return Check(
        kind=kind,
        section=section,
        row=row,
        column=column,
        printed=str(printed),
        computed=str(rows_sum),
        difference=str(difference),
        unit="pence",
        tolerance=f"{tolerance} pence",
        message=(
            f"{what}: printed {money_exact(printed)} but its {_plural(rows, 'row')} "
            f"sum to {money_exact(rows_sum)} (difference {money_exact(difference)}; "
            f"allowed {money_exact(tolerance)})."
        ),
    )


def outturn(
    lines: pl.DataFrame,
    printed_totals: pl.DataFrame,
    labels: Mapping[str, str],
    *,
    financial_year: int,
    period: int,
) -> tuple[Outturn, list[Check]]:
    """The outturn of one report (lines as ``FINANCE_LINE_SCHEMA``, printed totals as
    ``PRINTED_TOTAL_SCHEMA``, ``group_key`` '' = the grand total) and its checks."""
    df = lines.sort("position").with_columns(
        (pl.col("forecast_pence") - pl.col("budget_pence")).alias("variance_pence"),
        (pl.col("budget_pence") - pl.col("actuals_pence")).alias("remaining_pence"),
    )
    df = df.with_columns(_SHOWN[c].alias(f"shown_{c}") for c in MONEY_COLUMNS)
    main = df.filter(~pl.col("is_recharge"))
    sums = [pl.col(f"{c}_pence").sum() for c in MONEY_COLUMNS] + [
        pl.col(f"shown_{c}").sum() for c in MONEY_COLUMNS
    ]
    by_group = main.group_by("group_key", maintain_order=True).agg(*sums, pl.len().alias("rows"))
    grand = main.select(*sums, pl.len().alias("rows")).row(0, named=True)
    checks: list[Check] = []

    def line_model(r: Mapping[str, Any]) -> OutturnLine:
        return OutturnLine(
            position=r["position"],
            category=r["category"],
            line=r["line"],
            printed_variance_pence=r["printed_variance_pence"],
            printed_remaining_pence=r["printed_remaining_pence"],
            period_actuals_pence=r["period_actuals_pence"],
            **_money(r),
        )

    lines_by_group: dict[str, list[OutturnLine]] = {}
    for r in main.iter_rows(named=True):
        lines_by_group.setdefault(r["group_key"], []).append(line_model(r))
        name = f"{r['group_key']} / {r['line']}"
        for column, printed_col, rule in (
            ("variance", "printed_variance_pence", "forecast − budget"),
            ("remaining", "printed_remaining_pence", "budget − actuals"),
        ):
            printed, computed = r[printed_col], r[f"{column}_pence"]
            if printed is None or printed == computed:
                continue
            checks.append(
                Check(
                    kind=f"line_{column}",
                    section="finance",
                    row=name,
                    column=column,
                    printed=str(printed),
                    computed=str(computed),
                    difference=str(printed - computed),
                    unit="pence",
                    tolerance=None,
                    message=(
                        f"{name}: printed {column} {money_exact(printed)} but {rule} is "
                        f"{money_exact(computed)} (difference {money_exact(printed - computed)})."
                    ),
                )
            )

    printed = {r["group_key"]: r for r in printed_totals.iter_rows(named=True)}
    groups: list[OutturnGroup] = []
    for g in by_group.iter_rows(named=True):
        key = g["group_key"]
        label = group_label(key, labels)
        groups.append(
            OutturnGroup(key=key, label=label, lines=lines_by_group.get(key, []), **_money(g))
        )
    group_rows = {g["group_key"]: g for g in by_group.iter_rows(named=True)}
    for key, p in printed.items():
        if key == "":
            continue
        g = group_rows.get(key, {"rows": 0, **{f"shown_{c}": 0 for c in MONEY_COLUMNS}})
        for column in MONEY_COLUMNS:
            value = p[f"{column}_pence"]
            if value is None:
                continue
            found = _total_check(
                "group_total",
                "finance",
                f"{key} / total",
                column,
                value,
                int(g[f"shown_{column}"]),
                int(g["rows"]),
                f"{group_label(key, labels)} total {column}",
            )
            if found is not None:
                checks.append(found)
    if "" in printed:
        for column in MONEY_COLUMNS:
            value = printed[""][f"{column}_pence"]
            if value is None:
                continue
            found = _total_check(
                "grand_total",
                "finance",
                GRAND_TOTAL_ROW,
                column,
                value,
                int(grand[f"shown_{column}"] or 0),
                int(grand["rows"]),
                f"Total service charge {column}",
            )
            if found is not None:
                checks.append(found)

    recharges = [line_model(r) for r in df.filter(pl.col("is_recharge")).iter_rows(named=True)]
    by_period: list[int] | None = None
    for series in main["period_actuals_pence"].to_list():
        if series is None:
            continue
        by_period = (by_period or []) + [0] * max(0, len(series) - len(by_period or []))
        for i, value in enumerate(series):
            by_period[i] += int(value or 0)
    total = Money(**{f"{c}_pence": int(grand[f"{c}_pence"] or 0) for c in MONEY_COLUMNS})
    model = Outturn(
        financial_year=financial_year,
        period=period,
        groups=groups,
        total=total,
        actuals_by_period_pence=by_period,
        recharges=recharges,
    )
    return model, checks


# ------------------------------------------------------------------------- cost tables


def cost_table(
    title: str,
    columns: Sequence[str],
    cells: pl.DataFrame,
    printed: pl.DataFrame,
    organisations: Sequence[Organisation],
    categories: Sequence[str] | None = None,
) -> tuple[CostTable, list[Check]]:
    """A cost table's rows (organisation × category), organisation totals, column totals
    and grand total, and the checks of its printed totals. Rows go by organisation, then
    category in ``categories``' order (as imported; None: alphabetically).

    ``cells``: organisation_id, category, column_index, amount_pence. ``printed``:
    organisation_id (null = all), column_index (null = across the columns), amount_pence.
    A printed total is checked against the sum of the rows (organisation × category)
    it covers, with half a pound allowed per row.
    """
    order = {o.id: i for i, o in enumerate(organisations)}
    by_id = {o.id: o for o in organisations}
    n = len(columns)
    rank = category_rank(cells["category"].unique().to_list(), categories)
    c = cells.with_columns(
        pl.col("organisation_id").replace_strict(order, default=len(order)).alias("_order"),
        pl.col("category").replace_strict(rank, return_dtype=pl.Int64).alias("_rank"),
    )
    rows = (
        c.group_by("_order", "organisation_id", "_rank", "category")
        .agg(
            pl.col("amount_pence").sum().alias("total_pence"),
            *[
                pl.col("amount_pence").filter(pl.col("column_index") == i).sum().alias(f"c{i}")
                for i in range(n)
            ],
        )
        .sort("_order", "organisation_id", "_rank")
    )

    def org(org_id: int) -> Organisation:
        return by_id.get(org_id) or Organisation(id=org_id, name=f"Organisation {org_id}")

    row_models = [
        CostRow(
            organisation=org(r["organisation_id"]),
            category=r["category"],
            amounts_pence=[int(r[f"c{i}"]) for i in range(n)],
            total_pence=int(r["total_pence"]),
        )
        for r in rows.iter_rows(named=True)
    ]
    org_totals = (
        rows.group_by("_order", "organisation_id")
        .agg(
            pl.len().alias("rows"),
            pl.col("total_pence").sum(),
            *[pl.col(f"c{i}").sum() for i in range(n)],
        )
        .sort("_order", "organisation_id")
    )
    org_models = [
        CostRow(
            organisation=org(r["organisation_id"]),
            category="Total",
            amounts_pence=[int(r[f"c{i}"]) for i in range(n)],
            total_pence=int(r["total_pence"]),
        )
        for r in org_totals.iter_rows(named=True)
    ]
    column_totals = [sum(r.amounts_pence[i] for r in row_models) for i in range(n)]
    grand = sum(column_totals)
    table = CostTable(
        title=title,
        columns=list(columns),
        rows=row_models,
        organisation_totals=org_models,
        column_totals_pence=column_totals,
        grand_total_pence=grand,
    )
    rows_of = {r["organisation_id"]: int(r["rows"]) for r in org_totals.iter_rows(named=True)}
    org_model = {m.organisation.id: m for m in org_models}
    checks: list[Check] = []
    for p in printed.iter_rows(named=True):
        org_id, col = p["organisation_id"], p["column_index"]
        if col is not None and not 0 <= col < n:
            continue
        column = "total" if col is None else columns[col]
        if org_id is None:
            count = len(row_models)
            computed = grand if col is None else column_totals[col]
            where = f"{title} / total"
        else:
            count = rows_of.get(org_id, 0)
            m = org_model.get(org_id)
            computed = 0 if m is None else (m.total_pence if col is None else m.amounts_pence[col])
            where = f"{title} / {org(org_id).name} / total"
        found = _total_check(
            "cost_total",
            "costs",
            where,
            column,
            int(p["amount_pence"]),
            computed,
            count,
            f"{where} {column}",
        )
        if found is not None:
            checks.append(found)
    return table, checks


# ----------------------------------------------------------------------------- risks

STANDARD_SECTION_LABELS = {
    "financial": "Financial",
    "resourcing": "Resourcing",
    "loss_of_service": "Loss of service",
    "supportability": "Supportability",
}

RISK_SCHEMA: dict[str, pl.DataType] = {
    "risk_id": pl.Int64(),
    "reference": pl.Utf8(),
    "section": pl.Utf8(),
    "title": pl.Utf8(),
    "cause": pl.Utf8(),
    "event": pl.Utf8(),
    "consequence": pl.Utf8(),
    "developments": pl.Utf8(),
    "impact": pl.Int64(),
    "probability": pl.Int64(),
    "imported_priority": pl.Int64(),
    "actions": pl.Utf8(),
    "owner": pl.Utf8(),
}
PREVIOUS_RISK_SCHEMA: dict[str, pl.DataType] = {
    "risk_id": pl.Int64(),
    "previous_impact": pl.Int64(),
    "previous_probability": pl.Int64(),
}


@dataclass(frozen=True)
class RiskBands:
    """Bands of priority (impact × probability): low below ``medium_from``, medium below
    ``high_from``, high below ``very_high_from``, very high from there (default: low 1–4,
    medium 5–9, high 10–16, very high 20–25)."""

    medium_from: int = 5
    high_from: int = 10
    very_high_from: int = 20

    def expr(self, priority: pl.Expr) -> pl.Expr:
        return (
            pl.when(priority >= self.very_high_from)
            .then(pl.lit("very high"))
            .when(priority >= self.high_from)
            .then(pl.lit("high"))
            .when(priority >= self.medium_from)
            .then(pl.lit("medium"))
            .otherwise(pl.lit("low"))
        )


def _natural(text: str) -> tuple[Any, ...]:
    return tuple(int(p) if p.isdigit() else p.lower() for p in re.split(r"(\d+)", text))


def section_label(key: str) -> str:
    return STANDARD_SECTION_LABELS.get(key) or key.replace("_", " ").capitalize()


def risk_register(
    current: pl.DataFrame, previous: pl.DataFrame, bands: RiskBands
) -> tuple[list[RiskSection], list[Check]]:
    """Risks by section (standard sections first, in DOMAIN's order, then the service's
    own), each by reference; ``previous`` holds each risk's previous assessment."""
    priority = pl.col("impact") * pl.col("probability")
    previous_priority = pl.col("previous_impact") * pl.col("previous_probability")
    df = (
        current.join(previous, on="risk_id", how="left")
        .with_columns(priority.alias("priority"), previous_priority.alias("previous_priority"))
        .with_columns(
            bands.expr(pl.col("priority")).alias("band"),
            pl.when(pl.col("previous_priority").is_null())
            .then(pl.lit("new"))
            .when(pl.col("priority") > pl.col("previous_priority"))
            .then(pl.lit("up"))
            .when(pl.col("priority") < pl.col("previous_priority"))
            .then(pl.lit("down"))
            .otherwise(pl.lit("same"))
            .alias("trend"),
        )
    )
    standard = list(STANDARD_SECTION_LABELS)
    sections: dict[str, list[Risk]] = {}
    checks: list[Check] = []
    rows = sorted(
        df.iter_rows(named=True),
        key=lambda r: (
            standard.index(r["section"]) if r["section"] in standard else len(standard),
            r["section"],
            _natural(r["reference"]),
        ),
    )
    for r in rows:
        risk = Risk(
            reference=r["reference"],
            section=r["section"],
            title=r["title"],
            cause=r["cause"],
            event=r["event"],
            consequence=r["consequence"],
            developments=r["developments"],
            impact=r["impact"],
            probability=r["probability"],
            priority=r["priority"],
            band=r["band"],
            imported_priority=r["imported_priority"],
            actions=r["actions"],
            owner=r["owner"],
            previous_priority=r["previous_priority"],
            trend=r["trend"],
        )
        sections.setdefault(r["section"], []).append(risk)
        imported = r["imported_priority"]
        if imported is not None and imported != r["priority"]:
            name = f"{r['reference']} {r['title']}"
            checks.append(
                Check(
                    kind="risk_priority",
                    section="risks",
                    row=name,
                    column="priority",
                    printed=str(imported),
                    computed=str(r["priority"]),
                    difference=str(imported - r["priority"]),
                    unit="priority",
                    tolerance=None,
                    message=(
                        f"Risk {r['reference']}: imported priority {imported} but impact "
                        f"{r['impact']} × probability {r['probability']} = {r['priority']}."
                    ),
                )
            )
    model = [
        RiskSection(key=key, label=section_label(key), risks=risks)
        for key, risks in sections.items()
    ]
    return model, checks


# ------------------------------------------------------------------------------- SLA


@dataclass(frozen=True)
class SlaTarget:
    priority: str
    share_pct: Decimal
    within: str  # "4 hours", "2 working days", "the request type's own target"
    clock: str  # "24x7" or a business calendar id

    @property
    def label(self) -> str:
        return f"{pct_text(self.share_pct)} within {self.within}"


def _duration_text(seconds: int | None, working_days: float | None) -> str:
    if working_days is not None:
        days = Decimal(str(working_days)).normalize()
        return f"{_number_text(days)} working day" + ("" if days == 1 else "s")
    assert seconds is not None
    if seconds % 3600 == 0:
        return _plural(seconds // 3600, "hour")
    if seconds % 60 == 0:
        return _plural(seconds // 60, "minute")
    return _plural(seconds, "second")


PRIORITIES = ("P0", "P1", "P2", "P3", "P4")
LONG_HISTORY = ("P0", "P1")


def sla_targets(
    policies: pl.DataFrame, organisation_order: Sequence[int], at: date
) -> dict[str, SlaTarget]:
    """The target each priority is reported against: the policy in force on ``at`` of the
    first organisation (the service, then its partners in order) that has one; a
    priority whose policies all name a request type (P4) is reported against "the
    request type's own target" at the share of the first of them."""
    found: dict[str, SlaTarget] = {}
    live = policies.filter(pl.col("effective_from") <= at)
    for org in organisation_order:
        mine = live.filter(pl.col("organisation_id") == org).sort("effective_from")
        for p in PRIORITIES:
            if p in found:
                continue
            rows = mine.filter(pl.col("priority") == p)
            if rows.height == 0:
                continue
            generic = rows.filter(pl.col("request_type").is_null())
            chosen = (generic if generic.height else rows).row(-1, named=True)
            share = figures.half_up_decimal(Decimal(str(chosen["target_share"])) * 100, 2)
            within = (
                _duration_text(chosen["target_seconds"], chosen["target_working_days"])
                if generic.height
                else "the request type's own target"
            )
            found[p] = SlaTarget(p, share, within, chosen["calendar_id"] or "24x7")
    return {p: found[p] for p in PRIORITIES if p in found}


def _last_day(month: date) -> date:
    return add_months(month, 1) - timedelta(days=1)


def _resolved(outcomes: pl.DataFrame, first: date, last: date, priority: str) -> pl.DataFrame:
    f = sla.TicketFilter(resolved_from=first, resolved_to=_last_day(last), priorities=[priority])
    return sla.apply_filter(outcomes, f).filter(pl.col("sla_status").is_in(["met", "missed"]))


def _with_pcts(df: pl.DataFrame) -> pl.DataFrame:
    return df.with_columns(
        figures.half_up_pct(pl.col("met"), pl.col("total")).alias("met_pct"),
        figures.half_up_pct(pl.col("missed"), pl.col("total")).alias("missed_pct"),
    )


def _clock_unit(calendars: Iterable[str | None], fallback: str) -> str:
    kinds = {"24x7" if c == "24x7" else "business" for c in calendars if c is not None}
    if not kinds:
        kinds = {"24x7" if fallback == "24x7" else "business"}
    if kinds == {"business"}:
        return "business hours"
    if kinds == {"24x7"}:
        return "hours (24×7)"
    return "hours on each ticket's SLA clock"


def sla_table(
    outcomes: pl.DataFrame,
    open_at_end: pl.DataFrame,
    target: SlaTarget,
    months: Sequence[date],
) -> SlaPriorityTable:
    """One priority's table over ``months``: from SLA outcomes (monthly counts, logged,
    closure time, reopened) and from the tickets evaluated as of the period end
    (``open_at_end``: on hold, open, open by SLA status)."""
    p = target.priority
    first, last = months[0], months[-1]
    grid = pl.DataFrame({"month": list(months)}, schema={"month": pl.Date()})
    monthly = (
        sla.monthly_sla(
            outcomes,
            sla.TicketFilter(resolved_from=first, resolved_to=_last_day(last), priorities=[p]),
        )
        .group_by("month")
        .agg(pl.col(c).cast(pl.Int64).sum() for c in ("met", "missed", "total"))
    )
    counts = grid.join(monthly, on="month", how="left").with_columns(
        pl.col(c).fill_null(0) for c in ("met", "missed", "total")
    )
    month_rows = _with_pcts(counts).sort("month")
    years = _with_pcts(
        counts.group_by(pl.col("month").dt.year().alias("year"))
        .agg(pl.col(c).sum() for c in ("met", "missed", "total"))
        .sort("year")
    )
    grand = _with_pcts(counts.select(pl.col(c).sum() for c in ("met", "missed", "total")))
    subtotals = [
        SlaSubtotal(label=str(r["year"]), **{k: v for k, v in r.items() if k != "year"})
        for r in years.iter_rows(named=True)
    ] + [SlaSubtotal(label="Total", **grand.row(0, named=True))]
    logged = (
        sla.monthly_logged(
            outcomes,
            sla.TicketFilter(logged_from=first, logged_to=_last_day(last), priorities=[p]),
        )
        .group_by("month")
        .agg(pl.col("logged").cast(pl.Int64).sum())
    )
    logged = grid.join(logged, on="month", how="left").with_columns(pl.col("logged").fill_null(0))
    resolved = _resolved(outcomes, first, last, p)
    closure = resolved.select(
        figures.half_up(
            pl.col("elapsed_sla_seconds").sum(), pl.col("elapsed_sla_seconds").count() * 3600, 2
        ).alias("hours"),
        (pl.col("reopen_count").fill_null(0) > 0).sum().cast(pl.Int64).alias("reopened"),
    ).row(0, named=True)
    backlog = sla.backlog(open_at_end, sla.TicketFilter(priorities=[p])).select(
        pl.col(c).cast(pl.Int64).sum() for c in ("open", "open_within", "open_breached", "on_hold")
    )
    b = backlog.row(0, named=True) if backlog.height else {}
    return SlaPriorityTable(
        priority=p,
        target_label=target.label,
        target_pct=target.share_pct,
        months=[SlaMonth(**r) for r in month_rows.iter_rows(named=True)],
        subtotals=subtotals,
        logged=[LoggedMonth(**r) for r in logged.sort("month").iter_rows(named=True)],
        average_closure_hours=closure["hours"],
        average_closure_unit=_clock_unit(resolved["calendar_id"].unique().to_list(), target.clock),
        on_hold=int(b.get("on_hold") or 0),
        reopened=int(closure["reopened"] or 0),
        open=int(b.get("open") or 0),
        open_breached=int(b.get("open_breached") or 0),
        open_within=int(b.get("open_within") or 0),
    )


def sla_tables(
    outcomes: pl.DataFrame,
    open_at_end: pl.DataFrame,
    targets: Mapping[str, SlaTarget],
    period: PackPeriod,
) -> list[SlaPriorityTable]:
    """A table for every priority with a target: P0/P1 over thirteen months, the others
    over the reporting window."""
    return [
        sla_table(
            outcomes,
            open_at_end,
            target,
            period.history_months if p in LONG_HISTORY else period.months,
        )
        for p, target in targets.items()
    ]


# ------------------------------------------------------------------------------- NPS


def nps_rows(
    ratings: pl.DataFrame, months: Sequence[date], organisations: Sequence[Organisation]
) -> tuple[list[NpsRow], dict[str, Any]]:
    """NPS per month (all organisations, then each organisation in order) and over the
    whole window. ``ratings``: organisation_id, month, rating (0-10; null = none)."""
    aggs = figures.nps(pl.col("rating"), ratings="responses")
    r = ratings.filter(pl.col("month").is_in(list(months)))
    grid = pl.DataFrame({"month": list(months)}, schema={"month": pl.Date()})
    counts = ("responses", "promoters", "passives", "detractors")
    overall = grid.join(r.group_by("month").agg(aggs), on="month", how="left").with_columns(
        pl.col(c).fill_null(0) for c in counts
    )
    org_grid = grid.join(
        pl.DataFrame(
            {"organisation_id": [o.id for o in organisations]},
            schema={"organisation_id": pl.Int64()},
        ),
        how="cross",
    )
    by_org = org_grid.join(
        r.with_columns(pl.col("organisation_id").cast(pl.Int64))
        .group_by("organisation_id", "month")
        .agg(aggs),
        on=["organisation_id", "month"],
        how="left",
    ).with_columns(pl.col(c).fill_null(0) for c in counts)
    org_of = {o.id: o for o in organisations}
    per_org: dict[date, list[dict[str, Any]]] = {}
    for row in by_org.iter_rows(named=True):
        per_org.setdefault(row["month"], []).append(row)
    rows: list[NpsRow] = []
    for row in overall.sort("month").iter_rows(named=True):
        rows.append(NpsRow(organisation=None, **{k: row[k] for k in ("month", *counts, "nps")}))
        ordered = sorted(
            per_org.get(row["month"], []),
            key=lambda x: [o.id for o in organisations].index(x["organisation_id"]),
        )
        for o in ordered:
            rows.append(
                NpsRow(
                    organisation=org_of[o["organisation_id"]],
                    **{k: o[k] for k in ("month", *counts, "nps")},
                )
            )
    whole = r.select(aggs).row(0, named=True)
    return rows, whole


# ------------------------------------------------------------------------------- KPI


def rag(value: Decimal | None, target: Decimal | None, margin: Decimal) -> Rag | None:
    """Green at or above the target; amber within ``margin`` points below; red below."""
    if value is None or target is None:
        return None
    if value >= target:
        return "green"
    if value >= target - margin:
        return "amber"
    return "red"


@dataclass(frozen=True)
class KpiInputs:
    p1_incidents: int
    p1_met: int
    sla_window: Mapping[str, tuple[int, int]]  # priority -> (met, total) in the window
    nps: Decimal | None
    nps_responses: int
    severe_security_incidents: int


def kpi_inputs(
    outcomes: pl.DataFrame,
    period: PackPeriod,
    targets: Mapping[str, SlaTarget],
    nps_whole: Mapping[str, Any],
    severe: int,
) -> KpiInputs:
    first, last = period.period_start, period.month
    window: dict[str, tuple[int, int]] = {}
    for p in targets:
        r = _resolved(outcomes, first, last, p)
        window[p] = (int((r["sla_status"] == "met").sum()), r.height)
    p1 = _resolved(outcomes, first, last, "P1").filter(pl.col("type") == "incident")
    return KpiInputs(
        p1_incidents=p1.height,
        p1_met=int((p1["sla_status"] == "met").sum()),
        sla_window=window,
        nps=nps_whole.get("nps"),
        nps_responses=int(nps_whole.get("responses") or 0),
        severe_security_incidents=severe,
    )


def kpi_summary(
    inputs: KpiInputs,
    targets: Mapping[str, SlaTarget],
    previous: Mapping[str, Decimal | None] | None,
    comments: Mapping[str, str],
    margin: Decimal,
) -> KpiSummary:
    """The period's measures: SLA % met per priority (reporting window) against its
    target, NPS and severe security incidents, each with the change since the previous
    issued pack (``previous``: measure key -> value; None when there is no such pack)."""
    measures: list[KpiMeasure] = []

    def add(
        key: str,
        label: str,
        value: Decimal | None,
        unit: str,
        target: Decimal | None,
    ) -> None:
        before = previous.get(key) if previous is not None else None
        measures.append(
            KpiMeasure(
                key=key,
                label=label,
                value=value,
                unit=unit,
                target=target,
                rag=rag(value, target, margin),
                previous=before,
                change=(value - before) if value is not None and before is not None else None,
                comment=comments.get(key),
            )
        )

    for p, t in targets.items():
        met, total = inputs.sla_window.get(p, (0, 0))
        add(
            f"sla.{p}",
            f"{p} resolved within {t.within}",
            figures.half_up_value(met * 100, total, 2),
            "%",
            t.share_pct,
        )
    add("nps", "Net Promoter Score", inputs.nps, "score", None)
    add(
        "security.severe",
        "Severe security incidents opened (high or critical)",
        Decimal(inputs.severe_security_incidents),
        "count",
        None,
    )
    return KpiSummary(
        p1_incidents=inputs.p1_incidents,
        p1_met=inputs.p1_met,
        measures=measures,
        nps=inputs.nps,
        severe_security_incidents=inputs.severe_security_incidents,
        amber_margin_points=margin,
    )


def previous_measures(figures_json: Mapping[str, Any] | None) -> dict[str, Decimal | None] | None:
    """Measure key -> value of a stored pack's KPI summary (None: there is no such pack)."""
    if figures_json is None:
        return None
    out: dict[str, Decimal | None] = {}
    for m in figures_json.get("kpi", {}).get("measures", []):
        value = m.get("value")
        out[m["key"]] = None if value is None else Decimal(str(value))
    return out


# ---------------------------------------------------------------------------- charts


def charts(
    tables: Sequence[SlaPriorityTable],
    nps: Sequence[NpsRow],
    organisations: Sequence[Organisation],
    outturn_model: Outturn | None,
) -> list[Chart]:
    """What the chart module draws: SLA met/missed per month per priority with the target
    line, NPS by month and organisation, outturn by group. Every value is a figure the
    tables show."""
    out: list[Chart] = []
    for t in tables:
        labels = [month_label(m.month) for m in t.months]
        met = [m.met_pct for m in t.months]
        known = [v for v in met if v is not None]
        spread = (
            f" % met ranged from {pct_text(min(known))} to {pct_text(max(known))}."
            if known
            else " No tickets were resolved in these months."
        )
        out.append(
            Chart(
                key=f"sla.{t.priority}",
                kind="stacked_bar",
                title=f"{t.priority}: tickets met and missed by month",
                description=(
                    f"{t.priority} tickets resolved per month, {labels[0]} to {labels[-1]}, "
                    f"as % met and % missed, against the target of {t.target_label} (the "
                    f"line at {pct_text(t.target_pct)}).{spread}"
                ),
                categories=labels,
                series=[
                    ChartSeries(name="Met", values=met),
                    ChartSeries(name="Missed", values=[m.missed_pct for m in t.months]),
                ],
                unit="%",
                target=t.target_pct,
            )
        )
    months = sorted({r.month for r in nps})
    if months:
        series = [
            ChartSeries(
                name="All organisations",
                values=[
                    next(r.nps for r in nps if r.month == m and r.organisation is None)
                    for m in months
                ],
            )
        ]
        for o in organisations:
            values = {r.month: r.nps for r in nps if r.organisation and r.organisation.id == o.id}
            series.append(ChartSeries(name=o.name, values=[values.get(m) for m in months]))
        out.append(
            Chart(
                key="nps",
                kind="bar",
                title="Net Promoter Score by month and organisation",
                description=(
                    f"NPS (−100 to 100) for {month_label(months[0])} to "
                    f"{month_label(months[-1])}, all organisations together and each "
                    "organisation; a month without ratings has no bar."
                ),
                categories=[month_label(m) for m in months],
                series=series,
                unit="score",
                target=None,
            )
        )
    if outturn_model is not None and outturn_model.groups:
        groups = outturn_model.groups

        def pounds(pence: int) -> Decimal:
            return Decimal(pence) / 100

        out.append(
            Chart(
                key="finance.outturn",
                kind="bar",
                title="Outturn by group",
                description=(
                    f"Budget, forecast and actuals to P{outturn_model.period} for each group "
                    f"({', '.join(g.label for g in groups)}), in pounds. In total: budget "
                    f"{money_sentence(outturn_model.total.budget_pence)}, forecast "
                    f"{money_sentence(outturn_model.total.forecast_pence)}, actuals "
                    f"{money_sentence(outturn_model.total.actuals_pence)}."
                ),
                categories=[g.label for g in groups],
                series=[
                    ChartSeries(name="Budget", values=[pounds(g.budget_pence) for g in groups]),
                    ChartSeries(name="Forecast", values=[pounds(g.forecast_pence) for g in groups]),
                    ChartSeries(name="Actuals", values=[pounds(g.actuals_pence) for g in groups]),
                ],
                unit="£",
                target=None,
            )
        )
    return out


# ------------------------------------------------------------------------- sentences


def _change_text(m: KpiMeasure) -> str:
    if m.change is None:
        return ""
    if m.change == 0:
        return ", unchanged since the previous pack"
    direction = "up" if m.change > 0 else "down"
    points = "points" if m.unit == "%" else ""
    amount = _number_text(abs(m.change))
    return f", {direction} {amount}{' ' + points if points else ''} since the previous pack"


def sentences(
    period: PackPeriod,
    kpi: KpiSummary,
    targets: Mapping[str, SlaTarget],
    sla_window: Mapping[str, tuple[int, int]],
    nps_responses: int,
    outturn_model: Outturn | None,
    cost_tables: Sequence[CostTable],
    risk_sections: Sequence[RiskSection],
    checks: Sequence[Check],
) -> list[Sentence]:
    """Every sentence of numbers in the pack, from the figures above."""
    out: list[Sentence] = []
    when = period.months_text
    if "P1" in targets:
        if kpi.p1_incidents:
            share = figures.half_up_value(kpi.p1_met * 100, kpi.p1_incidents, 2)
            assert share is not None
            text = (
                f"{_plural(kpi.p1_incidents, 'P1 incident')} resolved in {when}; "
                f"{kpi.p1_met:,} ({pct_text(share)}) met the target of "
                f"{targets['P1'].within}."
            )
        else:
            text = f"No P1 incidents were resolved in {when}."
        out.append(Sentence(key="kpi.p1", text=text))
    for m in kpi.measures:
        if not m.key.startswith("sla."):
            continue
        p = m.key.removeprefix("sla.")
        _, total = sla_window.get(p, (0, 0))
        if m.value is None:
            text = f"{p}: no tickets were resolved in {when}."
        else:
            text = (
                f"{p}: {pct_text(m.value)} of {_plural(total, 'ticket')} met the target of "
                f"{targets[p].label} ({m.rag}){_change_text(m)}."
            )
        out.append(Sentence(key=f"kpi.{m.key}", text=text))
    nps_measure = next(m for m in kpi.measures if m.key == "nps")
    if kpi.nps is None:
        out.append(Sentence(key="kpi.nps", text=f"No NPS ratings were received in {when}."))
    else:
        out.append(
            Sentence(
                key="kpi.nps",
                text=(
                    f"NPS for {when} was {_number_text(kpi.nps)} from "
                    f"{_plural(nps_responses, 'response')}{_change_text(nps_measure)}."
                ),
            )
        )
    severe = kpi.severe_security_incidents
    count = (
        "No severe security incidents"
        if severe == 0
        else _plural(severe, "severe security incident")
    )
    out.append(
        Sentence(
            key="kpi.security",
            text=(
                f"{count} (high or critical) {'was' if severe == 1 else 'were'} opened in {when}."
            ),
        )
    )
    if outturn_model is not None:
        t = outturn_model.total
        out.append(
            Sentence(
                key="finance.ytd",
                text=(
                    f"YTD spend {money_sentence(t.actuals_pence)} against a full-year budget "
                    f"of {money_sentence(t.budget_pence)}."
                ),
            )
        )
        if t.variance_pence == 0:
            position = "on budget"
        else:
            side = "over" if t.variance_pence > 0 else "under"
            position = f"{money_sentence(abs(t.variance_pence))} {side} budget"
        out.append(
            Sentence(
                key="finance.forecast",
                text=f"The forecast outturn is {money_sentence(t.forecast_pence)}, {position}.",
            )
        )
        if outturn_model.recharges:
            total = sum(r.actuals_pence for r in outturn_model.recharges)
            out.append(
                Sentence(
                    key="finance.recharges",
                    text=(
                        f"{_plural(len(outturn_model.recharges), 'recharge')} of "
                        f"{money_sentence(total)} in actuals "
                        f"{'is' if len(outturn_model.recharges) == 1 else 'are'} excluded "
                        "from the actuals above."
                    ),
                )
            )
    for i, table in enumerate(cost_tables):
        orgs = len(table.organisation_totals)
        out.append(
            Sentence(
                key=f"costs.{i}",
                text=(
                    f"{table.title}: {money_sentence(table.grand_total_pence)} in total across "
                    f"{_plural(orgs, 'organisation')}."
                ),
            )
        )
    risks = [r for s in risk_sections for r in s.risks]
    if risks:
        bands = [(b, sum(1 for r in risks if r.band == b)) for b in BAND_ORDER]
        out.append(
            Sentence(
                key="risks.summary",
                text=(
                    f"{_plural(len(risks), 'open risk')}: "
                    + ", ".join(f"{n} {b}" for b, n in bands)
                    + "."
                ),
            )
        )
    out.append(
        Sentence(
            key="checks.summary",
            text=(
                f"{_plural(len(checks), 'consistency check')} "
                f"{'needs' if len(checks) == 1 else 'need'} attention."
                if checks
                else "The consistency checks found nothing inconsistent."
            ),
        )
    )
    return out


BAND_ORDER = ("very high", "high", "medium", "low")


# ---------------------------------------------------------------- late data, changes


@dataclass(frozen=True)
class LateRow:
    """Source data of the period that changed after the pack was issued."""

    section: str
    row: str
    rows: int
    latest: datetime


def late_data(found: Sequence[LateRow], frozen_at: datetime, version: int) -> list[Check]:
    """A check per source row (or organisation's tickets) changed after the figures of the
    issued version were taken (``frozen_at``, when it went to review: anything later is
    not in the pack, whether it came before or after the issue): printed = that instant,
    computed = the latest change, difference in seconds (printed − computed: negative,
    the data arrived that long after)."""
    out = []
    for f in found:
        seconds = int((f.latest - frozen_at).total_seconds())
        out.append(
            Check(
                kind="late_data",
                section=f.section,
                row=f.row,
                column="updated_at",
                printed=utc_iso(frozen_at),
                computed=utc_iso(f.latest),
                difference=str(-seconds),
                unit="timestamp",
                tolerance=None,
                message=(
                    f"{f.row}: {_plural(f.rows, 'row')} changed after the figures of issued "
                    f"version {version} were taken ({utc_iso(frozen_at)}; latest change "
                    f"{utc_iso(f.latest)}), so {'it is' if f.rows == 1 else 'they are'} not "
                    "in the pack; issue a new version to include "
                    f"{'it' if f.rows == 1 else 'them'}."
                ),
            )
        )
    return out


# Header fields that differ between any two versions and are not figures.
_NOT_FIGURES = {
    ("header", "status"),
    ("header", "version"),
    ("header", "data_version"),
    ("header", "data_as_of"),
    ("header", "generated_at"),
    ("header", "issued_at"),
    ("header", "seconds_to_issue"),
}
_IDENTITY = ("key", "priority", "reference", "line", "label", "title", "category", "name")
# Not figures: checks are listed beside them (late-data checks come and go after issue),
# and every chart value is a figure the tables already show.
_NOT_COMPARED = ("checks", "charts")


def _ident(item: Any, index: int) -> str:
    """A list element's name in a path: its identifying field(s), else its index."""
    if isinstance(item, dict):
        if "section" in item and "measure" in item:
            return f"[{item['section']}|{item['measure']}]"
        parts = [str(item[k]) for k in _IDENTITY if isinstance(item.get(k), str | int)][:1]
        if "month" in item:
            parts.append(str(item["month"]))
        org = item.get("organisation")
        if isinstance(org, dict):
            parts.append(str(org.get("name")))
        elif "organisation" in item and org is None:
            parts.append("all")
        if parts:
            return "[" + "|".join(parts) + "]"
    return f"[{index}]"


def _flatten(value: Any, path: str, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(v, f"{path}.{k}" if path else k, out)
    elif isinstance(value, list) and value and all(isinstance(v, dict | list) for v in value):
        seen: dict[str, int] = {}
        for i, v in enumerate(value):
            name = _ident(v, i)
            seen[name] = seen.get(name, 0) + 1
            if seen[name] > 1:
                name = f"{name}#{seen[name]}"
            _flatten(v, f"{path}{name}", out)
    else:
        out[path] = value


def changes(before: Mapping[str, Any], after: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every figure path whose value differs between two packs' figures (JSON form):
    ``{"path", "before", "after"}``, in path order; a path only one of them has shows
    null on the other side. The header's version bookkeeping is not a figure."""
    a: dict[str, Any] = {}
    b: dict[str, Any] = {}
    _flatten({k: v for k, v in before.items() if k not in _NOT_COMPARED}, "", a)
    _flatten({k: v for k, v in after.items() if k not in _NOT_COMPARED}, "", b)
    out = []
    for path in sorted(a.keys() | b.keys()):
        if tuple(path.split(".", 1)) in _NOT_FIGURES:
            continue
        if a.get(path) != b.get(path):
            out.append({"path": path, "before": a.get(path), "after": b.get(path)})
    return out


# ------------------------------------------------------------------------ data version


def _canonical(df: pl.DataFrame) -> bytes:
    text = df.with_columns(
        pl.col(c).cast(pl.List(pl.Utf8)).list.join(";")
        for c, t in df.schema.items()
        if isinstance(t, pl.List)
    ).write_csv(include_header=True)
    return text.encode()


def data_version(sources: Mapping[str, pl.DataFrame | str]) -> str:
    """sha256 of the pack's source data in a canonical form: each named source in name
    order, a frame as CSV (its rows in the order given: callers sort them by key)."""
    digest = hashlib.sha256()
    for name in sorted(sources):
        value = sources[name]
        digest.update(f"\x1e{name}\x1f".encode())
        digest.update(_canonical(value) if isinstance(value, pl.DataFrame) else value.encode())
    return digest.hexdigest()
