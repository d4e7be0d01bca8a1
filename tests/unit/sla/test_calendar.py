from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from services.metrics.sla.calendar import (
    BusinessCalendar,
    TwentyFourSeven,
    bank_holidays,
    business_seconds,
    instant_at,
)

H = 3600
LONDON = ZoneInfo("Europe/London")


def local(*args: int) -> datetime:
    """A Europe/London wall-clock time as an aware UTC datetime."""
    return datetime(*args, tzinfo=LONDON).astimezone(UTC)  # type: ignore[misc]


# --- DOMAIN.md worked examples -------------------------------------------------------


def test_friday_evening_to_monday_morning(std: BusinessCalendar) -> None:
    assert std.elapsed_seconds(local(2021, 3, 5, 17, 30), local(2021, 3, 8, 9, 30)) == 2 * H


def test_logged_on_saturday(std: BusinessCalendar) -> None:
    assert std.elapsed_seconds(local(2021, 3, 6, 10, 0), local(2021, 3, 8, 8, 45)) == 45 * 60


def test_christmas_2021_substitute_holidays(std: BusinessCalendar) -> None:
    assert std.elapsed_seconds(local(2021, 12, 24, 17, 0), local(2021, 12, 29, 9, 0)) == 2 * H


def test_england_substitute_days_present() -> None:
    eng = bank_holidays("GB-ENG", [2021])
    assert date(2021, 12, 27) in eng
    assert date(2021, 12, 28) in eng


# --- nations -----------------------------------------------------------------------


def _day_open(nation: str, day: date) -> int:
    cal = BusinessCalendar.weekdays("c", nation=nation)
    return cal.elapsed_seconds(
        local(day.year, day.month, day.day, 0, 0), local(day.year, day.month, day.day, 23, 0)
    )


@pytest.mark.parametrize(
    ("nation", "day", "expected_hours"),
    [
        ("GB-SCT", date(2021, 11, 30), 0),  # St Andrew's Day (Tue)
        ("GB-ENG", date(2021, 11, 30), 10),
        ("GB-NIR", date(2021, 3, 17), 0),  # St Patrick's Day (Wed)
        ("GB-ENG", date(2021, 3, 17), 10),
        ("GB-SCT", date(2021, 4, 5), 10),  # Easter Monday is not a Scottish bank holiday
        ("GB-ENG", date(2021, 4, 5), 0),
        ("GB-NIR", date(2021, 4, 5), 0),
        ("GB-SCT", date(2024, 1, 2), 0),  # 2 January (Tue) in Scotland
        ("GB-ENG", date(2024, 1, 2), 10),
        ("GB-NIR", date(2021, 7, 12), 0),  # Battle of the Boyne
        ("GB-SCT", date(2021, 8, 2), 0),  # Scottish summer bank holiday
        ("GB-ENG", date(2021, 8, 2), 10),
        ("GB-ENG", date(2021, 8, 30), 0),
    ],
)
def test_bank_holidays_by_nation(nation: str, day: date, expected_hours: int) -> None:
    assert _day_open(nation, day) == expected_hours * H


def test_unknown_nation_rejected() -> None:
    with pytest.raises(ValueError, match="unknown UK nation"):
        BusinessCalendar.weekdays("c", nation="GB-XXX")


# --- clock changes -----------------------------------------------------------------


def test_24x7_spring_forward_day_is_23_hours() -> None:
    assert TwentyFourSeven().elapsed_seconds(local(2021, 3, 28, 0, 0), local(2021, 3, 29)) == 23 * H


def test_24x7_autumn_back_day_is_25_hours() -> None:
    assert TwentyFourSeven().elapsed_seconds(local(2021, 10, 31), local(2021, 11, 1)) == 25 * H


def test_business_window_across_clock_change_counts_real_seconds() -> None:
    # Sunday working 00:00-04:00 local on the spring-forward day is only 3 real hours.
    cal = BusinessCalendar("sun", {6: ((time(0, 0), time(4, 0)),)}, nation=None)
    assert cal.elapsed_seconds(local(2021, 3, 27, 12), local(2021, 3, 29)) == 3 * H
    assert cal.elapsed_seconds(local(2021, 10, 30, 12), local(2021, 11, 1)) == 5 * H


def test_working_hours_are_local_in_summer(std: BusinessCalendar) -> None:
    # 08:00 BST is 07:00 UTC.
    start = local(2021, 6, 7, 8, 0)
    assert start.hour == 7
    assert std.elapsed_seconds(local(2021, 6, 7, 7, 0), local(2021, 6, 7, 9, 0)) == H


# --- shapes of calendars ---------------------------------------------------------------


def test_split_shift() -> None:
    cal = BusinessCalendar(
        "split",
        {0: ((time(8, 0), time(12, 0)), (time(13, 0), time(18, 0)))},
        nation=None,
    )
    # Mon 11:00 → Mon 14:00 is 1 h before lunch + 1 h after.
    assert cal.elapsed_seconds(local(2021, 3, 1, 11), local(2021, 3, 1, 14)) == 2 * H
    assert cal.working_day_seconds == 9 * H


def test_local_closures() -> None:
    cal = BusinessCalendar.weekdays(
        "c",
        closure_dates=frozenset({date(2021, 3, 9)}),
        closure_ranges=((local(2021, 3, 10, 14), local(2021, 3, 10, 16)),),
    )
    assert (
        cal.elapsed_seconds(local(2021, 3, 8, 18), local(2021, 3, 11, 8)) == 8 * H
    )  # Tue closed, Wed 10 h − 2 h


def test_working_day_length_is_most_common_then_longest() -> None:
    hours = {d: ((time(8, 30), time(17, 0)),) for d in range(4)}
    hours[4] = ((time(8, 30), time(16, 30)),)
    assert BusinessCalendar("c", hours).working_day_seconds == 8 * H + 30 * 60
    two = {0: ((time(9, 0), time(17, 0)),), 1: ((time(9, 0), time(18, 0)),)}
    assert BusinessCalendar("c", two).working_day_seconds == 9 * H
    assert TwentyFourSeven().working_day_seconds == 86_400


def test_invalid_windows_rejected() -> None:
    with pytest.raises(ValueError, match="empty"):
        BusinessCalendar("c", {0: ((time(9), time(9)),)})
    with pytest.raises(ValueError, match="overlap"):
        BusinessCalendar("c", {0: ((time(9), time(12)), (time(11), time(13)))})


def test_inverse_maps_to_end_of_interval(std: BusinessCalendar) -> None:
    table = std.table(date(2021, 3, 1), date(2021, 3, 5))
    mon_8 = int(local(2021, 3, 1, 8).timestamp())
    b = business_seconds(table, pl.Series([mon_8, mon_8 + 10 * H, None], dtype=pl.Int64))
    assert b.to_list() == [0, 10 * H, None]
    t = instant_at(table, pl.Series([10 * H, 10 * H + 1], dtype=pl.Int64)).to_list()
    assert t == [int(local(2021, 3, 1, 18).timestamp()), int(local(2021, 3, 2, 8).timestamp()) + 1]


def test_naive_datetime_rejected(std: BusinessCalendar) -> None:
    with pytest.raises(ValueError, match="naive"):
        std.elapsed_seconds(datetime(2021, 3, 1, 9), datetime(2021, 3, 1, 10))
