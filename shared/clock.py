""" "Now" for rules that turn on a moment (a workshop's window), as one dependency.

Endpoints whose answer depends on the time take ``now: Now`` and pass it down, so the
rules below them are plain functions of their inputs. Tests move time by overriding
:func:`utc_now` on an app (``app.dependency_overrides[utc_now] = lambda: moment``) instead
of sleeping. (The survey service keeps its own ``services/survey/clock.py`` for campaign
dates; services do not import each other, and this one is shared.)
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import Depends

LONDON = ZoneInfo("Europe/London")


# Async although it does no I/O: FastAPI runs a plain ``def`` dependency in the thread pool.
async def utc_now() -> datetime:
    """The current moment, timezone-aware, in UTC."""
    return datetime.now(UTC)


Now = Annotated[datetime, Depends(utc_now)]
