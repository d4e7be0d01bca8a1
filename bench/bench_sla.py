"""SLA engine vs a straightforward per-ticket Python loop.

1,000,000 synthetic tickets on a business calendar (England & Wales bank holidays,
Mon–Fri 08:00–18:00 Europe/London), logged across 2021–2022, about 8 % still open and
5 % with one on-hold interval. The loop baseline steps day by day with zoneinfo for
each ticket; it runs on a slice and is extrapolated to 1M. Both must agree on the slice.

    .venv/bin/python bench/bench_sla.py [n_tickets] [loop_slice]
"""

from __future__ import annotations

import random
import sys
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import holidays
import polars as pl

from services.metrics.sla.calendar import BusinessCalendar, TwentyFourSeven
from services.metrics.sla.engine import evaluate_tickets, monthly_sla

LONDON = ZoneInfo("Europe/London")
AS_OF = datetime(2023, 1, 3, 12, tzinfo=UTC)
DT = pl.Datetime("us", "UTC")


def synthetic(n: int, seed: int = 7) -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = random.Random(seed)
    start = int(datetime(2021, 1, 1, tzinfo=UTC).timestamp())
    span = 2 * 365 * 86_400
    logged = [start + rng.randrange(span) for _ in range(n)]
    resolved: list[int | None] = []
    for t in logged:
        if rng.random() < 0.08:
            resolved.append(None)
        else:
            resolved.append(t + int(rng.expovariate(1 / (30 * 3600))))
    prios = [f"P{rng.randint(1, 4)}" for _ in range(n)]
    tickets = (
        pl.DataFrame(
            {
                "organisation_id": [f"o{i % 20}" for i in range(n)],
                "ticket_key": [f"T{i}" for i in range(n)],
                "type": ["incident"] * n,
                "priority": prios,
                "logged_s": logged,
                "resolved_s": resolved,
            }
        )
        .with_columns(
            pl.from_epoch("logged_s", "s").dt.replace_time_zone("UTC").cast(DT).alias("logged_at"),
            pl.from_epoch("resolved_s", "s")
            .dt.replace_time_zone("UTC")
            .cast(DT)
            .alias("resolved_at"),
        )
        .drop("logged_s", "resolved_s")
    )
    hold_idx = [i for i in range(n) if rng.random() < 0.05]
    hs, he = [], []
    for i in hold_idx:
        a = logged[i] + rng.randrange(3600, 40 * 3600)
        hs.append(a)
        he.append(a + rng.randrange(600, 30 * 3600))
    holds = pl.DataFrame(
        {
            "organisation_id": [f"o{i % 20}" for i in hold_idx],
            "ticket_key": [f"T{i}" for i in hold_idx],
            "start": hs,
            "end": he,
        },
        schema={
            "organisation_id": pl.Utf8,
            "ticket_key": pl.Utf8,
            "start": pl.Int64,
            "end": pl.Int64,
        },
    ).with_columns(
        pl.from_epoch("start", "s").dt.replace_time_zone("UTC").cast(DT),
        pl.from_epoch("end", "s").dt.replace_time_zone("UTC").cast(DT),
    )
    return tickets, holds


def policies() -> pl.DataFrame:
    orgs = [f"o{i}" for i in range(20)]
    rows = []
    for o in orgs:
        for p, secs, days, share in (
            ("P1", 4 * 3600, None, 0.95),
            ("P2", 8 * 3600, None, 0.95),
            ("P3", None, 2.0, 0.8),
            ("P4", None, 5.0, 0.8),
        ):
            rows.append(
                {
                    "organisation_id": o,
                    "priority": p,
                    "request_type": None,
                    "target_seconds": secs,
                    "target_working_days": days,
                    "calendar_id": "std",
                    "target_share": share,
                    "effective_from": date(2020, 1, 1),
                }
            )
    return pl.DataFrame(
        rows,
        schema_overrides={
            "request_type": pl.Utf8,
            "target_seconds": pl.Int64,
            "target_working_days": pl.Float64,
        },
    )


# --- the baseline: one ticket at a time ---------------------------------------------


HOLS = holidays.country_holidays("GB", subdiv="ENG", years=range(2020, 2025))


def loop_business_seconds(a: datetime, b: datetime) -> int:
    """Business seconds in [a, b) stepping day by day (Mon–Fri 08–18 local, E&W)."""
    if b <= a:
        return 0
    total = 0
    day = a.astimezone(LONDON).date()
    last = b.astimezone(LONDON).date()
    while day <= last:
        if day.weekday() < 5 and day not in HOLS:
            ws = datetime(day.year, day.month, day.day, 8, tzinfo=LONDON)
            we = datetime(day.year, day.month, day.day, 18, tzinfo=LONDON)
            lo = max(ws, a)
            hi = min(we, b)
            if hi > lo:
                total += int((hi - lo).total_seconds())
        day += timedelta(days=1)
    return total


def loop_engine(tickets: pl.DataFrame, holds: pl.DataFrame) -> list[int]:
    target_days = {"P1": None, "P2": None, "P3": 2.0, "P4": 5.0}
    target_secs = {"P1": 4 * 3600, "P2": 8 * 3600, "P3": None, "P4": None}
    hold_map = {r["ticket_key"]: (r["start"], r["end"]) for r in holds.iter_rows(named=True)}
    out = []
    for r in tickets.iter_rows(named=True):
        logged: datetime = r["logged_at"]
        end: datetime = r["resolved_at"] if r["resolved_at"] is not None else AS_OF
        if end > AS_OF:
            end = AS_OF
        elapsed = loop_business_seconds(logged, end)
        h = hold_map.get(r["ticket_key"])
        if h is not None:
            elapsed -= loop_business_seconds(max(h[0], logged), min(h[1], end))
        _ = target_secs[r["priority"]] or int(target_days[r["priority"]] * 36_000)  # type: ignore[operator]
        out.append(elapsed)
    return out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    loop_n = int(sys.argv[2]) if len(sys.argv) > 2 else 20_000
    t0 = time.perf_counter()
    tickets, holds = synthetic(n)
    print(f"generated {n:,} tickets, {holds.height:,} holds in {time.perf_counter() - t0:.1f} s")
    clocks = {"std": BusinessCalendar.weekdays("std", nation="GB-ENG"), "24x7": TwentyFourSeven()}
    pol = policies()

    evaluate_tickets(tickets.head(1000), pol, clocks, as_of=AS_OF, holds=holds)  # warm-up
    runs = []
    for _ in range(3):
        t0 = time.perf_counter()
        res = evaluate_tickets(tickets, pol, clocks, as_of=AS_OF, holds=holds)
        runs.append(time.perf_counter() - t0)
    engine_s = min(runs)
    t0 = time.perf_counter()
    monthly = monthly_sla(res)
    agg_s = time.perf_counter() - t0

    sl = tickets.head(loop_n)
    t0 = time.perf_counter()
    expected = loop_engine(sl, holds.filter(pl.col("ticket_key").is_in(sl["ticket_key"].implode())))
    loop_s = time.perf_counter() - t0
    got = res.head(loop_n)["elapsed_sla_seconds"].to_list()
    mismatches = sum(1 for a, b in zip(expected, got, strict=True) if a != b)
    loop_1m = loop_s * n / loop_n

    print(
        f"engine: {n:,} tickets in {engine_s:.3f} s (best of 3: "
        + ", ".join(f"{r:.3f}" for r in runs)
        + ")"
    )
    print(f"monthly aggregation: {monthly.height:,} rows in {agg_s:.3f} s")
    print(f"loop:   {loop_n:,} tickets in {loop_s:.3f} s → {loop_1m:.1f} s extrapolated to {n:,}")
    print(f"agreement on the slice: {loop_n - mismatches:,}/{loop_n:,} identical elapsed seconds")
    print(f"ratio: engine is {loop_1m / engine_s:.0f}× faster than the loop")
    print("status counts:", dict(res["sla_status"].value_counts().iter_rows()))
    ok = engine_s < 1.0 and loop_1m / engine_s >= 20 and mismatches == 0
    print("target (<1 s for 1M, ≥20× faster, identical): " + ("MET" if ok else "NOT MET"))


if __name__ == "__main__":
    main()
