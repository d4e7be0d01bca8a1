"""The survey service: campaigns, invitations, the respondent's form, responses."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, FastAPI

from services.survey.campaigns.router import router as campaigns_router
from services.survey.headcounts.router import router as headcounts_router
from services.survey.jobs.router import router as jobs_router
from services.survey.mail.router import router as mail_router
from services.survey.outbox.router import router as outbox_router
from services.survey.privacy import install_redaction
from services.survey.respond.router import api as respond_api
from services.survey.respond.router import html as respond_html
from shared.app import create_app

# httpx logs every request URL at INFO, and a client of this service (the worker, a test)
# may carry a link token in one.
REDACTED_LOGGERS = (
    "services.survey",
    "uvicorn.access",
    "uvicorn.error",
    "yardstick.errors",
    "yardstick.outbox",
    "httpx",
)

ROUTERS: list[APIRouter] = [
    campaigns_router,
    headcounts_router,
    respond_api,
    respond_html,
    mail_router,
    jobs_router,
    outbox_router,
]


def _on_startup(_app: FastAPI) -> None:
    # Tokens travel in URL paths and addresses in uploads: keep both out of every log line,
    # including uvicorn's access log (installed again here because uvicorn configures its
    # loggers after import).
    install_redaction(REDACTED_LOGGERS)


def build(**kwargs: Any) -> FastAPI:
    install_redaction(REDACTED_LOGGERS)
    return create_app(
        "survey",
        ROUTERS,
        description="Organisation-wide surveys, anonymous by construction.",
        on_startup=_on_startup,
        **kwargs,
    )


app = build()
