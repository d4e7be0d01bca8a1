"""Pytest fixtures for every Yardstick test (loaded with ``-p shared.testing.plugin``).

Real PostgreSQL only: ``DATABASE_URL``'s server when set, otherwise the embedded one.
Each pytest process (xdist worker) gets its own database built by running the migrations;
tests that touch the database start from empty tables (truncated before each test).
"""

from __future__ import annotations

import json
import os
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

from shared.auth import mint_token
from shared.background import BackgroundRunner
from shared.db.engine import make_engine, normalise_url, psycopg_conninfo
from shared.settings import Settings


def _server_admin_url() -> str:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    from shared import embedded

    return embedded.start(Settings(), name="pgdata-test")


@contextmanager
def scratch_database(server_url: str, prefix: str, revision: str | None = "head") -> Iterator[str]:
    """A new database on the server behind ``server_url``, migrated to ``revision`` (None:
    left empty); yields its URL and drops it afterwards."""
    from shared.db.migrate import upgrade

    admin = make_url(normalise_url(server_url))
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    conninfo = psycopg_conninfo(server_url)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin.set(database=name).render_as_string(hide_password=False)
    try:
        if revision is not None:
            upgrade(url, revision)
        yield url
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database_url(worker_id: str) -> Iterator[str]:
    """A fresh database on the test server, migrated to head, dropped afterwards."""
    with scratch_database(_server_admin_url(), f"ys_test_{worker_id}") as url:
        yield url


@pytest.fixture(scope="session")
def settings(database_url: str) -> Settings:
    return Settings(
        environment="test",
        database_url=database_url,
        outbox_backoff_base_seconds=0.0,
        outbox_backoff_cap_seconds=0.0,
        db_pool_size=5,
        # Tests run metrics jobs when they deliver (Stack.deliver), not in a thread.
        metrics_jobs_in_background=False,
    )


@pytest.fixture(scope="session")
def owner_engine(database_url: str) -> Iterator[Engine]:
    """Connects as the database owner (no service role): for arranging and inspecting."""
    engine = make_engine(database_url, pool_size=2)
    yield engine
    engine.dispose()


def truncate_all(engine: Engine) -> None:
    import shared.db.tables  # noqa: F401
    from shared.db.metadata import metadata

    names = ", ".join(t.name for t in metadata.sorted_tables)
    with engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@dataclass
class Stack:
    """The three services in-process, wired to each other, plus the outbox worker."""

    settings: Settings
    apps: dict[str, FastAPI]
    clients: dict[str, TestClient]
    transports: dict[str, httpx.BaseTransport] = field(default_factory=dict)
    worker: Any = None

    @property
    def ingest(self) -> TestClient:
        return self.clients["ingest"]

    @property
    def metrics(self) -> TestClient:
        return self.clients["metrics"]

    @property
    def survey(self) -> TestClient:
        return self.clients["survey"]

    def token(
        self, role: str = "admin", orgs: list[int] | None = None, subject: str | None = None
    ) -> str:
        return mint_token(
            self.settings,
            subject=subject or f"test-{role}",
            roles=[role],
            organisations=list(orgs or []),
            ttl=timedelta(hours=1),
        )

    def auth(
        self, role: str = "admin", orgs: list[int] | None = None, subject: str | None = None
    ) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(role, orgs, subject)}"}

    def deliver(self) -> int:
        """Run the outbox worker until nothing is due, waiting after each pass for the
        background work the deliveries handed off (ingest's ticket imports), then the
        metrics jobs the events queued (synchronously); return how many events were
        delivered."""
        total = 0
        while True:
            result = self.worker.run_once()
            total += result.delivered
            self.drain()
            if result.delivered == 0:
                break
        self.run_jobs()
        return total

    def drain(self, timeout: float = 120.0) -> None:
        """Wait until every service's background executor is idle (bounded)."""
        for name, app in self.apps.items():
            runner = getattr(app.state, "background", None)
            if isinstance(runner, BackgroundRunner):
                assert runner.wait_idle(timeout), f"{name}: background work still running"

    def run_jobs(self) -> int:
        """Run the metrics service's pending jobs in this thread; how many finished."""
        done: int = self.apps["metrics"].state.jobs.run_pending()
        return done


@pytest.fixture(scope="session")
def service_builders() -> dict[str, Callable[..., FastAPI]]:
    """Each service's ``build`` (its app factory), by name: the test tree's conftest.py
    provides them (shared code never imports a service)."""
    raise pytest.UsageError("Define a session fixture service_builders in the tests' conftest.")


@pytest.fixture(scope="session")
def _stack(
    settings: Settings, database_url: str, service_builders: dict[str, Callable[..., FastAPI]]
) -> Iterator[Stack]:
    # The services' app factories come from the test tree's conftest (``service_builders``):
    # shared never imports services, not even through importlib.
    from shared.http import ServiceClient
    from shared.worker import build_worker

    transports: dict[str, httpx.BaseTransport] = {}
    apps: dict[str, FastAPI] = {}
    clients: dict[str, TestClient] = {}
    for name, build in service_builders.items():
        apps[name] = build(settings=settings, database_url=database_url, transports=transports)
    for name, app in apps.items():
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        clients[name] = client
        transports[name] = client._transport
    worker, engines = build_worker(
        settings,
        database_url,
        ServiceClient(settings, "worker", transports=transports),
    )
    stack = Stack(
        settings=settings, apps=apps, clients=clients, transports=transports, worker=worker
    )
    yield stack
    for client in clients.values():
        client.__exit__(None, None, None)
    for engine in engines:
        engine.dispose()


@pytest.fixture
def api(_stack: Stack, owner_engine: Engine) -> Stack:
    """The in-process services on an empty database."""
    truncate_all(owner_engine)
    return _stack


@pytest.fixture
def clean_db(owner_engine: Engine) -> Engine:
    truncate_all(owner_engine)
    return owner_engine


# ------------------------------------------------------------------ markers and reports

# `yardstick test` sets this to a file; the run writes there how many browser tests ran and
# why any were skipped, so the command can say so at the end instead of a quiet "s".
SKIP_REPORT_ENV = "YARDSTICK_SKIP_REPORT"
_browser: dict[str, Any] = {"ran": 0, "skipped": Counter()}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "mutation: mutation-testing runs, only with -m mutation (slow, on demand)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mutation runs are deselected unless the mark expression names them."""
    if "mutation" in (config.option.markexpr or ""):
        return
    keep = [i for i in items if i.get_closest_marker("mutation") is None]
    if len(keep) != len(items):
        config.hook.pytest_deselected(items=[i for i in items if i not in keep])
        items[:] = keep


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    # with xdist this runs in the controller too, for every worker's report
    if "browser" not in report.keywords:
        return
    if report.skipped:
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        _browser["skipped"][reason.removeprefix("Skipped: ")] += 1
    elif report.when == "call":
        _browser["ran"] += 1


def pytest_sessionfinish(session: pytest.Session) -> None:
    path = os.environ.get(SKIP_REPORT_ENV)
    if not path or hasattr(session.config, "workerinput"):  # the controller writes it
        return
    with open(path, "w", encoding="utf-8") as out:
        json.dump({"browser_ran": _browser["ran"], "browser_skipped": _browser["skipped"]}, out)
