"""The metrics service: every figure (benchmarks, trends, SLA reports, survey results)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from services.metrics.benchmark.cache import ResultCache
from services.metrics.benchmark.router import admin_router as benchmarks_router
from services.metrics.benchmark.router import router as results_router
from services.metrics.benchmark.snapshots import SnapshotReader
from services.metrics.events.router import router as events_router
from services.metrics.events.service import job_handlers
from services.metrics.explain.router import router as explain_router
from services.metrics.neighbours.router import router as neighbours_router
from services.metrics.nps.router import router as nps_router
from services.metrics.odata.router import router as odata_router
from services.metrics.packs.router import router as packs_router
from services.metrics.runs.jobs import JobRunner
from services.metrics.runs.router import jobs_router
from services.metrics.runs.router import router as runs_router
from services.metrics.sla.router import feedback_router
from services.metrics.sla.router import router as sla_router
from services.metrics.surveys.router import router as survey_results_router
from services.metrics.workshops.router import router as workshops_router
from shared.app import create_app
from shared.db.engine import psycopg_conninfo
from shared.db.grants import role_name

ROUTERS = [
    events_router,
    runs_router,
    jobs_router,
    results_router,
    benchmarks_router,
    sla_router,
    survey_results_router,
    feedback_router,
    nps_router,
    packs_router,
    odata_router,
    workshops_router,
    neighbours_router,
    explain_router,
]


def _startup(app: FastAPI) -> None:
    # The results API's own asyncio connection, on the same database and role as the
    # engine; it connects on the first results request, in the serving event loop.
    conninfo = psycopg_conninfo(app.state.engine.url.render_as_string(hide_password=False))
    role = role_name("metrics") if app.state.settings.db_set_role else None
    pooled = app.state.settings.db_transaction_pooling
    app.state.snapshots = SnapshotReader(conninfo, role, transaction_pooling=pooled)
    # With a read replica, results read there first (services.metrics.benchmark.router).
    replica = app.state.reads.replica
    app.state.replica_snapshots = None
    if replica is not None:
        url = replica.kw["bind"].url.render_as_string(hide_password=False)
        app.state.replica_snapshots = SnapshotReader(
            psycopg_conninfo(url), role, transaction_pooling=pooled
        )
    # Long work asked for by events (202 answers) runs here, beside the API.
    app.state.jobs = JobRunner(app.state.engine, app.state.settings, job_handlers())
    if app.state.settings.metrics_jobs_in_background:
        app.state.jobs.start()


async def _shutdown(app: FastAPI) -> None:
    app.state.jobs.stop()
    await app.state.snapshots.close()
    if app.state.replica_snapshots is not None:
        await app.state.replica_snapshots.close()


def build(**kwargs: Any) -> FastAPI:
    app = create_app(
        "metrics",
        ROUTERS,
        description="Every figure: benchmarks, trends, SLA reports, survey results, committee "
        "packs, BI feeds.",
        on_startup=_startup,
        on_shutdown=_shutdown,
        **kwargs,
    )
    # Per process, like the engine; entries are checked against the data version on every
    # hit, so workers never need to talk to each other about it.
    app.state.results_cache = ResultCache(app.state.settings.results_cache_size)
    return app


app = build()
