"""No ticket import stays ``queued``/``processing`` for ever (issue 9, item 4).

Processing that fails for a reason that would recur ends the job ``failed`` with a reason
and its outbox event delivered (not dead); a transient database error is retried and the
job resumes. The watchdog (``POST /internal/jobs/ticket-imports``, called by the worker's
periodic jobs) queues a stalled job again or, after ``ticket_import_max_attempts`` starts,
fails it; it leaves alone a job being processed (its advisory lock held) or one whose
event is still waiting in the outbox.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import text

from services.ingest.tickets import repository as tickets_repo
from services.ingest.tickets.service import _lock_key
from shared.auth import mint_service_token
from shared.events import TicketImportReceived
from shared.http import ServiceClient
from shared.worker import run_periodic_jobs
from tests.factories import make_org
from tests.ingest.test_tickets import HEADER

BODY = (
    HEADER
    + "W1,incident,P1,,Desk,Fixed,05/03/2021 17:30,08/03/2021 09:30,resolved\n"
    + "W2,incident,P2,,Desk,Fixed,06/03/2021 10:00,08/03/2021 08:45,resolved\n"
).encode()


def _upload(api: Any, org: int) -> int:
    r = api.ingest.post(
        "/api/v1/ticket-imports",
        params={"organisation_id": org, "profile": "yardstick", "source_system": "sn"},
        content=BODY,
        headers={**api.auth("admin"), "Content-Type": "text/csv"},
    )
    assert r.status_code == 202, r.text
    return int(r.json()["id"])


def _job(api: Any, job_id: int) -> dict[str, Any]:
    r = api.ingest.get(f"/api/v1/ticket-imports/{job_id}", headers=api.auth("admin"))
    assert r.status_code == 200, r.text
    return dict(r.json())


def _events(owner_engine: Any, job_id: int) -> list[tuple[str, int]]:
    with owner_engine.connect() as conn:
        rows = conn.execute(
            text("SELECT status, attempts FROM ingest_outbox WHERE path = :p ORDER BY id"),
            {"p": TicketImportReceived(import_id=job_id).path()},
        )
        return [(r[0], r[1]) for r in rows]


def _stall(owner_engine: Any, job_id: int, extra_dead_events: int = 0) -> None:
    """As left by a worker that crashed mid-import after its event went dead."""
    path = TicketImportReceived(import_id=job_id).path()
    with owner_engine.begin() as conn:
        conn.execute(
            text("UPDATE ingest_outbox SET status = 'dead', attempts = 12 WHERE path = :p"),
            {"p": path},
        )
        for _ in range(extra_dead_events):
            conn.execute(
                text(
                    "INSERT INTO ingest_outbox (event_type, target, path, payload, status)"
                    " VALUES ('ticket_import.received', 'ingest', :p, '{}', 'dead')"
                ),
                {"p": path},
            )
        conn.execute(
            text(
                "UPDATE ticket_imports SET status = 'processing', started_at = now(),"
                " updated_at = now() - interval '1 hour' WHERE id = :id"
            ),
            {"id": job_id},
        )


def _watchdog(api: Any) -> dict[str, list[int]]:
    token = mint_service_token(api.settings, "worker")
    r = api.ingest.post(
        "/internal/jobs/ticket-imports", json={}, headers={"Authorization": f"Bearer {token}"}
    )
    assert r.status_code == 200, r.text
    return dict(r.json())


def _references(owner_engine: Any) -> list[str]:
    with owner_engine.connect() as conn:
        return list(conn.execute(text("SELECT reference FROM tickets ORDER BY 1")).scalars())


def test_an_error_that_would_recur_fails_the_job_with_a_reason(api, owner_engine, monkeypatch):
    def broken(*_a: Any, **_k: Any) -> Any:
        raise ValueError("the stage has no column 'x'")

    monkeypatch.setattr(tickets_repo, "upsert_batch", broken)
    job_id = _upload(api, make_org(api)["id"])
    api.deliver()
    job = _job(api, job_id)
    assert job["status"] == "failed" and job["finished_at"] is not None
    assert "ValueError: the stage has no column 'x'" in job["failure"]
    assert "No rows were stored" in job["failure"]
    assert f"quoting import {job_id}" in job["failure"]
    assert _events(owner_engine, job_id) == [("delivered", 1)]  # answered, not retried to death
    assert _references(owner_engine) == []


def test_a_transient_database_error_is_retried_and_the_job_resumes(api, owner_engine, monkeypatch):
    real = tickets_repo.upsert_batch
    calls = {"n": 0}

    def flaky(*a: Any, **k: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise psycopg.OperationalError("server closed the connection unexpectedly")
        return real(*a, **k)

    monkeypatch.setattr(tickets_repo, "upsert_batch", flaky)
    job_id = _upload(api, make_org(api)["id"])
    assert api.worker.run_once().delivered == 1  # acknowledged 202 at once
    api.drain()
    # The background run stopped on the transient error and queued the event again.
    assert _job(api, job_id)["status"] == "processing"
    assert [s for s, _ in _events(owner_engine, job_id)] == ["delivered", "pending"]
    deadline = time.monotonic() + 20
    while _job(api, job_id)["status"] != "done":
        assert time.monotonic() < deadline, _job(api, job_id)
        api.deliver()
    assert [s for s, _ in _events(owner_engine, job_id)] == ["delivered", "delivered"]
    assert _references(owner_engine) == ["W1", "W2"]


def test_transient_errors_requeue_at_most_max_attempts_then_the_watchdog_fails_it(
    api, owner_engine, monkeypatch
):
    def down(*a: Any, **k: Any) -> Any:
        raise psycopg.OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(tickets_repo, "upsert_batch", down)
    job_id = _upload(api, make_org(api)["id"])
    api.deliver()
    attempts = api.settings.ticket_import_max_attempts
    assert [s for s, _ in _events(owner_engine, job_id)] == ["delivered"] * attempts
    assert _job(api, job_id)["status"] == "processing"
    _stall(owner_engine, job_id)
    assert _watchdog(api) == {"requeued": [], "failed": [job_id]}
    assert _job(api, job_id)["status"] == "failed"


def test_the_process_endpoint_answers_202_before_processing_finishes(
    api, owner_engine, monkeypatch
):
    """Long work acknowledged quickly: the event's delivery (ordinary short timeout) is
    answered 202 while the import runs in ingest's background executor."""
    real = tickets_repo.upsert_batch
    entered, release = threading.Event(), threading.Event()

    def blocked(*a: Any, **k: Any) -> Any:
        entered.set()
        assert release.wait(30), "never released"
        return real(*a, **k)

    monkeypatch.setattr(tickets_repo, "upsert_batch", blocked)
    job_id = _upload(api, make_org(api)["id"])
    token = mint_service_token(api.settings, "worker")
    path = TicketImportReceived(import_id=job_id).path()
    try:
        r = api.ingest.post(path, headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 202, r.text
        assert r.json() == {"import_id": job_id, "status": "accepted"}
        assert entered.wait(30), "processing never started"
        assert _job(api, job_id)["status"] == "processing"
        # A second hand-off while it runs is a no-op (still 202, nothing queued twice).
        again = api.ingest.post(path, headers={"Authorization": f"Bearer {token}"})
        assert again.status_code == 202, again.text
        assert api.apps["ingest"].state.background.pending == 1
        # The outbox event itself is delivered with the ordinary short timeout.
        seen: list[float] = []
        real_request = api.worker.client.request

        def recording(*a: Any, **k: Any) -> Any:
            seen.append(k.get("timeout"))
            return real_request(*a, **k)

        monkeypatch.setattr(api.worker.client, "request", recording)
        assert api.worker.run_once().delivered == 1
        assert seen == [api.settings.outbox_delivery_timeout_seconds] == [10.0]
        assert _job(api, job_id)["status"] == "processing"
    finally:
        release.set()
    api.drain()
    job = _job(api, job_id)
    assert (job["status"], job["progress"]["rows_inserted"]) == ("done", 2)
    assert _events(owner_engine, job_id) == [("delivered", 1)]
    # Finished: the endpoint answers 200 with the status and queues nothing.
    r = api.ingest.post(path, headers={"Authorization": f"Bearer {token}"})
    assert (r.status_code, r.json()["status"]) == (200, "done")
    assert api.apps["ingest"].state.background.pending == 0


def test_the_process_endpoint_for_a_missing_import_answers_200_missing(api):
    token = mint_service_token(api.settings, "worker")
    r = api.ingest.post(
        "/internal/ticket-imports/999999/process", headers={"Authorization": f"Bearer {token}"}
    )
    assert (r.status_code, r.json()["status"]) == (200, "missing")


def test_the_watchdog_queues_a_stalled_job_again_and_it_completes(api, owner_engine):
    job_id = _upload(api, make_org(api)["id"])
    _stall(owner_engine, job_id)
    assert _watchdog(api) == {"requeued": [job_id], "failed": []}
    assert _watchdog(api) == {"requeued": [], "failed": []}  # idempotent
    assert [s for s, _ in _events(owner_engine, job_id)] == ["dead", "pending"]
    api.deliver()
    job = _job(api, job_id)
    assert (job["status"], job["progress"]["rows_inserted"]) == ("done", 2)
    assert _references(owner_engine) == ["W1", "W2"]


def test_the_watchdog_fails_a_job_started_too_often_with_a_reason(api, owner_engine):
    job_id = _upload(api, make_org(api)["id"])
    with owner_engine.connect() as conn:
        spool = conn.execute(
            text("SELECT spool_path FROM ticket_imports WHERE id = :id"), {"id": job_id}
        ).scalar_one()
    assert Path(spool).is_file()
    _stall(owner_engine, job_id, extra_dead_events=api.settings.ticket_import_max_attempts - 1)
    assert _watchdog(api) == {"requeued": [], "failed": [job_id]}
    job = _job(api, job_id)
    assert job["status"] == "failed" and job["finished_at"] is not None
    assert "did not resume" in job["failure"] and "after 3 attempt(s)" in job["failure"]
    assert "Push the file again" in job["failure"]
    assert not Path(spool).exists()
    assert _watchdog(api) == {"requeued": [], "failed": []}


def test_the_watchdog_leaves_running_fresh_and_waiting_jobs_alone(api, owner_engine):
    org = make_org(api)["id"]
    running, fresh, waiting = _upload(api, org), _upload(api, org), _upload(api, org)
    _stall(owner_engine, running)
    with owner_engine.begin() as conn:  # waiting: stale, but its event is still pending
        conn.execute(
            text("UPDATE ticket_imports SET updated_at = now() - interval '1 hour' WHERE id = :id"),
            {"id": waiting},
        )
    with owner_engine.connect() as holder:  # a process working on ``running``
        holder.execute(text("SELECT pg_advisory_lock(:k)"), {"k": _lock_key(running)})
        assert _watchdog(api) == {"requeued": [], "failed": []}
        holder.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": _lock_key(running)})
        holder.commit()
    assert _watchdog(api) == {"requeued": [running], "failed": []}
    assert _job(api, fresh)["status"] == "queued"


def test_the_workers_periodic_jobs_run_the_watchdog(api, owner_engine):
    job_id = _upload(api, make_org(api)["id"])
    _stall(owner_engine, job_id)

    class OnePass:
        """Stands in for the worker: one pass of the periodic jobs, then stop."""

        def __init__(self) -> None:
            self.client = ServiceClient(api.settings, "worker", transports=api.transports)
            self.passes = 0

        def wait(self, _timeout: float | None = None) -> bool:
            self.passes += 1
            return self.passes > 1

    worker = OnePass()
    thread = threading.Thread(target=run_periodic_jobs, args=(worker, 0.01), daemon=True)
    thread.start()
    thread.join(timeout=30)
    assert not thread.is_alive()
    worker.client.close()
    assert [s for s, _ in _events(owner_engine, job_id)] == ["dead", "pending"]
    api.deliver()
    assert _job(api, job_id)["status"] == "done"


def test_an_import_deleted_before_it_ran_is_not_retried(api, owner_engine):
    org = make_org(api)["id"]
    job_id = _upload(api, org)
    with owner_engine.begin() as conn:
        conn.execute(text("DELETE FROM ticket_imports WHERE id = :id"), {"id": job_id})
    api.deliver()
    assert _events(owner_engine, job_id) == [("delivered", 1)]
