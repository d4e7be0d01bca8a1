"""The services under test, for shared/testing/plugin.py (which may not import them)."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi import FastAPI


@pytest.fixture(scope="session")
def service_builders() -> dict[str, Callable[..., FastAPI]]:
    from services.ingest.main import build as ingest
    from services.metrics.main import build as metrics
    from services.survey.main import build as survey

    return {"ingest": ingest, "metrics": metrics, "survey": survey}
