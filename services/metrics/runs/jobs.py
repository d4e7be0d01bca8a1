"""Durable jobs: the long work an event asks for (an SLA recompute after a large ticket
import, a benchmark recompute), run beside the API in the metrics process.

Receiving such an event writes the inbox entry and a ``metrics_jobs`` row in one
transaction and answers 202 at once (services.metrics.events.service), so the sender's
outbox never waits on the computation. A :class:`JobRunner` then:

1. claims a due job in a short transaction: ``status = 'running'``, a new claim token,
   ``attempts + 1``, ``leased_until = now() + metrics_job_lease_seconds``;
2. runs it in one transaction that first locks the job row (only if the token still
   matches), applies the handler (which records its computation run) and marks the job
   ``done`` — so the effect and "done" commit together or not at all;
3. on an error, rolls that back and, in a short transaction guarded by the token, puts the
   job back to pending with back-off, or ``failed`` after ``metrics_job_max_attempts``.

While it works the runner holds the row lock, and claims skip locked rows, so a slow job
is never run twice even past its lease. If the process dies, the lock goes with its
connection and the lease passing makes the job claimable again: it runs from the start
(handlers recompute from stored data, so a repeat gives the same figures). Several metrics
processes may run runners side by side.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any, Literal

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from services.metrics.runs import repository as repo
from shared.observability import METRICS_JOB_DURATION, bound, duration_ms
from shared.observability_tracing import span
from shared.settings import Settings

log = logging.getLogger("yardstick.metrics.jobs")

# Runs the event's work in the given session; returns the computation run it recorded.
JobHandler = Callable[[Session, dict[str, Any], Settings], int | None]
JobOutcome = Literal["done", "retry", "failed", "stale"]


class JobRunner:
    def __init__(
        self, engine: Engine, settings: Settings, handlers: Mapping[str, JobHandler]
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.handlers = handlers
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def claim(self, limit: int = 1) -> tuple[uuid.UUID, list[dict[str, Any]]]:
        with Session(self.engine) as session, session.begin():
            return repo.claim_jobs(
                session,
                limit=limit,
                lease=timedelta(seconds=self.settings.metrics_job_lease_seconds),
                max_attempts=self.settings.metrics_job_max_attempts,
            )

    def run(self, job: dict[str, Any], token: uuid.UUID) -> JobOutcome:
        """Run one claimed job as part of the request that asked for it (its request id
        on the log lines, its trace as the parent), timed by event type and outcome."""
        start = time.perf_counter()
        with (
            bound(job.get("request_id"), service="metrics"),
            span(f"metrics job {job['event_type']}", job.get("traceparent")),
        ):
            outcome = self._run(job, token)
            elapsed = time.perf_counter() - start
            METRICS_JOB_DURATION.labels(job["event_type"], outcome).observe(elapsed)
            log.info(
                "metrics job %s %s: %s",
                job["id"],
                job["event_type"],
                outcome,
                extra={
                    "fields": {
                        "job_id": job["id"],
                        "event_type": job["event_type"],
                        "outcome": outcome,
                        "duration_ms": duration_ms(elapsed),
                    }
                },
            )
        return outcome

    def _run(self, job: dict[str, Any], token: uuid.UUID) -> JobOutcome:
        handler = self.handlers.get(job["event_type"])
        with Session(self.engine) as session:
            if not repo.lock_claimed_job(session, job["id"], token):
                session.rollback()
                return "stale"
            try:
                if handler is None:
                    raise LookupError(f"no job handler for {job['event_type']!r}")
                run_id = handler(session, job["payload"], self.settings)
                if not repo.finish_job(session, job["id"], token, run_id):
                    session.rollback()
                    return "stale"
                session.commit()
                return "done"
            except Exception as exc:
                session.rollback()
                log.exception("metrics job %s (%s) failed", job["id"], job["event_type"])
                error = f"{type(exc).__name__}: {exc}"
        attempts = int(job["attempts"])
        retry: timedelta | None = None
        if attempts < self.settings.metrics_job_max_attempts and handler is not None:
            retry = timedelta(
                seconds=self.settings.metrics_job_backoff_seconds * 2 ** (attempts - 1)
            )
        with Session(self.engine) as session, session.begin():
            if not repo.fail_job(session, job["id"], token, error, retry):
                return "stale"
        return "retry" if retry is not None else "failed"

    def run_pending(self) -> int:
        """Run due jobs in this thread until none is left; how many finished ``done``.

        Tests call this (through the test stack's ``deliver``) instead of waiting for the
        background thread."""
        done = 0
        while True:
            # Each claim counts an attempt, so a job that keeps failing ends ``failed``.
            token, jobs = self.claim()
            if not jobs:
                return done
            for job in jobs:
                done += self.run(job, token) == "done"

    # ------------------------------------------------------------------ background

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="metrics-jobs", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                token, jobs = self.claim()
                for job in jobs:
                    self.run(job, token)
            except Exception:
                # The database is unreachable: a claimed job is retried once its lease ends.
                log.exception("metrics job runner pass failed; retrying")
                jobs = []
            if not jobs:
                self._stop.wait(self.settings.metrics_job_poll_seconds)
