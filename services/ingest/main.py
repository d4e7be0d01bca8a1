"""The ingest service: data in (organisations, cycles, submissions, ticket pushes)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.concurrency import run_in_threadpool

from services.ingest.apikeys.router import router as apikeys_router
from services.ingest.catalogue.router import router as catalogue_router
from services.ingest.checks.router import router as checks_router
from services.ingest.commentary.router import router as commentary_router
from services.ingest.costs.router import router as costs_router
from services.ingest.cycles.router import router as cycles_router
from services.ingest.feedback.router import router as feedback_router
from services.ingest.finance.router import router as finance_router
from services.ingest.imports.router import router as imports_router
from services.ingest.monitoring.router import internal as monitoring_internal
from services.ingest.monitoring.router import router as monitoring_router
from services.ingest.organisation_values.router import router as organisation_values_router
from services.ingest.organisations.router import router as organisations_router
from services.ingest.outbox.router import router as outbox_router
from services.ingest.risks.router import router as risks_router
from services.ingest.security_incidents.router import router as security_incidents_router
from services.ingest.sla_config.router import router as sla_config_router
from services.ingest.submissions.router import router as submissions_router
from services.ingest.tickets.router import internal as tickets_internal
from services.ingest.tickets.router import router as tickets_router
from services.ingest.workshops.router import router as workshops_router
from shared.app import create_app
from shared.background import BackgroundRunner

ROUTERS = [
    organisations_router,
    organisation_values_router,
    cycles_router,
    apikeys_router,
    tickets_router,
    tickets_internal,
    sla_config_router,
    catalogue_router,
    submissions_router,
    imports_router,
    feedback_router,
    finance_router,
    costs_router,
    risks_router,
    security_incidents_router,
    commentary_router,
    outbox_router,
    workshops_router,
    checks_router,
    monitoring_router,
    monitoring_internal,
]


def _startup(app: FastAPI) -> None:
    # Ticket-import processing, acknowledged 202 to the outbox event that asks for it,
    # runs here: bounded, beside the API (see tickets.router.process_import).
    app.state.background = BackgroundRunner(
        "ticket-import", workers=app.state.settings.ticket_import_workers
    )


async def _shutdown(app: FastAPI) -> None:
    # Waits for the imports running; one cut short resumes from its checkpoint (watchdog).
    await run_in_threadpool(app.state.background.shutdown)


def build(**kwargs: Any) -> FastAPI:
    return create_app(
        "ingest",
        ROUTERS,
        on_startup=_startup,
        on_shutdown=_shutdown,
        description="Data in: organisations, cycles, submissions and review, ticket pushes, "
        "and shared services' governance data (partners, financial outturn, cost tables, "
        "risks, security incidents, commentary).",
        **kwargs,
    )


app = build()
