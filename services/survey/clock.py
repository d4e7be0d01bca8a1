"""Campaign windows in Europe/London: a campaign is open from 00:00 London time on its
opening date until 24:00 London time on its closing date, whatever the clock change."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")
DEFAULT_WINDOW_DAYS = 28  # four weeks: opens_on plus 27 days, inclusive


def now_utc() -> datetime:
    return datetime.now(UTC)


def london_today(now: datetime | None = None) -> date:
    return (now or now_utc()).astimezone(LONDON).date()


def opens_at(opens_on: date) -> datetime:
    return datetime.combine(opens_on, time(0, 0), tzinfo=LONDON).astimezone(UTC)


def closes_at(closes_on: date) -> datetime:
    return datetime.combine(closes_on + timedelta(days=1), time(0, 0), tzinfo=LONDON).astimezone(
        UTC
    )


def default_closes_on(opens_on: date) -> date:
    return opens_on + timedelta(days=DEFAULT_WINDOW_DAYS - 1)
