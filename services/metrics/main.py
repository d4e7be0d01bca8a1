"""The metrics service: every figure (benchmarks, trends, SLA reports, survey results)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from services.metrics.events.router import router as events_router
from services.metrics.feedback.router import router as feedback_router
from services.metrics.results.cache import ResultCache
from services.metrics.results.router import admin_router as benchmarks_router
from services.metrics.results.router import router as results_router
from services.metrics.runs.router import router as runs_router
from services.metrics.sla import handlers as _sla_handlers  # noqa: F401  (registers events)
from services.metrics.sla.router import router as sla_router
from services.metrics.survey_results.router import router as survey_results_router
from shared.app import create_app

ROUTERS = [
    events_router,
    runs_router,
    results_router,
    benchmarks_router,
    sla_router,
    survey_results_router,
    feedback_router,
]


def build(**kwargs: Any) -> FastAPI:
    app = create_app(
        "metrics",
        ROUTERS,
        description="Every figure: benchmarks, trends, SLA reports, survey results, BI feeds.",
        **kwargs,
    )
    # Per process, like the engine; entries are checked against the data version on every
    # hit, so workers never need to talk to each other about it.
    app.state.results_cache = ResultCache(app.state.settings.results_cache_size)
    return app


app = build()
