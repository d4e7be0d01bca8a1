"""Property-based contract tests: every operation of every service, as an admin and as a
participant: no 5xx, documented status codes and content types, bodies match schemas.

The cases come from the committed openapi/*.json (which a drift test keeps equal to the
code) and are sent through an in-process client of each service on the test database.
"""

from datetime import timedelta

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import text

from shared.auth import mint_token
from shared.settings import PROJECT_ROOT
from shared.testing.plugin import truncate_all

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
SETTINGS = hypothesis_settings(
    max_examples=25, deadline=None, suppress_health_check=list(HealthCheck)
)
SENDABLE = {"method", "url", "params", "headers", "json", "content", "data", "files", "cookies"}


def _schema(service):
    return schemathesis.openapi.from_path(str(PROJECT_ROOT / "openapi" / f"{service}.json"))


@pytest.fixture(scope="module")
def clients(settings, database_url, owner_engine):
    import importlib

    truncate_all(owner_engine)
    with owner_engine.begin() as conn:  # a little data so lookups by id can succeed
        conn.execute(
            text(
                "INSERT INTO organisations (name, type, nation, users) VALUES "
                "('Seed One', 'L', 'England', 100), ('Seed Two', 'S', 'Scotland', 200)"
            )
        )
        conn.execute(
            text(
                "INSERT INTO cycles (year, status, results_release_date) "
                "VALUES (2020, 'published', '2020-11-01')"
            )
        )
    opened = {}
    for service in ("ingest", "metrics", "survey"):
        app = importlib.import_module(f"services.{service}.main").build(
            settings=settings, database_url=database_url
        )
        opened[service] = TestClient(app, raise_server_exceptions=False).__enter__()
    yield opened
    for client in opened.values():
        client.__exit__(None, None, None)


@pytest.fixture(scope="module")
def who(settings):
    """Headers for an admin and for a participant of organisation 1."""
    return [
        {
            "Authorization": "Bearer "
            + mint_token(
                settings,
                subject=f"st-{role}",
                roles=[role],
                organisations=[1],
                ttl=timedelta(hours=1),
            )
        }
        for role in ("admin", "participant")
    ]


def _run(client, case, who):
    for headers in who:
        kwargs = case.as_transport_kwargs(base_url="http://testserver", headers=headers)
        response = client.request(**{k: v for k, v in kwargs.items() if k in SENDABLE})
        case.validate_response(response, checks=CHECKS, headers=headers)


@pytest.mark.xdist_group("schemathesis")
@_schema("ingest").parametrize()
@SETTINGS
def test_ingest_contract(case, clients, who):
    _run(clients["ingest"], case, who)


@pytest.mark.xdist_group("schemathesis")
@_schema("metrics").parametrize()
@SETTINGS
def test_metrics_contract(case, clients, who):
    _run(clients["metrics"], case, who)


@pytest.mark.xdist_group("schemathesis")
@_schema("survey").parametrize()
@SETTINGS
def test_survey_contract(case, clients, who):
    _run(clients["survey"], case, who)
