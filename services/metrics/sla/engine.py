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
    the clock), target_share Float (0.95 = 95 %), effective_from Date; optionally
    pause_statuses List[Utf8], priority_change "retroactive" | "from_change",
    reopen_rule "gap_excluded" | "new_cycle", response_target_seconds Int,
    warning_pcts List[Float] (missing = none, retroactive, gap_excluded).
events (optional, a ticket history): organisation_id, ticket_key, kind "status" |
    "priority" | "assignment" | "response", at Datetime, value Utf8 (the tool's status
    label, priority label or resolver group), canonical Utf8 (status: new, open,
    on_hold, resolved, closed, cancelled or null; priority: P0-P4), end_at Datetime
    (assignment only, optional). Events of one ticket and instant keep their order.

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

Histories (events after ``as_of`` have not happened yet and are ignored)
---------
* Priority: the ticket's priority is its last priority event's (the policy is chosen
  with it). A change is an event whose priority differs from the one before it (a first
  event at or before logging is the initial priority, not a change). The policy's
  ``priority_change``: ``retroactive`` (default) runs the target from logging;
  ``from_change`` runs it from the last change. Either way every pause inside the
  clock's window counts: time paused before a change stays paused.
* Status: each status lasts until the ticket's next status event (the last runs on).
  Statuses the policy names in ``pause_statuses`` (ignoring case and surrounding spaces)
  pause the clock; with holds and reopen gaps they are merged per ticket, so an instant
  is never subtracted twice. ``pending_seconds`` is the business time paused by holds
  and pause statuses alone; reopen gaps are not pending time.
* Reopenings: a gap runs from the first of a run of resolved/closed statuses to the next
  status that is neither (nor cancelled), besides the reopen intervals given.
  ``reopen_rule`` ``gap_excluded`` (default): the gap does not count. ``new_cycle``
  (Jira's way): the clock restarts at the last reopening; every earlier cycle (logging
  or a reopening, to the next resolution) is judged on its own clock too, and a
  resolved ticket with a missed cycle is missed. ``cycles`` = reopenings + 1.
* Clock start (``clock_start_at``) = the latest of logging, the priority change
  (from_change) and the last reopening (new_cycle); elapsed and pauses count from it.
* First response: from logging to the earliest of ``first_response_at`` and the
  response events, else the resolution; on the policy's clock with the same pauses;
  judged only where the policy has ``response_target_seconds``: met, missed,
  open_within, open_breached (``response_due_at`` while waiting), data_quality when the
  response is before logging.
* Warnings: for an open ticket, ``warning_pct`` is the highest of its policy's
  ``warning_pcts`` that elapsed / target × 100 has reached.
* OLAs (``evaluate_olas``): see its docstring.
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
        if dtype == _DT_UTC:
            continue
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
    return _normalise_datetimes(df, _INSTANT_COLUMNS)


_INSTANT_COLUMNS = [c for c, dt in TICKET_COLUMNS.items() if isinstance(dt, pl.Datetime)]
_DAY_OFFSET = 1_000_000  # keeps day numbers positive inside the packed key
_KEY_SPAN = 4_000_000  # > any day number + offset

# Policy columns beyond the target, with their value when a policy frame lacks them.
PRIORITY_CHANGE_RULES = ("retroactive", "from_change")
REOPEN_RULES = ("gap_excluded", "new_cycle")
_POLICY_OPTIONS: dict[str, tuple[pl.DataType, object]] = {
    "pause_statuses": (pl.List(pl.Utf8), None),
    "priority_change": (pl.Utf8(), "retroactive"),
    "reopen_rule": (pl.Utf8(), "gap_excluded"),
    "response_target_seconds": (pl.Int64(), None),
    "warning_pcts": (pl.List(pl.Float64), None),
}


def _policy_frame(
    policies: pl.DataFrame, org_dtype: pl.DataType, clocks: Mapping[str, Clock]
) -> pl.DataFrame:
    """Policies with canonical dtypes and the target resolved to seconds."""
    day_len = {cid: c.working_day_seconds for cid, c in clocks.items()}
    pol = policies.with_columns(
        pl.lit(None, pl.Int64).alias(c)
        for c in ("target_seconds", "target_working_days", "request_type")
        if c not in policies
    ).with_columns(
        pl.lit(default, dtype).alias(c)
        for c, (dtype, default) in _POLICY_OPTIONS.items()
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
        # Statuses are matched ignoring case and surrounding spaces.
        pl.col("pause_statuses")
        .cast(pl.List(pl.Utf8))
        .list.eval(pl.element().str.strip_chars().str.to_lowercase()),
        pl.col("priority_change").cast(pl.Utf8).fill_null("retroactive"),
        pl.col("reopen_rule").cast(pl.Utf8).fill_null("gap_excluded"),
        pl.col("response_target_seconds").cast(pl.Int64),
        pl.col("warning_pcts").cast(pl.List(pl.Float64)),
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


_MATCHED = [
    "target_seconds",
    "calendar_id",
    "target_share",
    "policy_effective_from",
    *_POLICY_OPTIONS,
]


def _match_policies(
    df: pl.DataFrame, policies: pl.DataFrame, clocks: Mapping[str, Clock]
) -> pl.DataFrame:
    """Attach the policy effective at each ticket's logged date (see module rules)."""
    pol = _policy_frame(policies, df.schema["organisation_id"], clocks)
    specific = pol.filter(pl.col("request_type").is_not_null())
    generic = pol.filter(pl.col("request_type").is_null())
    idx = _policy_index(df, generic, ["organisation_id", "priority"])
    gathered = {c: generic[c].gather(idx) for c in _MATCHED}
    if specific.height:
        sidx = _policy_index(df, specific, ["organisation_id", "priority", "request_type"])
        use = sidx.is_not_null()
        for c in _MATCHED:
            gathered[c] = specific[c].gather(sidx).zip_with(use, gathered[c])
    return df.with_columns(pl.Series(c, v) for c, v in gathered.items())


# ------------------------------------------------------------------------- histories


Events = dict[str, pl.DataFrame]
EVENT_KINDS = ("status", "priority", "assignment", "response")
# The kind of an event as an enumeration: compared as a small integer, not as text.
EVENT_KIND = pl.Enum(EVENT_KINDS)
# The columns each kind of event is used with (besides _row and at_s).
_EVENT_COLUMNS = {
    "status": ("value", "canonical"),
    "priority": ("canonical",),
    "response": (),
    "assignment": ("value", "end_s"),
}


_H1 = pl.struct(KEY).hash(seed=5).alias("_h1")
_H2 = pl.struct(KEY).hash(seed=7).alias("_h2")


def _event_rows(e: pl.DataFrame, df: pl.DataFrame, tickets: pl.DataFrame | None) -> pl.Series:
    """Each event's ticket row in ``df`` (null when its ticket is not there), found with a
    128-bit fingerprint of the key (two independent 64-bit hashes; ``tickets`` holds the
    tickets' ones) joined on its first half: several times faster than a join on the two
    key columns, and no event columns ride along. Two different keys agreeing on all 128
    bits is the one way this could pair wrongly (a chance of about n·m/2¹²⁸); tickets
    sharing a first half (``tickets`` None) take the exact join."""
    if tickets is not None:
        # A ticket's events usually come together: each run of one key is looked up once.
        h1 = e.select(_H1).to_series()
        starts = (h1 != h1.shift(1)).fill_null(True)
        runs = h1.filter(starts).to_frame()
        per_run = runs.join(
            tickets.select("_h1", "_row"), on="_h1", how="left", maintain_order="left"
        ).get_column("_row")
        if per_run.len() == runs.height:
            found = per_run.gather(starts.cast(pl.Int64).cum_sum() - 1)
            # ``tickets`` is in row order: a row's second hash is at its own index.
            second = tickets["_h2"].gather(found.fill_null(0))
            same = (second == e.select(_H2).to_series()) & found.is_not_null()
            return found.zip_with(same, pl.Series([None], dtype=found.dtype))
    return (
        e.select(KEY)
        .join(df.select(*KEY, "_row"), on=KEY, how="left", maintain_order="left")
        .get_column("_row")
    )


def _all_event_rows(events: pl.DataFrame, df: pl.DataFrame) -> pl.Series:
    """Each event's ticket row in ``df`` (null when its ticket is not there), for every
    event at once. A ticket's events come together (the repository reads them in ticket
    order), so a run of one key is found by comparing each key with the one before it
    (no hashing per event) and each run is looked up once; events out of order only make
    more, shorter runs. When the runs are the tickets themselves, in the frame's order
    (every ticket has a history, read in the same order), the run is the row."""
    h = events.height
    org, key = events["organisation_id"], events["ticket_key"].cast(pl.Utf8)
    # Neighbours compared through zero-copy slices (a shift would copy every key).
    same = (key.slice(1) == key.slice(0, h - 1)) & (org.slice(1) == org.slice(0, h - 1))
    starts = pl.concat([pl.Series([True]), ~same.fill_null(False)])
    runs = pl.DataFrame(
        {
            "organisation_id": org.filter(starts).cast(df.schema["organisation_id"]),
            "ticket_key": key.filter(starts),
        }
    )
    run_index = starts.cast(pl.Int64).cum_sum() - 1
    if runs.height == df.height and bool(
        (
            (runs["ticket_key"] == df["ticket_key"])
            & (runs["organisation_id"] == df["organisation_id"])
        )
        .fill_null(False)
        .all()
    ):
        return run_index.cast(pl.UInt32)
    tickets: pl.DataFrame | None = df.select(_H1, _H2, "_row")
    if tickets is not None and tickets["_h1"].n_unique() < tickets.height:
        tickets = None
    return _event_rows(runs, df, tickets).gather(run_index)


def _prepare_events(
    events: pl.DataFrame | None, df: pl.DataFrame, as_of_s: int, kinds: Sequence[str]
) -> Events | None:
    """History events of the ``kinds`` asked for, keyed by ticket row, one frame per kind
    (_row, at_s and the columns that kind is used with), sorted by row and instant.

    Events after ``as_of`` have not happened yet and are dropped; so are events of
    tickets not in the frame. Events of one ticket and instant keep their order. Each
    event's ticket row is found once for all kinds (``_all_event_rows``), and each kind
    is taken out of ``events`` with only the columns it needs (copying text is most of
    the cost here; the keys are never copied).
    """
    if events is None or events.height == 0:
        return None
    for c, dtype in (("value", pl.Utf8), ("canonical", pl.Utf8), ("end_at", _DT_UTC)):
        if c not in events:
            events = events.with_columns(pl.lit(None, dtype).alias(c))
    if not all(isinstance(events.schema[c], pl.Datetime) for c in ("at", "end_at")):
        events = _normalise_datetimes(events, ["at", "end_at"])
    # An instant's epoch does not depend on its time zone (a naive one is taken as UTC).
    columns = {
        "value": pl.col("value").cast(pl.Utf8),
        "canonical": pl.col("canonical").cast(pl.Utf8),
        "end_s": pl.col("end_at").dt.epoch("s").alias("end_s"),
    }
    # Every event's row at once (other kinds too: filtering them out first would copy
    # every key).
    rows = _all_event_rows(events, df)
    base = events.lazy().with_columns(rows.alias("_row"), pl.col("at").dt.epoch("s").alias("at_s"))
    out: Events = {}
    for kind in kinds:
        e = (
            base.filter(
                (pl.col("kind") == kind)
                & (pl.col("at_s") <= as_of_s)
                & pl.col("_row").is_not_null()
            )
            .select("_row", "at_s", *(columns[c] for c in _EVENT_COLUMNS[kind]))
            .collect()
            .rechunk()
        )
        if e.height == 0:
            continue
        # Sorted by ticket row and instant (stable), unless the events already come so.
        row, at = pl.col("_row").cast(pl.Int64).diff(), pl.col("at_s").diff()
        ordered = e.select(((row > 0) | ((row == 0) & (at >= 0))).fill_null(True).all()).item()
        out[kind] = e if ordered else e.sort("_row", "at_s", maintain_order=True)
    return out or None


def _sorted_kind(ev: Events | None, kind: str) -> pl.DataFrame | None:
    """The events of one kind, by ticket row and instant (``_prepare_events``' order)."""
    if ev is None:
        return None
    return ev.get(kind)


def _same_next() -> pl.Expr:
    """In a frame sorted by ``_row``: the next row belongs to the same ticket."""
    return (pl.col("_row").shift(-1) == pl.col("_row")).fill_null(False)


def _same_prev() -> pl.Expr:
    return (pl.col("_row").shift(1) == pl.col("_row")).fill_null(False)


def _apply_priority_history(df: pl.DataFrame, priorities: pl.DataFrame | None) -> pl.DataFrame:
    """The priority in force (the last priority event's) and when it last changed.

    A change is an event whose priority differs from the one before it (the first event
    counts as a change unless it is at or before logging: that is the initial priority).
    Without priority events the ticket's own priority stands and nothing changed.
    """
    if priorities is None:
        return df.with_columns(pl.lit(None, pl.Int64).alias("changed_s"))
    # ``df`` is in row order, so a row's values are gathered and scattered by ``_row``.
    p = priorities.filter(pl.col("canonical").is_not_null())
    p = p.with_columns(df["logged_s"].gather(p["_row"]).alias("logged_s"))
    prev = pl.when(_same_prev()).then(pl.col("canonical").shift(1))
    change = (prev.is_null() | (prev != pl.col("canonical"))) & (
        pl.col("at_s") > pl.col("logged_s")
    )
    p = p.with_columns(change.fill_null(False).alias("_chg"))
    last = p.filter(~_same_next())
    changes = p.filter("_chg")
    last_change = changes.filter(~_same_next())
    return df.with_columns(
        df["priority"].clone().scatter(last["_row"], last["canonical"]).alias("priority"),
        _full(df.height, None).scatter(last_change["_row"], last_change["at_s"]).alias("changed_s"),
    )


def _status_parts(
    statuses: pl.DataFrame | None, valid: pl.Series, pause_lists: pl.Series, as_of_s: int
) -> tuple[pl.DataFrame | None, pl.DataFrame | None]:
    """From a status history: the pause intervals (statuses the ticket's policy pauses
    on) and the reopen gaps (from the first of a run of resolved/closed statuses to the
    next status that is neither, nor cancelled).

    Each status lasts until the next status event of its ticket; the last one runs on
    (to ``as_of``, clipped later to the ticket's end). ``valid`` and ``pause_lists`` are
    per ticket row: whether it is judged, and its policy's pause statuses.
    """
    if statuses is None:
        return None, None
    s = statuses if bool(valid.all()) else statuses.filter(valid.gather(statuses["_row"]))
    if s.height == 0:
        return None, None
    end = pl.when(_same_next()).then(pl.col("at_s").shift(-1))
    s = s.with_columns(end.alias("s_end"))
    # Only statuses some policy pauses on are matched against their own ticket's policy;
    # labels are compared ignoring case and spaces, worked out once per distinct label.
    pausing = pause_lists.explode().drop_nulls().unique()
    labels = s["value"].drop_nulls().unique()
    hits = labels.filter(labels.str.strip_chars().str.to_lowercase().is_in(pausing.implode()))
    candidates = s.filter(pl.col("value").is_in(hits.implode()))
    label = pl.col("value").str.strip_chars().str.to_lowercase()
    pause = (
        candidates.with_columns(
            pause_lists.gather(candidates["_row"]).alias("pause_statuses")
        ).filter(pl.col("pause_statuses").list.contains(label).fill_null(False))
    ).select(
        "_row",
        pl.col("at_s").alias("ps"),
        pl.col("s_end").fill_null(as_of_s).alias("pe"),
        (
            (pl.col("at_s") <= as_of_s) & (pl.col("s_end").is_null() | (pl.col("s_end") > as_of_s))
        ).alias("current_hold"),
        pl.lit("status").alias("kind"),
    )
    resolved = pl.any_horizontal(pl.col("canonical") == c for c in _RESOLVED).fill_null(False)
    # Only a ticket with a resolution followed by another status can have been reopened:
    # the runs are read in those tickets' statuses alone.
    reopenable = s.select(resolved & _same_next()).to_series()
    if not reopenable.any():
        return (pause if pause.height else None), None
    s = s.filter(pl.col("_row").is_in(s["_row"].filter(reopenable).unique().implode()))
    prev_resolved = pl.when(_same_prev()).then(resolved.shift(1)).otherwise(False)
    run_start = pl.when(resolved & ~prev_resolved).then(pl.col("at_s")).forward_fill()
    reopen = (
        pl.col("canonical").is_not_null()
        & ~resolved
        & (pl.col("canonical") != "cancelled")
        & prev_resolved
    )
    gaps = (
        s.with_columns(prev_resolved.alias("_pr"), run_start.alias("_rs"), reopen.alias("_reopen"))
        .with_columns(pl.when(_same_prev()).then(pl.col("_rs").shift(1)).alias("_gap_start"))
        .filter("_reopen")
        .select(
            "_row",
            pl.col("_gap_start").alias("ps"),
            pl.col("at_s").alias("pe"),
            pl.lit(False).alias("current_hold"),
            pl.lit("reopen").alias("kind"),
        )
    )
    return (pause if pause.height else None), (gaps if gaps.height else None)


_RESOLVED = ("resolved", "closed")
_PART_SCHEMA = {
    "_row": pl.UInt32(),
    "ps": pl.Int64(),
    "pe": pl.Int64(),
    "current_hold": pl.Boolean(),
    "kind": pl.Utf8(),
}


def _interval_parts(
    holds: pl.DataFrame | None,
    reopens: pl.DataFrame | None,
    df: pl.DataFrame,
    as_of_s: int,
) -> list[pl.DataFrame]:
    """Explicit hold intervals and reopen gaps as (_row, ps, pe, current_hold, kind).

    An open-ended hold or reopen gap runs to ``as_of``; ``current_hold`` marks holds in
    force at ``as_of``.
    """
    org_dtype = df.schema["organisation_id"]
    rows = df.select(*KEY, "_row")
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
                pl.lit("hold").alias("kind"),
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
                pl.lit("reopen").alias("kind"),
            )
        )
    return [
        p.join(rows, on=KEY, how="inner").select(list(_PART_SCHEMA)).cast(_PART_SCHEMA)  # type: ignore[arg-type]
        for p in parts
    ]


_ROW_SHIFT = 1 << 33  # above any instant (epoch seconds to the year 2242) and as_of


def _merge(p: pl.DataFrame, lo: str, hi: str) -> pl.DataFrame:
    """Clip to [lo, hi] and merge overlaps per ticket row: _row, ps, pe (disjoint).

    Sorted by row and start, an interval opens a new merged one when it starts after the
    running end of the row's intervals so far. The running end is one global cumulative
    maximum of ``_row·2³³ + pe``: a row's values are above every earlier row's, so the
    maximum never crosses into another ticket, and no window per row is needed.
    """
    p = (
        p.with_columns(
            pl.max_horizontal("ps", lo).alias("ps"),
            pl.min_horizontal("pe", hi).alias("pe"),
        )
        .filter(pl.col("pe") > pl.col("ps"))
        .sort("_row", "ps")
    )
    if p.height == 0:
        return p.select("_row", "ps", "pe")
    base = pl.col("_row").cast(pl.Int64) * _ROW_SHIFT
    running = (base + pl.col("pe")).cum_max()
    opens = (base + pl.col("ps") > running.shift(1)).fill_null(True)
    return (
        p.with_columns(opens.alias("_open"), (running - base).alias("_end"))
        .with_columns(
            pl.when("_open").then(pl.col("ps")).forward_fill().alias("ps"),
            pl.col("_open").shift(-1).fill_null(True).alias("_last"),
        )
        .filter("_last")
        .select("_row", "ps", pl.col("_end").alias("pe"))
    )


def _clip(
    p: pl.DataFrame, bounds: pl.DataFrame, lo: str, hi: str, key: str = "_row"
) -> pl.DataFrame:
    """Intervals ``p`` (key, ps, pe) cut to each bound's [lo, hi], empty ones dropped."""
    return (
        p.join(bounds.select(key, lo, hi), on=key, how="inner")
        .with_columns(
            pl.max_horizontal("ps", lo).alias("ps"), pl.min_horizontal("pe", hi).alias("pe")
        )
        .filter(pl.col("pe") > pl.col("ps"))
        .drop(lo, hi)
    )


def _local_date(epoch_s: int, tz: ZoneInfo) -> date:
    return datetime.fromtimestamp(epoch_s, tz).date()


def _table_total(table: pl.DataFrame) -> int:
    if table.height == 0:
        return 0
    return int(table["cum_before"][-1]) + int(table["end_s"][-1]) - int(table["start_s"][-1])


def _full(n: int, fill: int | None) -> pl.Series:
    return pl.repeat(fill, n, dtype=pl.Int64, eager=True)


class _Tables:
    """Each clock's interval table over the span its rows need, and B(t) / its inverse
    for a column of instants on a column of calendar ids (one pass per clock)."""

    def __init__(self, clocks: Mapping[str, Clock], spans: pl.DataFrame, as_of_s: int) -> None:
        """``spans``: calendar_id, lo (earliest instant), hi (latest), one row per clock."""
        self.clocks = clocks
        self.tz = ZoneInfo(LONDON)
        self.tables: dict[str, tuple[date, date, pl.DataFrame | None]] = {}
        for cal_id, lo, hi in spans.iter_rows():
            first = _local_date(int(lo), self.tz) - timedelta(days=1)
            last = _local_date(max(int(hi), as_of_s), self.tz) + timedelta(days=1)
            self.tables[cal_id] = (first, last, clocks[cal_id].table(first, last))

    def _each(self, cal: pl.Series) -> list[tuple[str, pl.Series | None]]:
        """(calendar, row mask or None for all rows) for each clock present in ``cal``."""
        out: list[tuple[str, pl.Series | None]] = []
        if len(self.tables) == 1:  # the common case: one clock, no string comparisons
            (only,) = self.tables
            if cal.null_count() == cal.len():
                return []
            return [(only, None if cal.null_count() == 0 else cal.is_not_null())]
        present = set(cal.drop_nulls().unique().to_list())
        for cal_id in self.tables:
            if cal_id not in present:
                continue
            mask = (cal == cal_id).fill_null(False)
            out.append((cal_id, None if len(present) == 1 and bool(mask.all()) else mask))
        return out

    def b(self, cal: pl.Series, t: pl.Series) -> pl.Series:
        """B(t) on each row's clock; null where the calendar is null or unknown."""
        out = _full(t.len(), None)
        for cal_id, mask in self._each(cal):
            clock, table = self.clocks[cal_id], self.tables[cal_id][2]
            if mask is None:
                return clock.business_seconds(t, table).cast(pl.Int64)
            out = out.scatter(mask.arg_true(), clock.business_seconds(t.filter(mask), table))
        return out

    def at(self, cal: pl.Series, x: pl.Series) -> pl.Series:
        """The earliest instant each row's clock reaches business time ``x``; the table
        is extended as far as the values need (up to 200 years)."""
        out = _full(x.len(), None)
        for cal_id, mask in self._each(cal):
            clock = self.clocks[cal_id]
            first, last, table = self.tables[cal_id]
            part = x if mask is None else x.filter(mask)
            if table is not None and part.drop_nulls().len():
                max_x = int(part.max())  # type: ignore[arg-type]
                span = (last - first).days
                while table is not None and _table_total(table) < max_x:
                    span = max(span * 2, 60)
                    if span > 365 * 200:
                        raise ValueError("due date over 200 years away: check the SLA target")
                    table = clock.table(first, first + timedelta(days=span))
                self.tables[cal_id] = (first, first + timedelta(days=span), table)
            found = clock.instant_at(part, table).cast(pl.Int64)
            if mask is None:
                return found
            out = out.scatter(mask.arg_true(), found)
        return out

    def paused(self, cal_of_row: pl.Series, p: pl.DataFrame, key: str, n: int) -> pl.Series:
        """Business seconds inside the intervals ``p`` (key, ps, pe), summed per key
        (0 where none), for keys 0..n-1; each interval on its row's clock."""
        if p.height == 0:
            return _full(n, 0)
        cal = cal_of_row.gather(p["_row"])
        secs = self.b(cal, p["pe"]) - self.b(cal, p["ps"])
        agg = p.select(key).with_columns(secs.alias("p")).group_by(key).agg(pl.col("p").sum())
        return _full(n, 0).scatter(agg[key], agg["p"])


def evaluate_tickets(
    tickets: pl.DataFrame,
    policies: pl.DataFrame,
    clocks: Mapping[str, Clock],
    *,
    as_of: datetime,
    holds: pl.DataFrame | None = None,
    reopens: pl.DataFrame | None = None,
    events: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """SLA outcome per ticket (see the module docstring for the rules).

    Output: the ticket columns (``resolved_at`` kept as given; ``priority`` the one in
    force after the ticket's priority history) plus
    ``resolution_at`` Datetime UTC (resolved_at or closed_at), ``logged_date`` Date
    (local), ``calendar_id`` Utf8, ``target_seconds`` Int64, ``target_share`` Float64,
    ``policy_effective_from`` Date, ``is_open`` Bool, ``on_hold`` Bool (open and on hold
    at ``as_of``), ``paused_seconds`` Int64 (on the SLA clock), ``elapsed_sla_seconds``
    Int64 (on the SLA clock, pauses deducted), ``elapsed_wall_seconds`` Int64 (real
    seconds, nothing deducted), ``due_at`` Datetime UTC (open tickets only),
    ``sla_status`` Utf8, ``data_quality_reason`` Utf8; and from histories and the
    policy's rules: ``priority_changed_at``, ``clock_start_at`` Datetime UTC,
    ``pending_seconds`` Int64 (holds and pause statuses only, reopen gaps excluded),
    ``priority_change``, ``reopen_rule`` Utf8, ``cycles`` Int64, ``first_response_at``
    Datetime UTC (recorded, else the resolution), ``response_target_seconds``,
    ``response_elapsed_seconds`` Int64, ``response_due_at`` Datetime UTC,
    ``response_status`` Utf8 and ``warning_pct`` Float64 (open tickets).
    Row order is preserved; data-quality rows have null SLA figures.
    """
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    as_of_s = int(as_of.timestamp())
    df = _prepare_tickets(tickets).with_row_index("_row")
    n = df.height
    df = df.with_columns(
        pl.col("logged_at").dt.epoch("s").alias("logged_s"),
        pl.coalesce("resolved_at", "closed_at").alias("resolution_at"),
        pl.col("logged_at").dt.convert_time_zone(LONDON).dt.date().alias("logged_date"),
    ).with_columns(pl.col("resolution_at").dt.epoch("s").alias("res_s"))
    ev = _prepare_events(events, df, as_of_s, ("status", "priority", "response"))
    df = _apply_priority_history(df, _sorted_kind(ev, "priority"))
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
    )
    valid = df["data_quality_reason"].is_null()
    # The clock of each row that is judged (null for data-quality rejects).
    cal = df.select(pl.when(valid).then(pl.col("calendar_id"))).to_series()
    base = df.filter(valid).select(
        "_row", "logged_s", "end_s", "is_open", "pause_statuses", "reopen_rule",
        "priority_change", "changed_s",
    )  # fmt: skip

    # Pauses: holds, reopen gaps (given, or read from the status history) and the
    # policy's pause statuses; merged per ticket so nothing is subtracted twice.
    parts = _interval_parts(holds, reopens, df, as_of_s)
    status_pauses, status_gaps = _status_parts(
        _sorted_kind(ev, "status"), valid, df["pause_statuses"], as_of_s
    )
    parts += [p for p in (status_pauses, status_gaps) if p is not None]
    allp = (
        pl.concat(parts).join(base.select("_row", "logged_s", "end_s", "is_open"), on="_row")
        if parts
        else pl.DataFrame(schema={**_PART_SCHEMA, "logged_s": pl.Int64, "end_s": pl.Int64})
    )
    hold_now = (
        allp.filter(pl.col("current_hold") & pl.col("is_open"))["_row"]
        if allp.height
        else pl.Series([], dtype=pl.UInt32)
    )
    merged = _merge(allp, "logged_s", "end_s")
    gaps = _merge(allp.filter(pl.col("kind") == "reopen"), "logged_s", "end_s")

    # Where the clock starts: logging, or the priority change (from_change), or the last
    # reopening (new_cycle).
    last_reopen = gaps.group_by("_row").agg(pl.col("pe").max().alias("_lr"), pl.len().alias("_g"))
    base = base.join(last_reopen, on="_row", how="left").with_columns(
        pl.max_horizontal(
            "logged_s",
            pl.when(pl.col("priority_change") == "from_change").then(pl.col("changed_s")),
            pl.when(pl.col("reopen_rule") == "new_cycle").then(pl.col("_lr")),
        ).alias("start_s"),
        (pl.col("_g").fill_null(0) + 1).alias("cycles"),
    )
    start_s = _full(n, None).scatter(base["_row"], base["start_s"])
    cycles = _full(n, None).scatter(base["_row"], base["cycles"])

    spans = (
        df.filter(valid)
        .group_by("calendar_id")
        .agg(pl.col("logged_s").min().alias("lo"), pl.col("end_s").max().alias("hi"))
    )
    tables = _Tables(clocks, spans, as_of_s)
    b_start = tables.b(cal, start_s)
    b_end = tables.b(cal, df["end_s"])
    on_clock = _clip(merged, base, "start_s", "end_s")
    paused = tables.paused(cal, on_clock, "_row", n)
    # Pending time differs from paused time only where a reopen gap paused the clock:
    # recounted for those tickets alone.
    pending = paused
    if gaps.height:
        reopened = gaps["_row"].unique().implode()
        pending_p = _merge(
            allp.filter((pl.col("kind") != "reopen") & pl.col("_row").is_in(reopened)),
            "logged_s",
            "end_s",
        )
        recount = tables.paused(cal, _clip(pending_p, base, "start_s", "end_s"), "_row", n)
        rows = gaps["_row"].unique()
        pending = paused.clone().scatter(rows, recount.gather(rows))

    target = df["target_seconds"]
    open_rows = (valid & df["is_open"]).arg_true()
    due_s = _full(n, None)
    if open_rows.len():
        x = (b_start + target + paused).gather(open_rows)
        due_s = due_s.scatter(open_rows, tables.at(cal.gather(open_rows), x))

    # new_cycle: each cycle before the last (logging or a reopening, to the next
    # resolution) is judged on its own clock too; a resolved ticket with one missed
    # cycle is missed.
    earlier_missed = pl.repeat(False, n, dtype=pl.Boolean, eager=True)
    cyc = gaps.join(
        base.filter(pl.col("reopen_rule") == "new_cycle").select("_row", "logged_s"), on="_row"
    )
    if cyc.height:
        segs = (
            cyc.sort("_row", "ps")
            .with_columns(
                pl.when(_same_prev())
                .then(pl.col("pe").shift(1))
                .otherwise(pl.col("logged_s"))
                .alias("s"),
                pl.col("ps").alias("e"),
            )
            .with_row_index("_seg")
            .select("_seg", "_row", "s", "e")
        )
        seg_cal = cal.gather(segs["_row"])
        in_segs = _clip(
            merged.join(segs.select("_row", "_seg"), on="_row"), segs, "s", "e", key="_seg"
        )
        seg_paused = tables.paused(cal, in_segs, "_seg", segs.height)
        seg_elapsed = tables.b(seg_cal, segs["e"]) - tables.b(seg_cal, segs["s"]) - seg_paused
        over = (
            segs.select("_row")
            .with_columns((seg_elapsed > target.gather(segs["_row"])).alias("over"))
            .filter("over")
        )
        earlier_missed = earlier_missed.scatter(over["_row"].unique(), True)

    elapsed = b_end - b_start - paused
    out = df.with_columns(
        paused.alias("paused_seconds"),
        elapsed.alias("elapsed_sla_seconds"),
        due_s.alias("_due_s"),
        start_s.alias("_start_s"),
        pending.alias("pending_seconds"),
        cycles.alias("cycles"),
        earlier_missed.alias("_earlier_missed"),
    ).with_columns(
        pl.when(valid).then(pl.col("paused_seconds")).alias("paused_seconds"),
        pl.when(valid).then(pl.col("pending_seconds")).alias("pending_seconds"),
    )
    status = (
        pl.when(pl.col("data_quality_reason").is_not_null())
        .then(pl.lit("data_quality"))
        .when(
            ~pl.col("is_open")
            & (pl.col("elapsed_sla_seconds") <= pl.col("target_seconds"))
            & ~pl.col("_earlier_missed")
        )
        .then(pl.lit("met"))
        .when(~pl.col("is_open"))
        .then(pl.lit("missed"))
        .when(pl.col("elapsed_sla_seconds") > pl.col("target_seconds"))
        .then(pl.lit("open_breached"))
        .otherwise(pl.lit("open_within"))
    )
    out = out.with_columns(
        status.alias("sla_status"),
        (pl.col("end_s") - pl.col("logged_s")).alias("elapsed_wall_seconds"),
        _utc("_due_s").alias("due_at"),
        pl.col("_row").is_in(hold_now.implode()).alias("on_hold"),
        _utc("changed_s").alias("priority_changed_at"),
        _utc("_start_s").alias("clock_start_at"),
    )
    out = _first_response(out, ev, cal, tables, merged, as_of_s)
    out = out.with_columns(_warning(policies, out).alias("warning_pct"))
    return out.with_columns(
        pl.when(valid).then(pl.col(c)).alias(c) for c in ("priority_change", "reopen_rule")
    ).drop(
        "_row", "logged_s", "res_s", "end_s", "_due_s", "_start_s", "changed_s",
        "_earlier_missed", "pause_statuses", "warning_pcts",
    )  # fmt: skip


def _utc(col: str) -> pl.Expr:
    return pl.from_epoch(col, time_unit="s").dt.replace_time_zone("UTC").cast(_DT_UTC)


def _first_response(
    out: pl.DataFrame,
    ev: Events | None,
    cal: pl.Series,
    tables: _Tables,
    merged: pl.DataFrame,
    as_of_s: int,
) -> pl.DataFrame:
    """First response: from logging to the first response (the earliest of the ticket's
    ``first_response_at`` and its response events; failing both, the resolution), on the
    policy's clock with the same pauses. Judged only where the policy has a response
    target: met, missed, or while waiting open_within / open_breached; a response before
    logging is ``data_quality``."""
    n = out.height
    recorded = pl.col("first_response_at").dt.epoch("s")
    responses = _sorted_kind(ev, "response")
    if responses is not None:
        first = responses.filter(~_same_prev())  # each row's earliest
        out = out.with_columns(
            _full(n, None).scatter(first["_row"], first["at_s"]).alias("_ev_resp")
        )
        recorded = pl.min_horizontal(recorded, pl.col("_ev_resp"))
    out = out.with_columns(
        pl.coalesce(recorded, pl.when(~pl.col("is_open")).then(pl.col("res_s"))).alias("_resp_s")
    )
    judged = (
        pl.col("data_quality_reason").is_null() & pl.col("response_target_seconds").is_not_null()
    )
    responded = pl.col("_resp_s").is_not_null() & (pl.col("_resp_s") <= as_of_s)
    rows = out.with_columns(judged.alias("_j"), responded.alias("_r")).filter(
        pl.col("_j") & (~pl.col("_r") | (pl.col("_resp_s") >= pl.col("logged_s")))
    )
    elapsed = _full(n, None)
    due = _full(n, None)
    if rows.height:
        bounds = rows.select(
            "_row",
            "logged_s",
            pl.when(pl.col("_r"))
            .then(pl.col("_resp_s"))
            .otherwise(pl.max_horizontal(pl.lit(as_of_s), pl.col("logged_s")))
            .alias("r_end"),
        )
        rcal = cal.gather(bounds["_row"])
        p = tables.paused(cal, _clip(merged, bounds, "logged_s", "r_end"), "_row", n).gather(
            bounds["_row"]
        )
        b0 = tables.b(rcal, bounds["logged_s"])
        e = tables.b(rcal, bounds["r_end"]) - b0 - p
        elapsed = elapsed.scatter(bounds["_row"], e)
        waiting = ~rows["_r"]
        if waiting.any():
            wrows = bounds["_row"].filter(waiting)
            x = (b0 + rows["response_target_seconds"] + p).filter(waiting)
            due = due.scatter(wrows, tables.at(cal.gather(wrows), x))
    status = (
        pl.when(~pl.col("_j"))
        .then(None)
        .when(pl.col("_r") & (pl.col("_resp_s") < pl.col("logged_s")))
        .then(pl.lit("data_quality"))
        .when(
            pl.col("_r") & (pl.col("response_elapsed_seconds") <= pl.col("response_target_seconds"))
        )
        .then(pl.lit("met"))
        .when(pl.col("_r"))
        .then(pl.lit("missed"))
        .when(pl.col("response_elapsed_seconds") > pl.col("response_target_seconds"))
        .then(pl.lit("open_breached"))
        .otherwise(pl.lit("open_within"))
    )
    return (
        out.with_columns(
            judged.alias("_j"),
            responded.alias("_r"),
            elapsed.alias("response_elapsed_seconds"),
            _utc_series(due).alias("response_due_at"),
            _utc("_resp_s").alias("first_response_at"),
        )
        .with_columns(
            status.alias("response_status"),
            pl.when(pl.col("_j"))
            .then(pl.col("response_target_seconds"))
            .alias("response_target_seconds"),
        )
        .drop("_j", "_r", "_resp_s", *(["_ev_resp"] if responses is not None else []))
    )


def _utc_series(s: pl.Series) -> pl.Series:
    return pl.DataFrame({"x": s}).select(_utc("x")).to_series()


def _warning(policies: pl.DataFrame, out: pl.DataFrame) -> pl.Expr:
    """For an open ticket, the highest warning threshold of its policy (% of the target
    elapsed) it has reached; null when none (or when closed)."""
    if "warning_pcts" not in policies:
        return pl.lit(None, pl.Float64)
    levels = (
        policies["warning_pcts"].cast(pl.List(pl.Float64)).explode().drop_nulls().unique().sort()
    )
    if levels.len() == 0:
        return pl.lit(None, pl.Float64)
    pct = pl.col("elapsed_sla_seconds") * 100.0 / pl.col("target_seconds")
    reached = [
        pl.when(
            pl.col("is_open")
            & pl.col("warning_pcts").list.contains(pl.lit(t)).fill_null(False)
            & (pct >= t)
        ).then(pl.lit(t))
        for t in levels.to_list()
    ]
    return pl.max_horizontal(reached)


# ------------------------------------------------------------------------------ OLAs

OLA_STATUSES = ("met", "missed", "open_within", "open_breached")
_OLA_OUTPUT = {
    "organisation_id": None,
    "ticket_key": pl.Utf8(),
    "resolver_group": pl.Utf8(),
    "priority": pl.Utf8(),
    "team": pl.Utf8(),
    "closure_category": pl.Utf8(),
    "logged_date": pl.Date(),
    "resolution_at": _DT_UTC,
    "calendar_id": pl.Utf8(),
    "target_seconds": pl.Int64(),
    "target_share": pl.Float64(),
    "policy_effective_from": pl.Date(),
    "policy_priority": pl.Utf8(),
    "assigned_at": _DT_UTC,
    "released_at": _DT_UTC,
    "assignments": pl.UInt32(),
    "elapsed_seconds": pl.Int64(),
    "paused_seconds": pl.Int64(),
    "is_open": pl.Boolean(),
    "due_at": _DT_UTC,
    "ola_status": pl.Utf8(),
}


def _ola_policy_frame(
    olas: pl.DataFrame, org_dtype: pl.DataType, clocks: Mapping[str, Clock]
) -> pl.DataFrame:
    """OLA policies as SLA policies (same columns) plus ``resolver_key`` (the group,
    matched ignoring case and surrounding spaces)."""
    if "priority" not in olas:
        olas = olas.with_columns(pl.lit(None, pl.Utf8).alias("priority"))
    name = olas["resolver_group"].cast(pl.Utf8).str.strip_chars()
    return _policy_frame(olas, org_dtype, clocks).with_columns(
        name.str.to_lowercase().alias("resolver_key"), name.alias("resolver_name")
    )


def evaluate_olas(
    tickets: pl.DataFrame,
    events: pl.DataFrame | None,
    olas: pl.DataFrame,
    clocks: Mapping[str, Clock],
    *,
    as_of: datetime,
    holds: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """OLA outcome per ticket and resolver group.

    ``olas``: organisation_id, resolver_group, priority (null = every priority),
    target_seconds | target_working_days, calendar_id, target_share, effective_from and
    optionally pause_statuses. The group's clock runs while the ticket is assigned to it:
    from an assignment event to the ticket's next assignment, the assignment's own end
    (``end_at``) or the ticket's resolution (``as_of`` while open), whichever is first;
    repeated assignments to one group add up. The policy is the one in force (for the
    ticket's priority, else for every priority) on the local date of the first
    assignment to the group. Holds and the OLA's pause statuses pause it (merged, never
    twice). The group is named as its OLA names it (assignment events match it ignoring
    case and surrounding spaces). ``met`` / ``missed`` once the group has let go of the
    ticket (or it is resolved); ``open_within`` / ``open_breached`` while assigned, with
    ``due_at`` the instant the target is reached if work goes on. Groups without an OLA
    give no row. ``released_at``: when the group last let go of the ticket (null while
    assigned); ``paused_seconds``: the pauses inside its assignments, on the OLA's clock;
    ``policy_priority``: the OLA's priority (null: one for every priority).
    """
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")
    as_of_s = int(as_of.timestamp())
    df = _prepare_tickets(tickets).with_row_index("_row")
    org_dtype = df.schema["organisation_id"]
    schema = {k: (org_dtype if v is None else v) for k, v in _OLA_OUTPUT.items()}
    empty = pl.DataFrame(schema=schema)
    df = (
        df.with_columns(
            pl.col("logged_at").dt.epoch("s").alias("logged_s"),
            pl.coalesce("resolved_at", "closed_at").alias("resolution_at"),
        )
        .with_columns(
            pl.col("resolution_at").dt.epoch("s").alias("res_s"),
            (
                pl.col("resolution_at").is_null()
                | (pl.col("resolution_at").dt.epoch("s") > as_of_s)
            ).alias("is_open"),
            pl.col("logged_at").dt.convert_time_zone(LONDON).dt.date().alias("logged_date"),
        )
        .with_columns(
            pl.when(pl.col("is_open"))
            .then(pl.max_horizontal(pl.lit(as_of_s, pl.Int64), pl.col("logged_s")))
            .otherwise(pl.col("res_s"))
            .alias("end_s")
        )
        .filter(pl.col("logged_s").is_not_null() & (pl.col("end_s") >= pl.col("logged_s")))
    )
    ev = _prepare_events(events, df, as_of_s, ("assignment", "status", "priority"))
    assigns = _sorted_kind(ev, "assignment")
    if assigns is None or olas.height == 0:
        return empty
    df = _apply_priority_history(df, _sorted_kind(ev, "priority"))
    segs = (
        assigns.join(
            df.select("_row", "logged_s", pl.col("end_s").alias("t_end"), "is_open"),
            on="_row",
            how="inner",
            maintain_order="left",
        )
        .with_columns(pl.when(_same_next()).then(pl.col("at_s").shift(-1)).alias("_next"))
        .with_columns(
            pl.max_horizontal("at_s", "logged_s").alias("s"),
            pl.min_horizontal("end_s", "_next", "t_end").alias("e"),
            pl.col("value").str.strip_chars().alias("resolver_group"),
        )
        .with_columns(
            (
                pl.col("is_open")
                & pl.col("end_s").is_null()
                & pl.col("_next").is_null()
                & (pl.col("e") == pl.col("t_end"))
            ).alias("current"),
            pl.col("resolver_group").str.to_lowercase().alias("resolver_key"),
        )
        .filter((pl.col("e") > pl.col("s")) | pl.col("current"))
        .select("_row", "s", "e", "current", "resolver_group", "resolver_key")
    )
    if segs.height == 0:
        return empty
    # One OLA per ticket and group: the policy at the first assignment to the group.
    pairs = (
        segs.group_by("_row", "resolver_key", maintain_order=True)
        .agg(
            pl.col("resolver_group").first(),
            pl.col("s").min().alias("first_s"),
            pl.len().alias("assignments"),
        )
        .join(
            df.select("_row", "organisation_id", "priority"),
            on="_row",
            how="inner",
            maintain_order="left",
        )
        .with_columns(
            pl.from_epoch("first_s", time_unit="s")
            .dt.replace_time_zone("UTC")
            .dt.convert_time_zone(LONDON)
            .dt.date()
            .alias("logged_date")
        )
        .with_row_index("_pair")
    )
    pol = _ola_policy_frame(olas, org_dtype, clocks)
    cols = [
        "target_seconds",
        "calendar_id",
        "target_share",
        "policy_effective_from",
        "pause_statuses",
        "resolver_name",
        "priority",
    ]
    specific = pol.filter(pl.col("priority").is_not_null())
    generic = pol.filter(pl.col("priority").is_null())
    gidx = _policy_index(pairs, generic, ["organisation_id", "resolver_key"])
    got = {c: generic[c].gather(gidx) for c in cols}
    if specific.height:
        sidx = _policy_index(pairs, specific, ["organisation_id", "resolver_key", "priority"])
        use = sidx.is_not_null()
        for c in cols:
            got[c] = specific[c].gather(sidx).zip_with(use, got[c])
    got["policy_priority"] = got.pop("priority").rename("policy_priority")
    pairs = pairs.with_columns(pl.Series(c, v) for c, v in got.items()).filter(
        pl.col("policy_effective_from").is_not_null()
        & pl.col("target_seconds").is_not_null()
        & pl.col("calendar_id").is_in(list(clocks))
    )
    if pairs.height == 0:
        return empty
    segs = (
        segs.join(
            pairs.select("_row", "resolver_key", "_pair", "calendar_id", "pause_statuses"),
            on=["_row", "resolver_key"],
            how="inner",
        )
        .sort("_pair", "s")
        .with_row_index("_seg")
    )
    # Pauses inside each assignment: holds and the OLA's pause statuses, merged.
    parts = [p.select("_row", "ps", "pe") for p in _interval_parts(holds, None, df, as_of_s)]
    statuses = _sorted_kind(ev, "status")
    if statuses is not None:
        st = statuses.with_columns(
            pl.when(_same_next()).then(pl.col("at_s").shift(-1)).fill_null(as_of_s).alias("pe"),
            pl.col("value").str.strip_chars().str.to_lowercase().alias("_status"),
        ).select("_row", pl.col("at_s").alias("ps"), "pe", "_status")
    pieces = [p.join(segs.select("_row", "_seg", "s", "e"), on="_row", how="inner") for p in parts]
    if statuses is not None:
        pieces.append(
            st.join(segs.select("_row", "_seg", "s", "e", "pause_statuses"), on="_row")
            .filter(pl.col("pause_statuses").list.contains(pl.col("_status")).fill_null(False))
            .select("_row", "ps", "pe", "_seg", "s", "e")
        )
    spans = segs.group_by("calendar_id").agg(
        pl.col("s").min().alias("lo"), pl.col("e").max().alias("hi")
    )
    tables = _Tables(clocks, spans, as_of_s)
    cal = segs["calendar_id"]
    seg_paused = _full(segs.height, 0)
    if pieces:
        inside = _merge(pl.concat(pieces).rename({"_row": "_t", "_seg": "_row"}), "s", "e").rename(
            {"_row": "_seg"}
        )
        inside = inside.join(segs.select("_seg", "_row"), on="_seg")
        if inside.height:
            secs = tables.b(cal.gather(inside["_seg"]), inside["pe"]) - tables.b(
                cal.gather(inside["_seg"]), inside["ps"]
            )
            agg = (
                inside.select("_seg")
                .with_columns(secs.alias("p"))
                .group_by("_seg")
                .agg(pl.col("p").sum())
            )
            seg_paused = seg_paused.scatter(agg["_seg"], agg["p"])
    b_s = tables.b(cal, segs["s"])
    seg_elapsed = tables.b(cal, segs["e"]) - b_s - seg_paused
    segs = segs.with_columns(seg_elapsed.alias("_el"), b_s.alias("_bs"), seg_paused.alias("_sp"))
    per = segs.group_by("_pair").agg(
        pl.col("_el").sum().alias("elapsed_seconds"),
        pl.col("current").any().alias("is_open"),
        # The running assignment (if any) is the pair's last: what came before it.
        (pl.col("_el").sum() - pl.col("_el").last()).alias("_before"),
        pl.col("_bs").last().alias("_bs"),
        pl.col("_sp").last().alias("_sp"),
        pl.col("_sp").sum().alias("paused_seconds"),
        pl.col("e").last().alias("_released"),
    )
    pairs = pairs.join(per, on="_pair", how="inner")
    due = _full(pairs.height, None)
    open_idx = pairs["is_open"].arg_true()
    if open_idx.len():
        sub = pairs.filter(pl.col("is_open"))
        x = sub["_bs"] + (sub["target_seconds"] - sub["_before"]) + sub["_sp"]
        due = due.scatter(open_idx, tables.at(sub["calendar_id"], x))
    status = (
        pl.when(pl.col("is_open") & (pl.col("elapsed_seconds") > pl.col("target_seconds")))
        .then(pl.lit("open_breached"))
        .when(pl.col("is_open"))
        .then(pl.lit("open_within"))
        .when(pl.col("elapsed_seconds") <= pl.col("target_seconds"))
        .then(pl.lit("met"))
        .otherwise(pl.lit("missed"))
    )
    tick = df.select(
        "_row", "ticket_key", "team", "closure_category", "logged_date", "resolution_at"
    )
    return (
        pairs.drop("logged_date", "resolver_group")
        .rename({"resolver_name": "resolver_group"})
        .join(tick, on="_row", how="left")
        .with_columns(
            due.alias("_due"),
            _utc("first_s").alias("assigned_at"),
            pl.when(~pl.col("is_open")).then(_utc("_released")).alias("released_at"),
            status.alias("ola_status"),
        )
        .with_columns(_utc("_due").alias("due_at"))
        .sort("_row", "first_s")
        .select(list(schema))
        .cast(schema)  # type: ignore[arg-type]
    )


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


def _rates() -> list[pl.Expr]:
    """% met, the target share in points and the mean closure times in hours, from a
    group's counts and its ``_share``/``_sla_*``/``_wall_*`` sums: exact means of whole
    seconds (Float64 as before), each rounded once, half up."""
    return [
        figures.half_up_pct(pl.col("met"), pl.col("total")).alias("pct_met"),
        (figures.half_up_float(pl.col("_share"), 4) * 100)
        .cast(pl.Decimal(38, 2))
        .alias("target_share_pct"),
        figures.half_up(pl.col("_sla_sum"), pl.col("_sla_n") * 3600, 2)
        .cast(pl.Float64)
        .alias("avg_closure_sla_clock_hours"),
        figures.half_up(pl.col("_wall_sum"), pl.col("_wall_n") * 3600, 2)
        .cast(pl.Float64)
        .alias("avg_closure_wall_hours"),
    ]


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
        g.with_columns(_rates())
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


TOTALS_BY = ("priority", "team", "closure_category")


def sla_totals(
    results: pl.DataFrame,
    f: TicketFilter | None = None,
    by: Sequence[str] = ("priority",),
) -> pl.DataFrame:
    """Over the whole filtered range (any dates, no months), per organisation and the
    ``by`` columns (any of priority, team, closure_category): met, missed, total,
    pct_met, target_share_pct (of the most recently effective policy among the tickets),
    target_achieved, and the mean closure times in hours (2 dp, half up), as in
    ``monthly_sla``; plus open_within and open_breached (tickets open as evaluated).
    A missing team or closure category is its own group (null)."""
    keys = ["organisation_id", *[c for c in TOTALS_BY if c in by]]
    r = apply_filter(results, f)
    resolved = pl.col("sla_status").is_in(["met", "missed"])
    g = r.group_by(keys).agg(
        (pl.col("sla_status") == "met").sum().alias("met"),
        (pl.col("sla_status") == "missed").sum().alias("missed"),
        resolved.sum().alias("total"),
        pl.col("target_share")
        .filter(resolved)
        .sort_by(pl.col("policy_effective_from").filter(resolved))
        .last()
        .alias("_share"),
        pl.col("elapsed_sla_seconds").filter(resolved).sum().alias("_sla_sum"),
        pl.col("elapsed_sla_seconds").filter(resolved).count().alias("_sla_n"),
        pl.col("elapsed_wall_seconds").filter(resolved).sum().alias("_wall_sum"),
        pl.col("elapsed_wall_seconds").filter(resolved).count().alias("_wall_n"),
        (pl.col("sla_status") == "open_within").sum().alias("open_within"),
        (pl.col("sla_status") == "open_breached").sum().alias("open_breached"),
    )
    return (
        g.with_columns(_rates())
        .with_columns((pl.col("pct_met") >= pl.col("target_share_pct")).alias("target_achieved"))
        .select(
            *keys,
            "met",
            "missed",
            "total",
            "pct_met",
            "target_share_pct",
            "target_achieved",
            "avg_closure_sla_clock_hours",
            "avg_closure_wall_hours",
            "open_within",
            "open_breached",
        )
        .sort(keys, nulls_last=True)
    )


def ola_summary(olas: pl.DataFrame, f: TicketFilter | None = None) -> pl.DataFrame:
    """OLA outcomes per organisation and resolver group: met, missed, total (met +
    missed), pct_met (2 dp, half up), target_share_pct (the most recently effective
    OLA's), target_achieved, open_within, open_breached."""
    r = apply_filter(olas, f)
    done = pl.col("ola_status").is_in(["met", "missed"])
    g = r.group_by("organisation_id", "resolver_group").agg(
        (pl.col("ola_status") == "met").sum().alias("met"),
        (pl.col("ola_status") == "missed").sum().alias("missed"),
        done.sum().alias("total"),
        pl.col("target_share").sort_by("policy_effective_from").last().alias("_share"),
        (pl.col("ola_status") == "open_within").sum().alias("open_within"),
        (pl.col("ola_status") == "open_breached").sum().alias("open_breached"),
    )
    return (
        g.with_columns(
            figures.half_up_pct(pl.col("met"), pl.col("total")).alias("pct_met"),
            (figures.half_up_float(pl.col("_share"), 4) * 100)
            .cast(pl.Decimal(38, 2))
            .alias("target_share_pct"),
        )
        .with_columns((pl.col("pct_met") >= pl.col("target_share_pct")).alias("target_achieved"))
        .select(
            "organisation_id",
            "resolver_group",
            "met",
            "missed",
            "total",
            "pct_met",
            "target_share_pct",
            "target_achieved",
            "open_within",
            "open_breached",
        )
        .sort("organisation_id", "resolver_group")
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
