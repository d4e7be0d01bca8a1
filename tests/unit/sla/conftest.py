from __future__ import annotations

import pytest

from services.metrics.sla.calendar import BusinessCalendar, TwentyFourSeven


@pytest.fixture
def std() -> BusinessCalendar:
    """The DOMAIN.md worked-example calendar: Mon–Fri 08:00–18:00, England & Wales."""
    return BusinessCalendar.weekdays("std", nation="GB-ENG")


@pytest.fixture
def clocks(std: BusinessCalendar) -> dict[str, object]:
    return {"std": std, "24x7": TwentyFourSeven()}
