"""Validation monitoring on a schedule, in the worker process (issue #14 item 2).

Every ``validation_monitoring_interval_seconds`` the worker asks ingest to re-run the
cycles' rules and outlier checks (``POST /internal/jobs/validation-monitoring``); ingest
re-runs only the cycles whose catalogue, rules, thresholds, peer data or submissions
changed since their last run, records the violations and queues the reviewers' notice in
its outbox, which this same worker then delivers. Idempotent: a second call with nothing
changed does nothing.

Started beside the outbox worker by ``yardstick worker`` (a thread of its own, so the
delivery loop in ``shared/worker.py`` is untouched).
"""

from __future__ import annotations

import logging
import threading

import httpx

from shared.http import ServiceClient
from shared.settings import Settings

log = logging.getLogger("yardstick.worker")


def run_validation_monitoring(client: ServiceClient) -> bool:
    """One pass; False if the call failed (the next pass tries again)."""
    try:
        response = client.request(
            "ingest", "POST", "/internal/jobs/validation-monitoring", json={}, timeout=600
        )
    except httpx.HTTPError as exc:
        log.warning("validation monitoring failed: %s", type(exc).__name__)
        return False
    if response.status_code >= 300:
        log.warning("validation monitoring answered HTTP %s", response.status_code)
        return False
    return True


def start_validation_monitoring(
    settings: Settings, client: ServiceClient | None = None
) -> tuple[threading.Thread, threading.Event]:
    """Run the pass every interval until the returned event is set (a daemon thread)."""
    stop = threading.Event()
    caller = client or ServiceClient(settings, "worker")

    def loop() -> None:
        while not stop.wait(settings.validation_monitoring_interval_seconds):
            run_validation_monitoring(caller)

    thread = threading.Thread(target=loop, name="validation-monitoring", daemon=True)
    thread.start()
    return thread, stop
