"""Under `yardstick up` (real processes): every request is logged as one JSON line, and one
request id links the ingest request, the worker's deliveries and the metrics service's
request; /metrics answers on the loopback, the worker's on its own port."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta

import httpx
import pytest

from shared.auth import mint_token
from shared.settings import PROJECT_ROOT, Settings
from shared.testing.plugin import _server_admin_url, scratch_database
from tests.e2e.test_up import _free_base_port
from yardstick.supervisor import WORKER_METRICS_OFFSET


@pytest.mark.xdist_group("e2e")
def test_json_logs_and_metrics_under_up(tmp_path):
    base = _free_base_port()
    with scratch_database(_server_admin_url(), "ys_obs_up") as url:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("YARDSTICK_", "OTEL_")) and k != "DATABASE_URL"
        }
        env.update(DATABASE_URL=url, YARDSTICK_DATA_DIR=str(tmp_path))
        proc = subprocess.Popen(
            [sys.executable, "-m", "yardstick.cli", "up", "--base-port", str(base)],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        lines: list[str] = []
        ready = threading.Event()

        def read() -> None:
            for line in proc.stdout:  # type: ignore[union-attr]
                lines.append(line.rstrip("\n"))
                if "Press Ctrl-C" in line:
                    ready.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        try:
            assert ready.wait(240), "\n".join(lines)
            _exercise(base, lines)
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            reader.join(timeout=10)


def _exercise(base: int, lines: list[str]) -> None:
    settings = Settings()
    admin = mint_token(
        settings, subject="obs", roles=["admin"], organisations=[], ttl=timedelta(minutes=10)
    )
    ingest = f"http://127.0.0.1:{base}"
    with httpx.Client(timeout=30, headers={"Authorization": f"Bearer {admin}"}) as http:
        org = http.post(
            f"{ingest}/api/v1/organisations",
            json={"name": "Logged Council", "type": "L", "nation": "England", "users": 100},
        )
        assert org.status_code == 201, org.text
        rid = "up-trace-0001"
        body = (
            "ticket_ref,type,priority,request_type,team,closure_category,logged_at,"
            "resolved_at,status\nT1,incident,P1,,Desk,Fixed,01/03/2021 09:00,"
            "01/03/2021 10:00,resolved\n"
        )
        pushed = http.post(
            f"{ingest}/api/v1/ticket-imports",
            params={"organisation_id": org.json()["id"], "source_system": "sn"},
            content=body.encode(),
            headers={"Content-Type": "text/csv", "X-Request-ID": rid},
        )
        assert pushed.status_code == 202, pushed.text
        assert pushed.headers["x-request-id"] == rid

        def ours() -> list[dict]:
            found = []
            for line in list(lines):
                if line.startswith("{") and rid in line:
                    found.append(json.loads(line))
            return found

        def seen(entries: list[dict]) -> set[tuple[str, str]]:
            return {(e.get("service", ""), e["logger"]) for e in entries}

        wanted = {
            ("ingest", "yardstick.access"),
            ("worker", "yardstick.outbox"),
            ("metrics", "yardstick.access"),
            ("metrics", "yardstick.metrics.jobs"),
        }
        deadline = time.monotonic() + 90
        while not wanted <= seen(ours()) and time.monotonic() < deadline:
            time.sleep(0.2)
        entries = ours()
        assert wanted <= seen(entries), "\n".join(lines[-60:])
        routes = {
            (e["service"], e.get("route")) for e in entries if e["logger"] == "yardstick.access"
        }
        assert ("ingest", "/api/v1/ticket-imports") in routes
        assert ("ingest", "/internal/ticket-imports/{import_id}/process") in routes
        assert ("metrics", "/internal/events") in routes

        # /metrics from the loopback, no token needed; the request above is counted.
        scraped = httpx.get(f"{ingest}/metrics", timeout=10)
        assert scraped.status_code == 200
        assert (
            'yardstick_http_request_duration_seconds_count{method="POST",'
            'route="/api/v1/ticket-imports",service="ingest",status="202"} 1.0'
        ) in scraped.text
        worker = httpx.get(f"http://127.0.0.1:{base + WORKER_METRICS_OFFSET}/metrics", timeout=10)
        assert worker.status_code == 200
        assert 'yardstick_outbox_queue_depth{table="ingest_outbox"} 0.0' in worker.text
        assert 'yardstick_outbox_deliveries_total{event_type="tickets.imported"' in worker.text
        health = httpx.get(f"http://127.0.0.1:{base + WORKER_METRICS_OFFSET}/healthz", timeout=10)
        assert health.status_code == 200

    # Every line a child wrote is JSON; none carries the token or a client address.
    child_lines = [line for line in lines if line.startswith("{")]
    assert len(child_lines) >= 8
    for line in child_lines:
        json.loads(line)
    text = "\n".join(lines)
    assert admin not in text and "127.0.0.1:" + str(base) not in "".join(child_lines)
