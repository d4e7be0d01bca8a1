"""The worker process: delivers every service's outbox and runs periodic jobs."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

import httpx
from sqlalchemy import Engine

from shared.db.engine import make_engine
from shared.db.tables.ingest import ingest_outbox
from shared.db.tables.survey import survey_outbox
from shared.http import ServiceClient
from shared.outbox import OutboxWorker
from shared.settings import SERVICES, Settings

log = logging.getLogger("yardstick.worker")


def build_worker(
    settings: Settings, database_url: str, client: ServiceClient | None = None
) -> tuple[OutboxWorker, list[Engine]]:
    # Each lane holds a connection only to claim or settle, but all may do so at once.
    pool = max(2, settings.outbox_lanes_per_target * len(SERVICES) // 2)

    def engine(role: str) -> Engine:
        return make_engine(
            database_url, role=role if settings.db_set_role else None, pool_size=pool
        )

    ingest_engine, survey_engine = engine("ingest"), engine("survey")
    worker = OutboxWorker(
        settings,
        [(ingest_outbox, ingest_engine), (survey_outbox, survey_engine)],
        # Each delivery passes its own timeout (OutboxWorker.timeout_for).
        client or ServiceClient(settings, "worker"),
    )
    return worker, [ingest_engine, survey_engine]


def run_survey_jobs(client: ServiceClient) -> bool:
    """Ask the survey service to close due campaigns, queue due reminders and erase
    addresses after retention (each idempotent). False if the call failed."""
    try:
        response = client.request("survey", "POST", "/internal/jobs/all", json={})
    except httpx.HTTPError as exc:
        log.warning("survey jobs failed: %s", type(exc).__name__)
        return False
    if response.status_code >= 300:
        log.warning("survey jobs answered HTTP %s", response.status_code)
        return False
    return True


def run_ticket_import_watchdog(client: ServiceClient) -> bool:
    """Ask the ingest service to queue again, or fail, ticket imports whose processing
    stopped (idempotent). False if the call failed."""
    try:
        response = client.request("ingest", "POST", "/internal/jobs/ticket-imports", json={})
    except httpx.HTTPError as exc:
        log.warning("ticket import watchdog failed: %s", type(exc).__name__)
        return False
    if response.status_code >= 300:
        log.warning("ticket import watchdog answered HTTP %s", response.status_code)
        return False
    return True


def run_periodic_jobs(worker: OutboxWorker, interval: float) -> None:
    """Run the survey jobs and the ticket-import watchdog every ``interval`` seconds until
    the worker is stopped."""
    while not worker.wait(interval):
        run_survey_jobs(worker.client)
        run_ticket_import_watchdog(worker.client)


def run(settings: Settings, database_url: str) -> None:
    worker, engines = build_worker(settings, database_url)
    jobs = threading.Thread(
        target=run_periodic_jobs,
        args=(worker, settings.survey_jobs_interval_seconds),
        name="survey-jobs",
        daemon=True,
    )
    jobs.start()

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("worker stopping on signal %s", signum)
        worker.stop()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
    try:
        worker.run_forever()
    finally:
        worker.client.close()
        for e in engines:
            e.dispose()
