import threading

import httpx
from sqlalchemy import text

from shared.http import ServiceClient
from shared.worker import build_worker
from tests.factories import make_cycle


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
