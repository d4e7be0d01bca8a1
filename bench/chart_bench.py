"""A chart served over HTTP, warm, next to a plotting library drawing the same statistics.

Loads the demo data set into a scratch database on the server of DATABASE_URL (or the
embedded PostgreSQL when unset), starts the metrics service under uvicorn (one worker) and
reads, one request after another on one keep-alive connection,

    GET /api/v1/results/charts/distribution?kind=box     (the peer distribution, a box plot)
    GET /api/v1/results/charts/distribution?kind=ranked  (the same as ranked bars)

each as SVG (the chart drawn afresh for every request: access decided, the distribution
read from the results cache, the SVG written, hashed for its ETag). Baseline in the same
run: matplotlib (Agg backend, ``svg.fonttype='none'`` so text stays text, ``svg.hashsalt``
fixed so the output is repeatable) drawing the same statistics, read once from
``/api/v1/results/distribution``, to SVG in-process: ``Axes.bxp`` for the box plot,
``Axes.bar`` for the ranked bars, a figure per chart, closed after. Prints the median and
mean time per chart of both, the ratio (target: ours over HTTP at most 1.5x matplotlib
in-process), our drawing alone in-process for reference, and the load average.

    .venv/bin/python bench/chart_bench.py [--requests 300] [--quick]
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_results import (  # noqa: E402
    drop_database,
    pick_organisation,
    scratch_database,
    server_url,
)
from shared.auth import mint_token  # noqa: E402
from shared.settings import Settings  # noqa: E402

PORT = 8794
METRIC = "users_per_ict_fte"


def timed(fn: Callable[[], Any], n: int) -> list[float]:
    out = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def matplotlib_box(data: dict[str, Any]) -> Callable[[], bytes]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams["svg.fonttype"] = "none"
    plt.rcParams["svg.hashsalt"] = "yardstick"
    stats = [
        {
            "label": f"{data['peer_group']} (n={data['n']})",
            "whislo": data["min"],
            "q1": data["q1"],
            "med": data["median"],
            "q3": data["q3"],
            "whishi": data["max"],
            "fliers": [],
        }
    ]
    own = data["my_value"]

    def draw() -> bytes:
        fig, ax = plt.subplots(figsize=(6.8, 1.6))
        ax.bxp(
            stats,
            orientation="horizontal",
            patch_artist=True,
            boxprops={"facecolor": "#c8c8c8"},
            medianprops={"color": "#1a1a1a", "linewidth": 3.5},
        )
        if own is not None:
            ax.plot([own], [1], marker="D", color="#8a4b08")
            ax.annotate(str(own), (own, 1.25), ha="center")
        ax.set_title(data["metric_name"])
        buf = io.BytesIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
        plt.close(fig)
        return buf.getvalue()

    return draw


def matplotlib_ranked(data: dict[str, Any]) -> Callable[[], bytes]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    items = data["items"]
    labels = [i["peer_code"] + (" (you)" if i["is_mine"] else "") for i in items]
    values = [i["value"] for i in items]

    def draw() -> bytes:
        fig, ax = plt.subplots(figsize=(max(6.4, 0.5 * len(items)), 3.4))
        bars = ax.bar(range(len(values)), values, color="#1f4e8c")
        ax.bar_label(bars, labels=[f"{v:.2f}" for v in values], fontsize=8)
        ax.set_xticks(range(len(values)), labels, fontsize=8)
        ax.set_title(data["metric_name"])
        buf = io.BytesIO()
        fig.savefig(buf, format="svg", metadata={"Date": None})
        plt.close(fig)
        return buf.getvalue()

    return draw


def ms(xs: list[float]) -> str:
    return f"median {statistics.median(xs) * 1e3:.2f} ms, mean {statistics.fmean(xs) * 1e3:.2f} ms"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300, help="charts timed per kind")
    parser.add_argument("--quick", action="store_true", help="a small run (60 per kind)")
    args = parser.parse_args()
    n = 60 if args.quick else args.requests

    from shared.db.migrate import upgrade
    from yardstick.demo.loader import load_demo

    admin = server_url()
    db_url, name = scratch_database(admin)
    server = None
    try:
        upgrade(db_url)
        started = time.perf_counter()
        load_demo(db_url)
        print(f"demo loaded in {time.perf_counter() - started:.1f} s")
        org_id, org_type = pick_organisation(db_url)
        token = mint_token(
            Settings(),
            subject="bench",
            roles=["participant"],
            organisations=[org_id],
            ttl=timedelta(hours=1),
        )
        env = {**os.environ, "DATABASE_URL": db_url}
        server = subprocess.Popen(
            [
                sys.executable, "-m", "uvicorn", "services.metrics.main:app",
                "--host", "127.0.0.1", "--port", str(PORT), "--workers", "1",
                "--no-access-log", "--log-level", "warning",
            ],
            cwd=ROOT,
            env=env,
            start_new_session=True,
        )  # fmt: skip
        base = f"http://127.0.0.1:{PORT}"
        for _ in range(600):
            try:
                if httpx.get(base + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None:
                raise SystemExit("the metrics server stopped; see its output above")
            time.sleep(0.1)
        params = {
            "organisation_id": str(org_id),
            "cycle": "2020",
            "metric": METRIC,
            "peer_group": f"type:{org_type}",
        }
        headers = {"Authorization": f"Bearer {token}", "Accept-Encoding": "identity"}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            table = client.get("/api/v1/results/distribution", params=params)
            table.raise_for_status()
            data = {**table.json(), "peer_group": params["peer_group"]}
            if data["suppressed"]:
                raise SystemExit(f"the peer group is suppressed: {data['suppression_reason']}")
            print(
                f"chart: {data['metric_name']} 2020, peer group {params['peer_group']} "
                f"(n={data['n']}), organisation {org_id}"
            )
            load_before = os.getloadavg()
            for kind, baseline in (
                ("box", matplotlib_box(data)),
                ("ranked", matplotlib_ranked(data)),
            ):
                url = "/api/v1/results/charts/distribution"

                def ours(kind: str = kind) -> bytes:
                    r = client.get(url, params={**params, "kind": kind})
                    r.raise_for_status()
                    return r.content

                svg = ours()
                for _ in range(20):  # warm: caches, first imports, matplotlib's font cache
                    ours()
                    baseline()
                ours_s = timed(ours, n)
                theirs_s = timed(baseline, n)
                ratio = statistics.median(ours_s) / statistics.median(theirs_s)
                print(
                    f"{kind}: ours over HTTP (SVG {len(svg):,} bytes): {ms(ours_s)}\n"
                    f"{kind}: matplotlib in-process (SVG {len(baseline()):,} bytes): "
                    f"{ms(theirs_s)}\n"
                    f"{kind}: ratio {ratio:.2f}x (target <= 1.5x: "
                    f"{'met' if ratio <= 1.5 else 'NOT met'})"
                )
            in_process(data)
            load_after = os.getloadavg()
        print(
            f"machine: {os.cpu_count()} CPU(s) shared by PostgreSQL, uvicorn and the client; "
            f"{n} charts per kind; load average (1, 5, 15 min) before "
            f"{', '.join(f'{x:.2f}' for x in load_before)}; after "
            f"{', '.join(f'{x:.2f}' for x in load_after)}"
        )
        return 0
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        drop_database(admin, name)


def in_process(data: dict[str, Any]) -> None:
    """Our box plot drawn alone in this process (no HTTP, no access check), for reference."""
    from services.metrics.benchmark import pictures
    from services.metrics.benchmark.service import PeerGroup

    rows = [
        {"peer_code": i["peer_code"], "value": i["value"], "is_mine": i["is_mine"]}
        for i in data["items"]
    ]
    shaped = {**data, "rows": rows, "min": data["min"], "max": data["max"]}
    group = PeerGroup(key=data["peer_group"])
    box = timed(lambda: pictures._box("box", data["metric_name"], shaped, group), 500)
    ranked = timed(lambda: pictures._ranked("ranked", data["metric_name"], shaped), 500)
    print(f"ours in-process, drawing only: box {ms(box)}; ranked {ms(ranked)}")


if __name__ == "__main__":
    raise SystemExit(main())
