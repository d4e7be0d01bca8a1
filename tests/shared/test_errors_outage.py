"""With the database unreachable, every endpoint of every service answers 503
``database_unavailable`` with ``Retry-After``, never a 500 (it was a 500 ``internal_error``
on ingest, survey and metrics' SLA reports; only the results endpoints said 503)."""

from __future__ import annotations

import importlib
import re
import uuid
from collections.abc import Iterator
from typing import Any, get_args

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy.engine import make_url

from shared.auth import mint_token
from shared.db.engine import normalise_url

SERVICES = ("ingest", "metrics", "survey")
TOKEN = "A" * 43  # shaped like a respondent's link token
API_KEY = "ys_0123456789ab_" + "s" * 43  # well-formed, so checking it needs the database


def _routes(service: str) -> list[tuple[str, str]]:
    """(method, concrete path) for every operation the service's routers declare, the
    internal and HTML ones included."""
    module = importlib.import_module(f"services.{service}.main")
    found = []
    for router in module.ROUTERS:
        for route in router.routes:
            if not isinstance(route, APIRoute):
                continue
            path = route.path
            for param in route.dependant.path_params:
                annotation = param.field_info.annotation
                if annotation is int:
                    value = "1"
                elif annotation is uuid.UUID:
                    value = str(uuid.UUID(int=1))
                elif get_args(annotation):
                    value = str(get_args(annotation)[-1])  # a Literal: one allowed value
                else:
                    value = TOKEN
                path = re.sub(r"\{" + param.name + r"(:[^}]*)?\}", value, path)
            for method in sorted(route.methods - {"HEAD"}):
                found.append((method, path))
    return found


@pytest.fixture(scope="module")
def down(database_url: str) -> Iterator[dict[str, TestClient]]:
    """The three services pointed at a database that refuses connections (a stopped
    server): port 1 on the loopback."""
    from shared.settings import Settings

    url = make_url(normalise_url(database_url)).set(host="127.0.0.1", port=1)
    settings = Settings(environment="test", database_url=url.render_as_string(False))
    clients = {}
    for name in SERVICES:
        app: FastAPI = importlib.import_module(f"services.{name}.main").build(
            settings=settings, database_url=url.render_as_string(hide_password=False)
        )
        client = TestClient(app, raise_server_exceptions=False)
        client.__enter__()
        clients[name] = client
    yield clients
    for client in clients.values():
        client.__exit__(None, None, None)


def _call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> Any:
    body = {} if method in {"POST", "PUT", "PATCH"} else None
    return client.request(method, path, json=body, headers=headers)


def _assert_503(response: Any, what: str) -> None:
    assert response.status_code == 503, f"{what}: {response.status_code} {response.text}"
    assert response.json()["code"] == "database_unavailable", what
    assert int(response.headers["retry-after"]) > 0, what


@pytest.mark.parametrize("service", SERVICES)
def test_every_endpoint_is_a_503_with_retry_after_while_the_database_is_down(down, service):
    client = down[service]
    routes = _routes(service)
    assert len(routes) >= 15
    admin = {
        "Authorization": "Bearer "
        + mint_token(client.app.state.settings, subject="t", roles=["admin"], organisations=[])
    }
    answered: dict[int, int] = {}
    for method, path in routes:
        internal = path.startswith("/internal/")
        public = path.startswith(("/s/", "/api/v1/respond/"))
        # An API key is looked up in the database before anything else is read: every
        # endpoint that accepts one must say 503 (internal ones refuse keys outright).
        keyed = _call(client, method, path, {"Authorization": f"Bearer {API_KEY}"})
        if internal:
            assert keyed.status_code == 401, f"{method} {path}: {keyed.text}"
        elif public:
            # The link token is the credential; resolving it needs the database, unless
            # the request is refused for its own shape first.
            assert keyed.status_code in {503, 422}, f"{method} {path}: {keyed.text}"
            if keyed.status_code == 503:
                _assert_503(keyed, f"{method} {path}")
        else:
            _assert_503(keyed, f"{method} {path} (API key)")
        # With a token the database is first needed later, if at all; never a 500.
        response = _call(client, method, path, admin)
        answered[response.status_code] = answered.get(response.status_code, 0) + 1
        assert response.status_code < 500 or response.status_code == 503, (
            f"{method} {path}: {response.status_code} {response.text}"
        )
        if response.status_code == 503:
            _assert_503(response, f"{method} {path} (token)")
    assert answered.get(503, 0) >= len(routes) // 3, answered


def test_the_survey_form_and_the_sla_reports_are_503(down):
    _assert_503(down["survey"].get(f"/s/{TOKEN}"), "survey form")
    _assert_503(down["survey"].get(f"/api/v1/respond/{TOKEN}"), "survey JSON form")
    settings = down["metrics"].app.state.settings
    token = mint_token(settings, subject="t", roles=["admin"], organisations=[])
    for report in ("monthly", "logged", "backlog"):
        response = down["metrics"].get(
            f"/api/v1/sla/{report}", headers={"Authorization": f"Bearer {token}"}
        )
        _assert_503(response, f"SLA {report}")
