"""The worker process: delivers every service's outbox and runs periodic jobs; serves
its own /metrics and /healthz (``worker_metrics_port``)."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from types import FrameType

import httpx
from prometheus_client import CollectorRegistry, Metric
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import Engine, Table, and_, func, select, text

from shared.db.engine import make_engine
from shared.db.tables.ingest import ingest_outbox
from shared.db.tables.ingest_tickets import ticket_imports
from shared.db.tables.survey import survey_outbox
from shared.http import ServiceClient
from shared.observability import WorkerMetricsServer, bound, configure_logging
from shared.observability_tracing import setup_tracing
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
            database_url,
            role=role if settings.db_set_role else None,
            pool_size=pool,
            transaction_pooling=settings.db_transaction_pooling,
        )

    ingest_engine, survey_engine = engine("ingest"), engine("survey")
    worker = OutboxWorker(
        settings,
        [(ingest_outbox, ingest_engine), (survey_outbox, survey_engine)],
        # Each delivery passes its own timeout (OutboxWorker.timeout_for).
        client or ServiceClient(settings, "worker"),
    )
    return worker, [ingest_engine, survey_engine]


class QueueCollector:
    """Gauges read from the database at scrape time: each outbox's queue depth, the age
    of its oldest queued event and its dead events; the throughput of ticket imports.
    Read by the worker (it holds the owners' roles), once per scrape, on indexed columns
    (``status``)."""

    def __init__(self, sources: list[tuple[Table, Engine]], imports_engine: Engine) -> None:
        self.sources = sources
        self.imports_engine = imports_engine

    def describe(self) -> list[Metric]:
        return []  # collected at scrape time only (the database may be down at start)

    def collect(self) -> Iterator[Metric]:
        depth = GaugeMetricFamily(
            "yardstick_outbox_queue_depth",
            "Outbox events waiting for delivery (pending or being delivered)",
            labels=["table"],
        )
        oldest = GaugeMetricFamily(
            "yardstick_outbox_oldest_queued_age_seconds",
            "Age of the oldest outbox event waiting for delivery (0 when none waits)",
            labels=["table"],
        )
        dead = GaugeMetricFamily(
            "yardstick_outbox_dead_events",
            "Outbox events out of attempts, waiting for an admin to re-drive them",
            labels=["table"],
        )
        up = GaugeMetricFamily(
            "yardstick_worker_database_up", "1 if the last scrape could read the database"
        )
        ok = 1.0
        for table, engine in self.sources:
            t = table
            queued = t.c.status.in_(("pending", "delivering"))
            try:
                with engine.connect() as conn:
                    n, age, n_dead = conn.execute(
                        select(
                            select(func.count()).where(queued).select_from(t).scalar_subquery(),
                            select(
                                func.coalesce(
                                    func.extract("epoch", func.now() - func.min(t.c.created_at)),
                                    0,
                                )
                            )
                            .where(queued)
                            .scalar_subquery(),
                            select(func.count())
                            .where(t.c.status == "dead")
                            .select_from(t)
                            .scalar_subquery(),
                        )
                    ).one()
            except Exception as exc:
                log.warning("queue gauges of %s unavailable: %s", t.name, type(exc).__name__)
                ok = 0.0
                continue
            depth.add_metric([t.name], float(n))
            oldest.add_metric([t.name], max(float(age), 0.0))
            dead.add_metric([t.name], float(n_dead))
        rate = GaugeMetricFamily(
            "yardstick_ticket_import_rows_per_second",
            "Rows read per second of processing: by imports that finished in the last hour, "
            "and by those processing now",
            labels=["imports"],
        )
        imports = GaugeMetricFamily(
            "yardstick_ticket_imports_waiting",
            "Ticket imports queued or processing",
            labels=["status"],
        )
        try:
            rate_rows, counts = self._imports()
            for label, value in rate_rows.items():
                rate.add_metric([label], value)
            for status, count in counts.items():
                imports.add_metric([status], count)
        except Exception as exc:
            log.warning("ticket import gauges unavailable: %s", type(exc).__name__)
            ok = 0.0
        up.add_metric([], ok)
        yield from (depth, oldest, dead, rate, imports, up)

    def _imports(self) -> tuple[dict[str, float], dict[str, float]]:
        i = ticket_imports
        seconds = func.extract("epoch", func.coalesce(i.c.finished_at, func.now()) - i.c.started_at)
        finished = and_(
            i.c.status == "done", i.c.finished_at > func.now() - text("interval '1 hour'")
        )
        running = and_(i.c.status == "processing", i.c.started_at.is_not(None))
        with self.imports_engine.connect() as conn:
            rows = {}
            for label, where in (("finished_last_hour", finished), ("processing", running)):
                n, secs = conn.execute(
                    select(func.coalesce(func.sum(i.c.rows_read), 0), func.sum(seconds)).where(
                        where
                    )
                ).one()
                rows[label] = float(n) / float(secs) if secs else 0.0
            counts = {"queued": 0.0, "processing": 0.0}
            for status, count in conn.execute(
                select(i.c.status, func.count())
                .where(i.c.status.in_(tuple(counts)))
                .group_by(i.c.status)
            ):
                counts[status] = float(count)
        return rows, counts


def start_metrics_server(
    settings: Settings, worker: OutboxWorker, engines: list[Engine]
) -> WorkerMetricsServer | None:
    """The worker's /metrics and /healthz, on ``worker_metrics_port`` (0: none)."""
    if settings.worker_metrics_port == 0:
        return None
    registry = CollectorRegistry(auto_describe=False)
    registry.register(QueueCollector(list(worker.sources), engines[0]))
    token = settings.metrics_token
    try:
        server = WorkerMetricsServer(
            settings.worker_metrics_host,
            settings.worker_metrics_port,
            token=token.get_secret_value() if token is not None else None,
            registries=[registry],
            alive=worker.lanes_alive,
        )
    except OSError as exc:
        # Deliveries matter more than their gauges: say so loudly and deliver anyway.
        log.error(
            "worker metrics port %s unavailable (%s): no /metrics or /healthz from this "
            "worker; set YARDSTICK_WORKER_METRICS_PORT to a free port (0: none)",
            settings.worker_metrics_port,
            exc.strerror or type(exc).__name__,
        )
        return None
    log.info("worker metrics on port %s", server.port)
    return server.start()


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
        # Each pass is a unit of work of its own: its calls and log lines share an id.
        with bound(service="worker"):
            run_survey_jobs(worker.client)
            run_ticket_import_watchdog(worker.client)


def run(settings: Settings, database_url: str) -> None:
    configure_logging("worker", level=settings.log_level)
    setup_tracing("worker")
    worker, engines = build_worker(settings, database_url)
    metrics_server = start_metrics_server(settings, worker, engines)
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
        if metrics_server is not None:
            metrics_server.stop()
        worker.client.close()
        for e in engines:
            e.dispose()
