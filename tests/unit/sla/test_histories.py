"""Ticket histories through the SLA engine, each test a user's case with exact figures.

Calendar: Mon–Fri 08:00–18:00, England & Wales (``std``), unless the case says otherwise.
Monday 7 June 2021 is an ordinary working day (BST).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from services.metrics.sla.calendar import BusinessCalendar
from services.metrics.sla.engine import evaluate_olas, evaluate_tickets

H = 3600
LONDON = ZoneInfo("Europe/London")
DT = pl.Datetime("us", "UTC")
LATER = datetime(2021, 7, 1, 12, tzinfo=UTC)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON).astimezone(UTC)  # type: ignore[misc]


def ticket(**kw: Any) -> pl.DataFrame:
    row = {
        "organisation_id": "o1",
        "ticket_key": "T0",
        "type": "incident",
        "priority": "P1",
        "logged_at": local(2021, 6, 7, 9),
        "resolved_at": None,
    } | kw
    return pl.DataFrame([row], schema_overrides={"logged_at": DT, "resolved_at": DT})


def policy(*rows: dict[str, Any]) -> pl.DataFrame:
    base = {
        "organisation_id": "o1",
        "priority": "P1",
        "request_type": None,
        "target_seconds": 4 * H,
        "calendar_id": "std",
        "target_share": 0.95,
        "effective_from": date(2020, 1, 1),
        "pause_statuses": ["Pending"],
        "priority_change": "retroactive",
        "reopen_rule": "gap_excluded",
        "response_target_seconds": None,
        "warning_pcts": [75.0, 90.0],
    }
    return pl.DataFrame(
        [base | r for r in rows] or [base],
        schema_overrides={
            "request_type": pl.Utf8,
            "pause_statuses": pl.List(pl.Utf8),
            "response_target_seconds": pl.Int64,
            "warning_pcts": pl.List(pl.Float64),
        },
    )


def events(*rows: tuple[str, datetime, str | None, str | None]) -> pl.DataFrame:
    return pl.DataFrame(
        [
            {
                "organisation_id": "o1",
                "ticket_key": "T0",
                "kind": k,
                "at": at,
                "value": v,
                "canonical": c,
            }
            for k, at, v, c in rows
        ],
        schema_overrides={"at": DT, "value": pl.Utf8, "canonical": pl.Utf8},
    )


def run(t: pl.DataFrame, p: pl.DataFrame, clocks: Any, e: pl.DataFrame, as_of: datetime = LATER):
    return evaluate_tickets(t, p, clocks, as_of=as_of, events=e).to_dicts()[0]


def test_glpi_24481_a_ticket_pending_with_a_reason_never_breaches_while_pending(clocks):
    # Logged 09:00, pending ("waiting for the user's reply") from 10:00 and still pending
    # three weeks on: one working hour used of four, never breached.
    history = events(
        ("status", local(2021, 6, 7, 9), "New", "new"),
        ("status", local(2021, 6, 7, 10), "Pending", "on_hold"),
    )
    for as_of in (local(2021, 6, 7, 17), local(2021, 6, 25, 16)):
        r = run(ticket(), policy(), clocks, history, as_of)
        assert (r["sla_status"], r["elapsed_sla_seconds"], r["on_hold"]) == (
            "open_within",
            1 * H,
            True,
        )
    # Due three working hours after the moment asked about, as if work resumed then:
    # Friday 16:00 + 2 h to 18:00 + 1 h on Monday morning.
    assert r["due_at"] == local(2021, 6, 28, 9)
    assert r["warning_pct"] is None  # 25 % of the target: below the 75 % warning


def test_glpi_6902_pending_time_survives_a_priority_change(clocks):
    # Logged P3 at 09:00, pending 10:00-13:00, raised to P2 at 14:00, resolved 16:00.
    history = events(
        ("priority", local(2021, 6, 7, 9), "P3", "P3"),
        ("status", local(2021, 6, 7, 10), "Pending", "on_hold"),
        ("status", local(2021, 6, 7, 13), "In progress", "open"),
        ("priority", local(2021, 6, 7, 14), "P2", "P2"),
    )
    t = ticket(priority="P3", resolved_at=local(2021, 6, 7, 16))
    rows = (
        {"priority": "P2", "target_seconds": 8 * H},
        {"priority": "P3", "target_seconds": 16 * H},
    )
    retro = run(t, policy(*rows), clocks, history)
    # Retroactive: the P2 target from logging, the three pending hours still deducted
    # (7 h - 3 h = 4 h; GLPI's 7 h is the bug).
    assert (retro["priority"], retro["elapsed_sla_seconds"], retro["pending_seconds"]) == (
        "P2",
        4 * H,
        3 * H,
    )
    assert retro["priority_changed_at"] == local(2021, 6, 7, 14)
    assert retro["clock_start_at"] == local(2021, 6, 7, 9)
    assert retro["sla_status"] == "met"
    # From the change: the P2 target runs from 14:00, 2 h to resolution.
    from_change = [r | {"priority_change": "from_change"} for r in rows]
    assert run(t, policy(*from_change), clocks, history)["elapsed_sla_seconds"] == 2 * H
    # A pause running across the change stays paused after it: pending 13:00-15:00,
    # changed at 14:00 → 14:00-16:00 less the pending hour 14:00-15:00 = 1 h.
    across = events(
        ("priority", local(2021, 6, 7, 9), "P3", "P3"),
        ("status", local(2021, 6, 7, 13), "Pending", "on_hold"),
        ("priority", local(2021, 6, 7, 14), "P2", "P2"),
        ("status", local(2021, 6, 7, 15), "In progress", "open"),
    )
    r = run(t, policy(*from_change), clocks, across)
    assert (r["elapsed_sla_seconds"], r["pending_seconds"]) == (1 * H, 1 * H)


def test_glpi_23359_time_between_solved_and_reopened_is_not_pending(clocks):
    # Pending 10-11, solved 12:00 Monday, reopened 10:00 Tuesday, solved again 11:00.
    history = events(
        ("status", local(2021, 6, 7, 10), "Pending", "on_hold"),
        ("status", local(2021, 6, 7, 11), "In progress", "open"),
        ("status", local(2021, 6, 7, 12), "Solved", "resolved"),
        ("status", local(2021, 6, 8, 10), "In progress", "open"),
        ("status", local(2021, 6, 8, 11), "Solved", "resolved"),
    )
    t = ticket(resolved_at=local(2021, 6, 8, 11), reopen_count=1)
    r = run(t, policy(), clocks, history)
    # 3 h Monday - 1 h pending + 1 h Tuesday; the 8 working hours between solving and
    # reopening are a reopen gap, not pending time.
    assert (r["elapsed_sla_seconds"], r["pending_seconds"], r["paused_seconds"]) == (
        3 * H,
        1 * H,
        9 * H,
    )
    assert (r["cycles"], r["reopen_rule"], r["sla_status"]) == (2, "gap_excluded", "met")
    # Jira's way: the clock restarts at the reopening (1 h); the first cycle (2 h net)
    # met its target too.
    cycle = run(t, policy({"reopen_rule": "new_cycle"}), clocks, history)
    assert (cycle["elapsed_sla_seconds"], cycle["clock_start_at"], cycle["sla_status"]) == (
        1 * H,
        local(2021, 6, 8, 10),
        "met",
    )
    # A first cycle over target makes the ticket missed, whatever the last cycle did.
    slow = run(
        t, policy({"reopen_rule": "new_cycle", "target_seconds": int(1.5 * H)}), clocks, history
    )
    assert (slow["elapsed_sla_seconds"], slow["sla_status"]) == (1 * H, "missed")


def test_a_status_pause_over_lunch_on_a_split_shift_calendar():
    split = BusinessCalendar(
        "split", {d: ((time(8), time(12)), (time(13), time(17))) for d in range(5)}
    )
    history = events(
        ("status", local(2021, 6, 7, 11, 30), "Awaiting customer", "on_hold"),
        ("status", local(2021, 6, 7, 13, 30), "In progress", "open"),
    )
    t = ticket(logged_at=local(2021, 6, 7, 10), resolved_at=local(2021, 6, 7, 15))
    p = policy({"calendar_id": "split", "pause_statuses": ["  awaiting CUSTOMER "]})
    r = run(t, p, {"split": split}, history)
    # 10-12 and 13-15 are 4 working hours; the pause covers 11:30-12:00 and 13:00-13:30
    # of working time (the lunch hour was never working time): 3 h.
    assert (r["elapsed_sla_seconds"], r["pending_seconds"], r["sla_status"]) == (
        3 * H,
        1 * H,
        "met",
    )


def test_pause_statuses_merge_with_holds_never_twice(clocks):
    holds = pl.DataFrame(
        {"organisation_id": ["o1"], "ticket_key": ["T0"], "start": [local(2021, 6, 7, 10)],
         "end": [local(2021, 6, 7, 12)]},
        schema_overrides={"start": DT, "end": DT},
    )  # fmt: skip
    history = events(
        ("status", local(2021, 6, 7, 11), "Pending", "on_hold"),
        ("status", local(2021, 6, 7, 13), "In progress", "open"),
    )
    t = ticket(resolved_at=local(2021, 6, 7, 17))
    r = evaluate_tickets(t, policy(), clocks, as_of=LATER, holds=holds, events=history).row(
        0, named=True
    )
    # Hold 10-12 and pending 11-13 overlap: 3 h paused, not 4; 8 h - 3 h = 5 h.
    assert (r["paused_seconds"], r["elapsed_sla_seconds"], r["sla_status"]) == (
        3 * H,
        5 * H,
        "missed",
    )


def test_first_response_met_while_resolution_missed(clocks):
    history = events(("response", local(2021, 6, 7, 9, 20), None, None))
    t = ticket(priority="P2", resolved_at=local(2021, 6, 8, 12))
    p = policy({"priority": "P2", "target_seconds": 8 * H, "response_target_seconds": 30 * 60})
    r = run(t, p, clocks, history)
    assert (r["sla_status"], r["elapsed_sla_seconds"]) == ("missed", 13 * H)
    assert (r["response_status"], r["response_elapsed_seconds"]) == ("met", 20 * 60)
    assert r["first_response_at"] == local(2021, 6, 7, 9, 20)
    # Waiting for a response: open, due 30 working minutes after logging.
    waiting = run(ticket(priority="P2"), p, clocks, events(), as_of=local(2021, 6, 7, 9, 29))
    assert (waiting["response_status"], waiting["response_due_at"]) == (
        "open_within",
        local(2021, 6, 7, 9, 30),
    )


def test_an_ola_starts_at_assignment(clocks):
    history = events(
        ("assignment", local(2021, 6, 7, 11), "Network", None),
        ("assignment", local(2021, 6, 7, 14), "Desktop", None),
    )
    olas = pl.DataFrame(
        [
            {
                "organisation_id": "o1",
                "resolver_group": "network",
                "priority": None,
                "target_seconds": 2 * H,
                "calendar_id": "std",
                "target_share": 0.9,
                "effective_from": date(2020, 1, 1),
            },
            {
                "organisation_id": "o1",
                "resolver_group": "Desktop",
                "priority": "P1",
                "target_seconds": 4 * H,
                "calendar_id": "std",
                "target_share": 0.9,
                "effective_from": date(2020, 1, 1),
            },
        ],
        schema_overrides={"priority": pl.Utf8},
    )
    done = evaluate_olas(
        ticket(resolved_at=local(2021, 6, 7, 15)), history, olas, clocks, as_of=LATER
    )
    # Network held it 11:00-14:00 (3 h, not the 5 h since logging): missed its 2 h;
    # Desktop 14:00-15:00: met.
    assert done.select("resolver_group", "assigned_at", "elapsed_seconds", "ola_status").rows() == [
        ("network", local(2021, 6, 7, 11), 3 * H, "missed"),  # as its OLA names it
        ("Desktop", local(2021, 6, 7, 14), 1 * H, "met"),
    ]
    running = evaluate_olas(ticket(), history, olas, clocks, as_of=local(2021, 6, 7, 16))
    desktop = running.filter(pl.col("resolver_group") == "Desktop").row(0, named=True)
    assert (desktop["elapsed_seconds"], desktop["ola_status"], desktop["due_at"]) == (
        2 * H,
        "open_within",
        local(2021, 6, 7, 18),
    )


@pytest.mark.parametrize(("offset", "status"), [(-1, "open_within"), (1, "open_breached")])
def test_one_second_either_side_of_due_with_a_history(clocks, offset, status):
    history = events(("status", local(2021, 6, 7, 10), "Pending", "on_hold"),
                     ("status", local(2021, 6, 7, 11), "In progress", "open"))  # fmt: skip
    due = local(2021, 6, 7, 14)  # 4 working hours after 09:00, plus the pending hour
    r = run(ticket(), policy(), clocks, history, as_of=due + timedelta(seconds=offset))
    assert r["sla_status"] == status
    assert r["elapsed_sla_seconds"] == 4 * H + offset
    if offset < 0:
        assert r["due_at"] == due
        assert r["warning_pct"] == 90.0


def test_events_after_as_of_have_not_happened(clocks):
    history = events(("priority", local(2021, 6, 7, 12), "P2", "P2"))
    p = policy({}, {"priority": "P2", "target_seconds": 8 * H})
    before = run(ticket(), p, clocks, history, as_of=local(2021, 6, 7, 11))
    after = run(ticket(), p, clocks, history, as_of=local(2021, 6, 7, 13))
    assert (before["priority"], before["target_seconds"]) == ("P1", 4 * H)
    assert (after["priority"], after["target_seconds"]) == ("P2", 8 * H)


def test_events_find_their_tickets_in_any_order_and_unknown_tickets_are_ignored(clocks):
    """The same histories give the same figures whether the events come in the tickets'
    order (every ticket with a history: each run of events is its ticket's row), in
    another order, interleaved, or with events of tickets that are not there."""
    keys = ["T0", "T1", "T2"]
    tickets = pl.concat([ticket(ticket_key=k) for k in keys])
    pending = [
        ("status", local(2021, 6, 7, 10 + i), "Pending", "on_hold") for i in range(len(keys))
    ]
    back = [("status", local(2021, 6, 7, 14), "In progress", "open")] * len(keys)
    ordered = pl.concat(
        [events(p, b).with_columns(pl.lit(k).alias("ticket_key"))
         for k, p, b in zip(keys, pending, back, strict=True)]
    )  # fmt: skip

    def figures(ev: pl.DataFrame, t: pl.DataFrame = tickets) -> list[tuple[Any, ...]]:
        out = evaluate_tickets(t, policy(), clocks, as_of=LATER, events=ev)
        cols = ("ticket_key", "pending_seconds", "elapsed_sla_seconds", "sla_status")
        return sorted(out.select(cols).rows())

    got = figures(ordered)
    # Pending from 10:00, 11:00 and 12:00 to 14:00: 4, 3 and 2 working hours.
    assert [(k, p) for k, p, _e, _s in got] == [("T0", 4 * H), ("T1", 3 * H), ("T2", 2 * H)]
    assert {s for *_x, s in got} == {"open_breached"}
    interleaved = ordered.sort("at", maintain_order=True)
    assert interleaved["ticket_key"].to_list()[:3] == ["T0", "T1", "T2"]
    stranger = events(("status", local(2021, 6, 7, 10), "Pending", "on_hold")).with_columns(
        pl.lit("T9").alias("ticket_key")
    )
    assert figures(interleaved) == got
    assert figures(ordered.reverse()) == got
    assert figures(pl.concat([stranger, ordered, stranger])) == got
    # A ticket without a history among ones with: the runs are not the tickets.
    assert figures(ordered, pl.concat([tickets, ticket(ticket_key="T3")]))[:3] == got
