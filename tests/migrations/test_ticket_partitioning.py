"""Migration 0014 partitions tickets by organisation hash without losing or changing a
row (nor any of the intervals and histories whose foreign keys reference it), and its
downgrade gives the plain table back the same way."""

from __future__ import annotations

import psycopg
import pytest

from shared.db.engine import psycopg_conninfo
from shared.db.migrate import downgrade, upgrade
from shared.testing.plugin import scratch_database

ORGS = 7
TICKETS_PER_ORG = 300
KEY = "organisation_id, source_system, reference"


@pytest.fixture
def at_0013(database_url):
    with scratch_database(database_url, "ys_tpart", "0013") as url:
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
        f"""
        INSERT INTO ticket_intervals ({KEY}, kind, start_at, end_at)
        SELECT {KEY}, 'hold', logged_at, logged_at + interval '1 hour'
        FROM tickets WHERE reference LIKE 'T%%7'
        """
    )
    conn.execute(
        f"""
        INSERT INTO ticket_events ({KEY}, kind, at, value, canonical)
        SELECT {KEY}, 'status', logged_at + interval '10 minutes', 'Pending', 'pending'
        FROM tickets WHERE reference LIKE 'T%%3'
        """
    )


def _state(conn: psycopg.Connection) -> dict[str, tuple[object, ...]]:
    state = {}
    for table, key in (
        ("tickets", KEY),
        ("ticket_intervals", f"{KEY}, kind, start_at"),
        ("ticket_events", f"{KEY}, kind, at, seq"),
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


def _plan(conn: psycopg.Connection, sql: str) -> str:
    return "\n".join(r[0] for r in conn.execute(f"EXPLAIN {sql}").fetchall())


def test_partitioning_tickets_keeps_every_row_and_the_downgrade_too(at_0013):
    conninfo = psycopg_conninfo(at_0013)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        _fill(conn)
        before = _state(conn)
        assert _kind(conn, "tickets") == "r"
    assert before["tickets"][0] == ORGS * TICKETS_PER_ORG
    assert before["ticket_intervals"][0] == ORGS * TICKETS_PER_ORG // 10
    assert before["ticket_events"][0] == ORGS * TICKETS_PER_ORG // 10

    upgrade(at_0013, "0014")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        assert _state(conn) == before
        assert _kind(conn, "tickets") == "p"
        partitions = conn.execute(
            "SELECT count(*) FROM pg_inherits WHERE inhparent = 'tickets'::regclass"
        ).fetchone()
        assert partitions == (16,)
        used = conn.execute("SELECT count(DISTINCT tableoid) FROM tickets").fetchone()
        assert used is not None and 1 < used[0] <= ORGS
        # A read scoped to one organisation scans one partition only.
        plan = _plan(
            conn,
            "SELECT count(*) FROM tickets WHERE organisation_id = 3 AND logged_at >= '2021-01-02'",
        )
        assert plan.count("tickets_p") == 1, plan
        # The key holds across partitions; the foreign keys that reference the table are
        # back and enforced (an interval of an unknown ticket is refused, deleting a
        # ticket deletes its intervals and history).
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(
                "INSERT INTO tickets (organisation_id, source_system, reference, type, "
                "logged_at) VALUES (1, 'sn', 'T1', 'incident', now())"
            )
        with pytest.raises(psycopg.errors.ForeignKeyViolation):
            conn.execute(
                f"INSERT INTO ticket_intervals ({KEY}, kind, start_at) "
                "VALUES (1, 'sn', 'nope', 'hold', now())"
            )
        fks = conn.execute(
            "SELECT conrelid::regclass::text, conname FROM pg_constraint "
            "WHERE confrelid = 'tickets'::regclass AND contype = 'f' AND conparentid = 0 "
            "ORDER BY 1"
        ).fetchall()
        assert fks == [
            ("ticket_events", "fk_ticket_events_organisation_id_tickets"),
            ("ticket_intervals", "fk_ticket_intervals_organisation_id_tickets"),
        ]
        with conn.transaction(force_rollback=True):  # checked, then undone
            gone = conn.execute(
                "WITH d AS (DELETE FROM tickets WHERE organisation_id = 1 "
                "AND reference = 'T17' RETURNING 1) SELECT count(*) FROM d"
            ).fetchone()
            left = conn.execute(
                f"SELECT count(*) FROM ticket_intervals WHERE ({KEY}) = (1, 'sn', 'T17')"
            ).fetchone()
            assert (gone, left) == ((1,), (0,))
        grants = conn.execute(
            "SELECT has_table_privilege('yardstick_ingest', 'tickets', 'INSERT'), "
            "has_table_privilege('yardstick_metrics', 'tickets', 'SELECT'), "
            "has_table_privilege('yardstick_metrics', 'tickets', 'INSERT')"
        ).fetchone()
        assert grants == (True, True, False)
        index = conn.execute(
            "SELECT count(*) FROM pg_indexes WHERE indexname = 'ix_tickets_org_logged'"
        ).fetchone()
        assert index == (1,)

    downgrade(at_0013, "0013")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        # Every row of every table as it was (count and md5), the plain table back.
        assert _state(conn) == before
        assert _kind(conn, "tickets") == "r"
        partitions = conn.execute(
            "SELECT count(*) FROM pg_class WHERE relname ~ '^tickets_p[0-9]+$'"
        ).fetchone()
        assert partitions == (0,)
        fks = conn.execute(
            "SELECT count(*) FROM pg_constraint WHERE confrelid = 'tickets'::regclass "
            "AND contype = 'f'"
        ).fetchone()
        assert fks == (2,)


@pytest.fixture
def at_head(database_url):
    with scratch_database(database_url, "ys_tprune", "head") as url:
        yield url


def _partitions_scanned(conn: psycopg.Connection, sql: str) -> set[str]:
    import re

    return set(re.findall(r"\bon (tickets_p\d\d)\b", _plan(conn, sql)))


def test_organisation_scoped_reads_of_tickets_touch_that_organisations_partition(at_head):
    """The product's own SQL on tickets, scoped to one organisation, plans a scan of one
    partition (two organisations: at most two)."""
    from services.metrics.sla import repository as sla_repo
    from shared.db import retention

    conninfo = psycopg_conninfo(at_head)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        _fill(conn)
        conn.execute("ANALYZE tickets")
        one = {
            "SLA tickets of organisations": "SELECT * FROM tickets WHERE "
            + sla_repo._scope([3], None).replace("%(orgs)s", "ARRAY[3]"),
            # The recompute an import asks for: its (organisation, month) pairs.
            "SLA tickets of an import's months": "SELECT * FROM tickets WHERE "
            + sla_repo._scope(None, {3: ["2024-01"]})
            .replace("%(m_orgs)s", "ARRAY[3]")
            .replace("%(m_months)s", "ARRAY['2024-01']"),
            "SLA histories": "SELECT e.* FROM ticket_events e JOIN tickets t "
            f"USING ({KEY}) WHERE t.organisation_id = ANY(ARRAY[3])",
            "ticket NPS": sla_repo._TICKET_SQL.replace(
                "{orgs}", "AND t.organisation_id = ANY(ARRAY[3])"
            ),
            "intervals' tickets": "SELECT reference FROM tickets WHERE organisation_id = 3 "
            "AND source_system = 'sn' AND reference = ANY(ARRAY['T1'])",
            "retention": retention._DELETE_TICKETS.replace(":org", "3")
            .replace(":cut", "'2023-01-01'::timestamptz")
            .replace(":batch", "5000"),
        }
        for name, sql in one.items():
            assert len(_partitions_scanned(conn, sql)) == 1, (name, _plan(conn, sql))
        two = (
            "SELECT max(updated_at) FROM tickets WHERE organisation_id = ANY(ARRAY[3, 5]) "
            "AND logged_at < now()"
        )
        assert 1 <= len(_partitions_scanned(conn, two)) <= 2
