"""An explanation of a benchmark statistic next to the statistic's own results endpoint,
under the same load (issue 14): p99 of each, target explanation p99 <= 2x results p99.

Loads the demo data set (70 organisations, five cycles) into a scratch database on the
server of DATABASE_URL (or the embedded PostgreSQL), starts the metrics service under
uvicorn like the other benches (bench/ops_results.py), and drives it with ``wrk`` at 50
connections over a mix: every organisation of the 2020 cycle x the peer groups all / its
type / its nation x three metrics, each request with that organisation's own participant
token (a Lua script picks one at random per request). The same mix is asked twice, in one
run with the same wrk settings:

1. the results endpoint of the statistic: ``GET /api/v1/results/distribution`` (median,
   quartiles, n and the peers' values by code);
2. its explanation: ``GET /api/v1/explain/benchmark`` (the same figures with the peer
   group's definition, members, quantile method, suppression rule, computation run).

Prints p50 / p99 / req/s / non-2xx of each, the ratio and the load average.

    .venv/bin/python bench/explain_bench.py [--duration 20] [--connections 50] [--quick]
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path
from urllib.parse import quote

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_results import drop_database, parse_wrk, scratch_database, server_url  # noqa: E402
from bench.ops_results import lua_for, stop_server, wrk  # noqa: E402
from shared.auth import mint_token  # noqa: E402
from shared.settings import Settings  # noqa: E402

METRICS = ("users_per_ict_fte", "ict_spend_per_user", "devices_per_user")
PORT = 8797  # its own: other benches may run beside it on the same machine


# Appended to the request script: each thread counts the statuses it got; done() adds them
# up (so a non-2xx count says what it was: 429, 503 ...). Same for both runs.
STATUS_LUA = """
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) statuses = {} end
function response(status, headers, body) statuses[status] = (statuses[status] or 0) + 1 end
function done(summary, latency, requests)
  local all = {}
  for _, t in ipairs(threads) do
    for k, v in pairs(t:get("statuses")) do all[k] = (all[k] or 0) + v end
  end
  for k, v in pairs(all) do io.write(string.format("status %d: %d\\n", k, v)) end
end
"""


def statuses(output: str) -> str:
    found = sorted((int(a), int(b)) for a, b in re.findall(r"^status (\d+): (\d+)$", output, re.M))
    return ", ".join(f"{code}: {n}" for code, n in found)


def start_server(db_url: str, workers: int) -> subprocess.Popen[bytes]:
    """As bench/ops_results.py starts it, on this bench's port; refuses a port in use."""
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", PORT)) == 0:
            raise RuntimeError(f"port {PORT} is in use: another bench is running")
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "YARDSTICK_DB_POOL_SIZE": "10",
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
    for _ in range(600):
        if server.poll() is not None:
            raise RuntimeError("the metrics service exited on start")
        try:
            if httpx.get(f"http://127.0.0.1:{PORT}/readyz", timeout=1).status_code == 200:
                return server
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    stop_server(server)
    raise RuntimeError("the metrics service did not become ready")


def pairs(db_url: str, settings: Settings) -> list[tuple[str, str, str]]:
    """(results path, explanation path, bearer token) per organisation, group, metric."""
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
        metrics = {
            r[0]
            for r in conn.execute(
                text("SELECT DISTINCT metric_key FROM metric_values WHERE cycle_year = 2020")
            )
        }
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
        for group in ["all", f"type:{org_type}"] + ([f"nation:{nation}"] if nation else []):
            for metric in chosen:
                # quoted: "nation:Northern Ireland" has a space, which wrk would send raw
                q = f"organisation_id={org}&cycle=2020&peer_group={quote(group)}&metric={metric}"
                out.append(
                    (f"/api/v1/results/distribution?{q}", f"/api/v1/explain/benchmark?{q}", token)
                )
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="5 s per run (a smoke run)")
    args = parser.parse_args()
    if args.quick:
        args.duration = 5
    if shutil.which("wrk") is None:
        print("wrk is not installed: apt-get install -y wrk", file=sys.stderr)
        return 2

    from shared.db.migrate import upgrade
    from yardstick.demo.loader import load_demo

    admin = server_url()
    db_url, name = scratch_database(admin)
    scripts: list[str] = []
    try:
        upgrade(db_url)
        print(load_demo(db_url))
        settings = Settings()
        found = pairs(db_url, settings)
        base = f"http://127.0.0.1:{PORT}"
        server = start_server(db_url, args.workers)
        try:
            # Keep the pairs both endpoints answer 200 (a metric an organisation lacks is
            # still explained; a cycle it is not in is not).
            with httpx.Client(timeout=30) as client:

                def ok(path: str, token: str) -> bool:
                    auth = {"Authorization": f"Bearer {token}"}
                    return client.get(base + path, headers=auth).status_code == 200

                kept = [(r, e, t) for r, e, t in found if ok(r, t) and ok(e, t)]
            random.shuffle(kept)
            print(
                f"mix: {len(kept)} statistics answering 200 on both endpoints (of "
                f"{len(found)}): organisations x peer groups x {len(METRICS)} metrics"
            )
            for body in (
                lua_for([(r, t) for r, _e, t in kept]) + STATUS_LUA,
                lua_for([(e, t) for _r, e, t in kept]) + STATUS_LUA,
            ):
                with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
                    f.write(body)
                    scripts.append(f.name)
            results_script, explain_script = scripts
            for script in scripts:  # warm-up: connections, caches, imports
                wrk(base + "/", script, 3, args.connections, threads=2)
            load_before = os.getloadavg()
            out_results = wrk(base + "/", results_script, args.duration, args.connections)
            out_explain = wrk(base + "/", explain_script, args.duration, args.connections)
            results, explain = parse_wrk(out_results), parse_wrk(out_explain)
            load_after = os.getloadavg()
        finally:
            stop_server(server)
    finally:
        for script in scripts:
            os.unlink(script)
        drop_database(admin, name)

    def line(f: dict[str, float]) -> str:
        return (
            f"p50 {f['p50_ms']:7.1f} ms   p99 {f['p99_ms']:7.1f} ms   "
            f"{f['req_per_s']:7.0f} req/s   non-2xx {f['non_2xx']:.0f}"
        )

    ratio = explain["p99_ms"] / results["p99_ms"]
    print(
        f"\n{args.connections} connections, {args.duration} s each, metrics under uvicorn "
        f"--workers {args.workers}, {os.cpu_count()} CPU(s) shared with PostgreSQL and wrk\n"
        f"  results (distribution)  {line(results)}\n"
        f"  explanation (benchmark) {line(explain)}\n"
        f"  statuses: results {statuses(out_results)}; explanation {statuses(out_explain)}\n"
        f"  explanation p99 / results p99: x{ratio:.2f}   target <= 2: "
        f"{'met' if ratio <= 2 else 'NOT met'}\n"
        f"  load average (1, 5, 15 min) before {', '.join(f'{x:.2f}' for x in load_before)}"
        f"; after {', '.join(f'{x:.2f}' for x in load_after)}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
