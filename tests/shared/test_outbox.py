import threading
import time

import httpx
import pytest
from sqlalchemy import text

from shared.http import ServiceClient
from shared.settings import Settings
from shared.worker import build_worker
from tests.factories import assert_problem, make_cycle


class Down(httpx.BaseTransport):
    def handle_request(self, request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)


def _runs(api):
    return api.metrics.get("/api/v1/computation-runs", headers=api.auth()).json()["items"]


def test_event_written_while_metrics_is_down_is_delivered_once_back(
    api, settings, database_url, owner_engine
):
    cycle = make_cycle(api, 2022)
    api.ingest.patch(f"/api/v1/cycles/{cycle['id']}", json={"status": "closed"}, headers=api.auth())

    transports: dict[str, httpx.BaseTransport] = {"metrics": Down()}
    worker, engines = build_worker(
        settings, database_url, ServiceClient(settings, "worker", transports=transports)
    )
    try:
        for _ in range(3):
            result = worker.run_once()
            assert (result.delivered, result.failed) == (0, 1)
        with owner_engine.connect() as conn:
            status, attempts, error = conn.execute(
                text("SELECT status, attempts, last_error FROM ingest_outbox")
            ).one()
        assert (status, attempts) == ("pending", 3) and "ConnectError" in error
        assert _runs(api) == []

        # metrics is back
        worker.client = ServiceClient(settings, "worker", transports=api.transports)
        assert worker.run_once().delivered == 1
        assert worker.run_once().delivered == 0
    finally:
        for e in engines:
            e.dispose()
    with owner_engine.connect() as conn:
        assert conn.execute(text("SELECT status FROM ingest_outbox")).scalar() == "delivered"
    assert len(_runs(api)) == 1


def test_redelivery_has_no_second_effect(api):
    """A worker that crashed after delivering but before marking the row delivers again:
    the receiver's inbox makes that a no-op."""
    cycle = make_cycle(api, 2023)
    api.ingest.patch(f"/api/v1/cycles/{cycle['id']}", json={"status": "closed"}, headers=api.auth())
    client = ServiceClient(api.settings, "worker", transports=api.transports)
    event = {
        "event_type": "cycle.status_changed",
        "payload": {"cycle_id": cycle["id"], "status": "closed"},
    }
    first = client.request(
        "metrics",
        "POST",
        "/internal/events",
        json=event,
        headers={"Idempotency-Key": "ingest_outbox:1"},
    )
    again = client.request(
        "metrics",
        "POST",
        "/internal/events",
        json=event,
        headers={"Idempotency-Key": "ingest_outbox:1"},
    )
    assert first.json() == {"event_key": "ingest_outbox:1", "handled": True, "job_id": None}
    assert again.json() == {"event_key": "ingest_outbox:1", "handled": False, "job_id": None}
    assert api.deliver() == 1  # the real row, same key: no second effect
    assert len(_runs(api)) == 1


def test_concurrent_workers_skip_locked_rows(api, settings, database_url, owner_engine):
    for year in range(2030, 2040):
        cycle = make_cycle(api, year)
        api.ingest.patch(
            f"/api/v1/cycles/{cycle['id']}", json={"status": "closed"}, headers=api.auth()
        )
    totals: list[int] = []
    workers = [
        build_worker(
            settings, database_url, ServiceClient(settings, "worker", transports=api.transports)
        )
        for _ in range(3)
    ]
    threads = [
        threading.Thread(target=lambda w=w: totals.append(w[0].run_once().delivered))
        for w in workers
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for _, engines in workers:
        for e in engines:
            e.dispose()
    assert sum(totals) + api.deliver() == 10
    assert len(_runs(api)) == 10


def test_internal_endpoint_refuses_user_tokens(api):
    response = api.metrics.post(
        "/internal/events",
        json={"event_type": "x", "payload": {}},
        headers={**api.auth("admin"), "Idempotency-Key": "k"},
    )
    assert response.status_code == 401
    assert (
        response.json()["code"] == "token_algorithm" or response.json()["code"] == "token_invalid"
    )


def test_dead_after_max_attempts(api, settings, database_url, owner_engine):
    cycle = make_cycle(api, 2024)
    api.ingest.patch(f"/api/v1/cycles/{cycle['id']}", json={"status": "closed"}, headers=api.auth())
    short = settings.model_copy(update={"outbox_max_attempts": 2})
    worker, engines = build_worker(
        short, database_url, ServiceClient(short, "worker", transports={"metrics": Down()})
    )
    try:
        worker.run_once()
        assert worker.run_once().dead == 1
    finally:
        for e in engines:
            e.dispose()
    with owner_engine.connect() as conn:
        assert conn.execute(text("SELECT status FROM ingest_outbox")).scalar() == "dead"


# ------------------------------------------------------------- claims and leases


def _queue(owner_engine, n: int, target: str = "metrics", table: str = "ingest_outbox") -> list:
    with owner_engine.begin() as conn:
        return list(
            conn.execute(
                text(
                    f"INSERT INTO {table} (event_type, target, path, payload)"
                    " SELECT 'test.ping', :t, '/internal/ping', jsonb_build_object('n', g)"
                    " FROM generate_series(1, :n) g RETURNING id"
                ),
                {"t": target, "n": n},
            ).scalars()
        )


def _rows(owner_engine, table: str = "ingest_outbox") -> dict[int, dict]:
    with owner_engine.connect() as conn:
        rows = conn.execute(text(f"SELECT * FROM {table} ORDER BY id")).mappings()
        return {r["id"]: dict(r) for r in rows}


class Recorder(httpx.BaseTransport):
    """Answers 200 and records each Idempotency-Key; ``gate`` (if set) holds requests."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.keys: list[str] = []
        self.gate = gate
        self.lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.gate is not None:
            self.gate.wait(timeout=20)
        with self.lock:
            self.keys.append(request.headers["Idempotency-Key"])
        return httpx.Response(200, json={"handled": True})


@pytest.fixture
def worker_factory(settings, database_url):
    made = []

    def make(transports, **overrides):
        s = settings.model_copy(update=overrides)
        worker, engines = build_worker(
            s, database_url, ServiceClient(s, "worker", transports=transports)
        )
        made.append((worker, engines))
        return worker

    yield make
    for worker, engines in made:
        worker.stop()
        worker.client.close()
        for e in engines:
            e.dispose()


def test_a_claimed_row_is_not_claimed_again_while_its_lease_holds(
    clean_db, owner_engine, worker_factory
):
    (row_id,) = _queue(owner_engine, 1)
    a = worker_factory({"metrics": Recorder()})
    b = worker_factory({"metrics": Recorder()})
    table, engine = a.sources[0]
    (claim,) = a.claim(table, engine, limit=10)
    stored = _rows(owner_engine)[row_id]
    assert stored["status"] == "delivering" and stored["claim_token"] == claim.token
    assert stored["attempts"] == 1 and stored["leased_until"] is not None
    # The claim's transaction is over: nothing is locked, and still B cannot take it.
    assert b.claim(*b.sources[0], limit=10) == []
    assert a.process(claim) == "delivered"
    assert _rows(owner_engine)[row_id]["status"] == "delivered"


def test_concurrent_lanes_deliver_every_row_exactly_once(clean_db, owner_engine, worker_factory):
    ids = _queue(owner_engine, 30)
    recorder = Recorder()
    workers = [worker_factory({"metrics": recorder}) for _ in range(3)]
    threads = [
        threading.Thread(target=w.run_lane, args=("metrics",), daemon=True)
        for w in workers
        for _ in range(2)
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while any(r["status"] != "delivered" for r in _rows(owner_engine).values()):
        assert time.monotonic() < deadline, _rows(owner_engine)
        time.sleep(0.05)
    for w in workers:
        w.stop()
    for t in threads:
        t.join(timeout=10)
    assert sorted(recorder.keys) == sorted(f"ingest_outbox:{i}" for i in ids)
    assert all(r["attempts"] == 1 for r in _rows(owner_engine).values())


def test_an_expired_lease_is_claimed_again_and_the_old_outcome_is_ignored(
    clean_db, owner_engine, worker_factory
):
    (row_id,) = _queue(owner_engine, 1)
    # Lease = 3 x 0.1 s + 0 s grace.
    short = {"outbox_delivery_timeout_seconds": 0.1, "outbox_lease_grace_seconds": 0.0}
    old = worker_factory({"metrics": Recorder()}, **short)
    new = worker_factory({"metrics": Recorder()}, **short)
    (stale_claim,) = old.claim(*old.sources[0], limit=1)  # ...then this worker hangs
    deadline = time.monotonic() + 10
    while not (claims := new.claim(*new.sources[0], limit=1)):
        assert time.monotonic() < deadline, "the expired lease was never claimed again"
        time.sleep(0.05)
    (fresh,) = claims
    assert fresh.token != stale_claim.token and fresh.row["attempts"] == 2
    assert new.process(fresh) == "delivered"
    delivered = _rows(owner_engine)[row_id]
    # The hung worker wakes up and writes its outcome (a failure, or a success): ignored.
    assert old.settle(stale_claim, "ReadTimeout: timed out") == "stale"
    assert old.settle(stale_claim, None) == "stale"
    assert _rows(owner_engine)[row_id] == delivered
    assert delivered["status"] == "delivered" and delivered["last_error"] is None


def test_a_lease_that_expires_on_the_last_attempt_makes_the_row_dead(
    clean_db, owner_engine, worker_factory
):
    (row_id,) = _queue(owner_engine, 1)
    w = worker_factory({"metrics": Recorder()}, outbox_max_attempts=1)
    (claim,) = w.claim(*w.sources[0], limit=1)
    with owner_engine.begin() as conn:  # the worker died; its lease has run out
        conn.execute(
            text("UPDATE ingest_outbox SET leased_until = now() - interval '1 s' WHERE id = :i"),
            {"i": row_id},
        )
    assert w.claim(*w.sources[0], limit=1) == []
    row = _rows(owner_engine)[row_id]
    assert row["status"] == "dead" and "lease expired" in row["last_error"]
    assert w.settle(claim, None) == "stale"


def test_a_hung_receiver_holds_neither_a_transaction_nor_other_targets(
    clean_db, owner_engine, worker_factory
):
    gate = threading.Event()
    hung, ingest = Recorder(gate), Recorder()
    to_metrics = _queue(owner_engine, 4, "metrics")
    w = worker_factory({"metrics": hung, "ingest": ingest}, outbox_lanes_per_target=2)
    runner = threading.Thread(target=w.run_forever, daemon=True)
    runner.start()
    try:
        # Both metrics lanes are now stuck in a delivery; events for ingest still flow.
        deadline = time.monotonic() + 15
        while sum(r["status"] == "delivering" for r in _rows(owner_engine).values()) < 2:
            assert time.monotonic() < deadline
            time.sleep(0.02)
        with owner_engine.connect() as conn:
            stuck_since = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
        to_ingest = _queue(owner_engine, 3, "ingest")
        while len(ingest.keys) < 3:
            assert time.monotonic() < deadline, "events for ingest waited for metrics"
            time.sleep(0.02)
        assert sorted(ingest.keys) == sorted(f"ingest_outbox:{i}" for i in to_ingest)
        with owner_engine.connect() as conn:
            # No transaction has been open since the lanes got stuck (claims are short).
            spanning = conn.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
                    " AND xact_start < :t AND pid <> pg_backend_pid()"
                ),
                {"t": stuck_since},
            ).scalar_one()
        assert spanning == 0
        assert hung.keys == []
    finally:
        gate.set()
    deadline = time.monotonic() + 15
    while len(hung.keys) < 4:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    w.stop()
    runner.join(timeout=10)
    assert sorted(hung.keys) == sorted(f"ingest_outbox:{i}" for i in to_metrics)


# ------------------------------------------------------------------ admin re-drive


@pytest.mark.parametrize("service", ["ingest", "survey"])
def test_admins_list_dead_events_and_redrive_them(api, owner_engine, service):
    table = f"{service}_outbox"
    ids = _queue(owner_engine, 3, "metrics", table)
    with owner_engine.begin() as conn:
        conn.execute(
            text(
                f"UPDATE {table} SET status = 'dead', attempts = 12, last_error = 'HTTP 500'"
                " WHERE id = ANY(:ids)"
            ),
            {"ids": ids[:2]},
        )
    client = api.clients[service]
    base = f"/api/v1/{service}-outbox-events"
    page = client.get(base, params={"status": "dead", "limit": 1}, headers=api.auth())
    assert page.status_code == 200, page.text
    body = page.json()
    assert body["total"] == 2 and [e["id"] for e in body["items"]] == [ids[1]]
    assert body["items"][0]["last_error"] == "HTTP 500" and "offset=1" in body["next"]
    assert client.get(base, headers=api.auth()).json()["total"] == 3

    assert_problem(client.get(base, headers=api.auth("participant", [1])), 403)
    assert_problem(
        client.post(f"{base}/{ids[0]}/redrive", headers=api.auth("participant")),
        403,
    )
    assert_problem(
        client.post(f"{base}/{ids[2]}/redrive", headers=api.auth()),
        409,
        "outbox_event_not_dead",
    )
    assert_problem(
        client.post(f"{base}/999999/redrive", headers=api.auth()),
        404,
        "outbox_event_not_found",
    )

    r = client.post(f"{base}/{ids[0]}/redrive", headers=api.auth(subject="ops-alice"))
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "pending" and r.json()["attempts"] == 0
    stored = _rows(owner_engine, table)[ids[0]]
    assert (stored["status"], stored["attempts"], stored["redriven_by"]) == (
        "pending",
        0,
        "ops-alice",
    )
    assert stored["redriven_at"] is not None and stored["next_attempt_at"] <= stored["redriven_at"]
    assert _rows(owner_engine, table)[ids[1]]["status"] == "dead"


@pytest.mark.parametrize("long_types", [None, ("ticket_import.received",)])
def test_imports_get_the_short_timeout_and_long_event_types_the_long_one(
    clean_db, owner_engine, worker_factory, long_types
):
    """Ticket-import processing is answered 202 now, so by default it gets the ordinary
    short timeout and lease; an event type listed in ``outbox_long_event_types`` still
    gets the long ones."""
    seen: dict[str, float] = {}

    class Timeouts(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            seen[request.url.path] = request.extensions["timeout"]["read"]
            return httpx.Response(202, json={})

    with owner_engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO ingest_outbox (event_type, target, path, payload) VALUES"
                " ('cycle.status_changed', 'metrics', '/internal/events', '{}'),"
                " ('ticket_import.received', 'ingest', '/internal/ticket-imports/1/process', '{}')"
            )
        )
    overrides = {} if long_types is None else {"outbox_long_event_types": long_types}
    w = worker_factory({"metrics": Timeouts(), "ingest": Timeouts()}, **overrides)
    assert Settings().outbox_delivery_timeout_seconds == 10.0
    assert Settings().outbox_long_event_types == ()
    claims = w.claim(*w.sources[0], limit=10)
    leases = {c.row["event_type"]: c.row["leased_until"] - c.row["created_at"] for c in claims}
    # Lease: three timeouts plus the grace (measured from creation, so a little more).
    assert 3 * 10 + 30 <= leases["cycle.status_changed"].total_seconds() < 3 * 10 + 30 + 30
    imports = leases["ticket_import.received"].total_seconds()
    if long_types is None:
        assert 3 * 10 + 30 <= imports < 3 * 10 + 30 + 30
    else:
        assert imports >= 3 * 900 + 30
    for claim in claims:
        assert w.process(claim) == "delivered"
    expected = 10.0 if long_types is None else 900.0
    assert seen == {"/internal/events": 10.0, "/internal/ticket-imports/1/process": expected}
