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


def make_submission(
    api: Stack, org_id: int, cycle_id: int, module: str, answers: dict[str, Any]
) -> dict[str, Any]:
    """A draft with ``answers`` saved, as a participant of the organisation."""
    who = api.auth("participant", [org_id])
    created = api.ingest.post(
        "/api/v1/submissions",
        json={"organisation_id": org_id, "cycle_id": cycle_id, "module": module},
        headers=who,
    )
    assert created.status_code == 201, created.text
    saved = api.ingest.patch(
        f"/api/v1/submissions/{created.json()['id']}/answers",
        json={"answers": answers},
        headers=who,
    )
    assert saved.status_code == 200, saved.text
    return dict(saved.json())


def submit(api: Stack, sub: dict[str, Any], **warning_comments: str) -> dict[str, Any]:
    response = api.ingest.post(
        f"/api/v1/submissions/{sub['id']}/submit",
        json={"warning_comments": warning_comments},
        headers=api.auth("participant", [sub["organisation_id"]]),
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def accept(api: Stack, sub: dict[str, Any]) -> dict[str, Any]:
    response = api.ingest.post(
        f"/api/v1/submissions/{sub['id']}/accept", json={}, headers=api.auth("admin")
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


def accepted_submission(
    api: Stack, org_id: int, cycle_id: int, module: str, answers: dict[str, Any]
) -> dict[str, Any]:
    return accept(api, submit(api, make_submission(api, org_id, cycle_id, module, answers)))


def publish(api: Stack, cycle_id: int, release: str) -> dict[str, Any]:
    response = api.ingest.patch(
        f"/api/v1/cycles/{cycle_id}",
        json={"status": "published", "results_release_date": release},
        headers=api.auth("admin"),
    )
    assert response.status_code == 200, response.text
    return dict(response.json())
