"""The worker's periodic survey jobs run beside the outbox loop and end with it, through
the worker's public stop/wait API."""

from __future__ import annotations

import threading
import time

from sqlalchemy import text

from shared.http import ServiceClient
from shared.worker import build_worker, run_periodic_jobs
from tests.survey.conftest import make_campaign


def _status(owner_engine, campaign_id: int) -> str:
    with owner_engine.connect() as conn:
        return str(
            conn.execute(
                text("SELECT status FROM survey_campaigns WHERE id = :i"), {"i": campaign_id}
            ).scalar_one()
        )


def test_periodic_jobs_close_due_campaigns_and_stop_with_the_worker(
    api, settings, database_url, owner_engine
):
    campaign = make_campaign(api)
    with owner_engine.begin() as conn:  # its closing date has passed
        conn.execute(
            text(
                "UPDATE survey_campaigns SET status = 'live', opens_on = current_date - 10,"
                " closes_on = current_date - 2 WHERE id = :i"
            ),
            {"i": campaign["id"]},
        )
    worker, engines = build_worker(
        settings, database_url, ServiceClient(settings, "worker", transports=api.transports)
    )
    try:
        outbox = threading.Thread(target=worker.run_forever, daemon=True)
        jobs = threading.Thread(target=run_periodic_jobs, args=(worker, 0.05), daemon=True)
        outbox.start()
        jobs.start()
        deadline = time.monotonic() + 30
        while _status(owner_engine, campaign["id"]) != "closed":
            assert time.monotonic() < deadline, "the periodic close job did not run"
            time.sleep(0.05)
        assert not worker.stopping
        worker.stop()
        assert worker.stopping and worker.wait(0) is True
        jobs.join(timeout=10)
        outbox.join(timeout=10)
        assert not jobs.is_alive() and not outbox.is_alive()
    finally:
        worker.stop()
        worker.client.close()
        for engine in engines:
            engine.dispose()


def test_a_long_interval_does_not_delay_stopping(settings, database_url):
    worker, engines = build_worker(settings, database_url)
    try:
        jobs = threading.Thread(target=run_periodic_jobs, args=(worker, 3600.0), daemon=True)
        jobs.start()
        assert worker.wait(0) is False
        started = time.monotonic()
        worker.stop()
        jobs.join(timeout=10)
        assert not jobs.is_alive()
        assert time.monotonic() - started < 5
    finally:
        worker.client.close()
        for engine in engines:
            engine.dispose()
