"""Results under load, direct and through PgBouncer (issue 16).

Loads the demo data set (70 organisations, five cycles) into a scratch database on the
server of DATABASE_URL (or the embedded PostgreSQL), starts the metrics service under
uvicorn, and drives it with ``wrk`` at 50 connections over a *mix*: every organisation
of the 2020 cycle x the peer groups all / its type / its nation / past x the three
results endpoints (comparison, distribution, trends of three metrics), each request
with that organisation's own participant token (a Lua script picks one at random per
request), so no single cached URL answers the load. Meanwhile a thread asks for a full
benchmark recompute of 2020 every ``--recompute-every`` seconds (the event the worker
would deliver), so the data version moves and caches are refilled during the load.

Measured in one run, with the same wrk settings and the recomputes running throughout:

1. the mix, metrics connected straight to PostgreSQL;
2. ``GET /healthz`` on the same server (the cost of uvicorn + FastAPI + wrk alone);
3. the same two through PgBouncer (Debian's, transaction pooling, 20 server connections,
   ``YARDSTICK_DB_TRANSACTION_POOLING=true``).

Prints p50 / p99 / req/s / non-2xx, and the ratios: mix p99 / healthz p99 (target <= 5)
and PgBouncer mix p99 / direct mix p99 (target <= 1.2), with the load average.

    .venv/bin/python bench/ops_results.py [--workers 2] [--duration 20] [--connections 50]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_results import drop_database, parse_wrk, scratch_database, server_url  # noqa: E402
from shared.auth import mint_service_token, mint_token  # noqa: E402
from shared.settings import Settings  # noqa: E402

PORT = 8794
POOL_SIZE = 10
# The service's pool and results cache sizes for this run (--pool-size, --cache-size;
# cache None: the service's default).
SIZES: dict[str, int | None] = {"pool": POOL_SIZE, "cache": None}
METRICS = ("users_per_ict_fte", "ict_spend_per_user", "devices_per_user")


def mix(db_url: str, settings: Settings) -> list[tuple[str, str]]:
    """(path, bearer token) for every organisation, peer group and endpoint."""
    from sqlalchemy import text

    from shared.db.engine import make_engine

    engine = make_engine(db_url, pool_size=1)
    with engine.connect() as conn:
        members = conn.execute(
            text(
                "SELECT m.organisation_id, m.type, o.nation FROM benchmark_members m "
                "JOIN organisations o ON o.id = m.organisation_id "
                "WHERE m.cycle_year = 2020 ORDER BY 1"
            )
        ).all()
        metrics = [
            r[0]
            for r in conn.execute(
                text("SELECT DISTINCT metric_key FROM metric_values WHERE cycle_year = 2020")
            )
        ]
    engine.dispose()
    chosen = [m for m in METRICS if m in metrics] or sorted(metrics)[:3]
    out = []
    for org, org_type, nation in members:
        token = mint_token(
            settings,
            subject=f"bench-{org}",
            roles=["participant"],
            organisations=[org],
            ttl=timedelta(hours=2),
        )
        groups = ["all", f"type:{org_type}", "past"] + ([f"nation:{nation}"] if nation else [])
        for group in groups:
            q = f"organisation_id={org}&cycle=2020&peer_group={group}"
            out.append((f"/api/v1/results/comparison?{q}", token))
            for metric in chosen:
                out.append((f"/api/v1/results/distribution?{q}&metric={metric}", token))
                out.append((f"/api/v1/results/trends?{q}&metric={metric}", token))
    return out


def lua_for(requests: list[tuple[str, str]]) -> str:
    table = ",\n".join(
        f"{{path={json.dumps(p)}, auth={json.dumps('Bearer ' + t)}}}" for p, t in requests
    )
    return (
        f"local mix = {{\n{table}\n}}\n"
        "math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))\n"
        "request = function()\n"
        "  local r = mix[math.random(#mix)]\n"
        '  return wrk.format("GET", r.path, {["Authorization"] = r.auth})\n'
        "end\n"
    )


class Recomputes:
    """Asks the metrics service for a full 2020 recompute every ``every`` seconds."""

    def __init__(self, base: str, settings: Settings, every: float) -> None:
        self.base, self.settings, self.every = base, settings, every
        self.sent = 0
        self.failed = 0  # asks that got no answer in time
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with httpx.Client(timeout=30) as client:
            while not self._stop.wait(self.every):
                token = mint_service_token(self.settings, "worker")
                try:
                    r = client.post(
                        f"{self.base}/internal/events",
                        json={
                            "event_type": "benchmark.inputs_changed",
                            "payload": {"cycle_years": [2020], "reason": "bench"},
                        },
                        headers={
                            "Authorization": f"Bearer {token}",
                            "Idempotency-Key": f"bench:{uuid.uuid4().hex}",
                        },
                    )
                except httpx.HTTPError:
                    # A slow answer under load must not end the recomputes for the rest
                    # of the run (which would favour whichever run comes after it).
                    self.failed += 1
                    continue
                self.sent += r.status_code == 202

    def __enter__(self) -> Recomputes:
        self._thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=60)


def start_server(db_url: str, workers: int, pooled: bool) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "YARDSTICK_DB_POOL_SIZE": str(SIZES["pool"]),
        **({"YARDSTICK_RESULTS_CACHE_SIZE": str(SIZES["cache"])} if SIZES["cache"] else {}),
        "YARDSTICK_DB_TRANSACTION_POOLING": "true" if pooled else "false",
        "YARDSTICK_LOG_LEVEL": os.environ.get("YARDSTICK_LOG_LEVEL", "ERROR"),
    }
    server = subprocess.Popen(
        [
            sys.executable, "-m", "uvicorn", "services.metrics.main:app",
            "--host", "127.0.0.1", "--port", str(PORT), "--workers", str(workers),
            "--no-access-log", "--log-level", "warning",
        ],
        cwd=ROOT,
        env=env,
        start_new_session=True,
    )  # fmt: skip
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{PORT}/readyz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the metrics service did not become ready")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def wrk(url: str, script: str, seconds: int, connections: int, threads: int = 4) -> str:
    return subprocess.run(
        [
            "wrk", f"-t{threads}", "-c", str(connections), "-d", f"{seconds}s", "--latency",
            "-s", script, url,
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout  # fmt: skip


def cache_hit_ratio(base: str) -> str:
    """``yardstick_results_cache_hit_ratio`` of the worker that answers ``/metrics``
    (since it started: the warm-up and the mix)."""
    text = httpx.get(f"{base}/metrics", timeout=10).text
    for line in text.splitlines():
        if line.startswith("yardstick_results_cache_hit_ratio "):
            return f"{float(line.split()[1]):.2f}"
    return "n/a"


def measure(
    label: str,
    db_url: str,
    args: argparse.Namespace,
    settings: Settings,
    mix_script: str,
    plain_script: str,
    pooled: bool,
) -> dict[str, dict[str, float]]:
    base = f"http://127.0.0.1:{PORT}"
    server = start_server(db_url, args.workers, pooled)
    try:
        with Recomputes(base, settings, args.recompute_every) as recomputes:
            wrk(base + "/", mix_script, 3, args.connections, threads=2)  # warm-up
            mixed = parse_wrk(wrk(base + "/", mix_script, args.duration, args.connections))
            ratio = cache_hit_ratio(base)
            health = parse_wrk(
                wrk(base + "/healthz", plain_script, args.duration, args.connections)
            )
        print(
            f"{label}: {recomputes.sent} recomputes accepted during the runs "
            f"({recomputes.failed} asks timed out); "
            f"mix p99 {mixed['p99_ms']:.1f} ms, /healthz p99 {health['p99_ms']:.1f} ms; "
            f"results cache hit ratio (one worker, warm-up and mix): {ratio}",
            flush=True,
        )
    finally:
        stop_server(server)
    return {"mix": mixed, "healthz": health}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--recompute-every", type=float, default=3.0)
    parser.add_argument("--pool-size", type=int, default=POOL_SIZE, help="YARDSTICK_DB_POOL_SIZE")
    parser.add_argument("--pgbouncer-pool", type=int, default=20, help="PgBouncer pool_size")
    parser.add_argument(
        "--cache-size",
        type=int,
        default=None,
        help="YARDSTICK_RESULTS_CACHE_SIZE (default: the service's)",
    )
    args = parser.parse_args()
    SIZES.update(pool=args.pool_size, cache=args.cache_size)
    for tool in ("wrk",):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed: apt-get install -y {tool}", file=sys.stderr)
            return 2

    from shared.db.migrate import upgrade
    from tests.e2e.test_pgbouncer import PGBOUNCER, PgBouncer
    from yardstick.demo.loader import load_demo

    if not os.path.exists(PGBOUNCER):
        print("PgBouncer is not installed: apt-get install -y pgbouncer", file=sys.stderr)
        return 2
    admin = server_url()
    db_url, name = scratch_database(admin)
    bouncer = None
    scripts: list[str] = []
    try:
        upgrade(db_url)
        print(load_demo(db_url))
        settings = Settings()
        requests = mix(db_url, settings)
        base = f"http://127.0.0.1:{PORT}"
        server = start_server(db_url, 1, pooled=False)
        try:  # keep only requests the service answers 200 (e.g. a trend with no history)
            with httpx.Client(timeout=30) as client:
                ok = [
                    (p, t)
                    for p, t in requests
                    if client.get(base + p, headers={"Authorization": f"Bearer {t}"}).status_code
                    == 200
                ]
        finally:
            stop_server(server)
        random.shuffle(ok)
        orgs = {p.split("organisation_id=")[1].split("&")[0] for p, _ in ok}
        print(
            f"mix: {len(ok)} distinct requests answering 200 (of {len(requests)}), "
            f"{len(orgs)} organisations, 3 endpoints, 4 peer groups"
        )
        for body in (lua_for(ok), ""):
            with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
                f.write(body)
                scripts.append(f.name)
        mix_script, plain_script = scripts
        bouncer = PgBouncer(db_url, pool_size=args.pgbouncer_pool)
        load_before = os.getloadavg()
        direct = measure("direct", db_url, args, settings, mix_script, plain_script, False)
        pooled = measure("pgbouncer", bouncer.url(), args, settings, mix_script, plain_script, True)
        load_after = os.getloadavg()
    finally:
        for script in scripts:
            os.unlink(script)
        if bouncer is not None:
            bouncer.stop()
        drop_database(admin, name)

    def line(f: dict[str, float]) -> str:
        return (
            f"p50 {f['p50_ms']:7.1f} ms   p99 {f['p99_ms']:7.1f} ms   "
            f"{f['req_per_s']:7.0f} req/s   non-2xx {f['non_2xx']:.0f}"
        )

    mix_ratio = direct["mix"]["p99_ms"] / direct["healthz"]["p99_ms"]
    pool_ratio = pooled["mix"]["p99_ms"] / direct["mix"]["p99_ms"]
    print(
        f"\n{args.connections} connections, {args.duration} s each, metrics under uvicorn "
        f"--workers {args.workers}, {os.cpu_count()} CPU(s) shared with PostgreSQL, "
        f"PgBouncer and wrk; a 2020 recompute every {args.recompute_every:g} s throughout\n"
        f"  direct     mix      {line(direct['mix'])}\n"
        f"  direct     /healthz {line(direct['healthz'])}\n"
        f"  pgbouncer  mix      {line(pooled['mix'])}\n"
        f"  pgbouncer  /healthz {line(pooled['healthz'])}\n"
        f"  mix p99 / healthz p99 (direct): x{mix_ratio:.2f}   target <= 5: "
        f"{'met' if mix_ratio <= 5 else 'NOT met'}\n"
        f"  pgbouncer mix p99 / direct mix p99: x{pool_ratio:.2f}   target <= 1.2: "
        f"{'met' if pool_ratio <= 1.2 else 'NOT met'}\n"
        f"  load average (1, 5, 15 min) before {', '.join(f'{x:.2f}' for x in load_before)}"
        f"; after {', '.join(f'{x:.2f}' for x in load_after)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
