"""Dependencies every router uses."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from shared.db.engine import get_read_session, get_session
from shared.http import ServiceClient
from shared.settings import Settings

# scope="function": the commit runs when the endpoint returns, before the response is sent,
# so a failed commit is reported to the client instead of silently lost.
DbSession = Annotated[Session, Depends(get_session, scope="function")]
# Read-only requests: the replica when configured, current enough and up (ReadRouter).
ReadSession = Annotated[Session, Depends(get_read_session, scope="function")]


async def get_settings_dep(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_service_client(request: Request) -> ServiceClient:
    client: ServiceClient = request.app.state.services
    return client


# Async, although they do no I/O: FastAPI runs a plain ``def`` dependency in the thread
# pool, a hand-off that costs more than the lookup.
AppSettings = Annotated[Settings, Depends(get_settings_dep)]
Services = Annotated[ServiceClient, Depends(get_service_client)]

MAX_INT32 = 2_147_483_647


def id_path(description: str = "Identifier") -> object:
    from fastapi import Path

    return Path(ge=1, le=MAX_INT32, description=description)


IdPath = Annotated[int, id_path()]
