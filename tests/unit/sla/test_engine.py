from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import polars as pl
import pytest

from services.metrics.sla.engine import (
    TicketFilter,
    backlog,
    evaluate_tickets,
    monthly_logged,
    monthly_sla,
    nps_by_month,
    performance_metrics,
)

H = 3600
LONDON = ZoneInfo("Europe/London")
DT = pl.Datetime("us", "UTC")


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=LONDON).astimezone(UTC)  # type: ignore[misc]


def tickets(*rows: dict[str, Any]) -> pl.DataFrame:
    base = {
        "organisation_id": "o1",
        "type": "incident",
        "priority": "P1",
        "request_type": None,
        "team": "desk",
        "closure_category": "fixed",
        "resolved_at": None,
        "closed_at": None,
        "reopen_count": 0,
        "resolved_first_contact": False,
        "nps_rating": None,
    }
    data = [base | {"ticket_key": f"T{i}"} | r for i, r in enumerate(rows)]
    return pl.DataFrame(
        data,
        schema_overrides={
            "logged_at": DT,
            "resolved_at": DT,
            "closed_at": DT,
            "nps_rating": pl.Int8,
            "reopen_count": pl.Int32,
        },
    )


def policies(*rows: dict[str, Any]) -> pl.DataFrame:
    base = {
        "organisation_id": "o1",
        "priority": "P1",
        "request_type": None,
        "target_seconds": 4 * H,
        "target_working_days": None,
        "calendar_id": "std",
        "target_share": 0.95,
        "effective_from": date(2020, 1, 1),
    }
    return pl.DataFrame(
        [base | r for r in rows] or [base],
        schema_overrides={
            "request_type": pl.Utf8,
            "target_seconds": pl.Int64,
            "target_working_days": pl.Float64,
        },
    )


AS_OF = local(2022, 1, 31, 12)


def evaluate(
    t: pl.DataFrame, clocks: Any, p: pl.DataFrame | None = None, **kw: Any
) -> pl.DataFrame:
    return evaluate_tickets(
        t, p if p is not None else policies(), clocks, as_of=kw.pop("as_of", AS_OF), **kw
    )


def one(frame: pl.DataFrame, col: str) -> Any:
    return frame[col].to_list()[0]


# --- DOMAIN.md worked examples through the engine ------------------------------------


@pytest.mark.parametrize(
    ("logged", "resolved", "seconds"),
    [
        (local(2021, 3, 5, 17, 30), local(2021, 3, 8, 9, 30), 2 * H),
        (local(2021, 3, 6, 10, 0), local(2021, 3, 8, 8, 45), 45 * 60),
        (local(2021, 12, 24, 17, 0), local(2021, 12, 29, 9, 0), 2 * H),
    ],
)
def test_worked_examples(clocks: Any, logged: datetime, resolved: datetime, seconds: int) -> None:
    r = evaluate(tickets({"logged_at": logged, "resolved_at": resolved}), clocks)
    assert one(r, "elapsed_sla_seconds") == seconds
    assert one(r, "elapsed_wall_seconds") == int((resolved - logged).total_seconds())
    assert one(r, "sla_status") == "met"


def test_on_hold_worked_example(clocks: Any) -> None:
    t = tickets({"logged_at": local(2021, 6, 7, 9), "resolved_at": local(2021, 6, 9, 12)})
    holds = pl.DataFrame(
        {
            "organisation_id": ["o1"],
            "ticket_key": ["T0"],
            "start": [local(2021, 6, 7, 11)],
            "end": [local(2021, 6, 9, 10)],
        },
        schema_overrides={"start": DT, "end": DT},
    )
    r = evaluate(t, clocks, holds=holds)
    assert one(r, "elapsed_sla_seconds") == 4 * H
    assert one(r, "paused_seconds") == 19 * H
    assert one(r, "sla_status") == "met"  # exactly on the 4 h target
    assert one(r, "elapsed_wall_seconds") == 51 * H


def test_hold_entirely_outside_working_hours_has_no_effect(clocks: Any) -> None:
    t = tickets({"logged_at": local(2021, 3, 5, 17, 30), "resolved_at": local(2021, 3, 8, 9, 30)})
    holds = pl.DataFrame(
        {
            "organisation_id": ["o1", "o1"],
            "ticket_key": ["T0", "T0"],
            "start": [local(2021, 3, 5, 19), local(2021, 3, 6, 9)],
            "end": [local(2021, 3, 5, 22), local(2021, 3, 7, 23)],
        },
        schema_overrides={"start": DT, "end": DT},
    )
    r = evaluate(t, clocks, holds=holds)
    assert one(r, "elapsed_sla_seconds") == 2 * H
    assert one(r, "paused_seconds") == 0


def test_overlapping_holds_not_subtracted_twice(clocks: Any) -> None:
    t = tickets({"logged_at": local(2021, 3, 1, 8), "resolved_at": local(2021, 3, 1, 18)})
    holds = pl.DataFrame(
        {
            "organisation_id": ["o1"] * 3,
            "ticket_key": ["T0"] * 3,
            "start": [local(2021, 3, 1, 9), local(2021, 3, 1, 10), local(2021, 3, 1, 7)],
            "end": [local(2021, 3, 1, 11), local(2021, 3, 1, 12), local(2021, 3, 1, 8, 30)],
        },
        schema_overrides={"start": DT, "end": DT},
    )
    r = evaluate(t, clocks, holds=holds)
    assert one(r, "paused_seconds") == 3 * H + 30 * 60  # 08:00-08:30 and 09:00-12:00
    assert one(r, "elapsed_sla_seconds") == 6 * H + 30 * 60


def test_hold_begun_before_the_ticket_was_logged_pauses_only_from_logging(clocks: Any) -> None:
    # All inside working hours, so only clipping holds to [logged, end] keeps the hour
    # before logging (09:00-10:00) and the hour after resolution (15:00-16:00) unpaused.
    t = tickets({"logged_at": local(2021, 3, 1, 10), "resolved_at": local(2021, 3, 1, 15)})
    holds = pl.DataFrame(
        {
            "organisation_id": ["o1", "o1"],
            "ticket_key": ["T0", "T0"],
            "start": [local(2021, 3, 1, 9), local(2021, 3, 1, 14)],
            "end": [local(2021, 3, 1, 11), local(2021, 3, 1, 16)],
        },
        schema_overrides={"start": DT, "end": DT},
    )
    r = evaluate(t, clocks, holds=holds)
    # 5 h from logging to resolution, paused 10-11 and 14-15 only: 3 h on the clock
    assert one(r, "paused_seconds") == 2 * H
    assert one(r, "elapsed_sla_seconds") == 3 * H
    # still open at 12:00: paused 10-11 only, so 1 h used and due at 10:00 + 4 h + 1 h
    r = evaluate(t, clocks, holds=holds[:1], as_of=local(2021, 3, 1, 12))
    assert one(r, "sla_status") == "open_within"
    assert one(r, "paused_seconds") == H
    assert one(r, "elapsed_sla_seconds") == H
    assert one(r, "due_at") == local(2021, 3, 1, 15)


def test_reopened_ticket_gap_does_not_count(clocks: Any) -> None:
    # Logged Mon 09:00, resolved Mon 10:00, reopened Wed 10:00, finally resolved Wed 12:00.
    t = tickets(
        {"logged_at": local(2021, 3, 1, 9), "resolved_at": local(2021, 3, 3, 12), "reopen_count": 1}
    )
    reopens = pl.DataFrame(
        {
            "organisation_id": ["o1"],
            "ticket_key": ["T0"],
            "resolved_at": [local(2021, 3, 1, 10)],
            "reopened_at": [local(2021, 3, 3, 10)],
        },
        schema_overrides={"resolved_at": DT, "reopened_at": DT},
    )
    r = evaluate(t, clocks, reopens=reopens)
    assert one(r, "elapsed_sla_seconds") == 3 * H
    assert one(r, "paused_seconds") == 20 * H
    assert one(r, "sla_status") == "met"
    assert one(backlog(r), "reopened") == 1
    without = evaluate(t, clocks)
    assert one(without, "elapsed_sla_seconds") == 23 * H
    assert one(without, "sla_status") == "missed"


# --- open tickets ------------------------------------------------------------------------


def test_open_ticket_one_second_either_side_of_due(clocks: Any) -> None:
    # Logged Mon 01/03/2021 09:00 with a 4 h business target: due 13:00 the same day.
    t = tickets({"logged_at": local(2021, 3, 1, 9)})
    due = local(2021, 3, 1, 13)
    before = evaluate(t, clocks, as_of=datetime.fromtimestamp(due.timestamp() - 1, UTC))
    at = evaluate(t, clocks, as_of=due)
    after = evaluate(t, clocks, as_of=datetime.fromtimestamp(due.timestamp() + 1, UTC))
    assert one(before, "sla_status") == "open_within"
    assert one(at, "sla_status") == "open_within"
    assert one(after, "sla_status") == "open_breached"
    for r in (before, at, after):
        assert one(r, "due_at") == due
    assert one(after, "elapsed_sla_seconds") == 4 * H + 1


def test_due_at_skips_weekend_and_holidays(clocks: Any) -> None:
    # Logged Fri 24/12/2021 17:00, 4 h: 1 h Friday, Mon and Tue are substitute holidays.
    t = tickets({"logged_at": local(2021, 12, 24, 17)})
    r = evaluate(t, clocks, as_of=local(2021, 12, 24, 17, 30))
    assert one(r, "due_at") == local(2021, 12, 29, 11)
    assert one(r, "sla_status") == "open_within"


def test_due_at_for_ticket_on_hold_assumes_hold_ends_now(clocks: Any) -> None:
    t = tickets({"logged_at": local(2021, 3, 1, 9)})
    holds = pl.DataFrame(
        {
            "organisation_id": ["o1"],
            "ticket_key": ["T0"],
            "start": [local(2021, 3, 1, 10)],
            "end": [None],
        },
        schema_overrides={"start": DT, "end": DT},
    )
    r = evaluate(t, clocks, holds=holds, as_of=local(2021, 3, 2, 9))
    assert one(r, "on_hold") is True
    assert one(r, "elapsed_sla_seconds") == H
    assert one(r, "paused_seconds") == 9 * H  # Mon 10-18, Tue 08-09
    assert one(r, "due_at") == local(2021, 3, 2, 12)
    assert one(backlog(r), "on_hold") == 1


def test_resolved_after_as_of_is_open_as_of(clocks: Any) -> None:
    t = tickets({"logged_at": local(2021, 3, 1, 9), "resolved_at": local(2021, 3, 2, 9)})
    r = evaluate(t, clocks, as_of=local(2021, 3, 1, 17))
    assert one(r, "sla_status") == "open_breached"
    assert one(r, "elapsed_sla_seconds") == 8 * H


def test_due_at_far_beyond_initial_table(clocks: Any) -> None:
    p = policies({"target_seconds": None, "target_working_days": 100.0})
    t = tickets({"logged_at": local(2021, 3, 1, 8)})
    r = evaluate(t, clocks, p, as_of=local(2021, 3, 1, 9))
    # 100 working days from Mon 1 Mar 2021 08:00 (Good Friday, Easter Monday and the two
    # May bank holidays skipped): 18:00 on the 100th working day, Thu 22 July.
    assert one(r, "due_at") == local(2021, 7, 22, 18)


# --- policies and data quality -------------------------------------------------------


def test_working_days_target_and_24x7_clock(clocks: Any) -> None:
    p = policies(
        {"priority": "P3", "target_seconds": None, "target_working_days": 2.0},
        {"priority": "P2", "target_seconds": 8 * H, "calendar_id": "24x7"},
    )
    t = tickets(
        {"priority": "P3", "logged_at": local(2021, 3, 5, 9), "resolved_at": local(2021, 3, 9, 9)},
        {
            "priority": "P3",
            "logged_at": local(2021, 3, 5, 9),
            "resolved_at": local(2021, 3, 9, 9, 0, 1),
        },
        {"priority": "P2", "logged_at": local(2021, 3, 6, 9), "resolved_at": local(2021, 3, 6, 17)},
    )
    r = evaluate(t, clocks, p)
    assert r["target_seconds"].to_list() == [20 * H, 20 * H, 8 * H]
    assert r["elapsed_sla_seconds"].to_list() == [20 * H, 20 * H + 1, 8 * H]
    assert r["sla_status"].to_list() == ["met", "missed", "met"]


def test_effective_dated_policy_and_p4_request_type(clocks: Any) -> None:
    p = policies(
        {"priority": "P1", "target_seconds": 4 * H, "effective_from": date(2020, 1, 1)},
        {"priority": "P1", "target_seconds": 2 * H, "effective_from": date(2021, 4, 1)},
        {"priority": "P4", "target_seconds": 10 * H, "target_share": 0.8},
        {
            "priority": "P4",
            "request_type": "new starter",
            "target_seconds": 50 * H,
            "target_share": 0.8,
        },
    )
    t = tickets(
        {"logged_at": local(2021, 3, 31, 23, 30), "resolved_at": local(2021, 4, 1, 11)},
        {"logged_at": local(2021, 4, 1, 0, 30), "resolved_at": local(2021, 4, 1, 11)},
        {
            "priority": "P4",
            "request_type": "new starter",
            "type": "request",
            "logged_at": local(2021, 3, 1, 8),
            "resolved_at": local(2021, 3, 3, 8),
        },
        {
            "priority": "P4",
            "request_type": "password",
            "type": "request",
            "logged_at": local(2021, 3, 1, 8),
            "resolved_at": local(2021, 3, 3, 8),
        },
    )
    r = evaluate(t, clocks, p)
    # 31/03 23:30 BST is still 31 March locally (22:30 UTC): the old policy applies.
    assert r["target_seconds"].to_list() == [4 * H, 2 * H, 50 * H, 10 * H]
    assert r["sla_status"].to_list() == ["met", "missed", "met", "missed"]


def test_data_quality_reasons(clocks: Any) -> None:
    t = tickets(
        {"logged_at": local(2021, 3, 2, 9), "resolved_at": local(2021, 3, 1, 9)},
        {"priority": None, "logged_at": local(2021, 3, 1, 9), "resolved_at": local(2021, 3, 1, 10)},
        {"priority": "P2", "logged_at": local(2021, 3, 1, 9), "resolved_at": local(2021, 3, 1, 10)},
        {"logged_at": local(2019, 3, 1, 9), "resolved_at": local(2019, 3, 1, 10)},
    )
    r = evaluate(t, clocks)
    assert r["sla_status"].to_list() == ["data_quality"] * 4
    assert r["data_quality_reason"].to_list() == [
        "resolved_before_logged",
        "no_priority",
        "no_policy_for_priority",
        "no_policy_for_priority",  # logged before the first policy took effect
    ]
    assert monthly_sla(r).height == 0
    assert one(backlog(r.filter(pl.col("priority") == "P1")), "data_quality") == 2


def test_closed_at_used_when_resolved_at_missing(clocks: Any) -> None:
    t = tickets({"logged_at": local(2021, 3, 1, 9), "closed_at": local(2021, 3, 1, 10)})
    r = evaluate(t, clocks)
    assert one(r, "sla_status") == "met"
    assert one(r, "elapsed_sla_seconds") == H


# --- aggregation ---------------------------------------------------------------------


def _month_frame(met: int, missed: int) -> pl.DataFrame:
    n = met + missed
    return pl.DataFrame(
        {
            "organisation_id": ["o1"] * n,
            "priority": ["P2"] * n,
            "resolution_at": [local(2021, 3, 10, 12)] * n,
            "logged_date": [date(2021, 3, 10)] * n,
            "sla_status": ["met"] * met + ["missed"] * missed,
            "target_share": [0.95] * n,
            "policy_effective_from": [date(2020, 1, 1)] * n,
            "elapsed_sla_seconds": [H] * n,
            "elapsed_wall_seconds": [2 * H] * n,
        },
        schema_overrides={"resolution_at": DT},
    )


def test_month_1585_met_1117_missed() -> None:
    m = monthly_sla(_month_frame(1585, 1117))
    assert m.select("met", "missed", "total").row(0) == (1585, 1117, 2702)
    assert one(m, "pct_met") == Decimal("58.66")
    assert one(m, "target_share_pct") == Decimal("95.00")
    assert one(m, "target_achieved") is False
    assert one(m, "month") == date(2021, 3, 1)


def test_pct_rounds_half_up() -> None:
    # 1/8 = 12.5 % exactly; 1/16 = 6.25 %; 1/32 = 3.125 % → 3.13 (half-up, not banker's).
    assert one(monthly_sla(_month_frame(1, 31)), "pct_met") == Decimal("3.13")
    assert one(monthly_sla(_month_frame(1, 15)), "pct_met") == Decimal("6.25")
    assert one(monthly_sla(_month_frame(2, 1)), "pct_met") == Decimal("66.67")


def test_monthly_report_with_filters(clocks: Any) -> None:
    t = tickets(
        {"logged_at": local(2021, 3, 1, 9), "resolved_at": local(2021, 3, 1, 10), "team": "a"},
        {"logged_at": local(2021, 3, 1, 9), "resolved_at": local(2021, 3, 2, 10), "team": "b"},
        {"logged_at": local(2021, 3, 31, 17), "resolved_at": local(2021, 4, 1, 9), "team": "a"},
        {"logged_at": local(2021, 4, 1, 9), "team": "a"},
    )
    r = evaluate(t, clocks, as_of=local(2021, 4, 1, 10))
    m = monthly_sla(r)
    assert m.select("month", "met", "missed", "total").rows() == [
        (date(2021, 3, 1), 1, 1, 2),
        (date(2021, 4, 1), 1, 0, 1),
    ]
    assert m["avg_closure_sla_clock_seconds"].to_list() == [(H + 11 * H) / 2, 2 * H]
    assert m["avg_closure_wall_seconds"].to_list() == [(H + 25 * H) / 2, 16 * H]
    only_a = monthly_sla(
        r, TicketFilter(teams=["a"], resolved_from=date(2021, 3, 1), resolved_to=date(2021, 3, 31))
    )
    assert only_a.select("month", "met", "total").rows() == [(date(2021, 3, 1), 1, 1)]
    logged = monthly_logged(r)
    assert logged.select("month", "logged").rows() == [(date(2021, 3, 1), 3), (date(2021, 4, 1), 1)]
    assert monthly_logged(r, TicketFilter(logged_from=date(2021, 4, 1))).height == 1
    b = backlog(r)
    assert b.select("open", "open_within", "open_breached").row(0) == (1, 1, 0)


def test_nps_examples() -> None:
    ratings = [10, 9, 9, 8, 7, 6, 0, 3, None, None]  # 3 promoters, 2 passives, 3 detractors
    frame = pl.DataFrame(
        {
            "organisation_id": ["o1"] * 10 + ["o2"] * 2 + ["o3"] * 3,
            "resolution_at": [local(2021, 3, 10)] * 15,
            "logged_date": [date(2021, 3, 10)] * 15,
            "nps_rating": [*ratings, None, None, 10, 10, 6],
        },
        schema_overrides={"resolution_at": DT, "nps_rating": pl.Int8},
    )
    n = nps_by_month(frame)
    assert n.select(
        "organisation_id", "responses", "promoters", "passives", "detractors", "nps"
    ).rows() == [
        ("o1", 8, 3, 2, 3, Decimal("0.0")),
        ("o2", 0, 0, 0, 0, None),  # no ratings: null, not 0
        ("o3", 3, 2, 0, 1, Decimal("33.3")),
    ]
    one_each = pl.DataFrame(
        {
            "organisation_id": ["o"] * 3,
            "resolution_at": [local(2021, 3, 1)] * 3,
            "logged_date": [date(2021, 3, 1)] * 3,
            "nps_rating": [9, 8, 8],
        },
        schema_overrides={"resolution_at": DT, "nps_rating": pl.Int8},
    )
    assert one(nps_by_month(one_each), "nps") == Decimal("33.3")
    neg = one_each.with_columns(pl.Series("nps_rating", [0, 1, 9], dtype=pl.Int8))
    assert one(nps_by_month(neg), "nps") == Decimal("-33.3")


def test_performance_metrics(clocks: Any) -> None:
    t = tickets(
        {
            "logged_at": local(2021, 3, 1, 9),
            "resolved_at": local(2021, 3, 1, 9, 15),
            "resolved_first_contact": True,
        },
        {"logged_at": local(2021, 3, 1, 9), "resolved_at": local(2021, 3, 1, 13)},
        {"logged_at": local(2021, 3, 1, 17), "resolved_at": local(2021, 3, 2, 9, 1)},
        {
            "logged_at": local(2021, 3, 1, 9),
            "type": "request",
            "priority": "P4",
            "resolved_at": local(2021, 3, 1, 10),
        },
    )
    p = policies({}, {"priority": "P4", "target_seconds": 10 * H})
    r = evaluate(t, clocks, p)
    wall = performance_metrics(
        r, pl.DataFrame({"organisation_id": ["o1"], "users": [2], "service_desk_fte": [0.5]})
    )
    row = wall.row(0, named=True)
    assert (row["incidents"], row["requests"], row["resolved_incidents"]) == (3, 1, 3)
    assert row["pct_incidents_resolved_within_15m_24x7"] == Decimal("33.33")
    assert row["pct_incidents_resolved_within_4h_24x7"] == Decimal("66.67")
    assert row["pct_incidents_over_16h_24x7"] == Decimal("33.33")  # 16 h 01 m real time
    assert row["pct_first_contact_resolution"] == Decimal("33.33")
    assert row["contacts_per_user"] == 2.0
    assert row["contacts_per_service_desk_fte"] == 8.0
    biz = performance_metrics(r, clock_basis="sla_clock").row(0, named=True)
    assert biz["pct_incidents_over_16h_sla_clock"] == Decimal("0.00")  # 2 h 01 m business
    assert biz["pct_incidents_resolved_within_4h_sla_clock"] == Decimal("100.00")


def test_row_order_preserved_across_calendars(clocks: Any) -> None:
    p = policies({}, {"priority": "P2", "calendar_id": "24x7"})
    t = tickets(
        *[
            {
                "priority": "P2" if i % 2 else "P1",
                "logged_at": local(2021, 3, 6, 9),
                "resolved_at": local(2021, 3, 6, 9 + i),
            }
            for i in range(6)
        ]
    )
    r = evaluate(t, clocks, p)
    assert r["ticket_key"].to_list() == [f"T{i}" for i in range(6)]
    assert r["elapsed_sla_seconds"].to_list() == [0, H, 0, 3 * H, 0, 5 * H]
