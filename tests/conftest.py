"""The services under test, for shared/testing/plugin.py (which may not import them)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from fastapi import FastAPI


@pytest.fixture(scope="session")
def service_builders() -> dict[str, Callable[..., FastAPI]]:
    from services.ingest.main import build as ingest
    from services.metrics.main import build as metrics
    from services.survey.main import build as survey

    return {"ingest": ingest, "metrics": metrics, "survey": survey}


class Clock:
    """The time the services see through ``shared.clock.Now``, set by the test."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def set(self, now: datetime) -> datetime:
        self.now = now
        return now


@pytest.fixture
def clock(api: Any) -> Iterator[Clock]:
    """Every service's ``Now`` reads this clock (2030-06-10 08:00 UTC until set) for the
    test, instead of the real time; restored afterwards."""
    from shared.clock import utc_now

    moment = Clock(datetime(2030, 6, 10, 8, 0, tzinfo=UTC))
    for app in api.apps.values():
        app.dependency_overrides[utc_now] = lambda: moment.now
    yield moment
    for app in api.apps.values():
        app.dependency_overrides.pop(utc_now, None)
