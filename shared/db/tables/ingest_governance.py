"""Governance data of a shared service: owned (written) by the ingest service, read by metrics.

A shared service is an organisation with partner organisations (``organisation_partners``).
Its governance data is what a committee performance pack shows beside the SLA figures:
the financial outturn, cost tables, the risk register, the security incidents log and the
service's commentary. Everything is keyed by the shared service and, where it belongs to a
reporting period, by financial year (the year it starts: 2024 = 2024/25) and period
(P1 = April … P12 = March). Money is integer pence, never a float.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY

from shared.db.metadata import metadata, owned

STANDARD_FINANCE_GROUPS = ("expenditure", "staffing", "contingency")
STANDARD_RISK_SECTIONS = ("financial", "resourcing", "loss_of_service", "supportability")
SEVERITIES = ("low", "medium", "high", "critical")
COMMENTARY_SECTIONS = ("kpi", "sla", "nps", "security", "finance", "costs", "risks")


def _fy_period_checks(prefix: str = "") -> list[CheckConstraint]:
    return [
        CheckConstraint(f"{prefix}financial_year BETWEEN 2000 AND 2100", name="financial_year"),
        CheckConstraint(f"{prefix}period BETWEEN 1 AND 12", name="period"),
    ]


def _service_fk() -> Column[int]:
    return Column(
        "service_id",
        Integer,
        ForeignKey("organisations.id", ondelete="CASCADE"),
        nullable=False,
    )


def _timestamps() -> list[Column[object]]:
    return [
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    ]


organisation_partners = Table(
    "organisation_partners",
    metadata,
    Column(
        "shared_service_id",
        Integer,
        ForeignKey("organisations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column(
        "partner_id",
        Integer,
        ForeignKey("organisations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("position", SmallInteger, nullable=False, server_default="0"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("shared_service_id", "partner_id"),
    CheckConstraint("shared_service_id <> partner_id", name="not_self"),
    Index("ix_organisation_partners_partner", "partner_id"),
    info=owned("ingest", readers=("metrics",)),
)

# The service's own finance groups beyond the standard ones (expenditure, staffing,
# contingency); a finance line naming a group in neither list is refused.
finance_groups = Table(
    "finance_groups",
    metadata,
    _service_fk(),
    Column("key", Text, nullable=False),
    Column("label", Text, nullable=False),
    Column("position", SmallInteger, nullable=False, server_default="100"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("service_id", "key"),
    info=owned("ingest", readers=("metrics",)),
)

# One outturn report: a service's financial year to a period, as one import (or API call)
# delivered it. A new import for the same year and period replaces the report whole.
finance_reports = Table(
    "finance_reports",
    metadata,
    Column("id", Integer, Identity(), primary_key=True),
    _service_fk(),
    Column("financial_year", SmallInteger, nullable=False),
    Column("period", SmallInteger, nullable=False),
    Column("source", Text, nullable=False),  # 'csv', 'xlsx' or 'api'
    Column("file_name", Text),
    Column("created_by", Text, nullable=False),
    *_timestamps(),
    UniqueConstraint("service_id", "financial_year", "period"),
    *_fy_period_checks(),
    info=owned("ingest", readers=("metrics",)),
)

finance_lines = Table(
    "finance_lines",
    metadata,
    Column(
        "report_id", Integer, ForeignKey("finance_reports.id", ondelete="CASCADE"), nullable=False
    ),
    Column("position", Integer, nullable=False),
    Column("group_key", Text, nullable=False),
    Column("category", Text),
    Column("line", Text, nullable=False),
    Column("budget_pence", BigInteger, nullable=False),
    Column("forecast_pence", BigInteger, nullable=False),
    Column("actuals_pence", BigInteger, nullable=False),
    # As the source printed them (null when the source did not print one); the pack shows
    # computed values and lists a check where these disagree.
    Column("printed_variance_pence", BigInteger),
    Column("printed_remaining_pence", BigInteger),
    # Recharges are excluded from actuals and listed separately in the pack.
    Column("is_recharge", Boolean, nullable=False, server_default="false"),
    # Actuals by period (P1…Pn of the year to the report's period), when the source has them.
    Column("period_actuals_pence", ARRAY(BigInteger)),
    Column("source_row", Integer),
    PrimaryKeyConstraint("report_id", "position"),
    UniqueConstraint("report_id", "group_key", "line"),
    info=owned("ingest", readers=("metrics",)),
)

# Totals as the source printed them: per group (group_key) or the grand total (null).
finance_printed_totals = Table(
    "finance_printed_totals",
    metadata,
    Column(
        "report_id", Integer, ForeignKey("finance_reports.id", ondelete="CASCADE"), nullable=False
    ),
    Column("group_key", Text, nullable=False),  # '' = the grand total
    Column("budget_pence", BigInteger),
    Column("forecast_pence", BigInteger),
    Column("variance_pence", BigInteger),
    Column("actuals_pence", BigInteger),
    Column("remaining_pence", BigInteger),
    Column("source_row", Integer),
    PrimaryKeyConstraint("report_id", "group_key"),
    info=owned("ingest", readers=("metrics",)),
)

# A cost table (e.g. Covid-19 costs): organisations × categories × period columns.
cost_tables = Table(
    "cost_tables",
    metadata,
    Column("id", Integer, Identity(), primary_key=True),
    _service_fk(),
    Column("financial_year", SmallInteger, nullable=False),
    Column("period", SmallInteger, nullable=False),
    Column("title", Text, nullable=False),
    Column("columns", ARRAY(Text), nullable=False),  # period column labels, in order
    # Category rows in the order the source gave them (null: tables stored before 0013,
    # read back alphabetically).
    Column("categories", ARRAY(Text)),
    Column("created_by", Text, nullable=False),
    *_timestamps(),
    UniqueConstraint("service_id", "financial_year", "period", "title"),
    *_fy_period_checks(),
    info=owned("ingest", readers=("metrics",)),
)

cost_table_cells = Table(
    "cost_table_cells",
    metadata,
    Column("table_id", Integer, ForeignKey("cost_tables.id", ondelete="CASCADE"), nullable=False),
    Column("organisation_id", Integer, ForeignKey("organisations.id"), nullable=False),
    Column("category", Text, nullable=False),
    Column("column_index", SmallInteger, nullable=False),
    Column("amount_pence", BigInteger, nullable=False),
    PrimaryKeyConstraint("table_id", "organisation_id", "category", "column_index"),
    info=owned("ingest", readers=("metrics",)),
)

# Totals a cost table's source printed: per organisation (or null = grand) and column
# (or null = the row total across columns).
cost_table_printed_totals = Table(
    "cost_table_printed_totals",
    metadata,
    Column("id", Integer, Identity(), primary_key=True),
    Column("table_id", Integer, ForeignKey("cost_tables.id", ondelete="CASCADE"), nullable=False),
    Column("organisation_id", Integer, ForeignKey("organisations.id")),
    Column("column_index", SmallInteger),
    Column("amount_pence", BigInteger, nullable=False),
    UniqueConstraint(
        "table_id", "organisation_id", "column_index", postgresql_nulls_not_distinct=True
    ),
    info=owned("ingest", readers=("metrics",)),
)

risks = Table(
    "risks",
    metadata,
    Column("id", Integer, Identity(), primary_key=True),
    _service_fk(),
    Column("reference", Text, nullable=False),
    Column("section", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("cause", Text),
    Column("event", Text),
    Column("consequence", Text),
    Column("owner", Text),
    Column("closed", Boolean, nullable=False, server_default="false"),
    *_timestamps(),
    UniqueConstraint("service_id", "reference"),
    info=owned("ingest", readers=("metrics",)),
)

# A risk as assessed at one period: its history across periods gives the trend.
risk_assessments = Table(
    "risk_assessments",
    metadata,
    Column("risk_id", Integer, ForeignKey("risks.id", ondelete="CASCADE"), nullable=False),
    Column("financial_year", SmallInteger, nullable=False),
    Column("period", SmallInteger, nullable=False),
    Column("developments", Text),
    Column("impact", SmallInteger, nullable=False),
    Column("probability", SmallInteger, nullable=False),
    Column("imported_priority", SmallInteger),
    Column("actions", Text),
    Column("owner", Text),
    *_timestamps(),
    PrimaryKeyConstraint("risk_id", "financial_year", "period"),
    CheckConstraint("impact BETWEEN 1 AND 5", name="impact"),
    CheckConstraint("probability BETWEEN 1 AND 5", name="probability"),
    *_fy_period_checks(),
    info=owned("ingest", readers=("metrics",)),
)

security_incidents = Table(
    "security_incidents",
    metadata,
    Column("id", Integer, Identity(), primary_key=True),
    _service_fk(),
    Column("reference", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("opened_on", Date, nullable=False),
    Column("closed_on", Date),
    Column("severity", Text, nullable=False),
    Column("os", Text),
    Column("assets_affected", Text),
    Column("status", Text, nullable=False),
    *_timestamps(),
    UniqueConstraint("service_id", "reference"),
    CheckConstraint("severity IN ('low','medium','high','critical')", name="severity"),
    CheckConstraint("closed_on IS NULL OR closed_on >= opened_on", name="closed_after_opened"),
    info=owned("ingest", readers=("metrics",)),
)

# The service's words, kept with the period: a summary per section (measure '') and a
# comment on each measure that misses its target (measure e.g. 'sla.P2', 'nps').
pack_commentary = Table(
    "pack_commentary",
    metadata,
    _service_fk(),
    Column("financial_year", SmallInteger, nullable=False),
    Column("period", SmallInteger, nullable=False),
    Column("section", Text, nullable=False),
    Column("measure", Text, nullable=False, server_default=""),
    Column("body", Text, nullable=False),
    Column("author", Text, nullable=False),
    *_timestamps(),
    PrimaryKeyConstraint("service_id", "financial_year", "period", "section", "measure"),
    CheckConstraint(
        "section IN ('kpi','sla','nps','security','finance','costs','risks')", name="section"
    ),
    *_fy_period_checks(),
    info=owned("ingest", readers=("metrics",)),
)
