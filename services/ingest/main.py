"""The ingest service: data in (organisations, cycles, submissions, ticket pushes)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from services.ingest.apikeys.router import router as apikeys_router
from services.ingest.catalogue.router import router as catalogue_router
from services.ingest.cycles.router import router as cycles_router
from services.ingest.feedback.router import router as feedback_router
from services.ingest.imports.router import router as imports_router
from services.ingest.organisations.router import router as organisations_router
from services.ingest.outbox.router import router as outbox_router
from services.ingest.sla_config.router import router as sla_config_router
from services.ingest.submissions.router import router as submissions_router
from services.ingest.tickets.router import internal as tickets_internal
from services.ingest.tickets.router import router as tickets_router
from shared.app import create_app

ROUTERS = [
    organisations_router,
    cycles_router,
    apikeys_router,
    tickets_router,
    tickets_internal,
    sla_config_router,
    catalogue_router,
    submissions_router,
    imports_router,
    feedback_router,
    outbox_router,
]


def build(**kwargs: Any) -> FastAPI:
    return create_app(
        "ingest",
        ROUTERS,
        description="Data in: organisations, cycles, submissions and review, ticket pushes.",
        **kwargs,
    )


app = build()
