"""The worker process: delivers every service's outbox and runs periodic jobs."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

from sqlalchemy import Engine

from shared.db.engine import make_engine
from shared.db.tables.ingest import ingest_outbox
from shared.db.tables.survey import survey_outbox
from shared.http import ServiceClient
from shared.outbox import OutboxWorker
from shared.settings import Settings

log = logging.getLogger("yardstick.worker")


def build_worker(
    settings: Settings, database_url: str, client: ServiceClient | None = None
) -> tuple[OutboxWorker, list[Engine]]:
    def engine(role: str) -> Engine:
        return make_engine(database_url, role=role if settings.db_set_role else None, pool_size=2)

    ingest_engine, survey_engine = engine("ingest"), engine("survey")
    worker = OutboxWorker(
        settings,
        [(ingest_outbox, ingest_engine), (survey_outbox, survey_engine)],
        client or ServiceClient(settings, "worker"),
    )
    return worker, [ingest_engine, survey_engine]


def run(settings: Settings, database_url: str) -> None:
    worker, engines = build_worker(settings, database_url)

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
