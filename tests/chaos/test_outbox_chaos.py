"""Chaos for the outbox: real uvicorn processes of ingest and metrics and the real worker
process (``yardstick worker``), on the test database.

(a) metrics frozen with SIGSTOP while events for it and for ingest are queued: the ingest
    events (ticket-import processing) are delivered meanwhile; after SIGCONT everything
    is delivered, and exactly once in effect (one inbox row, one computation run, one job
    per event) although frozen requests the worker gave up on are answered late.
(b) the worker killed with SIGKILL in the middle of a delivery and started again: the
    row is claimed again when its lease ends and the event has one effect.

Short timeouts (2 s, lease 3 x 2 + 1 s) keep each test well under a minute.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, text

from shared.auth import mint_token
from shared.settings import PROJECT_ROOT, Settings
from shared.testing.plugin import truncate_all

TIMEOUT = 2.0
SETTINGS_ENV = {
    "YARDSTICK_ENVIRONMENT": "test",
    "YARDSTICK_OUTBOX_DELIVERY_TIMEOUT_SECONDS": str(TIMEOUT),
    "YARDSTICK_OUTBOX_LEASE_GRACE_SECONDS": "1",
    "YARDSTICK_OUTBOX_BACKOFF_BASE_SECONDS": "0.2",
    "YARDSTICK_OUTBOX_BACKOFF_CAP_SECONDS": "1",
    "YARDSTICK_OUTBOX_POLL_SECONDS": "0.1",
    "YARDSTICK_OUTBOX_LANES_PER_TARGET": "2",
    "YARDSTICK_METRICS_JOB_POLL_SECONDS": "0.1",
    "YARDSTICK_SURVEY_JOBS_INTERVAL_SECONDS": "3600",
    "YARDSTICK_DB_POOL_SIZE": "4",
}
HEADER = (
    "ticket_ref,type,priority,request_type,team,closure_category,logged_at,resolved_at,status\n"
)


def wait_for(condition: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        time.sleep(0.1)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Processes:
    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = env
        self.logs = logs
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, args: list[str]) -> subprocess.Popen[bytes]:
        if name in self.procs:
            self.stop(name)
        log = (self.logs / f"{name}.log").open("ab")
        proc = subprocess.Popen(
            [sys.executable, *args], cwd=PROJECT_ROOT, env=self.env, stdout=log, stderr=log
        )
        self.procs[name] = proc
        return proc

    def signal(self, name: str, sig: signal.Signals) -> None:
        os.kill(self.procs[name].pid, sig)

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name)
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGCONT)
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.stop(name)


@pytest.fixture(scope="module")
def stack(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """ingest and metrics under uvicorn; the worker is started by each test."""
    ports = {"ingest": free_port(), "metrics": free_port(), "survey": free_port()}
    env = {
        **os.environ,
        **SETTINGS_ENV,
        "DATABASE_URL": database_url,
        "YARDSTICK_DATA_DIR": str(tmp_path_factory.mktemp("chaos-data")),
        **{f"YARDSTICK_{s.upper()}_URL": f"http://127.0.0.1:{p}" for s, p in ports.items()},
    }
    procs = Processes(env, tmp_path_factory.mktemp("chaos-logs"))
    try:
        for svc in ("ingest", "metrics"):
            procs.start(
                svc,
                [
                    "-m",
                    "uvicorn",
                    f"services.{svc}.main:app",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(ports[svc]),
                    "--log-level",
                    "warning",
                ],
            )
        for svc in ("ingest", "metrics"):
            url = f"http://127.0.0.1:{ports[svc]}/readyz"

            def ready(url: str = url, svc: str = svc) -> bool:
                assert procs.procs[svc].poll() is None, f"{svc} exited; see {procs.logs}"
                try:
                    return httpx.get(url, timeout=1).status_code == 200
                except httpx.HTTPError:
                    return False

            wait_for(ready, 60, f"{svc} to answer /readyz")
        settings = Settings(**{"environment": "test"})
        token = mint_token(
            settings,
            subject="chaos-admin",
            roles=["admin"],
            organisations=[],
            ttl=timedelta(hours=1),
        )
        yield type(
            "Stack",
            (),
            {
                "procs": procs,
                "url": {s: f"http://127.0.0.1:{p}" for s, p in ports.items()},
                "auth": {"Authorization": f"Bearer {token}"},
            },
        )
    finally:
        procs.stop_all()


def start_worker(stack: Any) -> None:
    stack.procs.start("worker", ["-m", "yardstick.cli", "worker"])


@pytest.fixture(autouse=True)
def _worker_stopped_after_each_test(stack: Any) -> Iterator[None]:
    yield
    if "worker" in stack.procs.procs:
        stack.procs.stop("worker")
    if "metrics" in stack.procs.procs:
        stack.procs.signal("metrics", signal.SIGCONT)


def scalar(engine: Engine, sql: str, **params: Any) -> Any:
    with engine.connect() as conn:
        return conn.execute(text(sql), params).scalar()


def rows(engine: Engine, sql: str, **params: Any) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(text(sql), params).mappings()]


def queue_cycle_events(engine: Engine, cycle_ids: list[int]) -> list[int]:
    """Events for metrics with a countable inline effect: one computation run each."""
    with engine.begin() as conn:
        return list(
            conn.execute(
                text(
                    "INSERT INTO ingest_outbox (event_type, target, path, payload)"
                    " SELECT 'cycle.status_changed', 'metrics', '/internal/events',"
                    " jsonb_build_object('cycle_id', c, 'status', 'closed')"
                    " FROM unnest(CAST(:ids AS int[])) c RETURNING id"
                ),
                {"ids": cycle_ids},
            ).scalars()
        )


def request_waiting(port: int) -> bool:
    """Bytes sent to ``port`` that its (frozen) process has not read: a request in flight."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, state, queues = fields[1], fields[3], fields[4]
        established = state == "01"
        if established and int(local.split(":")[1], 16) == port and int(queues.split(":")[1], 16):
            return True
    return False


def all_delivered(engine: Engine) -> bool:
    return scalar(engine, "SELECT count(*) FROM ingest_outbox WHERE status <> 'delivered'") == 0


def test_a_frozen_receiver_delays_only_its_own_events_and_each_has_one_effect(
    stack: Any, owner_engine: Engine
) -> None:
    started = time.monotonic()
    truncate_all(owner_engine)
    client = httpx.Client(timeout=10)
    org = client.post(
        f"{stack.url['ingest']}/api/v1/organisations",
        json={"name": "Chaos Council", "type": "L", "nation": "England", "users": 1000},
        headers=stack.auth,
    )
    assert org.status_code == 201, org.text
    org_id = org.json()["id"]
    start_worker(stack)

    stack.procs.signal("metrics", signal.SIGSTOP)
    try:
        cycle_events = queue_cycle_events(owner_engine, list(range(1, 9)))
        with owner_engine.begin() as conn:  # long work for metrics: answered 202, a job
            conn.execute(
                text(
                    "INSERT INTO ingest_outbox (event_type, target, path, payload) VALUES"
                    " ('sla.recompute', 'metrics', '/internal/events',"
                    " jsonb_build_object('organisation_id', CAST(:o AS int), 'reason', 'chaos'))"
                ),
                {"o": org_id},
            )
        imports = []
        for n in range(3):  # events for ingest: each import is processed by an outbox event
            body = HEADER + (
                f"INC{n}-1,incident,P1,,Desk,Fixed,05/03/2021 17:30,08/03/2021 09:30,resolved\n"
                f"INC{n}-2,incident,P2,,Desk,Fixed,06/04/2021 10:00,,open\n"
            )
            r = client.post(
                f"{stack.url['ingest']}/api/v1/ticket-imports",
                params={"organisation_id": org_id, "profile": "yardstick", "source_system": "sn"},
                content=body.encode(),
                headers={**stack.auth, "Content-Type": "text/csv"},
            )
            assert r.status_code == 202, r.text
            imports.append(r.json()["id"])

        # While metrics is frozen, the imports (ingest's own events) finish.
        wait_for(
            lambda: (
                scalar(
                    owner_engine,
                    "SELECT count(*) FROM ticket_imports WHERE status = 'done' AND id = ANY(:i)",
                    i=imports,
                )
                == 3
            ),
            40,  # a frozen receiver never answers; 40 s leaves room for a loaded machine
            "the ingest-bound events while metrics is frozen",
        )
        frozen_for = time.monotonic()
        frozen_at = scalar(owner_engine, "SELECT clock_timestamp()")
        # Keep metrics frozen past a delivery timeout, so attempts time out and are retried.
        wait_for(
            lambda: scalar(
                owner_engine,
                "SELECT count(*) FROM ingest_outbox WHERE target = 'metrics' AND attempts >= 2",
            ),
            3 * TIMEOUT + 10,
            "a timed-out delivery to the frozen metrics to be retried",
        )
        assert scalar(owner_engine, "SELECT count(*) FROM metrics_inbox") == 0
        assert scalar(owner_engine, "SELECT count(*) FROM computation_runs") == 0
        # No transaction has stayed open across the frozen deliveries (claims are short).
        # (metrics' own connections are left out: it may have been frozen mid-transaction.)
        assert (
            scalar(
                owner_engine,
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                " AND xact_start < :t AND pid <> pg_backend_pid()"
                " AND application_name <> 'yardstick-metrics'",
                t=frozen_at,
            )
            == 0
        )
    finally:
        stack.procs.signal("metrics", signal.SIGCONT)
    frozen_seconds = time.monotonic() - frozen_for

    wait_for(lambda: all_delivered(owner_engine), 30, "every event to be delivered")
    wait_for(
        lambda: (
            scalar(owner_engine, "SELECT count(*) FROM metrics_jobs WHERE status <> 'done'") == 0
        ),
        20,
        "the metrics jobs to finish",
    )
    stack.procs.stop("worker")

    to_metrics = rows(
        owner_engine, "SELECT id, event_type FROM ingest_outbox WHERE target = 'metrics'"
    )
    # 8 cycle events, 1 sla.recompute, 3 tickets.imported (one per import)
    assert sorted(r["event_type"] for r in to_metrics) == sorted(
        ["cycle.status_changed"] * 8 + ["sla.recompute"] + ["tickets.imported"] * 3
    )
    inbox = rows(owner_engine, "SELECT event_key FROM metrics_inbox")
    assert sorted(r["event_key"] for r in inbox) == sorted(
        f"ingest_outbox:{r['id']}" for r in to_metrics
    )
    runs = rows(owner_engine, "SELECT kind, scope FROM computation_runs")
    cycle_runs = sorted(r["scope"]["cycle_id"] for r in runs if r["kind"] == "cycle_status")
    assert cycle_runs == list(range(1, 9)) and len(cycle_events) == 8
    assert sum(r["kind"] == "sla_outcomes" for r in runs) == 4  # 1 recompute + 3 imports
    jobs = rows(owner_engine, "SELECT event_key, status FROM metrics_jobs")
    assert len(jobs) == 4 and {j["status"] for j in jobs} == {"done"}
    assert scalar(owner_engine, "SELECT count(*) FROM tickets") == 6
    assert scalar(owner_engine, "SELECT count(*) FROM sla_outcomes") >= 1
    assert frozen_seconds < 45 and time.monotonic() - started < 60


def test_a_worker_killed_mid_delivery_and_restarted_delivers_once_in_effect(
    stack: Any, owner_engine: Engine
) -> None:
    """The worst moment: the receiver has applied the event, the worker dies before it
    records the outcome. (metrics is frozen, then the worker, so the order is certain.)"""
    started = time.monotonic()
    truncate_all(owner_engine)
    stack.procs.signal("metrics", signal.SIGSTOP)
    try:
        (event_id,) = queue_cycle_events(owner_engine, [42])
        start_worker(stack)
        claimed = wait_for(
            lambda: rows(
                owner_engine,
                "SELECT attempts, leased_until > now() AS leased"
                " FROM ingest_outbox WHERE id = :i AND status = 'delivering'",
                i=event_id,
            ),
            20,
            "the worker to claim the event",
        )[0]
        assert claimed["leased"] and claimed["attempts"] == 1
        port = int(stack.url["metrics"].rsplit(":", 1)[1])
        wait_for(lambda: request_waiting(port), 15, "the delivery to reach metrics' socket")
        # The request is on its way; the worker stops waiting for the answer...
        stack.procs.signal("worker", signal.SIGSTOP)
    finally:
        stack.procs.signal("metrics", signal.SIGCONT)
    # ...metrics applies the event and answers into the frozen worker's socket...
    wait_for(
        lambda: scalar(owner_engine, "SELECT count(*) FROM metrics_inbox") == 1,
        15,
        "metrics to handle the delivery in flight",
    )
    # ...and the worker dies before it records the outcome.
    stack.procs.signal("worker", signal.SIGKILL)
    stack.procs.procs.pop("worker").wait(timeout=10)
    assert scalar(owner_engine, "SELECT status FROM ingest_outbox WHERE id = :i", i=event_id) == (
        "delivering"
    )

    start_worker(stack)
    # Claimed again once the dead worker's lease ends, delivered again: no second effect.
    wait_for(lambda: all_delivered(owner_engine), 3 * TIMEOUT + 20, "the event to be re-delivered")
    stack.procs.stop("worker")
    row = rows(owner_engine, "SELECT * FROM ingest_outbox WHERE id = :i", i=event_id)[0]
    assert row["status"] == "delivered" and row["attempts"] == 2
    assert rows(owner_engine, "SELECT event_key FROM metrics_inbox") == [
        {"event_key": f"ingest_outbox:{event_id}"}
    ]
    runs = rows(owner_engine, "SELECT kind, scope FROM computation_runs")
    assert runs == [{"kind": "cycle_status", "scope": {"cycle_id": 42, "status": "closed"}}]
    assert time.monotonic() - started < 60
