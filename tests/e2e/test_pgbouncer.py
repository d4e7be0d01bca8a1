"""The services and the worker behind a real PgBouncer in transaction-pooling mode.

A PgBouncer (the Debian package, /usr/sbin/pgbouncer) is started here on a free port in
front of the test database, with small pools so that client connections really share
server connections. The three services and the outbox worker are built on its URL with
``db_transaction_pooling`` on, and end-to-end scenarios of the suite run through it
unchanged: benchmark results and their cache, SLA recomputes after ticket imports and a
calendar change, a survey campaign with fifty simultaneous submissions. Then nothing of
theirs may be left in any server session: no role, no prepared statement.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient
from sqlalchemy import text

from shared.db.engine import make_engine, psycopg_conninfo
from shared.http import ServiceClient
from shared.testing.browser import free_port
from shared.testing.plugin import Stack, truncate_all
from shared.worker import build_worker

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
pytestmark = [
    pytest.mark.xdist_group("pgbouncer"),
    pytest.mark.skipif(
        not os.path.exists(PGBOUNCER),
        reason="PgBouncer is not installed (Debian package pgbouncer; .ci/run installs it)",
    ),
]
POOL_SIZE = 4  # server connections per (database, user): clients must share them


class PgBouncer:
    """PgBouncer in transaction mode in front of the server behind ``database_url``."""

    def __init__(self, database_url: str, pool_size: int = POOL_SIZE) -> None:
        params = psycopg.conninfo.conninfo_to_dict(psycopg_conninfo(database_url))
        self.dbname = str(params["dbname"])
        self.user = str(params.get("user") or "postgres")
        host = str(params.get("host") or "127.0.0.1")
        port = str(params.get("port") or 5432)
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="ys-pgbouncer-"))
        # One alias with a single server connection: the leak check below needs to know
        # that two clients got the same one.
        (self.folder / "pgbouncer.ini").write_text(
            f"""[databases]
single = host={host} port={port} dbname={self.dbname} pool_size=1
* = host={host} port={port}

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {self.port}
unix_socket_dir =
auth_type = trust
auth_file = {self.folder / "users.txt"}
pool_mode = transaction
default_pool_size = {pool_size}
max_client_conn = 400
ignore_startup_parameters = extra_float_digits,options
admin_users = {self.user}
logfile = {self.folder / "pgbouncer.log"}
"""
        )
        (self.folder / "users.txt").write_text(f'"{self.user}" ""\n')
        run_as = None
        if os.geteuid() == 0:  # PgBouncer refuses to run as root
            # The embedded server's user when it exists: it may reach that server's socket.
            run_as = "embedded_postgres"
            try:
                entry = pwd.getpwnam(run_as)
            except KeyError:
                run_as = "nobody"
                entry = pwd.getpwnam(run_as)
            for path in (self.folder, *self.folder.iterdir()):
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self.proc = subprocess.Popen(
            [PGBOUNCER, str(self.folder / "pgbouncer.ini")],
            user=run_as,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 20
        while True:
            with socket.socket() as sock:
                if sock.connect_ex(("127.0.0.1", self.port)) == 0:
                    break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"PgBouncer did not start: {self.log()}")
            time.sleep(0.05)

    def url(self, dbname: str | None = None) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{dbname or self.dbname}"

    def log(self) -> str:
        path = self.folder / "pgbouncer.log"
        return path.read_text() if path.exists() else ""

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


@pytest.fixture(scope="module")
def pgbouncer(database_url: str) -> Iterator[PgBouncer]:
    bouncer = PgBouncer(database_url)
    yield bouncer
    bouncer.stop()


@pytest.fixture(scope="module")
def pooled(
    pgbouncer: PgBouncer, settings: Any, service_builders: dict[str, Callable[..., Any]]
) -> Iterator[Stack]:
    """The three services and the worker, every connection through PgBouncer in
    transaction mode (the ticket import's lock is transaction-scoped: docs/operations.md,
    "PgBouncer")."""
    cfg = settings.model_copy(
        update={"db_transaction_pooling": True, "database_url": pgbouncer.url()}
    )
    url = pgbouncer.url()
    transports: dict[str, httpx.BaseTransport] = {}
    apps = {
        name: build(
            settings=cfg,
            database_url=url,
            transports=transports,
        )
        for name, build in service_builders.items()
    }
    clients: dict[str, Any] = {}
    engines: list[Any] = []
    try:
        for name, app in apps.items():
            clients[name] = TestClient(app, raise_server_exceptions=False).__enter__()
            transports[name] = clients[name]._transport
        worker, engines = build_worker(
            cfg, url, ServiceClient(cfg, "worker", transports=transports)
        )
        for app in apps.values():  # every engine of the stack goes through PgBouncer
            assert app.state.engine.url.port == pgbouncer.port
        yield Stack(settings=cfg, apps=apps, clients=clients, transports=transports, worker=worker)
    finally:
        for client in clients.values():
            client.__exit__(None, None, None)
        for engine in engines:
            engine.dispose()


@pytest.fixture
def api(pooled: Stack, owner_engine: Any) -> Stack:
    """Named like the suite's own fixture, so its scenarios run here unchanged."""
    truncate_all(owner_engine)
    return pooled


@pytest.fixture
def smtp(api: Stack, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    from tests.survey.conftest import Sink

    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setattr(api.settings, "smtp_host", "127.0.0.1")
    monkeypatch.setattr(api.settings, "smtp_port", port)
    monkeypatch.setattr(api.settings, "smtp_tls", "none")
    yield sink
    controller.stop()


# ----------------------------------------------------------------- the scenarios


def test_benchmark_results_end_to_end_through_pgbouncer(api):
    from tests.metrics.test_results import test_quartiles_of_one_to_ten_end_to_end

    test_quartiles_of_one_to_ten_end_to_end(api)


def test_results_cache_and_recompute_through_pgbouncer(api):
    from tests.metrics.test_results_cache import (
        test_a_finished_recompute_changes_the_next_response,
    )

    test_a_finished_recompute_changes_the_next_response(api)


def test_ticket_import_and_sla_recompute_through_pgbouncer(api):
    from tests.metrics.test_sla_scenarios import (
        test_calendar_change_recomputes_everything_and_changes_the_figures,
    )

    test_calendar_change_recomputes_everything_and_changes_the_figures(api)


def test_survey_campaign_with_simultaneous_submissions_through_pgbouncer(api, smtp, owner_engine):
    from tests.survey.test_campaign_end_to_end import (
        test_fifty_simultaneous_submissions_store_exactly_one,
    )

    test_fifty_simultaneous_submissions_store_exactly_one(api, smtp, owner_engine)


def test_concurrent_results_share_server_connections_without_prepared_statements(api, pgbouncer):
    """Many more client connections than server ones, each running the same queries over
    and over (psycopg would prepare them from the fifth run): every answer right."""
    from tests.metrics.test_results_cache import _ten

    _cycle, orgs = _ten(api)

    def ask(k: int) -> tuple[int, Any]:
        org = orgs[k % len(orgs)]["id"]
        r = api.metrics.get(
            "/api/v1/results/comparison",
            params={"organisation_id": org, "cycle": 2020},
            headers=api.auth("participant", [org]),
        )
        row = next(i for i in r.json()["items"] if i["metric_key"] == "users_per_ict_fte")
        return r.status_code, (row["n"], row["median"])

    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(ask, range(160)))
    assert set(answers) == {(200, (10, 5.5))}
    # Engines' own queries, many times over each pooled connection.
    engine = api.apps["ingest"].state.engine
    with ThreadPoolExecutor(max_workers=12) as pool:
        names = list(pool.map(lambda _: _names(engine), range(60)))
    assert all(n == sorted(o["name"] for o in orgs) for n in names)


def _names(engine: Any) -> list[str]:
    with engine.connect() as conn:
        return [r[0] for r in conn.execute(text("SELECT name FROM organisations ORDER BY name"))]


def test_nothing_is_left_in_the_server_sessions(api, pgbouncer):
    """After the stack's work (the scenarios above, and a recompute now), every server
    connection PgBouncer hands out acts as the login user, with no prepared statement."""
    from tests.metrics.test_results_cache import _ten

    _ten(api)
    seen: set[tuple[str, str, int]] = set()
    for _ in range(6 * POOL_SIZE):
        with psycopg.connect(pgbouncer.url(), autocommit=True, prepare_threshold=None) as conn:
            for _ in range(4):
                row = conn.execute(
                    "SELECT current_user, current_setting('role'), "
                    "(SELECT count(*) FROM pg_prepared_statements)::int"
                ).fetchone()
                assert row is not None
                seen.add((row[0], row[1], row[2]))
    assert seen == {(pgbouncer.user, "none", 0)}


def test_session_set_role_would_leak_which_is_why_pooling_sets_it_per_transaction(api, pgbouncer):
    """The control: on one shared server connection, a session-level SET ROLE (what the
    engine does without ``transaction_pooling``) is what the next client gets; the
    per-transaction role leaves nothing behind."""
    single = pgbouncer.url("single")

    def who_is_next() -> str:
        with psycopg.connect(single, autocommit=True) as conn:
            return str(conn.execute("SELECT current_user").fetchone()[0])

    for pooling, expected in ((False, "yardstick_metrics"), (True, pgbouncer.user)):
        engine = make_engine(single, role="metrics", pool_size=1, transaction_pooling=pooling)
        try:
            with engine.connect() as conn:
                assert conn.execute(text("SELECT current_user")).scalar() == "yardstick_metrics"
                conn.commit()
                # A second transaction of the same client is still the metrics role.
                assert conn.execute(text("SELECT current_user")).scalar() == (
                    "yardstick_metrics" if pooling else expected
                )
                conn.commit()
                assert who_is_next() == expected
        finally:
            engine.dispose()
            with psycopg.connect(single, autocommit=True) as conn:
                conn.execute("RESET ROLE")  # leave the shared connection clean


def test_the_worker_settles_events_through_pgbouncer(api, owner_engine):
    from tests.factories import make_org

    org = make_org(api)["id"]
    body = (
        "ticket_ref,type,priority,request_type,team,closure_category,logged_at,resolved_at,status\n"
        + "".join(
            f"P{i},incident,P1,,Desk,Fixed,01/03/2021 09:00,01/03/2021 10:00,resolved\n"
            for i in range(200)
        )
    )
    r = api.ingest.post(
        "/api/v1/ticket-imports",
        params={"organisation_id": org, "profile": "yardstick", "source_system": "sn"},
        content=body.encode(),
        headers={**api.auth("admin"), "Content-Type": "text/csv"},
    )
    assert r.status_code == 202, r.text
    assert api.deliver() == 2
    with owner_engine.connect() as conn:
        statuses = conn.execute(
            text("SELECT status, count(*) FROM ingest_outbox GROUP BY status")
        ).all()
        tickets = conn.execute(text("SELECT count(*) FROM tickets")).scalar()
        outcomes = conn.execute(text("SELECT count(*) FROM sla_outcomes")).scalar()
    assert statuses == [("delivered", 2)]
    assert (tickets, outcomes) == (200, 200)
    # The import's lock went with its transaction: no advisory lock is left on the server.
    with owner_engine.connect() as conn:
        locks = conn.execute(
            text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            )
        ).scalar()
    assert locks == 0
