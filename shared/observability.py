"""What an operator sees of every Yardstick process: JSON logs that carry a request id,
Prometheus metrics, and OpenTelemetry tracing when the standard ``OTEL_*`` variables ask
for it (see :mod:`shared.observability_tracing`).

Request ids. Every request gets one: the caller's ``X-Request-ID`` when it is a plausible
id (1-128 characters of ``A-Z a-z 0-9 . _ : -``; anything else is replaced, never echoed,
so a header cannot smuggle text into the logs), else a new one. It is answered in the
response's ``X-Request-ID``, sent on every service-to-service call
(:class:`shared.http.ServiceClient`), stored with every outbox event the request queues
(``<service>_outbox.request_id``) and sent again by the worker when it delivers the event,
so one id links the request, the worker's delivery and the receiver's request.

Logs. One JSON object per line on standard error (``configure_logging``); every line
written while a request or a delivery is being handled carries its ``request_id``. Each
request is logged once (logger ``yardstick.access``) with its method, route *template*
(``/api/v1/organisations/{organisation_id}``, never the raw path: survey links carry a
token in theirs), status, duration and the organisations of the caller's credentials.
Never logged: the client's address (uvicorn's own access log, which has it, is turned
off), credentials and email addresses (:func:`scrub` removes anything that looks like a
bearer token, JWT, API key, email or IP address from every message and traceback).

Metrics. ``prometheus-client`` in its default registry, one per process, served at
``/metrics`` by every service (see :func:`metrics_allowed` for who may read it) and on
the worker's own port (:func:`serve_worker_metrics`).
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import logging
import re
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import IO, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
# Probes are polled every few seconds by orchestrators: logged at DEBUG, not INFO.
PROBE_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})
UNMATCHED_ROUTE = "<unmatched>"

access_log = logging.getLogger("yardstick.access")

# ------------------------------------------------------------------ request context


@dataclass
class RequestContext:
    """What the log lines of one request (or one outbox delivery) carry. Mutable: the
    authentication dependency fills in the caller, the router the route."""

    request_id: str
    service: str | None = None
    organisations: tuple[int, ...] | None = None
    principal: str | None = None  # how the caller authenticated: jwt, api_key, service
    route: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


_context: ContextVar[RequestContext | None] = ContextVar("yardstick_request", default=None)
# The process's name (a service, "worker") for lines logged outside any request.
_process: dict[str, str] = {}


def current() -> RequestContext | None:
    return _context.get()


def current_request_id() -> str | None:
    ctx = _context.get()
    return ctx.request_id if ctx is not None else None


def new_request_id() -> str:
    return uuid.uuid4().hex


def valid_request_id(value: str | None) -> str | None:
    """``value`` if it is an acceptable request id, else None (the caller makes one)."""
    if value is not None and _REQUEST_ID.match(value):
        return value
    return None


@contextmanager
def bound(request_id: str | None = None, **fields: Any) -> Iterator[RequestContext]:
    """Run a block as one unit of work: log lines inside carry its request id (a new one
    if none is given), and service calls made inside send it."""
    ctx = RequestContext(request_id=valid_request_id(request_id) or new_request_id(), **fields)
    token = _context.set(ctx)
    try:
        yield ctx
    finally:
        _context.reset(token)


def note_principal(organisations: Iterable[int], via: str) -> None:
    """Record who is calling, for the request's log line (organisations, not a subject:
    a subject may be a person's address)."""
    ctx = _context.get()
    if ctx is not None:
        ctx.organisations = tuple(sorted(organisations))[:50]
        ctx.principal = via


# ------------------------------------------------------------------ logs

_SCRUBBERS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"), r"\1 [redacted]"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "[jwt redacted]"),
    (re.compile(r"\bys_[A-Za-z0-9_-]{6,}"), "[api key redacted]"),
    (
        re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+(?:@|%40)[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+"),
        "[email redacted]",
    ),
    (re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])"), "[address redacted]"),
    # Survey link tokens (43 URL-safe characters) and other long opaque secrets; request
    # ids (at most 32 hex by default) and UUIDs are shorter.
    (re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{40,}(?![A-Za-z0-9_-])"), "[token redacted]"),
)
# IPv6 candidates, kept only if they parse (so a time such as 12:30:45 stays).
_IPV6_CANDIDATE = re.compile(
    r"(?<![0-9A-Za-z:])[0-9A-Fa-f:]*:[0-9A-Fa-f:]*:[0-9A-Fa-f]*(?![0-9A-Za-z:])"
)


def _ipv6(match: re.Match[str]) -> str:
    try:
        ipaddress.IPv6Address(match.group(0))
    except ValueError:
        return match.group(0)
    return "[address redacted]"


def scrub(text: str) -> str:
    """``text`` without credentials, email addresses or IP addresses."""
    for pattern, replacement in _SCRUBBERS:
        text = pattern.sub(replacement, text)
    return _IPV6_CANDIDATE.sub(_ipv6, text)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, the process or service,
    the request id of the work in hand, and the record's ``fields`` (``extra=``)."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": scrub(record.getMessage()),
        }
        ctx = _context.get()
        service = (ctx.service if ctx is not None else None) or _process.get("name")
        if service:
            entry["service"] = service
        if ctx is not None:
            entry["request_id"] = ctx.request_id
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            entry.update(fields)
        if record.exc_info:
            entry["error"] = scrub(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["error"] = scrub(record.exc_text)
        return json.dumps(entry, default=str, separators=(",", ":"))


def set_process_name(name: str) -> None:
    _process.setdefault("name", name)


def configure_logging(
    process: str, *, level: str = "INFO", stream: IO[str] | None = None, force: bool = False
) -> bool:
    """JSON lines on standard error for the whole process; True if installed now.

    Leaves logging alone when something else configured the root logger already (pytest,
    a program that embeds an app) unless ``force``. Takes over uvicorn's loggers: its
    error log goes through the JSON handler, its access log (which names the client's
    address) is turned off in favour of ``yardstick.access``."""
    set_process_name(process)
    root = logging.getLogger()
    if any(isinstance(h.formatter, JsonFormatter) for h in root.handlers):
        return False
    if root.handlers and not force:
        return False
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    # httpx logs every URL it calls at INFO; survey links carry tokens in theirs.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
    # WeasyPrint (the pack's PDF) and fontTools log their progress at INFO: ~30 lines a PDF.
    for name in ("weasyprint", "fontTools"):
        logging.getLogger(name).setLevel(logging.WARNING)
    return True


# ------------------------------------------------------------------ metrics

_SECONDS_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)
_LONG_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800)

HTTP_DURATION = Histogram(
    "yardstick_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template and status",
    ["service", "method", "route", "status"],
    buckets=_SECONDS_BUCKETS,
)
OUTBOX_DELIVERIES = Counter(
    "yardstick_outbox_deliveries",
    "Outbox delivery attempts by target, event type and outcome",
    ["target", "event_type", "outcome"],
)
OUTBOX_DELIVERY_DURATION = Histogram(
    "yardstick_outbox_delivery_duration_seconds",
    "Time for one outbox delivery (the HTTP call to the receiver)",
    ["target"],
    buckets=_SECONDS_BUCKETS,
)
COMPUTATION_DURATION = Histogram(
    "yardstick_computation_duration_seconds",
    "Time of one computation: a benchmark recompute, an SLA outcomes computation",
    ["kind"],
    buckets=_LONG_BUCKETS,
)
METRICS_JOB_DURATION = Histogram(
    "yardstick_metrics_job_duration_seconds",
    "Time of one metrics job (the long work an event asks for), by event type and outcome",
    ["event_type", "outcome"],
    buckets=_LONG_BUCKETS,
)
RESULTS_CACHE = Counter(
    "yardstick_results_cache_lookups",
    "Results cache lookups by outcome (hit or miss)",
    ["outcome"],
)


class _Ratio:
    """Hits over lookups, kept beside the counter so the gauge needs no private API."""

    def __init__(self) -> None:
        self.hits = 0
        self.lookups = 0
        self._lock = threading.Lock()

    def add(self, hit: bool) -> None:
        with self._lock:
            self.lookups += 1
            self.hits += hit

    def value(self) -> float:
        with self._lock:
            return self.hits / self.lookups if self.lookups else 0.0


_cache_ratio = _Ratio()
RESULTS_CACHE_HIT_RATIO = Gauge(
    "yardstick_results_cache_hit_ratio",
    "Share of results cache lookups served from the cache since the process started",
)
RESULTS_CACHE_HIT_RATIO.set_function(_cache_ratio.value)


def record_cache_lookup(hit: bool) -> None:
    RESULTS_CACHE.labels("hit" if hit else "miss").inc()
    _cache_ratio.add(hit)


def duration_ms(seconds: float) -> float:
    """A duration for a log line: milliseconds to two places."""
    return round(seconds * 1000, 2)


@contextmanager
def timed(kind: str) -> Iterator[None]:
    """Observe the block's duration in ``yardstick_computation_duration_seconds``."""
    start = time.perf_counter()
    try:
        yield
    finally:
        COMPUTATION_DURATION.labels(kind).observe(time.perf_counter() - start)


def metrics_text(*registries: CollectorRegistry) -> bytes:
    """The exposition text of the process registry and any others (worker DB gauges)."""
    return b"".join(generate_latest(r) for r in (REGISTRY, *registries))


def metrics_allowed(authorization: str | None, client_host: str | None, token: str | None) -> bool:
    """Who may read ``/metrics``: with a token configured (``YARDSTICK_METRICS_TOKEN``),
    whoever sends it as a bearer token; without one, only clients on the loopback (a
    Prometheus beside the process, or an operator on the machine). The figures name
    routes and volumes, not data, but an open endpoint invites scraping by anyone the
    proxy lets in; the proxy does not route ``/metrics`` either."""
    if token:
        scheme, _, presented = (authorization or "").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            presented.strip().encode(), token.encode()
        )
    if not client_host:
        return False
    try:
        return ipaddress.ip_address(client_host).is_loopback
    except ValueError:
        return False


# ------------------------------------------------------------------ ASGI middleware


class RequestContextMiddleware:
    """Outermost: gives the request its id and context, answers the id, times the
    request, logs its line and observes its duration."""

    def __init__(self, app: ASGIApp, *, service: str) -> None:
        self.app = app
        self.service = service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for key, value in scope["headers"]:
            if key == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        ctx = RequestContext(
            request_id=valid_request_id(incoming) or new_request_id(), service=self.service
        )
        token = _context.set(ctx)
        header = (b"x-request-id", ctx.request_id.encode())
        status = 500
        start = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                extra = [header]
                # The data version the request wrote or read at (shared.db.engine).
                if "data_version" in ctx.extra:
                    extra.append((b"x-data-version", str(ctx.extra["data_version"]).encode()))
                if "data_source" in ctx.extra:
                    extra.append((b"x-data-source", str(ctx.extra["data_source"]).encode()))
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except BaseException:
            status = 500
            raise
        finally:
            elapsed = time.perf_counter() - start
            route = ctx.route or UNMATCHED_ROUTE
            method = scope["method"]
            HTTP_DURATION.labels(self.service, method, route, str(status)).observe(elapsed)
            fields: dict[str, Any] = {
                "method": method,
                "route": route,
                "status": status,
                "duration_ms": duration_ms(elapsed),
            }
            if ctx.organisations is not None:
                fields["organisations"] = list(ctx.organisations)
            if ctx.principal is not None:
                fields["principal"] = ctx.principal
            access_log.log(
                logging.DEBUG if route in PROBE_ROUTES else logging.INFO,
                "%s %s %s",
                method,
                route,
                status,
                extra={"fields": fields},
            )
            _context.reset(token)


class RouteCaptureMiddleware:
    """Innermost: the router writes the matched route into the scope it was given (this
    one's); copy its template into the request's context for the outer middleware."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await self.app(scope, receive, send)
        finally:
            ctx = _context.get()
            route = scope.get("route")
            if ctx is not None and route is not None:
                ctx.route = getattr(route, "path", None)


# ------------------------------------------------------------------ the worker's port


class WorkerMetricsServer:
    """The worker's own HTTP port: ``/metrics`` (same access rule as the services') and
    ``/healthz`` (200 while ``alive()`` says the delivery lanes run)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        token: str | None,
        registries: Iterable[CollectorRegistry] = (),
        alive: Callable[[], bool] = lambda: True,
    ) -> None:
        extra = tuple(registries)

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/healthz":
                    ok = alive()
                    self._answer(200 if ok else 503, b"ok\n" if ok else b"stalled\n")
                elif self.path == "/metrics":
                    if not metrics_allowed(
                        self.headers.get("Authorization"), self.client_address[0], token
                    ):
                        self._answer(403, b"forbidden\n")
                        return
                    self._answer(200, metrics_text(*extra), CONTENT_TYPE_LATEST)
                else:
                    self._answer(404, b"not found\n")

            def _answer(self, status: int, body: bytes, ctype: str = "text/plain") -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return  # scrapes are not worth a line each (and would name the client)

        self.server = ThreadingHTTPServer((host, port), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self._thread = threading.Thread(
            target=self.server.serve_forever, name="worker-metrics", daemon=True
        )

    def start(self) -> WorkerMetricsServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
