"""Tracing: off by default; with a tracer provider, one trace runs from the ingest request
through the worker's deliveries into the metrics service and its job."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from shared import observability_tracing as tracing
from shared.http import ServiceClient
from shared.testing.plugin import Stack, truncate_all
from shared.worker import build_worker
from tests.factories import make_org
from tests.ingest.test_tickets import HEADER


def test_tracing_is_off_unless_the_standard_variables_ask():
    assert not tracing.tracing_requested({})
    assert not tracing.tracing_requested({"OTEL_SERVICE_NAME": "x"})
    assert tracing.tracing_requested({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert tracing.tracing_requested(
        {"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}
    )
    assert tracing.tracing_requested({"OTEL_TRACES_EXPORTER": "console"})
    assert not tracing.tracing_requested(
        {"OTEL_TRACES_EXPORTER": "none", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://c"}
    )
    assert not tracing.tracing_requested(
        {"OTEL_SDK_DISABLED": "true", "OTEL_TRACES_EXPORTER": "otlp"}
    )
    assert tracing.current_traceparent() is None  # nothing configured in the test process


@pytest.fixture
def traced(
    settings, database_url, service_builders, owner_engine
) -> Iterator[tuple[Stack, InMemorySpanExporter]]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    previous = tracing.provider()
    tracing.use_provider(provider)
    truncate_all(owner_engine)
    transports: dict[str, httpx.BaseTransport] = {}
    apps = {
        name: build(settings=settings, database_url=database_url, transports=transports)
        for name, build in service_builders.items()
    }
    clients: dict[str, Any] = {}
    try:
        for name, app in apps.items():
            clients[name] = TestClient(app, raise_server_exceptions=False).__enter__()
            transports[name] = clients[name]._transport
        worker, engines = build_worker(
            settings, database_url, ServiceClient(settings, "worker", transports=transports)
        )
        yield (
            Stack(
                settings=settings, apps=apps, clients=clients, transports=transports, worker=worker
            ),
            exporter,
        )
        for engine in engines:
            engine.dispose()
    finally:
        for client in clients.values():
            client.__exit__(None, None, None)
        tracing.use_provider(previous)
        truncate_all(owner_engine)


def test_one_trace_from_the_push_to_the_metrics_job(traced):
    api, exporter = traced
    org = make_org(api)["id"]
    exporter.clear()
    body = HEADER + "T1,incident,P1,,Desk,Fixed,01/03/2021 09:00,01/03/2021 10:00,resolved\n"
    pushed = api.ingest.post(
        "/api/v1/ticket-imports",
        params={"organisation_id": org, "profile": "yardstick", "source_system": "sn"},
        content=body.encode(),
        headers={**api.auth("partner", [org]), "Content-Type": "text/csv"},
    )
    assert pushed.status_code == 202, pushed.text
    assert api.deliver() == 2
    spans = exporter.get_finished_spans()
    by_name: dict[str, list[Any]] = {}
    for s in spans:
        by_name.setdefault(s.name, []).append(s)
    (push,) = by_name["POST /api/v1/ticket-imports"]
    trace_id = push.context.trace_id
    wanted = [
        "outbox deliver ticket_import.received",
        "POST /internal/ticket-imports/{import_id}/process",
        "outbox deliver tickets.imported",
        "POST /internal/events",
        "metrics job tickets.imported",
    ]
    for name in wanted:
        assert name in by_name, f"no span {name!r}; have {sorted(by_name)}"
        assert {s.context.trace_id for s in by_name[name]} == {trace_id}, name
    # The delivery is a child of the request that queued the event, and the receiver's
    # request a descendant of the delivery (through the httpx client span).
    (first,) = by_name["outbox deliver ticket_import.received"]
    assert first.parent is not None and first.parent.span_id in {
        s.context.span_id for s in spans if s.context.trace_id == trace_id
    }
    (events,) = by_name["POST /internal/events"]
    ids = {s.context.span_id: s for s in spans}
    chain, node = [], events
    while node.parent is not None and node.parent.span_id in ids:
        node = ids[node.parent.span_id]
        chain.append(node.name)
    assert "outbox deliver tickets.imported" in chain
    # SQL is traced too.
    assert any(
        s.attributes.get("db.system") == "postgresql"
        or s.attributes.get("db.system.name") == "postgresql"
        for s in spans
    )
