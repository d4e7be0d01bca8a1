"""Browser frontends on other origins: YARDSTICK_CORS_ORIGINS in the forms people write,
and the response headers a frontend needs exposed, on a real preflight and request."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from shared.app import CORS_EXPOSED_HEADERS
from shared.auth import mint_token
from shared.settings import Settings

ORG = {"name": "Cyngor Gwynedd", "type": "W", "nation": "Wales", "users": 10}


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://a.example,https://b.example", ["https://a.example", "https://b.example"]),
        (
            " https://a.example , http://localhost:5173/ ",
            ["https://a.example", "http://localhost:5173"],
        ),
        ("https://app.example", ["https://app.example"]),
        ("*", ["*"]),
        ('["https://a.example", "https://b.example"]', ["https://a.example", "https://b.example"]),
        ("", []),
    ],
)
def test_origins_from_the_environment(monkeypatch, raw, expected):
    monkeypatch.setenv("YARDSTICK_CORS_ORIGINS", raw)
    assert Settings().cors_origins == expected


def test_a_broken_json_list_is_refused_with_what_to_write(monkeypatch):
    monkeypatch.setenv("YARDSTICK_CORS_ORIGINS", '["https://a.example"')
    with pytest.raises(ValidationError, match="comma-separated"):
        Settings()


@pytest.fixture
def browser_app(api, database_url, monkeypatch) -> Iterator[tuple[TestClient, Settings]]:
    """The ingest service started with the origins given as people write them."""
    from services.ingest.main import build

    monkeypatch.setenv("YARDSTICK_CORS_ORIGINS", "https://a.example, https://b.example")
    settings = Settings(environment="test", database_url=database_url, db_pool_size=2)
    with TestClient(build(settings=settings, database_url=database_url)) as client:
        yield client, settings


def test_preflight_and_request_expose_the_headers_a_frontend_reads(browser_app):
    client, settings = browser_app
    origin = "https://b.example"
    pre = client.options(
        "/api/v1/organisations",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type,idempotency-key",
        },
    )
    assert pre.status_code == 200, pre.text
    assert pre.headers["access-control-allow-origin"] == origin
    assert "POST" in pre.headers["access-control-allow-methods"]
    denied = client.options(
        "/api/v1/organisations",
        headers={"Origin": "https://c.example", "Access-Control-Request-Method": "POST"},
    )
    assert denied.status_code == 400 and "access-control-allow-origin" not in denied.headers

    token = mint_token(settings, subject="frontend", roles=["admin"], organisations=[])
    headers = {"Origin": origin, "Authorization": f"Bearer {token}", "Idempotency-Key": "k1"}
    first = client.post("/api/v1/organisations", json=ORG, headers=headers)
    again = client.post("/api/v1/organisations", json=ORG, headers=headers)
    assert first.status_code == again.status_code == 201, first.text
    for response in (first, again):
        assert response.headers["access-control-allow-origin"] == origin
        exposed = {
            h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")
        }
        for name in (
            "location",
            "content-disposition",
            "link",
            "x-total-count",
            "idempotent-replayed",
        ):
            assert name in exposed, exposed
        assert response.headers["location"] == f"/api/v1/organisations/{first.json()['id']}"
    assert again.headers["idempotent-replayed"] == "true"
    assert len(CORS_EXPOSED_HEADERS) == len(set(CORS_EXPOSED_HEADERS))
