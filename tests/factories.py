"""Arrange data through the public API, as a client would."""

from __future__ import annotations

from typing import Any

from shared.testing.plugin import Stack

_counter = {"n": 0}


def make_org(api: Stack, **overrides: Any) -> dict[str, Any]:
    _counter["n"] += 1
    body = {
        "name": f"Test Council {_counter['n']}",
        "type": "L",
        "nation": "England",
        "partnership": False,
        "users": 1000,
        **overrides,
    }
    response = api.ingest.post("/api/v1/organisations", json=body, headers=api.auth("admin"))
    assert response.status_code == 201, response.text
    return dict(response.json())


def make_cycle(api: Stack, year: int = 2020, **overrides: Any) -> dict[str, Any]:
    body = {"year": year, **overrides}
    response = api.ingest.post("/api/v1/cycles", json=body, headers=api.auth("admin"))
    assert response.status_code == 201, response.text
    return dict(response.json())


def assert_problem(response: Any, status: int, code: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = dict(response.json())
    assert body["status"] == status
    assert body["detail"]
    if code is not None:
        assert body["code"] == code, body
    return body
