"""Migration 0008 partitions sla_outcomes by organisation hash without losing or changing
a row (nor any of tickets, which it leaves plain for now), and its downgrade gives the
plain table back the same way."""

from __future__ import annotations

import psycopg
import pytest

from shared.db.engine import psycopg_conninfo
from shared.db.migrate import downgrade, upgrade
from shared.testing.plugin import scratch_database

ORGS = 7
TICKETS_PER_ORG = 300


@pytest.fixture
def at_0009(database_url):
    # 0008 comes after 0009 (which landed first)
    with scratch_database(database_url, "ys_part", "0009") as url:
        yield url


def _fill(conn: psycopg.Connection) -> None:
    for org in range(1, ORGS + 1):
        conn.execute(
            "INSERT INTO organisations (id, name, type, nation, users) "
            "VALUES (%s, %s, 'L', 'England', 100)",
            (org, f"Partitioned Council {org}"),
        )
    conn.execute(
        """
        INSERT INTO tickets (organisation_id, source_system, reference, type, priority,
                             logged_at, resolved_at, status, nps_rating, last_import_id)
        SELECT o, 'sn', 'T' || n, CASE WHEN n %% 3 = 0 THEN 'request' ELSE 'incident' END,
               'P' || (n %% 5), timestamptz '2021-01-01' + n * interval '37 minutes',
               timestamptz '2021-01-01' + n * interval '37 minutes' + interval '5 hours',
               'resolved', n %% 11, o
        FROM generate_series(1, %s) AS o, generate_series(1, %s) AS n
        """,
        (ORGS, TICKETS_PER_ORG),
    )
    conn.execute(
        """
        INSERT INTO ticket_intervals (organisation_id, source_system, reference, kind,
                                      start_at, end_at)
        SELECT organisation_id, source_system, reference, 'hold', logged_at,
               logged_at + interval '1 hour'
        FROM tickets WHERE reference LIKE 'T%%7'
        """
    )
    conn.execute(
        """
        INSERT INTO sla_outcomes (organisation_id, source_system, reference, type, priority,
                                  logged_at, resolution_at, is_open, on_hold, sla_status,
                                  elapsed_sla_seconds, target_seconds, target_share)
        SELECT organisation_id, source_system, reference, type, priority, logged_at,
               resolved_at, false, false, CASE WHEN nps_rating > 4 THEN 'met' ELSE 'missed' END,
               18000, 14400, 0.95
        FROM tickets
        """
    )


def _state(conn: psycopg.Connection) -> dict[str, tuple[object, ...]]:
    state = {}
    for table, key in (
        ("tickets", "organisation_id, source_system, reference"),
        ("sla_outcomes", "organisation_id, source_system, reference"),
        ("ticket_intervals", "organisation_id, source_system, reference, kind, start_at"),
    ):
        row = conn.execute(
            f"SELECT count(*), md5(string_agg(t::text, '|' ORDER BY {key})) FROM {table} t"
        ).fetchone()
        assert row is not None
        state[table] = tuple(row)
    return state


def _kind(conn: psycopg.Connection, table: str) -> str:
    row = conn.execute("SELECT relkind FROM pg_class WHERE relname = %s", (table,)).fetchone()
    assert row is not None
    return str(row[0])


def test_partitioning_keeps_every_row_and_the_downgrade_too(at_0009):
    conninfo = psycopg_conninfo(at_0009)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        _fill(conn)
        before = _state(conn)
        assert _kind(conn, "tickets") == _kind(conn, "sla_outcomes") == "r"
    assert before["tickets"][0] == ORGS * TICKETS_PER_ORG
    assert before["ticket_intervals"][0] == ORGS * TICKETS_PER_ORG // 10

    upgrade(at_0009, "0008")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        assert _state(conn) == before
        assert _kind(conn, "tickets") == "r"  # not yet: see migration 0008
        assert _kind(conn, "sla_outcomes") == "p"
        partitions = conn.execute(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'sla_outcomes'::regclass"
        ).fetchone()
        assert partitions == (16,)
        used = conn.execute("SELECT count(DISTINCT tableoid) FROM sla_outcomes").fetchone()
        assert used is not None and 1 < used[0] <= ORGS  # the organisations are spread
        # One organisation's rows live in one partition: a scan of it reads only that.
        plan = "\n".join(
            r[0]
            for r in conn.execute(
                "EXPLAIN SELECT count(*) FROM sla_outcomes WHERE organisation_id = 3"
            ).fetchall()
        )
        assert plan.count("sla_outcomes_p") == 1, plan
        # Its key holds across partitions, its owner writes through the parent, and
        # nobody else reads it (the grants were made again).
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(
                "INSERT INTO sla_outcomes (organisation_id, source_system, reference, type, "
                "is_open, on_hold, sla_status) VALUES (1, 'sn', 'T1', 'incident', false, "
                "false, 'met')"
            )
        grants = conn.execute(
            "SELECT has_table_privilege('yardstick_metrics', 'sla_outcomes', 'INSERT'), "
            "has_table_privilege('yardstick_ingest', 'sla_outcomes', 'SELECT'), "
            "has_table_privilege('yardstick_ingest', 'tickets', 'INSERT')"
        ).fetchone()
        assert grants == (True, False, True)
        index = conn.execute(
            "SELECT count(*) FROM pg_indexes WHERE indexname = 'ix_sla_outcomes_org_resolution'"
        ).fetchone()
        assert index == (1,)

    downgrade(at_0009, "0009")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        assert _state(conn) == before
        assert _kind(conn, "tickets") == _kind(conn, "sla_outcomes") == "r"
        partitions = conn.execute(
            "SELECT count(*) FROM pg_class WHERE relname ~ '^sla_outcomes_p[0-9]+$'"
        ).fetchone()
        assert partitions == (0,)
