"""Events: declared once in shared/events.py, every metrics event listed with its handler in
services/metrics/events/service.py, payloads checked against the declaration on receipt."""

from __future__ import annotations

import ast
import inspect
import typing
from pathlib import Path

import pytest
from sqlalchemy import text

from services.metrics.events.service import HANDLERS, job_handlers
from shared.auth import mint_service_token
from shared.events import PAYLOADS, EventType
from shared.http import ServiceClient
from tests.factories import assert_problem

ROOT = Path(__file__).resolve().parents[2]


def test_every_event_for_metrics_has_one_handler_taking_its_declared_payload():
    for_metrics = {t for t, model in PAYLOADS.items() if model.target == "metrics"}
    assert set(HANDLERS) == for_metrics
    for event_type, handled in HANDLERS.items():
        hints = typing.get_type_hints(handled.run)
        payload_param = list(inspect.signature(handled.run).parameters)[1]
        assert hints[payload_param] is PAYLOADS[event_type], event_type
    assert set(job_handlers()) == {
        "benchmark.inputs_changed",
        "tickets.imported",
        "sla.recompute",
    }


def test_no_service_writes_an_event_type_as_a_bare_string():
    names = {t.value for t in EventType}
    found = []
    for path in (ROOT / "services").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and node.value in names:
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.value}")
            if isinstance(node, ast.JoinedStr) and any(
                isinstance(v, ast.Constant) and str(v.value).startswith("survey.mail.")
                for v in node.values
            ):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} f-string event type")
    assert found == []


def _post(api, key: str, event_type: str, payload: dict):
    client = ServiceClient(api.settings, "worker", transports=api.transports)
    return client.request(
        "metrics",
        "POST",
        "/internal/events",
        json={"event_type": event_type, "payload": payload},
        headers={"Idempotency-Key": key},
    )


def _inbox(owner_engine) -> int:
    with owner_engine.connect() as conn:
        return int(conn.execute(text("SELECT count(*) FROM metrics_inbox")).scalar_one())


@pytest.mark.parametrize(
    ("event_type", "payload", "field"),
    [
        ("sla.recompute", {"organisation_id": "seven"}, "payload.organisation_id"),
        ("survey.campaign_closed", {}, "payload.campaign_id"),
        ("benchmark.inputs_changed", {"cycle_years": "2020"}, "payload.cycle_years"),
        ("cycle.status_changed", {"cycle_id": 1}, "payload.status"),
        (
            "tickets.imported",
            {"organisations": [{"organisation_id": 1, "months": ["2021-13"]}]},
            "payload.organisations.0.months.0",
        ),
    ],
)
def test_a_payload_that_does_not_fit_its_declaration_is_422_naming_the_field(
    api, owner_engine, event_type, payload, field
):
    body = assert_problem(_post(api, f"t:{event_type}", event_type, payload), 422)
    assert body["code"] == "validation_error"
    assert field in [e["field"] for e in body["errors"]], body
    assert field in body["detail"]
    assert _inbox(owner_engine) == 0  # refused before anything was recorded


def test_an_unknown_event_type_is_422_listing_the_known_ones(api, owner_engine):
    body = assert_problem(_post(api, "t:x", "tickets.exploded", {}), 422, "unknown_event")
    assert "sla.recompute" in body["detail"] and "survey.mail.failed" not in body["detail"]
    assert _inbox(owner_engine) == 0


def test_the_survey_mail_step_checks_its_payloads_too(api):
    token = mint_service_token(api.settings, "worker")
    headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": "mail:bad"}
    bad = api.survey.post(
        "/internal/mail",
        json={"event_type": "survey.mail.reminder", "payload": {"kind": "reminder"}},
        headers=headers,
    )
    body = assert_problem(bad, 422, "validation_error")
    assert [e["field"] for e in body["errors"]] == ["payload.invitation_id"]
    unknown = api.survey.post(
        "/internal/mail",
        json={"event_type": "sla.recompute", "payload": {"organisation_id": 1}},
        headers=headers,
    )
    assert_problem(unknown, 422, "unknown_event")
