"""Financial years and periods, as every committee paper counts them.

A financial year is named by the year it starts (2024 = 2024/25, 1 April 2024 to 31 March
2025); period P1 is April … P12 is March. The path parameters here refuse anything else
with a 422 naming the parameter.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import Path

FIRST_YEAR, LAST_YEAR = 2000, 2100  # as the governance tables' CHECK constraints say

FinancialYearPath = Annotated[
    int,
    Path(
        ge=FIRST_YEAR,
        le=LAST_YEAR,
        description="Financial year, named by the year it starts (2024 = 2024/25)",
        examples=[2024],
    ),
]
PeriodPath = Annotated[
    int, Path(ge=1, le=12, description="Period: 1 = April … 12 = March", examples=[3])
]


def period_month(financial_year: int, period: int) -> date:
    """The first day of the period's month: (2024, 1) → 2024-04-01, (2024, 12) → 2025-03-01."""
    month = (period + 2) % 12 + 1
    return date(financial_year + (1 if month < 4 else 0), month, 1)


def year_label(financial_year: int) -> str:
    """2024 → ``2024/25``."""
    return f"{financial_year}/{(financial_year + 1) % 100:02d}"
