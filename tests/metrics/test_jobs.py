"""Long work an event asks for is acknowledged at once (202) and run as a durable job:
retried, run once even past its lease while its runner lives, taken up again when not."""

from __future__ import annotations

import threading
import time

from sqlalchemy import text

from services.metrics.runs.jobs import JobRunner
from shared.http import ServiceClient
from tests.factories import assert_problem, make_org


def _post(api, key: str, event_type: str, payload: dict):
    client = ServiceClient(api.settings, "worker", transports=api.transports)
    return client.request(
        "metrics",
        "POST",
        "/internal/events",
        json={"event_type": event_type, "payload": payload},
        headers={"Idempotency-Key": key},
    )


def _jobs(owner_engine) -> list[dict]:
    with owner_engine.connect() as conn:
        return [
            dict(r) for r in conn.execute(text("SELECT * FROM metrics_jobs ORDER BY id")).mappings()
        ]


def _sla_runs(owner_engine) -> list[dict]:
    with owner_engine.connect() as conn:
        rows = conn.execute(
            text("SELECT * FROM computation_runs WHERE kind = 'sla_outcomes' ORDER BY id")
        ).mappings()
        return [dict(r) for r in rows]


def test_a_recompute_event_is_answered_202_and_run_once_as_a_job(api, owner_engine):
    org = make_org(api)
    first = _post(api, "ingest_outbox:7", "sla.recompute", {"organisation_id": org["id"]})
    assert first.status_code == 202, first.text
    job_id = first.json()["job_id"]
    assert first.json() == {"event_key": "ingest_outbox:7", "handled": True, "job_id": job_id}
    (job,) = _jobs(owner_engine)
    assert (job["id"], job["status"], job["event_type"]) == (job_id, "pending", "sla.recompute")
    assert _sla_runs(owner_engine) == []  # not computed inside the request

    again = _post(api, "ingest_outbox:7", "sla.recompute", {"organisation_id": org["id"]})
    assert again.status_code == 200 and again.json()["handled"] is False
    assert len(_jobs(owner_engine)) == 1

    assert api.run_jobs() == 1
    assert api.run_jobs() == 0
    (job,) = _jobs(owner_engine)
    (run,) = _sla_runs(owner_engine)
    assert (job["status"], job["attempts"], job["run_id"]) == ("done", 1, run["id"])
    assert run["scope"] == {"organisations": [org["id"]]}

    listed = api.metrics.get(
        "/api/v1/computation-jobs", params={"status": "done"}, headers=api.auth()
    )
    assert listed.status_code == 200 and [j["id"] for j in listed.json()["items"]] == [job_id]
    assert (
        api.metrics.get(f"/api/v1/computation-jobs/{job_id}", headers=api.auth()).json()["status"]
        == "done"
    )
    assert_problem(
        api.metrics.get("/api/v1/computation-jobs/999999", headers=api.auth()),
        404,
        "computation_job_not_found",
    )


def test_a_bad_payload_is_refused_at_receipt_and_queues_nothing(api, owner_engine):
    r = _post(api, "ingest_outbox:8", "tickets.imported", {"organisations": [{"months": []}]})
    assert_problem(r, 422)
    assert _jobs(owner_engine) == []
    with owner_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM metrics_inbox")).scalar_one() == 0


def _insert_job(owner_engine, event_type: str = "test.job") -> int:
    with owner_engine.begin() as conn:
        return int(
            conn.execute(
                text(
                    "INSERT INTO metrics_jobs (event_key, event_type, payload)"
                    " VALUES ('k:' || gen_random_uuid(), :t, '{}') RETURNING id"
                ),
                {"t": event_type},
            ).scalar_one()
        )


def test_a_job_left_running_past_its_lease_is_run_again(api, owner_engine):
    calls: list[int] = []
    settings = api.settings.model_copy(update={"metrics_job_lease_seconds": 0.2})
    runner = JobRunner(
        api.apps["metrics"].state.engine, settings, {"test.job": lambda s, p, st: calls.append(1)}
    )
    job_id = _insert_job(owner_engine)
    token, (claimed,) = runner.claim()  # ...and the process that claimed it dies here
    assert claimed["status"] == "running"
    deadline = time.monotonic() + 10
    while runner.run_pending() == 0:
        assert time.monotonic() < deadline, "the job was never taken up again"
        time.sleep(0.05)
    (job,) = _jobs(owner_engine)
    assert (job["id"], job["status"], job["attempts"]) == (job_id, "done", 2)
    assert runner.run(claimed, token) == "stale"  # the old claim cannot finish it again
    assert calls == [1]


def _lease_passed(owner_engine) -> bool:
    with owner_engine.connect() as conn:
        return bool(conn.execute(text("SELECT leased_until < now() FROM metrics_jobs")).scalar())


def test_a_slow_job_is_not_run_twice_while_its_runner_lives(api, owner_engine):
    release, started = threading.Event(), threading.Event()
    calls: list[str] = []

    def slow(_session, _payload, _settings):
        calls.append("slow")
        started.set()
        release.wait(timeout=20)

    settings = api.settings.model_copy(update={"metrics_job_lease_seconds": 0.2})
    engine = api.apps["metrics"].state.engine
    a = JobRunner(engine, settings, {"test.job": slow})
    b = JobRunner(engine, settings, {"test.job": slow})
    _insert_job(owner_engine)
    worker = threading.Thread(target=a.run_pending, daemon=True)
    worker.start()
    assert started.wait(timeout=10)
    deadline = time.monotonic() + 10
    while not _lease_passed(owner_engine):  # now only the row lock protects the job
        assert time.monotonic() < deadline
        time.sleep(0.05)
    _token, claimed = b.claim()
    assert claimed == []
    release.set()
    worker.join(timeout=10)
    (job,) = _jobs(owner_engine)
    assert (job["status"], job["attempts"]) == ("done", 1) and calls == ["slow"]


def test_a_failing_job_is_retried_then_failed(api, owner_engine):
    settings = api.settings.model_copy(
        update={"metrics_job_max_attempts": 2, "metrics_job_backoff_seconds": 0.0}
    )

    def broken(_session, _payload, _settings):
        raise RuntimeError("no data for that month")

    runner = JobRunner(api.apps["metrics"].state.engine, settings, {"test.job": broken})
    _insert_job(owner_engine)
    token, (job,) = runner.claim()
    assert runner.run(job, token) == "retry"
    (stored,) = _jobs(owner_engine)
    assert stored["status"] == "pending" and "no data for that month" in stored["last_error"]
    assert runner.run_pending() == 0
    (stored,) = _jobs(owner_engine)
    assert (stored["status"], stored["attempts"]) == ("failed", 2)
