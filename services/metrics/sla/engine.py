"""Ticket SLA evaluation and monthly reporting, vectorised with Polars.

No database, no HTTP: frames in, frames out. Nothing loops over tickets; the only Python
loops are over clocks (one per distinct calendar id) and over calendar dates when a
calendar's interval table is built (see ``calendar.py``).

Input frames
------------
tickets (one row per ticket; key = organisation_id + ticket_key):
    organisation_id (any dtype, matched against policies), ticket_key Utf8 (identifies
    the ticket within its organisation; the repository joins source system and reference),
    type Utf8 "incident" | "request", priority Utf8 "P0".."P4" (null = none),
    request_type Utf8, team Utf8, closure_category Utf8,
    logged_at, resolved_at, closed_at Datetime (UTC; naive values are taken as UTC),
    status Utf8, reopen_count Int, resolved_first_contact Boolean,
    nps_rating Int (0–10, null = no rating).
    Optional columns missing from the frame are added as nulls.
    The facts (type … nps_rating) mean what ``shared/tickets.py`` declares.
holds: organisation_id, ticket_key, start, end (Datetime UTC; end null = still on hold).
reopens: organisation_id, ticket_key, resolved_at, reopened_at — the gap between a
    resolution and the reopening, which does not count.
policies: organisation_id, priority, request_type (null = any request type; non-null
    rows are meant for P4), target_seconds Int | null, target_working_days Float | null
    (exactly one of the two), calendar_id Utf8 (a key of ``clocks``; "24x7" for round
    the clock), target_share Float (0.95 = 95 %), effective_from Date.

Rules
-----
* Policy: the one effective at the ticket's logged date (Europe/London local date): among
  policies for its organisation and priority with effective_from <= that date, one for
  its own request type wins over a generic one (request_type null); within each, the
  latest effective_from.
* "N working days" = N × the clock's ``working_day_seconds`` (most common nominal working
  day length, ties → longest; 86 400 s for 24×7).
* Resolution instant = resolved_at, falling back to closed_at when resolved_at is null.
  A ticket is open as of ``as_of`` when it has no resolution instant or it is later than
  ``as_of``.
* Elapsed on the SLA clock (``elapsed_sla_seconds``) = B(end) − B(logged) − paused, with
  B the policy clock's business time, end = resolution (or ``as_of`` for open tickets) and
  paused = business time inside the union of hold intervals and reopen gaps, clipped to
  [logged, end] (overlaps are merged so nothing is subtracted twice). A hold with no end
  runs until ``as_of``.
* Wall-clock elapsed (``elapsed_wall_seconds``) = end − logged in real seconds, with no
  pause deducted (what the customer waited, for average closure time).
* met: elapsed <= target (exactly on target is met); missed otherwise.
* Open tickets: ``open_breached`` when elapsed so far > target, else ``open_within``.
  ``due_at`` = the earliest instant at which elapsed reaches the target, counting the
  pauses so far. For a ticket on hold at ``as_of`` the hold is treated as ending at
  ``as_of``: due_at is the earliest possible due time if work resumed now, and it moves
  later while the hold continues (``on_hold`` says so). If due_at falls at the close of
  a working day, the breach starts only when working time resumes.
* data_quality (never met or missed), first matching reason:
  ``no_logged_at``; ``resolved_before_logged``; ``no_priority``;
  ``no_policy_for_priority``; ``unknown_calendar``.
* Timestamps are counted in whole seconds (sub-second parts truncated).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import polars as pl

from services.metrics import figures
from services.metrics.sla.calendar import LONDON, Clock
from shared.tickets import FACT_FIELDS

KEY = ["organisation_id", "ticket_key"]

SLA_STATUSES = ("met", "missed", "open_within", "open_breached", "data_quality")

TICKET_COLUMNS: dict[str, pl.DataType] = {
    "organisation_id": pl.Utf8(),
    "ticket_key": pl.Utf8(),
    **{f.name: f.dtype for f in FACT_FIELDS},
}

_DT_UTC = pl.Datetime("us", "UTC")


def _normalise_datetimes(df: pl.DataFrame, cols: Sequence[str]) -> pl.DataFrame:
    exprs = []
    for c in cols:
        dtype = df.schema[c]
        if isinstance(dtype, pl.Datetime):
            e = pl.col(c)
            e = (
                e.dt.replace_time_zone("UTC")
                if dtype.time_zone is None
                else e.dt.convert_time_zone("UTC")
            )
            exprs.append(e.cast(_DT_UTC).alias(c))
        else:
            exprs.append(pl.col(c).cast(_DT_UTC).alias(c))
    return df.with_columns(exprs) if exprs else df


def _prepare_tickets(tickets: pl.DataFrame) -> pl.DataFrame:
    missing = [
        pl.lit(None, dtype=dt).alias(c) for c, dt in TICKET_COLUMNS.items() if c not in tickets
    ]
    df = tickets.with_columns(missing) if missing else tickets
    # All-null columns arrive as dtype Null; give every known column its canonical dtype
    # (organisation_id keeps the caller's dtype: it only has to match the policies).
    df = df.with_columns(
        pl.col(c).cast(dt)
        for c, dt in TICKET_COLUMNS.items()
        if c != "organisation_id" and not isinstance(dt, pl.Datetime)
    )
    return _normalise_datetimes(df, ["logged_at", "resolved_at", "closed_at"])


_DAY_OFFSET = 1_000_000  # keeps day numbers positive inside the packed key
_KEY_SPAN = 4_000_000  # > any day number + offset


def _policy_frame(
    policies: pl.DataFrame, org_dtype: pl.DataType, clocks: Mapping[str, Clock]
) -> pl.DataFrame:
    """Policies with canonical dtypes and the target resolved to seconds."""
    day_len = {cid: c.working_day_seconds for cid, c in clocks.items()}
    pol = policies.with_columns(
        pl.lit(None, pl.Int64).alias(c)
        for c in ("target_seconds", "target_working_days", "request_type")
        if c not in policies
    )
    return pol.select(
        pl.col("organisation_id").cast(org_dtype),
        pl.col("priority").cast(pl.Utf8),
        pl.col("request_type").cast(pl.Utf8),
        pl.coalesce(
            pl.col("target_seconds").cast(pl.Int64),
            (
                pl.col("target_working_days").cast(pl.Float64)
                * pl.col("calendar_id").replace_strict(
                    list(day_len),
                    list(day_len.values()),
                    default=None,
                    return_dtype=pl.Int64,
                )
            )
            .round(0)
            .cast(pl.Int64),
        ).alias("target_seconds"),
        pl.col("calendar_id").cast(pl.Utf8),
        pl.col("target_share").cast(pl.Float64),
        pl.col("effective_from").cast(pl.Date).alias("policy_effective_from"),
    )


def _policy_index(df: pl.DataFrame, pol: pl.DataFrame, by: list[str]) -> pl.Series:
    """Row of ``pol`` in force at each ticket's logged date for the ``by`` keys, or null.

    A packed integer key (group id, day number) is searched in the sorted policy keys, so
    a million tickets cost one small hash join plus a binary search, not an as-of join
    on strings.
    """
    if pol.height == 0:
        return pl.Series("idx", [None] * df.height, dtype=pl.Int64)
    groups = pol.select(by).unique(maintain_order=True).with_row_index("_g")
    days = pl.col("policy_effective_from").cast(pl.Int64) + _DAY_OFFSET
    pk = (
        pol.with_row_index("_p")
        .join(groups, on=by, how="inner")
        .select("_p", (pl.col("_g").cast(pl.Int64) * _KEY_SPAN + days).alias("_k"))
        .sort("_k")
    )
    tg = (
        df.select(*by, "logged_date")
        .join(groups, on=by, how="left", maintain_order="left")
        .select(
            (
                pl.col("_g").cast(pl.Int64) * _KEY_SPAN
                + pl.col("logged_date").cast(pl.Int64)
                + _DAY_OFFSET
            ).alias("_k"),
            pl.col("_g").cast(pl.Int64),
        )
    )
    pos = pk["_k"].search_sorted(tg["_k"].fill_null(-1), side="right").cast(pl.Int64) - 1
    found = pk["_k"].gather(pos.clip(lower_bound=0)) // _KEY_SPAN
    ok = (pos >= 0) & (found == tg["_g"]).fill_null(False)
    return pl.select(
        pl.when(ok).then(pk["_p"].cast(pl.Int64).gather(pos.clip(lower_bound=0))).alias("idx")
    ).to_series()


def _match_policies(
    df: pl.DataFrame, policies: pl.DataFrame, clocks: Mapping[str, Clock]
) -> pl.DataFrame:
    """Attach the policy effective at each ticket's logged date (see module rules)."""
    pol = _policy_frame(policies, df.schema["organisation_id"], clocks)
    specific = pol.filter(pl.col("request_type").is_not_null())
    generic = pol.filter(pl.col("request_type").is_null())
    idx = _policy_index(df, generic, ["organisation_id", "priority"])
    cols = ["target_seconds", "calendar_id", "target_share", "policy_effective_from"]
    gathered = {c: generic[c].gather(idx) for c in cols}
    if specific.height:
        sidx = _policy_index(df, specific, ["organisation_id", "priority", "request_type"])
        use = sidx.is_not_null()
        for c in cols:
            gathered[c] = specific[c].gather(sidx).zip_with(use, gathered[c])
    return df.with_columns(pl.Series(c, v) for c, v in gathered.items())


def _pause_intervals(
    holds: pl.DataFrame | None, reopens: pl.DataFrame | None, org_dtype: pl.DataType, as_of_s: int
) -> pl.DataFrame:
    """Hold intervals and reopen gaps as (KEY, ps, pe, current_hold), epoch seconds.

    An open-ended hold or reopen gap runs to ``as_of``; ``current_hold`` marks holds in
    force at ``as_of``.
    """
    parts: list[pl.DataFrame] = []
    if holds is not None and holds.height:
        h = _normalise_datetimes(holds, ["start", "end"])
        parts.append(
            h.select(
                pl.col("organisation_id").cast(org_dtype),
                pl.col("ticket_key").cast(pl.Utf8),
                pl.col("start").dt.epoch("s").alias("ps"),
                pl.col("end").dt.epoch("s").fill_null(as_of_s).alias("pe"),
                (
                    (pl.col("start").dt.epoch("s") <= as_of_s)
                    & (pl.col("end").is_null() | (pl.col("end").dt.epoch("s") > as_of_s))
                ).alias("current_hold"),
            )
        )
    if reopens is not None and reopens.height:
        r = _normalise_datetimes(reopens, ["resolved_at", "reopened_at"])
        parts.append(
            r.select(
                pl.col("organisation_id").cast(org_dtype),
                pl.col("ticket_key").cast(pl.Utf8),
                pl.col("resolved_at").dt.epoch("s").alias("ps"),
                pl.col("reopened_at").dt.epoch("s").fill_null(as_of_s).alias("pe"),
                pl.lit(False).alias("current_hold"),
            )
        )
    if not parts:
        return pl.DataFrame(
            schema={
                "organisation_id": org_dtype,
                "ticket_key": pl.Utf8,
                "ps": pl.Int64,
                "pe": pl.Int64,
                "current_hold": pl.Boolean,
            }
        )
    return pl.concat(parts)


def _merge_pauses(p: pl.DataFrame) -> pl.DataFrame:
    """Clip to [logged, end] and merge overlaps per ticket: _row, calendar_id, ps, pe."""
    p = (
        p.with_columns(
            pl.max_horizontal("ps", "logged_s").alias("ps"),
            pl.min_horizontal("pe", "end_s").alias("pe"),
        )
        .filter(pl.col("pe") > pl.col("ps"))
        .sort("_row", "ps")
    )
    prev_end = pl.col("pe").cum_max().shift(1).over("_row")
    return (
        p.with_columns((prev_end.is_null() | (pl.col("ps") > prev_end)).cum_sum().alias("_grp"))
        .group_by("_grp")
        .agg(
            pl.col("_row").first(),
            pl.col("calendar_id").first(),
            pl.col("ps").min(),
            pl.col("pe").max(),
        )
    )


def _local_date(epoch_s: int, tz: ZoneInfo) -> date:
    return datetime.fromtimestamp(epoch_s, tz).date()


def _table_total(table: pl.DataFrame) -> int:
    if table.height == 0:
        return 0
    return int(table["cum_before"][-1]) + int(table["end_s"][-1]) - int(table["start_s"][-1])


def _full(n: int, fill: int | None) -> pl.Series:
    return pl.repeat(fill, n, dtype=pl.Int64, eager=True)


def evaluate_tickets(
    tickets: pl.DataFrame,
    policies: pl.DataFrame,
    clocks: Mapping[str, Clock],
    *,
    as_of: datetime,
    holds: pl.DataFrame | None = None,
    reopens: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """SLA outcome per ticket (see the module docstring for the rules).

    Output: the ticket columns (``resolved_at`` kept as given) plus
    ``resolution_at`` Datetime UTC (resolved_at or closed_at), ``logged_date`` Date
    (local), ``calendar_id`` Utf8, ``target_seconds`` Int64, ``target_share`` Float64,
    ``policy_effective_from`` Date, ``is_open`` Bool, ``on_hold`` Bool (open and on hold
    at ``as_of``), ``paused_seconds`` Int64 (on the SLA clock), ``elapsed_sla_seconds``
    Int64 (on the SLA clock, pauses deducted), ``elapsed_wall_seconds`` Int64 (real
    seconds, nothing deducted), ``due_at`` Datetime UTC (open tickets only),
    ``sla_status`` Utf8, ``data_quality_reason`` Utf8. Row order is preserved;
    data-quality rows have null SLA figures.
    """
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    as_of_s = int(as_of.timestamp())
    df = _prepare_tickets(tickets)
    n = df.height
    df = df.with_columns(
        pl.col("logged_at").dt.epoch("s").alias("logged_s"),
        pl.coalesce("resolved_at", "closed_at").alias("resolution_at"),
        pl.col("logged_at").dt.convert_time_zone(LONDON).dt.date().alias("logged_date"),
    ).with_columns(pl.col("resolution_at").dt.epoch("s").alias("res_s"))
    df = df.with_columns(
        (pl.col("res_s").is_null() | (pl.col("res_s") > as_of_s)).alias("is_open"),
    ).with_columns(
        pl.when(pl.col("is_open"))
        .then(pl.max_horizontal(pl.lit(as_of_s, pl.Int64), pl.col("logged_s")))
        .otherwise(pl.col("res_s"))
        .alias("end_s")
    )
    df = _match_policies(df, policies, clocks)
    df = df.with_columns(
        pl.when(pl.col("logged_s").is_null())
        .then(pl.lit("no_logged_at"))
        .when(pl.col("res_s") < pl.col("logged_s"))
        .then(pl.lit("resolved_before_logged"))
        .when(pl.col("priority").is_null())
        .then(pl.lit("no_priority"))
        .when(pl.col("policy_effective_from").is_null())
        .then(pl.lit("no_policy_for_priority"))
        .when(~pl.col("calendar_id").is_in(list(clocks)) | pl.col("target_seconds").is_null())
        .then(pl.lit("unknown_calendar"))
        .otherwise(None)
        .alias("data_quality_reason")
    ).with_row_index("_row")

    # Pauses and current holds, keyed by row.
    org_dtype = df.schema["organisation_id"]
    pauses = _pause_intervals(holds, reopens, org_dtype, as_of_s)
    if pauses.height:
        pauses = pauses.join(
            df.filter(pl.col("data_quality_reason").is_null()).select(
                *KEY, "_row", "calendar_id", "logged_s", "end_s", "is_open"
            ),
            on=KEY,
            how="inner",
        )
    hold_now = (
        pauses.filter(pl.col("current_hold") & pl.col("is_open"))["_row"]
        if pauses.height
        else pl.Series([], dtype=pl.UInt32)
    )
    merged = _merge_pauses(pauses) if pauses.height else pauses

    # Per-row results, filled clock by clock (each clock sees only its own rows).
    b_logged, b_end, due_s, paused = _full(n, None), _full(n, None), _full(n, None), _full(n, 0)
    valid = df["data_quality_reason"].is_null()
    tz = ZoneInfo(LONDON)
    for cal_id in df.filter(valid)["calendar_id"].unique().to_list():
        clock = clocks[cal_id]
        mask = valid & (df["calendar_id"] == cal_id)
        whole = bool(mask.all())
        rows = df["_row"] if whole else df["_row"].filter(mask)
        part = df if whole else df.filter(mask)
        lo = int(part["logged_s"].min())  # type: ignore[arg-type]
        hi = max(int(part["end_s"].max()), as_of_s)  # type: ignore[arg-type]
        first = _local_date(lo, tz) - timedelta(days=1)
        last = _local_date(hi, tz) + timedelta(days=1)
        table = clock.table(first, last)
        bl = clock.business_seconds(part["logged_s"], table)
        be = clock.business_seconds(part["end_s"], table)
        b_logged = b_logged.scatter(rows, bl)
        b_end = b_end.scatter(rows, be)
        mp = merged.filter(pl.col("calendar_id") == cal_id) if merged.height else merged
        if mp.height:
            agg = (
                mp.with_columns(
                    (
                        clock.business_seconds(mp["pe"], table)
                        - clock.business_seconds(mp["ps"], table)
                    ).alias("p")
                )
                .group_by("_row")
                .agg(pl.col("p").sum())
            )
            paused = paused.scatter(agg["_row"], agg["p"])
        open_mask = part["is_open"]
        if open_mask.any():
            orows = rows.filter(open_mask)
            x = (
                b_logged.gather(orows)
                + part["target_seconds"].filter(open_mask)
                + paused.gather(orows)
            )
            if table is not None:
                max_x = int(x.max())  # type: ignore[arg-type]
                span = (last - first).days
                while table is not None and _table_total(table) < max_x:
                    span = max(span * 2, 60)
                    if span > 365 * 200:
                        raise ValueError("due date over 200 years away: check the SLA target")
                    table = clock.table(first, first + timedelta(days=span))
            due_s = due_s.scatter(orows, clock.instant_at(x, table))

    out = df.with_columns(
        paused.alias("paused_seconds"),
        (b_end - b_logged - paused).alias("elapsed_sla_seconds"),
        due_s.alias("_due_s"),
    ).with_columns(
        pl.when(valid).then(pl.col("paused_seconds")).alias("paused_seconds"),
    )
    status = (
        pl.when(pl.col("data_quality_reason").is_not_null())
        .then(pl.lit("data_quality"))
        .when(~pl.col("is_open") & (pl.col("elapsed_sla_seconds") <= pl.col("target_seconds")))
        .then(pl.lit("met"))
        .when(~pl.col("is_open"))
        .then(pl.lit("missed"))
        .when(pl.col("elapsed_sla_seconds") > pl.col("target_seconds"))
        .then(pl.lit("open_breached"))
        .otherwise(pl.lit("open_within"))
    )
    return out.with_columns(
        status.alias("sla_status"),
        (pl.col("end_s") - pl.col("logged_s")).alias("elapsed_wall_seconds"),
        pl.from_epoch("_due_s", time_unit="s")
        .dt.replace_time_zone("UTC")
        .cast(_DT_UTC)
        .alias("due_at"),
        pl.col("_row").is_in(hold_now.implode()).alias("on_hold"),
    ).drop("_row", "logged_s", "res_s", "end_s", "_due_s")


# --------------------------------------------------------------------------- reporting


@dataclass(frozen=True)
class TicketFilter:
    """Report filters; dates are local (Europe/London) and inclusive; None = no filter."""

    resolved_from: date | None = None
    resolved_to: date | None = None
    logged_from: date | None = None
    logged_to: date | None = None
    organisation_ids: Sequence[object] | None = None
    priorities: Sequence[str] | None = None
    teams: Sequence[str] | None = None
    closure_categories: Sequence[str] | None = None


def _local(col: str) -> pl.Expr:
    return pl.col(col).dt.convert_time_zone(LONDON)


def apply_filter(results: pl.DataFrame, f: TicketFilter | None) -> pl.DataFrame:
    """Filter evaluated tickets. A resolved-date bound excludes unresolved tickets."""
    if f is None:
        return results
    cond = pl.lit(True)
    res_date = _local("resolution_at").dt.date()
    if f.resolved_from is not None:
        cond &= res_date >= f.resolved_from
    if f.resolved_to is not None:
        cond &= res_date <= f.resolved_to
    if f.logged_from is not None:
        cond &= pl.col("logged_date") >= f.logged_from
    if f.logged_to is not None:
        cond &= pl.col("logged_date") <= f.logged_to
    if f.organisation_ids is not None:
        cond &= pl.col("organisation_id").is_in(list(f.organisation_ids))
    if f.priorities is not None:
        cond &= pl.col("priority").is_in(list(f.priorities))
    if f.teams is not None:
        cond &= pl.col("team").is_in(list(f.teams))
    if f.closure_categories is not None:
        cond &= pl.col("closure_category").is_in(list(f.closure_categories))
    return results.filter(cond)


def monthly_sla(results: pl.DataFrame, f: TicketFilter | None = None) -> pl.DataFrame:
    """Per organisation, priority and resolved month (local): SLA counts and closure times.

    Columns: organisation_id, priority, month (Date, 1st of month), met, missed, total
    (UInt32), pct_met Decimal(2 dp, half-up), target_share_pct Decimal(2 dp; the share
    of the most recently effective policy among the month's tickets), target_achieved
    Bool, avg_closure_sla_clock_seconds Float64 (on each ticket's SLA clock, pauses
    deducted), avg_closure_wall_seconds Float64 (real seconds, 24×7, nothing deducted),
    and the same two means in hours, 2 dp half-up (``*_hours``, Float64).
    Only resolved tickets that are not data-quality rejects count.
    """
    r = apply_filter(results, f).filter(pl.col("sla_status").is_in(["met", "missed"]))
    g = (
        r.with_columns(_local("resolution_at").dt.date().dt.truncate("1mo").alias("month"))
        .group_by("organisation_id", "priority", "month")
        .agg(
            (pl.col("sla_status") == "met").sum().alias("met"),
            (pl.col("sla_status") == "missed").sum().alias("missed"),
            pl.len().alias("total"),
            pl.col("target_share").sort_by("policy_effective_from").last().alias("_share"),
            pl.col("elapsed_sla_seconds").mean().alias("avg_closure_sla_clock_seconds"),
            pl.col("elapsed_wall_seconds").mean().alias("avg_closure_wall_seconds"),
            pl.col("elapsed_sla_seconds").sum().alias("_sla_sum"),
            pl.col("elapsed_sla_seconds").count().alias("_sla_n"),
            pl.col("elapsed_wall_seconds").sum().alias("_wall_sum"),
            pl.col("elapsed_wall_seconds").count().alias("_wall_n"),
        )
    )
    return (
        g.with_columns(
            figures.half_up_pct(pl.col("met"), pl.col("total")).alias("pct_met"),
            (figures.half_up_float(pl.col("_share"), 4) * 100)
            .cast(pl.Decimal(38, 2))
            .alias("target_share_pct"),
            # Exact means of whole seconds, in hours (Float64 as before, rounded once).
            figures.half_up(pl.col("_sla_sum"), pl.col("_sla_n") * 3600, 2)
            .cast(pl.Float64)
            .alias("avg_closure_sla_clock_hours"),
            figures.half_up(pl.col("_wall_sum"), pl.col("_wall_n") * 3600, 2)
            .cast(pl.Float64)
            .alias("avg_closure_wall_hours"),
        )
        .with_columns((pl.col("pct_met") >= pl.col("target_share_pct")).alias("target_achieved"))
        .select(
            "organisation_id",
            "priority",
            "month",
            "met",
            "missed",
            "total",
            "pct_met",
            "target_share_pct",
            "target_achieved",
            "avg_closure_sla_clock_seconds",
            "avg_closure_wall_seconds",
            "avg_closure_sla_clock_hours",
            "avg_closure_wall_hours",
        )
        .sort("organisation_id", "priority", "month")
    )


def monthly_logged(results: pl.DataFrame, f: TicketFilter | None = None) -> pl.DataFrame:
    """Tickets logged per organisation, priority and local month (data-quality rows too)."""
    return (
        apply_filter(results, f)
        .with_columns(pl.col("logged_date").dt.truncate("1mo").alias("month"))
        .group_by("organisation_id", "priority", "month")
        .agg(pl.len().alias("logged"))
        .sort("organisation_id", "priority", "month")
    )


def backlog(results: pl.DataFrame, f: TicketFilter | None = None) -> pl.DataFrame:
    """Snapshot as of the evaluation instant, per organisation and priority.

    open, open_within, open_breached, on_hold (open and on hold), reopened (tickets with
    reopen_count > 0, open or not), data_quality (rejected tickets).
    """
    return (
        apply_filter(results, f)
        .group_by("organisation_id", "priority")
        .agg(
            pl.col("sla_status").is_in(["open_within", "open_breached"]).sum().alias("open"),
            (pl.col("sla_status") == "open_within").sum().alias("open_within"),
            (pl.col("sla_status") == "open_breached").sum().alias("open_breached"),
            (pl.col("on_hold") & pl.col("is_open")).sum().alias("on_hold"),
            (pl.col("reopen_count").fill_null(0) > 0).sum().alias("reopened"),
            (pl.col("sla_status") == "data_quality").sum().alias("data_quality"),
        )
        .sort("organisation_id", "priority")
    )


def nps_ratings(results: pl.DataFrame, f: TicketFilter | None = None) -> pl.DataFrame:
    """One row per ticket: organisation_id, month (local month of resolution; logged month
    while unresolved) and ``rating`` (its 0-10 NPS rating, null if none)."""
    return apply_filter(results, f).select(
        "organisation_id",
        pl.coalesce(_local("resolution_at").dt.date(), pl.col("logged_date"))
        .dt.truncate("1mo")
        .alias("month"),
        pl.col("nps_rating").alias("rating"),
    )


def nps_by_month(results: pl.DataFrame, f: TicketFilter | None = None) -> pl.DataFrame:
    """NPS per organisation and month of resolution (local; logged month if unresolved).

    Columns: organisation_id, month, responses, promoters, passives, detractors,
    nps Decimal(1 dp) — null for a month with tickets but no ratings (figures.nps).
    """
    return (
        nps_ratings(results, f)
        .group_by("organisation_id", "month")
        .agg(figures.nps(pl.col("rating"), ratings="responses"))
        .sort("organisation_id", "month")
    )


ClockBasis = Literal["24x7", "sla_clock"]


def performance_metrics(
    results: pl.DataFrame,
    denominators: pl.DataFrame | None = None,
    f: TicketFilter | None = None,
    *,
    clock_basis: ClockBasis = "24x7",
) -> pl.DataFrame:
    """Performance-module metrics from tickets, per organisation.

    Resolution-time thresholds use ``clock_basis``: "24x7" = real elapsed seconds from
    logged to resolved, nothing deducted (default; comparable with typed-in figures);
    "sla_clock" = each ticket's SLA clock with pauses deducted. The basis is in the
    column names. Denominator: resolved incidents that are not data-quality rejects.
    First-contact resolution % = incidents resolved at first contact / incidents.
    ``denominators``: organisation_id, users, service_desk_fte (optional) for contacts
    per user / per service-desk FTE = (incidents + requests) / denominator, 2 dp.
    """
    r = apply_filter(results, f)
    secs = "elapsed_wall_seconds" if clock_basis == "24x7" else "elapsed_sla_seconds"
    sfx = "24x7" if clock_basis == "24x7" else "sla_clock"
    inc = pl.col("type") == "incident"
    resolved_inc = inc & pl.col("sla_status").is_in(["met", "missed"])
    el = pl.col(secs)
    g = r.group_by("organisation_id").agg(
        inc.sum().alias("incidents"),
        (pl.col("type") == "request").sum().alias("requests"),
        resolved_inc.sum().alias("resolved_incidents"),
        (resolved_inc & (el <= 15 * 60)).sum().alias("_w15"),
        (resolved_inc & (el <= 4 * 3600)).sum().alias("_w4h"),
        (resolved_inc & (el > 16 * 3600)).sum().alias("_o16"),
        (inc & pl.col("resolved_first_contact").fill_null(False)).sum().alias("_fcr"),
    )
    g = g.with_columns(
        figures.half_up_pct(pl.col("_w15"), pl.col("resolved_incidents")).alias(
            f"pct_incidents_resolved_within_15m_{sfx}"
        ),
        figures.half_up_pct(pl.col("_w4h"), pl.col("resolved_incidents")).alias(
            f"pct_incidents_resolved_within_4h_{sfx}"
        ),
        figures.half_up_pct(pl.col("_o16"), pl.col("resolved_incidents")).alias(
            f"pct_incidents_over_16h_{sfx}"
        ),
        figures.half_up_pct(pl.col("_fcr"), pl.col("incidents")).alias(
            "pct_first_contact_resolution"
        ),
    ).drop("_w15", "_w4h", "_o16", "_fcr")
    if denominators is not None:
        d = denominators.with_columns(pl.col("organisation_id").cast(g.schema["organisation_id"]))
        if "service_desk_fte" not in d:
            d = d.with_columns(pl.lit(None, pl.Float64).alias("service_desk_fte"))
        if "users" not in d:
            d = d.with_columns(pl.lit(None, pl.Float64).alias("users"))
        contacts = pl.col("incidents") + pl.col("requests")
        g = (
            g.join(
                d.select("organisation_id", "users", "service_desk_fte"),
                on="organisation_id",
                how="left",
            )
            .with_columns(
                pl.when(pl.col("users") > 0)
                .then(figures.half_up_float(contacts / pl.col("users"), 2).cast(pl.Float64))
                .alias("contacts_per_user"),
                pl.when(pl.col("service_desk_fte") > 0)
                .then(
                    figures.half_up_float(contacts / pl.col("service_desk_fte"), 2).cast(pl.Float64)
                )
                .alias("contacts_per_service_desk_fte"),
            )
            .drop("users", "service_desk_fte")
        )
    return g.sort("organisation_id")
