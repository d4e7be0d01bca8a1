"""Retention (``YARDSTICK_TICKET_RETENTION_MONTHS``, shared/db/retention.py): tickets and
SLA outcomes finished before the cut-off go, in batches per partition, with their
intervals and histories; everything else stays, and the figures of every retained month
are the same before and after."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import polars as pl
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from services.metrics.sla.service import ReportQuery, monthly, recompute
from shared.db.engine import make_engine
from shared.db.retention import cutoff, prune
from yardstick.cli import app

NOW = datetime(2024, 7, 15, 12, 0, tzinfo=UTC)
MONTHS = 12  # cut-off: 2023-07-01 00:00 Europe/London = 2023-06-30 23:00 UTC
CUT = datetime(2023, 6, 30, 23, 0, tzinfo=UTC)
ORGS = (1, 2)
BULK = 400  # per organisation: logged every 43 hours from 2022-06-01, resolved 5 h later


def _t(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=UTC)


# (reference, logged, resolved, closed, removed?) besides the bulk tickets.
EDGES = [
    ("A", "2023-05-10 09:00", "2023-05-11 09:00", None, True),
    # 23:30 and 23:50 London on 30 June: finished in June, local time
    ("B", "2023-06-30 22:30", "2023-06-30 22:50", None, True),
    ("C", "2023-06-20 09:00", "2023-07-02 09:00", None, False),  # resolved after
    ("D", "2023-06-20 09:00", "2023-06-30 23:30", None, False),  # 00:30 on 1 July, London
    ("E", "2023-03-01 09:00", None, None, False),  # still open
    ("F", "2023-03-01 09:00", "2023-04-01 09:00", "2023-08-01 09:00", False),  # closed after
    ("G", "2023-02-01 09:00", "2023-02-05 09:00", None, False),  # a reopen still open
    ("H", "2023-01-01 09:00", "2023-01-02 09:00", None, True),  # with a history
    ("I", "2023-01-01 09:00", "2023-01-02 09:00", None, False),  # a history event after
]


def _bulk() -> list[tuple[str, datetime, datetime]]:
    start = datetime(2022, 6, 1, 8, 0, tzinfo=UTC)
    return [
        (f"N{n}", start + n * timedelta(hours=43), start + n * timedelta(hours=43, minutes=17)
         + timedelta(hours=5))
        for n in range(BULK)
    ]  # fmt: skip


def _arrange(engine) -> None:
    with engine.begin() as conn:
        for org in ORGS:
            conn.execute(
                text(
                    "INSERT INTO organisations (id, name, type, nation, users) "
                    "VALUES (:o, :n, 'L', 'England', 100)"
                ),
                {"o": org, "n": f"Retained Council {org}"},
            )
            conn.execute(
                text(
                    "INSERT INTO sla_policies (organisation_id, priority, target_seconds, "
                    "target_share, effective_from) VALUES (:o, 'P2', 6 * 3600, 0.9, '2020-01-01')"
                ),
                {"o": org},
            )
            rows = [
                {"o": org, "r": ref, "l": _t(lg), "res": res and _t(res), "c": c and _t(c)}
                for ref, lg, res, c, _ in EDGES
            ] + [{"o": org, "r": ref, "l": lg, "res": res, "c": None} for ref, lg, res in _bulk()]
            conn.execute(
                text(
                    "INSERT INTO tickets (organisation_id, source_system, reference, type, "
                    "priority, logged_at, resolved_at, closed_at, status) VALUES (:o, 'sn', :r, "
                    "'incident', 'P2', :l, CAST(:res AS timestamptz), CAST(:c AS timestamptz), "
                    "CASE WHEN CAST(:res AS timestamptz) IS NULL "
                    "AND CAST(:c AS timestamptz) IS NULL "
                    "THEN 'open' ELSE 'resolved' END)"
                ),
                rows,
            )
            conn.execute(
                text(
                    "INSERT INTO ticket_intervals (organisation_id, source_system, reference, "
                    "kind, start_at, end_at) VALUES (:o, 'sn', 'G', 'reopen', "
                    "'2023-02-10 09:00+00', NULL), (:o, 'sn', 'N3', 'hold', "
                    "'2022-06-08 09:00+00', '2022-06-08 10:00+00')"
                ),
                {"o": org},
            )
            conn.execute(
                text(
                    "INSERT INTO ticket_events (organisation_id, source_system, reference, kind, "
                    "at, value, canonical) VALUES "
                    "(:o, 'sn', 'H', 'status', '2023-01-01 10:00+00', 'Working', 'working'), "
                    "(:o, 'sn', 'I', 'response', '2023-07-03 10:00+00', NULL, NULL)"
                ),
                {"o": org},
            )


def _expected_removed_per_org() -> int:
    edges = sum(1 for *_, removed in EDGES if removed)
    bulk = sum(1 for _, lg, res in _bulk() if lg < CUT and res < CUT)
    return edges + bulk


def _figures(engine) -> pl.DataFrame:
    with Session(engine) as session:
        return monthly(session, list(ORGS), ReportQuery()).sort("organisation_id", "month")


def _count(engine, sql: str) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text(sql)).scalar_one())


def test_cutoff_is_the_first_london_instant_of_the_month_months_ago():
    assert cutoff(MONTHS, NOW) == CUT
    assert cutoff(1, datetime(2024, 1, 31, 23, 30, tzinfo=UTC)) == datetime(
        2023, 12, 1, tzinfo=UTC
    )  # winter: London is UTC; January is current, one whole month kept before it
    assert cutoff(1, datetime(2024, 3, 31, 23, 30, tzinfo=UTC)).isoformat() == (
        "2024-03-01T00:00:00+00:00"  # 00:30 on 1 April in London: April's previous month
    )


def test_retention_removes_exactly_the_finished_tickets_and_keeps_retained_months(
    clean_db, database_url
):
    _arrange(clean_db)
    metrics = make_engine(database_url, role="metrics", pool_size=1)
    ingest = make_engine(database_url, role="ingest", pool_size=1)
    try:
        with Session(metrics) as session:
            stored = recompute(session, organisation_ids=list(ORGS), as_of=NOW)
            session.commit()
        total = len(ORGS) * (len(EDGES) + BULK)
        assert stored == total
        before = _figures(metrics)
        removed = _expected_removed_per_org()
        assert 100 < removed < BULK  # both sides of the cut-off are exercised

        result = prune(ingest, metrics, MONTHS, now=NOW, batch=7)

        assert result.cutoff == CUT
        assert result.total("tickets") == len(ORGS) * removed
        assert result.total("sla_outcomes") == len(ORGS) * removed
        # Counted per partition: the organisations' own partitions, nothing elsewhere.
        used = {p for p, n in result.by_partition["tickets"].items() if n}
        assert len(result.by_partition["tickets"]) == 16
        assert 1 <= len(used) <= len(ORGS) and all(p.startswith("tickets_p") for p in used)
        assert _count(clean_db, "SELECT count(*) FROM tickets") == total - len(ORGS) * removed
        assert _count(clean_db, "SELECT count(*) FROM sla_outcomes") == total - len(ORGS) * removed
        left = _count(clean_db, "SELECT count(*) FROM tickets WHERE reference IN ('A','B','H')")
        kept = _count(
            clean_db,
            "SELECT count(*) FROM tickets WHERE reference IN ('C','D','E','F','G','I')",
        )
        assert (left, kept) == (0, 6 * len(ORGS))
        # Cascades: H's history and N3's hold went with them; G's reopen and I's event stay.
        assert _count(clean_db, "SELECT count(*) FROM ticket_events") == len(ORGS)
        assert _count(clean_db, "SELECT count(*) FROM ticket_intervals") == len(ORGS)

        after = _figures(metrics)
        first = date(2023, 7, 1)
        assert after.filter(pl.col("month") >= first).equals(
            before.filter(pl.col("month") >= first)
        )
        assert before.filter(pl.col("month") >= first).height > 10
        # Before the cut-off only the kept tickets are left: I (January; its event is
        # after the cut-off), G (February; reopened) and F (April; closed after).
        early = after.filter(pl.col("month") < first)
        assert early.select("organisation_id", "month", "total").rows() == [
            (org, date(2023, month, 1), 1) for org in ORGS for month in (1, 2, 4)
        ]

        again = prune(ingest, metrics, MONTHS, now=NOW, batch=7)
        assert (again.total("tickets"), again.total("sla_outcomes")) == (0, 0)
    finally:
        metrics.dispose()
        ingest.dispose()


def test_retention_refuses_nothing_to_keep(clean_db, database_url):
    engine = make_engine(database_url, pool_size=1)
    try:
        with pytest.raises(ValueError, match="at least one month"):
            prune(engine, engine, 0, now=NOW)
    finally:
        engine.dispose()


def test_cli_uses_the_setting_and_removes_nothing_without_one(clean_db, database_url, monkeypatch):
    from typer.testing import CliRunner

    from shared.settings import get_settings

    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.delenv("YARDSTICK_TICKET_RETENTION_MONTHS", raising=False)
    get_settings.cache_clear()
    _arrange(clean_db)
    total = len(ORGS) * (len(EDGES) + BULK)
    try:
        result = CliRunner().invoke(app, ["retention"])
        assert result.exit_code == 0, result.output
        assert "nothing removed" in result.output
        assert _count(clean_db, "SELECT count(*) FROM tickets") == total

        # 1200 months: a cut-off long before any ticket, so nothing is finished before it.
        monkeypatch.setenv("YARDSTICK_TICKET_RETENTION_MONTHS", "1200")
        get_settings.cache_clear()
        result = CliRunner().invoke(app, ["retention"])
        assert result.exit_code == 0, result.output
        assert "0 tickets and 0 SLA outcomes removed" in result.output
        # Today's cut-off (at most a month ago) is after every ticket here: all go but E
        # (open) and G (a reopen still open).
        result = CliRunner().invoke(app, ["retention", "--months", "1", "--batch", "50"])
        assert result.exit_code == 0, result.output
        gone = total - 2 * len(ORGS)
        assert f"{gone} tickets and 0 SLA outcomes removed" in result.output
        with clean_db.connect() as conn:
            rest = conn.execute(
                text("SELECT string_agg(DISTINCT reference, ',' ORDER BY reference) FROM tickets")
            ).scalar_one()
        assert rest == "E,G"
    finally:
        get_settings.cache_clear()
