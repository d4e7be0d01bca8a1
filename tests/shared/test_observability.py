"""Observability (issue 16): request ids, JSON request logs, /metrics, the worker's gauges.

The in-process stack logs through a handler with the production formatter
(shared.observability.JsonFormatter), formatting each record as it is written, as the
stream handler of a real process does."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import text

from shared.observability import (
    JsonFormatter,
    WorkerMetricsServer,
    metrics_text,
    scrub,
    valid_request_id,
)
from shared.worker import QueueCollector
from tests.factories import accepted_submission, make_cycle, make_org, publish
from tests.ingest.test_tickets import HEADER

METRICS_TOKEN = "test-metrics-token-0123456789"


class JsonLines:
    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    def all(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stream.getvalue().splitlines() if line]

    def raw(self) -> str:
        return self.stream.getvalue()

    def with_id(self, request_id: str) -> list[dict[str, Any]]:
        return [e for e in self.all() if e.get("request_id") == request_id]


@pytest.fixture
def logs() -> Iterator[JsonLines]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    # As configure_logging leaves it (the test client's own calls are logged by httpx).
    client_log = logging.getLogger("httpx")
    client_level = client_log.level
    client_log.setLevel(logging.WARNING)
    try:
        yield JsonLines(stream)
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        client_log.setLevel(client_level)


@pytest.fixture
def metrics_token(api: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setattr(api.settings, "metrics_token", SecretStr(METRICS_TOKEN))
    return METRICS_TOKEN


def scrape(client: Any, token: str = METRICS_TOKEN) -> dict[tuple[str, tuple[Any, ...]], float]:
    response = client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


def parse(body: str) -> dict[tuple[str, tuple[Any, ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(body)
        for sample in family.samples
    }


def value(samples: dict[tuple[str, tuple[Any, ...]], float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


# ------------------------------------------------------------------ request ids


def test_request_id_is_accepted_generated_or_replaced(api):
    ok = api.ingest.get("/healthz", headers={"X-Request-ID": "lb-7f3a:42.b_c-9"})
    assert ok.headers["x-request-id"] == "lb-7f3a:42.b_c-9"
    fresh = api.ingest.get("/healthz")
    assert len(fresh.headers["x-request-id"]) == 32
    assert fresh.headers["x-request-id"] != api.ingest.get("/healthz").headers["x-request-id"]
    for bad in ("x" * 129, "has space", 'quote"s', "<script>", "tab\there", ""):
        replaced = api.ingest.get("/healthz", headers={"X-Request-ID": bad})
        assert replaced.headers["x-request-id"] != bad
        assert valid_request_id(replaced.headers["x-request-id"])
    # An error answer carries it too.
    missing = api.ingest.get(
        "/api/v1/organisations/999999", headers={**api.auth(), "X-Request-ID": "r-404"}
    )
    assert missing.status_code == 404 and missing.headers["x-request-id"] == "r-404"


def test_scrub_removes_credentials_and_addresses_only():
    text_in = (
        "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.sig-nature_x from 203.0.113.9 "
        "and 2001:db8::7 or ::1, key ys_AbC123_secretpart, mail jo.bloggs@council.gov.uk, "
        "Basic dXNlcjpwYXNz; at 12:30:45 on /api/v1/organisations/42 for org 7; "
        "link /s/AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-AbCdE opened"
    )
    out = scrub(text_in)
    for secret in (
        "eyJhbGciOiJIUzI1NiJ9",
        "sig-nature_x",
        "203.0.113.9",
        "2001:db8::7",
        "::1",
        "ys_AbC123_secretpart",
        "jo.bloggs@council.gov.uk",
        "dXNlcjpwYXNz",
        "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-AbCdE",
    ):
        assert secret not in out, secret
    assert "at 12:30:45 on /api/v1/organisations/42 for org 7; link /s/[token redacted]" in out


# ------------------------------------------------------------------ request logs


def test_one_json_line_per_request_with_template_status_and_organisations(api, logs):
    org = make_org(api)["id"]
    token = api.token("participant", [org])
    response = api.ingest.get(
        f"/api/v1/organisations/{org}",
        headers={
            "Authorization": f"Bearer {token}",
            "X-Request-ID": "req-one-line",
            "X-Forwarded-For": "198.51.100.23",
        },
    )
    assert response.status_code == 200
    # A bad API key is refused and logged the same way, without the key.
    refused = api.ingest.get(
        f"/api/v1/organisations/{org}",
        headers={"Authorization": "Bearer ys_notakey_0123456789", "X-Request-ID": "req-refused"},
    )
    assert refused.status_code == 401
    (line,) = [e for e in logs.with_id("req-one-line") if e["logger"] == "yardstick.access"]
    assert line == {
        "ts": line["ts"],
        "level": "info",
        "logger": "yardstick.access",
        "msg": "GET /api/v1/organisations/{organisation_id} 200",
        "service": "ingest",
        "request_id": "req-one-line",
        "method": "GET",
        "route": "/api/v1/organisations/{organisation_id}",
        "status": 200,
        "duration_ms": line["duration_ms"],
        "organisations": [org],
        "principal": "jwt",
    }
    assert isinstance(line["duration_ms"], float) and line["duration_ms"] > 0
    (refused_line,) = [e for e in logs.with_id("req-refused") if e["logger"] == "yardstick.access"]
    assert (refused_line["status"], refused_line["route"]) == (401, line["route"])
    assert "organisations" not in refused_line  # nobody authenticated
    raw = logs.raw()
    for leaked in (token, "ys_notakey", "198.51.100.23", "testclient", f"/organisations/{org}"):
        assert leaked not in raw, leaked
    # An unknown path is logged under one label, not its raw path.
    api.ingest.get("/no/such/path/abc123", headers={"X-Request-ID": "req-unmatched"})
    (unmatched,) = logs.with_id("req-unmatched")
    assert (unmatched["route"], unmatched["status"]) == ("<unmatched>", 404)
    assert "abc123" not in logs.raw()


def test_request_id_follows_a_ticket_import_across_services_and_the_worker(
    api, logs, metrics_token, owner_engine
):
    """ingest (the push) -> outbox -> worker -> ingest (processing, in its background
    executor) -> outbox -> worker -> metrics (the event) -> metrics job (SLA outcomes)."""
    org = make_org(api)["id"]
    before_metrics = scrape(api.metrics)
    rid = "push-4f1e2d3c"
    body = HEADER + "T1,incident,P1,,Desk,Fixed,01/03/2021 09:00,01/03/2021 10:00,resolved\n"
    pushed = api.ingest.post(
        "/api/v1/ticket-imports",
        params={"organisation_id": org, "profile": "yardstick", "source_system": "sn"},
        content=body.encode(),
        headers={**api.auth("partner", [org]), "Content-Type": "text/csv", "X-Request-ID": rid},
    )
    assert pushed.status_code == 202, pushed.text
    assert pushed.headers["x-request-id"] == rid
    import_id = pushed.json()["id"]
    with owner_engine.connect() as conn:
        queued = conn.execute(text("SELECT event_type, request_id FROM ingest_outbox")).all()
    assert queued == [("ticket_import.received", rid)]
    assert api.deliver() == 2

    lines = logs.with_id(rid)
    access = [
        (e["service"], e["method"], e["route"], e["status"])
        for e in lines
        if e["logger"] == "yardstick.access"
    ]
    assert ("ingest", "POST", "/api/v1/ticket-imports", 202) in access
    assert ("ingest", "POST", "/internal/ticket-imports/{import_id}/process", 202) in access
    assert ("metrics", "POST", "/internal/events", 202) in access
    deliveries = sorted(
        (e["event_type"], e["target"], e["outcome"])
        for e in lines
        if e["logger"] == "yardstick.outbox"
    )
    assert deliveries == [
        ("ticket_import.received", "ingest", "delivered"),
        ("tickets.imported", "metrics", "delivered"),
    ]
    assert all(e["service"] == "worker" for e in lines if e["logger"] == "yardstick.outbox")
    (job,) = [e for e in lines if e["logger"] == "yardstick.metrics.jobs"]
    assert (job["service"], job["event_type"], job["outcome"]) == (
        "metrics",
        "tickets.imported",
        "done",
    )
    with owner_engine.connect() as conn:
        assert conn.execute(
            text("SELECT array_agg(DISTINCT request_id) FROM ingest_outbox")
        ).scalar() == [rid]
        assert conn.execute(text("SELECT request_id FROM metrics_jobs")).scalar() == rid
    # The admin view of the outbox names it too.
    events = api.ingest.get("/api/v1/ingest-outbox-events", headers=api.auth()).json()["items"]
    assert {e["request_id"] for e in events} == {rid}

    # ... and the figures moved: the import's job and its SLA computation were timed.
    after = scrape(api.metrics)
    job_count = "yardstick_metrics_job_duration_seconds_count"
    labels = {"event_type": "tickets.imported", "outcome": "done"}
    assert value(after, job_count, **labels) == value(before_metrics, job_count, **labels) + 1
    sla = "yardstick_computation_duration_seconds_count"
    assert (
        value(after, sla, kind="sla_outcomes")
        == value(before_metrics, sla, kind="sla_outcomes") + 1
    )
    delivered = "yardstick_outbox_deliveries_total"
    for event_type, target in (
        ("ticket_import.received", "ingest"),
        ("tickets.imported", "metrics"),
    ):
        labels = {"target": target, "event_type": event_type, "outcome": "delivered"}
        assert value(after, delivered, **labels) == value(before_metrics, delivered, **labels) + 1
    done = api.ingest.get(f"/api/v1/ticket-imports/{import_id}", headers=api.auth()).json()
    assert done["status"] == "done"


# ------------------------------------------------------------------ /metrics


def test_metrics_needs_the_token_or_a_loopback_client(api, metrics_token):
    for client in (api.ingest, api.metrics, api.survey):
        refused = client.get("/metrics")
        assert refused.status_code == 403
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["code"] == "metrics_forbidden"
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 403
        assert scrape(client)  # with the token
    # /metrics is not an API path: not in the OpenAPI document, not under /api.
    assert "/metrics" not in api.ingest.get("/openapi.json").json()["paths"]


def test_metrics_without_a_token_answer_loopback_clients_only(api):
    from shared.observability import metrics_allowed

    assert api.settings.metrics_token is None
    assert api.ingest.get("/metrics").status_code == 403  # TestClient's client is "testclient"
    assert metrics_allowed(None, "127.0.0.1", None) and metrics_allowed(None, "::1", None)
    assert not metrics_allowed(None, "10.0.0.5", None)
    assert not metrics_allowed("Bearer x", "127.0.0.1", "y")  # a token, once set, is required


def test_request_histogram_moves_by_route_template_and_status(api, metrics_token):
    org = make_org(api)["id"]
    series = "yardstick_http_request_duration_seconds_count"
    labels = {
        "service": "ingest",
        "method": "GET",
        "route": "/api/v1/organisations/{organisation_id}",
        "status": "200",
    }
    missing = {**labels, "status": "404"}
    before = scrape(api.ingest)
    for _ in range(3):
        assert api.ingest.get(f"/api/v1/organisations/{org}", headers=api.auth()).status_code == 200
    assert api.ingest.get("/api/v1/organisations/999999", headers=api.auth()).status_code == 404
    after = scrape(api.ingest)
    assert value(after, series, **labels) == value(before, series, **labels) + 3
    assert value(after, series, **missing) == value(before, series, **missing) + 1
    buckets = [
        k
        for k in after
        if k[0] == "yardstick_http_request_duration_seconds_bucket"
        and dict(k[1])["route"] == labels["route"]
    ]
    assert buckets, "a histogram, with buckets"


def test_results_cache_hit_ratio_moves(api, metrics_token):
    cycle = make_cycle(api, 2020)
    orgs = []
    for k in range(1, 6):
        org = make_org(api, name=f"Ratio {k} Council", type="L")
        accepted_submission(api, org["id"], cycle["id"], "estate", {"users": 50 * k, "ict_fte": 50})
        orgs.append(org)
    api.deliver()
    publish(api, cycle["id"], (date.today() - timedelta(days=30)).isoformat())
    who = api.auth("participant", [orgs[0]["id"]])
    params = {"organisation_id": orgs[0]["id"], "cycle": 2020}
    before = scrape(api.metrics)
    for _ in range(3):  # a miss, then two hits
        r = api.metrics.get("/api/v1/results/comparison", params=params, headers=who)
        assert r.status_code == 200, r.text
    after = scrape(api.metrics)
    lookups = "yardstick_results_cache_lookups_total"
    assert value(after, lookups, outcome="hit") == value(before, lookups, outcome="hit") + 2
    assert value(after, lookups, outcome="miss") == value(before, lookups, outcome="miss") + 1
    hits, misses = value(after, lookups, outcome="hit"), value(after, lookups, outcome="miss")
    assert value(after, "yardstick_results_cache_hit_ratio") == pytest.approx(
        hits / (hits + misses)
    )


# ------------------------------------------------------------------ the worker's port


def test_worker_port_serves_queue_depth_age_dead_events_and_import_rate(api, owner_engine):
    org = make_org(api)["id"]
    body = HEADER + "".join(
        f"Q{i},incident,P1,,Desk,Fixed,01/03/2021 09:00,01/03/2021 10:00,resolved\n"
        for i in range(40)
    )
    pushed = api.ingest.post(
        "/api/v1/ticket-imports",
        params={"organisation_id": org, "profile": "yardstick", "source_system": "sn"},
        content=body.encode(),
        headers={**api.auth("admin"), "Content-Type": "text/csv"},
    )
    assert pushed.status_code == 202
    with owner_engine.begin() as conn:
        conn.execute(text("UPDATE ingest_outbox SET created_at = now() - interval '90 seconds'"))
    registry = CollectorRegistry(auto_describe=False)
    ingest_engine = api.worker.sources[0][1]
    registry.register(QueueCollector(list(api.worker.sources), ingest_engine))
    healthy = {"ok": True}
    server = WorkerMetricsServer(
        "127.0.0.1", 0, token=None, registries=[registry], alive=lambda: healthy["ok"]
    ).start()
    base = f"http://127.0.0.1:{server.port}"
    try:
        queued = parse(httpx.get(f"{base}/metrics").text)
        assert value(queued, "yardstick_outbox_queue_depth", table="ingest_outbox") == 1
        assert value(queued, "yardstick_outbox_queue_depth", table="survey_outbox") == 0
        age = value(queued, "yardstick_outbox_oldest_queued_age_seconds", table="ingest_outbox")
        assert 90 <= age < 600
        assert value(queued, "yardstick_ticket_imports_waiting", status="queued") == 1
        assert value(queued, "yardstick_worker_database_up") == 1

        api.deliver()
        done = parse(httpx.get(f"{base}/metrics").text)
        assert value(done, "yardstick_outbox_queue_depth", table="ingest_outbox") == 0
        assert value(done, "yardstick_outbox_oldest_queued_age_seconds", table="ingest_outbox") == 0
        assert value(done, "yardstick_ticket_imports_waiting", status="queued") == 0
        with owner_engine.begin() as conn:
            rows, seconds = conn.execute(
                text(
                    "SELECT rows_read, extract(epoch FROM finished_at - started_at) "
                    "FROM ticket_imports"
                )
            ).one()
            conn.execute(text("UPDATE ingest_outbox SET status = 'dead' WHERE id = 1"))
        assert rows == 40
        rate = value(done, "yardstick_ticket_import_rows_per_second", imports="finished_last_hour")
        assert rate == pytest.approx(40 / float(seconds), rel=1e-6)
        dead = parse(httpx.get(f"{base}/metrics").text)
        assert value(dead, "yardstick_outbox_dead_events", table="ingest_outbox") == 1
        # The process's own series come along (deliveries counted by this process).
        assert any(name == "yardstick_outbox_deliveries_total" for name, _ in dead)

        assert httpx.get(f"{base}/healthz").status_code == 200
        healthy["ok"] = False
        assert httpx.get(f"{base}/healthz").status_code == 503
        assert httpx.get(f"{base}/other").status_code == 404
    finally:
        server.stop()


def test_worker_port_with_a_token_refuses_without_it():
    server = WorkerMetricsServer("127.0.0.1", 0, token="s3cret-token").start()
    try:
        base = f"http://127.0.0.1:{server.port}"
        assert httpx.get(f"{base}/metrics").status_code == 403
        ok = httpx.get(f"{base}/metrics", headers={"Authorization": "Bearer s3cret-token"})
        assert ok.status_code == 200 and b"python_info" in metrics_text()
    finally:
        server.stop()


def test_a_busy_worker_metrics_port_leaves_deliveries_running(api, caplog):
    import socket

    from shared.worker import start_metrics_server

    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        settings = api.settings.model_copy(update={"worker_metrics_port": port})
        engines = [engine for _, engine in api.worker.sources]
        assert start_metrics_server(settings, api.worker, engines) is None
    assert f"worker metrics port {port} unavailable" in caplog.text
    assert (
        start_metrics_server(
            api.settings.model_copy(update={"worker_metrics_port": 0}), api.worker, engines
        )
        is None
    )
