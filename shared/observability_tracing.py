"""OpenTelemetry tracing: off by default, on when the standard variables ask for it.

On when ``OTEL_TRACES_EXPORTER`` names an exporter (``otlp``, ``console``) or an OTLP
endpoint is set (``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``),
and never with ``OTEL_SDK_DISABLED=true`` or ``OTEL_TRACES_EXPORTER=none``. Everything
else (headers, sampler, resource attributes, batch sizes) is read by the SDK itself from
the other ``OTEL_*`` variables. The service name is ``OTEL_SERVICE_NAME`` when set, else
``yardstick-<process>`` (compose gives every process the same environment).

What is traced: each service's requests (FastAPI), its calls to other services (httpx,
which sends ``traceparent``), its SQL (SQLAlchemy), and each outbox delivery of the worker
as a span whose parent is the request that queued the event (its ``traceparent`` is
stored with the event); the receiver's request is then a child of the delivery. The
SDK is imported only when tracing is on.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

log = logging.getLogger("yardstick.tracing")

_state: dict[str, Any] = {"provider": None, "configured": False}
# Requests that would only add noise to traces.
EXCLUDED_URLS = "healthz,readyz,metrics"


def tracing_requested(env: Mapping[str, str] | None = None) -> bool:
    env = os.environ if env is None else env
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    exporter = env.get("OTEL_TRACES_EXPORTER", "").strip().lower()
    if exporter:
        return exporter != "none"
    return bool(
        env.get("OTEL_EXPORTER_OTLP_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    )


def provider() -> Any | None:
    """The process's tracer provider, or None while tracing is off."""
    return _state["provider"]


def use_provider(tracer_provider: Any | None) -> None:
    """Trace into ``tracer_provider`` (tests: one with an in-memory exporter); None: off."""
    _state["provider"] = tracer_provider
    _state["configured"] = True


def setup_tracing(process: str) -> Any | None:
    """Configure tracing from the environment once per process; the provider or None."""
    if _state["configured"]:
        return _state["provider"]
    _state["configured"] = True
    if not tracing_requested():
        return None
    from opentelemetry import trace
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    name = os.environ.get("OTEL_SERVICE_NAME") or f"yardstick-{process}"
    tracer_provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
    exporters = [
        e.strip().lower()
        for e in (os.environ.get("OTEL_TRACES_EXPORTER") or "otlp").split(",")
        if e.strip()
    ]
    for exporter in exporters:
        if exporter == "console":
            tracer_provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
        elif exporter == "otlp":
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            protocol = os.environ.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
            if protocol != "http/protobuf":
                log.warning("OTLP protocol %s is not installed; exporting http/protobuf", protocol)
            tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        else:
            log.warning("unknown OTEL_TRACES_EXPORTER %r ignored", exporter)
    trace.set_tracer_provider(tracer_provider)
    _state["provider"] = tracer_provider
    log.info("tracing on: service %s, exporters %s", name, ",".join(exporters))
    return tracer_provider


def instrument_app(app: Any) -> None:
    tracer_provider = provider()
    if tracer_provider is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app, tracer_provider=tracer_provider, excluded_urls=EXCLUDED_URLS
    )


def instrument_client(client: Any) -> None:
    tracer_provider = provider()
    if tracer_provider is None:
        return
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    HTTPXClientInstrumentor.instrument_client(client, tracer_provider=tracer_provider)


def instrument_engine(engine: Any) -> None:
    tracer_provider = provider()
    if tracer_provider is None:
        return
    try:
        # The instrumentor's own per-engine tracer: its instrument() runs once per
        # process and patches create_engine, which shared.db.engine imported before.
        from opentelemetry import metrics, trace
        from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer

        tracer = trace.get_tracer("opentelemetry.instrumentation.sqlalchemy", None, tracer_provider)
        usage = metrics.get_meter("yardstick.sqlalchemy").create_up_down_counter(
            "db.client.connections.usage", unit="connections"
        )
        EngineTracer(tracer, engine, usage)  # type: ignore[no-untyped-call]
    except Exception:  # a changed instrumentation API loses SQL spans, never the service
        log.warning("SQL tracing unavailable", exc_info=True)


def current_traceparent() -> str | None:
    """The W3C ``traceparent`` of the current span (to store with an outbox event)."""
    if provider() is None:
        return None
    from opentelemetry import propagate

    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent")


@contextmanager
def span(name: str, traceparent: str | None = None, **attributes: Any) -> Iterator[None]:
    """A span for work that no instrumentation sees (an outbox delivery), child of the
    request whose ``traceparent`` is given."""
    tracer_provider = provider()
    if tracer_provider is None:
        yield
        return
    from opentelemetry import propagate, trace

    parent = propagate.extract({"traceparent": traceparent} if traceparent else {})
    tracer = trace.get_tracer("yardstick", None, tracer_provider)
    with tracer.start_as_current_span(
        name, context=parent, kind=trace.SpanKind.CONSUMER, attributes=attributes
    ):
        yield
