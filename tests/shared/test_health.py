"""/healthz says the process answers; /readyz says the database is reachable and at head."""

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from services.ingest.main import build
from shared.db.engine import normalise_url
from shared.testing.plugin import scratch_database
from tests.factories import assert_problem


@pytest.fixture
def behind_url(database_url):
    """A database migrated only to the first revision."""
    with scratch_database(database_url, "ys_behind", "0001") as url:
        yield url


def test_ready_at_head(api):
    assert api.ingest.get("/healthz").json() == {"status": "ok", "service": "ingest"}
    ready = api.ingest.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"


def test_not_ready_when_migrations_are_pending(settings, behind_url):
    with TestClient(build(settings=settings, database_url=behind_url)) as client:
        assert client.get("/healthz").status_code == 200
        body = assert_problem(client.get("/readyz"), 503, "migrations_pending")
        assert "revision 0001" in body["detail"] and "yardstick migrate" in body["detail"]


def test_not_ready_when_the_database_is_unreachable(settings, database_url):
    missing = make_url(normalise_url(database_url)).set(database="ys_no_such_database")
    url = missing.render_as_string(hide_password=False)
    with TestClient(build(settings=settings, database_url=url)) as client:
        assert client.get("/healthz").status_code == 200
        assert_problem(client.get("/readyz"), 503, "database_unavailable")
