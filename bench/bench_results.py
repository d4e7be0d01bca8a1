"""A results request for one organisation and peer group, at 50 concurrent clients.

Loads the demo data set (70 organisations, five cycles) into a scratch database on the
server of DATABASE_URL (or the embedded PostgreSQL when unset), starts the metrics
service under uvicorn, and drives ``GET /api/v1/results/comparison`` (every metric of
one organisation against one peer group) with ``wrk`` (50 connections, a Lua script adds
the participant's bearer token). Then drives ``GET /healthz`` of the same server with the
same wrk settings as a baseline (the cost of uvicorn + FastAPI + wrk on this machine with
no work at all) and prints the ratio. Prints the server setup, p50 / p99 latency,
requests per second, non-2xx responses, the load average before and after, and whether
the target (p99 under 50 ms) was met.

The results endpoint is async: it decides access afresh for every request from a
snapshot query sent after the request arrived (shared by the requests that arrive
together, see services/metrics/benchmark/snapshots.py), then serves the body from the
per-process results cache; the first request per worker computes. Default: one uvicorn
worker per CPU.

    .venv/bin/python bench/bench_results.py [--workers N] [--duration 15] [--connections 50]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shared.auth import mint_token  # noqa: E402
from shared.db.engine import normalise_url  # noqa: E402
from shared.settings import Settings  # noqa: E402

PORT = 8792


def server_url() -> str:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    from shared import embedded

    return embedded.start(Settings(), name="pgdata-bench")


def scratch_database(admin_url: str) -> tuple[str, str]:
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(normalise_url(admin_url))
    name = f"ys_bench_{uuid.uuid4().hex[:8]}"
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return url.set(database=name).render_as_string(hide_password=False), name


def drop_database(admin_url: str, name: str) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(normalise_url(admin_url)).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pick_organisation(db_url: str) -> tuple[int, str]:
    from sqlalchemy import text

    from shared.db.engine import make_engine

    engine = make_engine(db_url, pool_size=1)
    with engine.connect() as conn:
        org_id, org_type = conn.execute(
            text(
                "SELECT m.organisation_id, m.type FROM benchmark_members m "
                "WHERE m.cycle_year = 2020 ORDER BY m.organisation_id LIMIT 1"
            )
        ).one()
    engine.dispose()
    return int(org_id), str(org_type)


def parse_wrk(output: str) -> dict[str, float]:
    def ms(text: str) -> float:
        value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()  # type: ignore[union-attr]
        return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]

    figures = {
        # Anchored: a "+/- Stdev" column such as "80.99%" must not be read as the p99 line.
        "p50_ms": ms(re.search(r"^\s+50%\s+(\S+)", output, re.M).group(1)),  # type: ignore[union-attr]
        "p99_ms": ms(re.search(r"^\s+99%\s+(\S+)", output, re.M).group(1)),  # type: ignore[union-attr]
        "req_per_s": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),  # type: ignore[union-attr]
    }
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    figures["non_2xx"] = float(errors.group(1)) if errors else 0.0
    return figures


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--duration", type=int, default=15)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--peer-group", default=None, help="default: the organisation's type")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 2

    from shared.db.migrate import upgrade
    from yardstick.demo.loader import load_demo

    admin = server_url()
    db_url, name = scratch_database(admin)
    server = None
    try:
        upgrade(db_url)
        started = time.perf_counter()
        print(load_demo(db_url))
        print(f"demo loaded in {time.perf_counter() - started:.1f} s")
        org_id, org_type = pick_organisation(db_url)
        group = args.peer_group or f"type:{org_type}"
        settings = Settings()
        token = mint_token(
            settings,
            subject="bench",
            roles=["participant"],
            organisations=[org_id],
            ttl=timedelta(hours=1),
        )
        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "YARDSTICK_DB_POOL_SIZE": "10",
        }
        server = subprocess.Popen(
            [
                sys.executable, "-m", "uvicorn", "services.metrics.main:app",
                "--host", "127.0.0.1", "--port", str(PORT),
                "--workers", str(args.workers), "--no-access-log", "--log-level", "warning",
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,
        )  # fmt: skip
        path = f"/api/v1/results/comparison?organisation_id={org_id}&cycle=2020&peer_group={group}"
        base = f"http://127.0.0.1:{PORT}"
        headers = {"Authorization": f"Bearer {token}"}
        for _ in range(200):
            try:
                if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        first = httpx.get(base + path, headers=headers, timeout=10)
        first.raise_for_status()
        rows = first.json()["items"]
        n = next(r["n_organisations"] for r in rows if r["metric_key"] == "users_per_ict_fte")
        print(
            f"request: GET {path}\n  {len(rows)} metrics, peer group {group} (n={n}), "
            f"{len(first.content)} bytes"
        )
        with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
            lua.write(f'wrk.headers["Authorization"] = "Bearer {token}"\n')

        def run_wrk(url: str, seconds: int, threads: int = 4) -> str:
            return subprocess.run(
                [
                    "wrk", f"-t{threads}", "-c", str(args.connections), "-d", f"{seconds}s",
                    "--latency", "-s", lua.name, url,
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout  # fmt: skip

        print(
            f"server: uvicorn services.metrics.main:app --workers {args.workers} "
            f"(httptools, uvloop), DB pool {env['YARDSTICK_DB_POOL_SIZE']}/worker, "
            f"results cache {Settings().results_cache_size} entries/worker; "
            f"{os.cpu_count()} CPU(s) shared with PostgreSQL and wrk "
            f"(wrk -t4 -c{args.connections} -d{args.duration}s)"
        )
        load_before = os.getloadavg()
        run_wrk(base + path, 3, threads=2)  # warm-up: every worker fills its cache
        out = run_wrk(base + path, args.duration)
        figures = parse_wrk(out)
        run_wrk(base + "/healthz", 2, threads=2)
        baseline_out = run_wrk(base + "/healthz", args.duration)
        baseline = parse_wrk(baseline_out)
        load_after = os.getloadavg()
        os.unlink(lua.name)
        print(out.rstrip())
        print("\nbaseline GET /healthz, same wrk settings:")
        print(baseline_out.rstrip())

        def line(f: dict[str, float]) -> str:
            return (
                f"p50 {f['p50_ms']:.1f} ms   p99 {f['p99_ms']:.1f} ms   "
                f"{f['req_per_s']:.0f} req/s   non-2xx {f['non_2xx']:.0f}"
            )

        print(
            f"\nresults request, {args.connections} concurrent clients, {args.workers} uvicorn "
            f"worker(s), {os.cpu_count()} CPU(s) shared with PostgreSQL and wrk:\n"
            f"  results  {line(figures)}\n"
            f"  /healthz {line(baseline)}\n"
            f"  ratio results / healthz: p50 x{figures['p50_ms'] / baseline['p50_ms']:.2f}   "
            f"p99 x{figures['p99_ms'] / baseline['p99_ms']:.2f}   "
            f"req/s x{figures['req_per_s'] / baseline['req_per_s']:.2f}\n"
            f"  load average (1, 5, 15 min) before {', '.join(f'{x:.2f}' for x in load_before)}"
            f"; after {', '.join(f'{x:.2f}' for x in load_after)}\n"
            f"  target p99 < 50 ms: {'met' if figures['p99_ms'] < 50 else 'NOT met'}"
        )
        return 0
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        drop_database(admin, name)


if __name__ == "__main__":
    raise SystemExit(main())
