"""Business calendars and the 24×7 clock for SLA timing.

Time is counted in real (UTC) seconds inside working time. Working hours are local
wall-clock windows in Europe/London, converted to UTC instants date by date, so a window
that straddles a clock change is as long as it really was (a 24×7 day is 23 or 25 hours
on the change dates).

A calendar is materialised as a sorted table of disjoint working intervals
``[start_s, end_s)`` in UTC epoch seconds, each carrying the business seconds that elapsed
in all earlier intervals (``cum_before``). Business time since the table's origin,
``B(t)``, is then piecewise linear:

    i = last interval with start_s <= t
    B(t) = cum_before[i] + clamp(t - start_s[i], 0, end_s[i] - start_s[i])

and elapsed business time between two instants is ``B(b) - B(a)``. ``B`` is evaluated for
whole columns at once with a binary search (Polars ``search_sorted``); the inverse (the
instant a business-time value is reached, used for due dates) likewise. For the 24×7
clock ``B(t) = t``.

Only the calendar table is built by looping over dates (a few thousand rows for a
decade); nothing here loops over tickets.

Bank holidays come from the ``holidays`` package: ``country_holidays("GB", subdiv=...)``
with subdivisions ``ENG`` (England; Wales ``WLS`` has the same bank holidays), ``SCT`` and
``NIR``. Substitute ("observed") days are included, e.g. 27 and 28 December 2021.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

import holidays
import polars as pl

LONDON = "Europe/London"
TWENTY_FOUR_SEVEN = "24x7"

Nation = Literal["GB-ENG", "GB-WLS", "GB-SCT", "GB-NIR"]

_NATION_SUBDIV: dict[str, str] = {
    "GB-ENG": "ENG",
    "GB-WLS": "WLS",
    "GB-SCT": "SCT",
    "GB-NIR": "NIR",
    "ENG": "ENG",
    "WLS": "WLS",
    "SCT": "SCT",
    "NIR": "NIR",
    "England": "ENG",
    "England & Wales": "ENG",
    "Wales": "WLS",
    "Scotland": "SCT",
    "Northern Ireland": "NIR",
}

# Interval table schema shared by every calendar.
INTERVAL_SCHEMA: dict[str, pl.DataType] = {
    "start_s": pl.Int64(),
    "end_s": pl.Int64(),
    "cum_before": pl.Int64(),
}


def bank_holidays(nation: str, years: Iterable[int]) -> dict[date, str]:
    """Bank holidays (including substitute days) of one UK nation for the given years."""
    try:
        subdiv = _NATION_SUBDIV[nation]
    except KeyError:
        raise ValueError(
            f"unknown UK nation {nation!r}; use GB-ENG, GB-WLS, GB-SCT or GB-NIR"
        ) from None
    found = holidays.country_holidays("GB", subdiv=subdiv, years=list(years))
    return {d: str(name) for d, name in found.items()}


def _epoch(dt: datetime) -> int:
    if dt.tzinfo is None:
        raise ValueError(f"naive datetime {dt!r}: pass an aware datetime (UTC or local)")
    return int(dt.timestamp())


class Clock(Protocol):
    """What the engine needs from a clock (a business calendar or 24×7)."""

    calendar_id: str

    @property
    def working_day_seconds(self) -> int: ...

    def business_seconds(self, epoch_s: pl.Series, table: pl.DataFrame | None) -> pl.Series:
        """B(t) for each instant (UTC epoch seconds); nulls stay null."""
        ...

    def instant_at(self, business_s: pl.Series, table: pl.DataFrame | None) -> pl.Series:
        """The earliest instant (epoch seconds) at which B reaches each value."""
        ...

    def table(self, first: date, last: date) -> pl.DataFrame | None:
        """The interval table covering local dates first..last (None for 24×7)."""
        ...


@dataclass(frozen=True)
class TwentyFourSeven:
    """The round-the-clock clock: every real second counts."""

    calendar_id: str = TWENTY_FOUR_SEVEN

    @property
    def working_day_seconds(self) -> int:
        return 86_400

    def business_seconds(self, epoch_s: pl.Series, table: pl.DataFrame | None = None) -> pl.Series:
        return epoch_s.cast(pl.Int64)

    def instant_at(self, business_s: pl.Series, table: pl.DataFrame | None = None) -> pl.Series:
        return business_s.cast(pl.Int64)

    def table(self, first: date, last: date) -> pl.DataFrame | None:
        return None

    def elapsed_seconds(self, start: datetime, end: datetime) -> int:
        return _epoch(end) - _epoch(start)


WorkingHours = Mapping[int, tuple[tuple[time, time], ...]]


@dataclass(frozen=True)
class BusinessCalendar:
    """Working hours per weekday (0 = Monday; split shifts allowed), the bank holidays of
    one UK nation and local closures, in Europe/London.

    ``closure_dates`` close whole local days; ``closure_ranges`` are aware datetime ranges
    ``[start, end)`` removed from working time (e.g. an afternoon closure).
    A window ending at ``time(0, 0)`` means midnight at the end of the day.
    """

    calendar_id: str
    hours: WorkingHours
    nation: str | None = "GB-ENG"
    closure_dates: frozenset[date] = field(default_factory=frozenset)
    closure_ranges: tuple[tuple[datetime, datetime], ...] = ()
    time_zone: str = LONDON

    def __post_init__(self) -> None:
        for wd, windows in self.hours.items():
            if not 0 <= wd <= 6:
                raise ValueError(f"weekday {wd} out of range 0 (Monday)..6 (Sunday)")
            prev_end = -1
            for start, end in sorted(windows):
                s, e = _minutes(start), _minutes(end, is_end=True)
                if e <= s:
                    raise ValueError(f"working window {start}-{end} on weekday {wd} is empty")
                if s < prev_end:
                    raise ValueError(f"working windows overlap on weekday {wd}")
                prev_end = e
        if self.nation is not None:
            bank_holidays(self.nation, [2000])  # validates the nation early
        for a, b in self.closure_ranges:
            if a.tzinfo is None or b.tzinfo is None:
                raise ValueError("closure ranges must be aware datetimes")

    @classmethod
    def weekdays(
        cls,
        calendar_id: str,
        start: time = time(8, 0),
        end: time = time(18, 0),
        nation: str | None = "GB-ENG",
        **kwargs: object,
    ) -> BusinessCalendar:
        """Mon–Fri, one window a day (the common case)."""
        return cls(
            calendar_id,
            {wd: ((start, end),) for wd in range(5)},
            nation,
            **kwargs,  # type: ignore[arg-type]
        )

    @property
    def working_day_seconds(self) -> int:
        """The length of a normal working day, for "N working days" targets.

        The most common nominal (wall-clock) length among weekdays that have working
        hours; if several lengths are equally common, the longest. Bank holidays, closures
        and clock changes do not affect it. E.g. Mon–Thu 08:30–17:00 and Fri 08:30–16:30
        gives 8 h 30 m.
        """
        lengths = [
            sum(_minutes(e, is_end=True) - _minutes(s) for s, e in windows) * 60
            for windows in self.hours.values()
            if windows
        ]
        if not lengths:
            raise ValueError(f"calendar {self.calendar_id!r} has no working hours")
        counts = Counter(lengths)
        return max(counts, key=lambda n: (counts[n], n))

    def closed_dates(self, first: date, last: date) -> set[date]:
        closed = {d for d in self.closure_dates if first <= d <= last}
        if self.nation is not None:
            closed |= set(bank_holidays(self.nation, range(first.year, last.year + 1)))
        return closed

    def table(self, first: date, last: date) -> pl.DataFrame:
        """Working intervals for local dates first..last inclusive, with ``cum_before``."""
        tz = ZoneInfo(self.time_zone)
        closed = self.closed_dates(first, last)
        starts: list[int] = []
        ends: list[int] = []
        day = first
        while day <= last:
            if day not in closed:
                for s, e in sorted(self.hours.get(day.weekday(), ())):
                    a = _local_instant(day, s, tz)
                    b = _local_instant(day, e, tz, is_end=True)
                    if b > a:
                        starts.append(a)
                        ends.append(b)
            day += timedelta(days=1)
        intervals = list(zip(starts, ends, strict=True))
        if self.closure_ranges:
            intervals = _subtract(
                intervals, sorted((_epoch(a), _epoch(b)) for a, b in self.closure_ranges)
            )
        lengths = [b - a for a, b in intervals]
        cum: list[int] = []
        total = 0
        for n in lengths:
            cum.append(total)
            total += n
        return pl.DataFrame(
            {
                "start_s": [a for a, _ in intervals],
                "end_s": [b for _, b in intervals],
                "cum_before": cum,
            },
            schema=INTERVAL_SCHEMA,
        )

    def business_seconds(self, epoch_s: pl.Series, table: pl.DataFrame | None) -> pl.Series:
        if table is None:
            raise ValueError("a business calendar needs its interval table")
        return business_seconds(table, epoch_s)

    def instant_at(self, business_s: pl.Series, table: pl.DataFrame | None) -> pl.Series:
        if table is None:
            raise ValueError("a business calendar needs its interval table")
        return instant_at(table, business_s)

    def elapsed_seconds(self, start: datetime, end: datetime) -> int:
        """Business seconds between two aware instants (convenience for single values)."""
        a, b = _epoch(start), _epoch(end)
        tz = ZoneInfo(self.time_zone)
        first = datetime.fromtimestamp(min(a, b), tz).date() - timedelta(days=1)
        last = datetime.fromtimestamp(max(a, b), tz).date() + timedelta(days=1)
        t = self.table(first, last)
        values = business_seconds(t, pl.Series([a, b], dtype=pl.Int64)).to_list()
        return int(values[1]) - int(values[0])


def business_seconds(table: pl.DataFrame, epoch_s: pl.Series) -> pl.Series:
    """Vectorised B(t) over an interval table (see the module docstring)."""
    t = epoch_s.cast(pl.Int64)
    starts = table["start_s"]
    if starts.len() == 0:
        # No working time at all: B is 0 everywhere.
        return pl.select(
            pl.when(t.is_null()).then(None).otherwise(0).cast(pl.Int64).alias(t.name)
        ).to_series()
    # Nulls are searched as 0 and masked afterwards.
    pos = starts.search_sorted(t.fill_null(0), side="right").cast(pl.Int64) - 1
    idx = pos.clip(lower_bound=0)
    start = table["start_s"].gather(idx)
    end = table["end_s"].gather(idx)
    cum = table["cum_before"].gather(idx)
    frame = pl.DataFrame({"t": t, "pos": pos, "start": start, "end": end, "cum": cum})
    out = frame.select(
        pl.when(pl.col("t").is_null())
        .then(None)
        .when(pl.col("pos") < 0)
        .then(0)
        .otherwise(pl.col("cum") + (pl.min_horizontal("t", "end") - pl.col("start")))
        .cast(pl.Int64)
        .alias(t.name)
    )
    return out.to_series()


def instant_at(table: pl.DataFrame, business_s: pl.Series) -> pl.Series:
    """Vectorised inverse of B: the earliest instant at which B reaches each value.

    A value exactly at the end of a working interval maps to that interval's end (e.g.
    18:00 rather than 08:00 next morning). Values beyond the table give null: build a
    longer table.
    """
    x = business_s.cast(pl.Int64)
    cum_end = table["cum_before"] + (table["end_s"] - table["start_s"])
    n = cum_end.len()
    if n == 0:
        return pl.Series(x.name, [None] * x.len(), dtype=pl.Int64)
    pos = cum_end.search_sorted(x.fill_null(0), side="left").cast(pl.Int64)
    idx = pos.clip(upper_bound=n - 1)
    frame = pl.DataFrame(
        {
            "x": x,
            "pos": pos,
            "start": table["start_s"].gather(idx),
            "cum": table["cum_before"].gather(idx),
        }
    )
    return frame.select(
        pl.when(pl.col("x").is_null() | (pl.col("pos") >= n))
        .then(None)
        .otherwise(pl.col("start") + (pl.col("x") - pl.col("cum")).clip(lower_bound=0))
        .cast(pl.Int64)
        .alias(x.name)
    ).to_series()


def _minutes(t: time, *, is_end: bool = False) -> int:
    m = t.hour * 60 + t.minute
    if is_end and m == 0 and t.second == 0:
        return 24 * 60
    return m


def _local_instant(day: date, t: time, tz: ZoneInfo, *, is_end: bool = False) -> int:
    """UTC epoch seconds of a local wall-clock time on a date.

    Midnight as an end means the start of the next day. Times in the spring-forward gap
    move forward by the gap (fold=0 with zoneinfo gives the pre-transition offset, which
    is exactly that); ambiguous autumn times take the first (BST) occurrence.
    """
    if is_end and t == time(0, 0):
        day = day + timedelta(days=1)
    return int(datetime.combine(day, t, tzinfo=tz).astimezone(UTC).timestamp())


def _subtract(
    intervals: list[tuple[int, int]], holes: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    """Remove closure ranges from sorted disjoint intervals (both lists are short)."""
    out: list[tuple[int, int]] = []
    for a, b in intervals:
        pieces = [(a, b)]
        for h0, h1 in holes:
            if h1 <= a or h0 >= b:
                continue
            nxt: list[tuple[int, int]] = []
            for p0, p1 in pieces:
                if h1 <= p0 or h0 >= p1:
                    nxt.append((p0, p1))
                    continue
                if p0 < h0:
                    nxt.append((p0, h0))
                if h1 < p1:
                    nxt.append((h1, p1))
            pieces = nxt
        out.extend(pieces)
    return out
