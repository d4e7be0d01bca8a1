"""The OData feed paged to the end: about 1,000,000 per-ticket SLA outcomes over HTTP.

Fills ``sla_outcomes`` of a scratch database (on the server of DATABASE_URL, or the
embedded PostgreSQL when unset) with 1,100,000 rows by one ``INSERT … SELECT …
generate_series`` (tickets logged every 31 s from December 2020 to December 2021, 20
organisations), starts the metrics service under uvicorn (one worker), and reads

    GET /odata/v4/SlaTickets?$filter=logged_date ge 2021-01-01 and logged_date lt 2022-01-01

as a BI client does: page after page, following ``@odata.nextLink`` to the end, parsing
each page's JSON, with the default page size (5,000) and with ``Prefer:
odata.maxpagesize=50000``. Baseline in the same run: a plain ``COPY (SELECT <the same
columns> FROM sla_outcomes WHERE <the same months>) TO STDOUT`` of the same rows, read by
psycopg. Prints rows, seconds, rows/s, the ratio (target: the feed at least 0.5x the COPY's
rows/s) and the load average.

    .venv/bin/python bench/odata_bench.py [--rows 1100000] [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_results import drop_database, scratch_database, server_url  # noqa: E402
from shared.auth import mint_token  # noqa: E402
from shared.settings import Settings  # noqa: E402

PORT = 8793
FILTER = "logged_date ge 2021-01-01 and logged_date lt 2022-01-01"
SQL_FILTER = "logged_date >= '2021-01-01' AND logged_date < '2022-01-01'"

FILL = """
INSERT INTO sla_outcomes (
    organisation_id, source_system, reference, type, priority, request_type, team,
    closure_category, logged_at, logged_date, resolution_at, reopen_count,
    resolved_first_contact, calendar_id, target_seconds, target_share,
    policy_effective_from, is_open, on_hold, paused_seconds, elapsed_sla_seconds,
    elapsed_wall_seconds, due_at, sla_status, data_quality_reason)
SELECT 1 + i %% 20, 'sn', 'INC' || lpad(i::text, 8, '0'),
       CASE WHEN i %% 3 = 0 THEN 'request' ELSE 'incident' END, 'P' || (1 + i %% 4),
       NULL, 'Service desk ' || (i %% 7), 'Fixed', t, (t AT TIME ZONE 'Europe/London')::date,
       t + (i %% 50) * interval '1 hour', i %% 5 / 4, i %% 2 = 0, '24x7', 14400, 0.95,
       '2020-01-01', false, false, (i %% 3) * 600, (i %% 50) * 3600 - (i %% 3) * 600,
       (i %% 50) * 3600, t + interval '4 hours',
       CASE WHEN i %% 50 < 4 THEN 'met' ELSE 'missed' END, NULL
FROM (SELECT i, timestamptz '2020-12-01 00:00:00+00' + i * interval '31 seconds' AS t
      FROM generate_series(1, %(n)s) AS i) AS s
"""


def fill(db_url: str, n: int) -> float:
    import psycopg
    from sqlalchemy.engine import make_url

    from shared.db.engine import normalise_url

    conninfo = (
        make_url(normalise_url(db_url))
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )
    started = time.perf_counter()
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(FILL, {"n": n})
        conn.execute("VACUUM ANALYZE sla_outcomes")
    return time.perf_counter() - started


def server_cpu(pid: int) -> float:
    """CPU seconds (user + system) the uvicorn process has used so far."""
    import psutil

    times = psutil.Process(pid).cpu_times()
    return float(times.user + times.system)


def copy_baseline(db_url: str, columns: list[str]) -> tuple[int, int, float]:
    """Rows, bytes and seconds of a plain COPY (SELECT … WHERE …) TO STDOUT."""
    import psycopg
    from sqlalchemy.engine import make_url

    from shared.db.engine import normalise_url

    conninfo = (
        make_url(normalise_url(db_url))
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )
    sql = f"COPY (SELECT {', '.join(columns)} FROM sla_outcomes WHERE {SQL_FILTER}) TO STDOUT"
    with psycopg.connect(conninfo) as conn:
        started = time.perf_counter()
        size = rows = 0
        with conn.cursor() as cur, cur.copy(sql) as copy:
            for block in copy:
                size += len(block)
                rows += bytes(block).count(b"\n")
        return rows, size, time.perf_counter() - started


NEXT = b',"@odata.nextLink":"'
ROW = b'{"organisation_id":'


def page_through(
    base: str, headers: dict[str, str], parse: bool = True
) -> tuple[int, int, int, float]:
    """Rows, pages, bytes and seconds of reading the feed to the end: each page parsed by
    Python's json (``parse``), or only read, its rows counted and its nextLink taken from
    the page's tail (the server's throughput, as the COPY baseline reads its rows: a BI
    tool parses with its own native parser, not CPython's). In a JSON text a quote inside a
    string is escaped, so the two markers cannot occur inside a value."""
    rows = pages = size = 0
    url: str | None = f"{base}/odata/v4/SlaTickets"
    params: dict[str, str] | None = {"$filter": FILTER}
    started = time.perf_counter()
    with httpx.Client(timeout=120) as client:
        while url:
            r = client.get(url, params=params, headers=headers)
            r.raise_for_status()
            content = r.content
            size += len(content)
            pages += 1
            params = None
            if parse:
                body = json.loads(content)
                rows += len(body["value"])
                url = body.get("@odata.nextLink")
                continue
            rows += content.count(ROW)
            at = content.rfind(NEXT)
            url = json.loads(content[at + len(NEXT) - 1 : -1]) if at >= 0 else None
    return rows, pages, size, time.perf_counter() - started


def download_csv(base: str, headers: dict[str, str]) -> tuple[int, int, float]:
    """Rows, bytes and seconds of the same query as one streamed CSV ($format=csv)."""
    size = newlines = 0
    started = time.perf_counter()
    with (
        httpx.Client(timeout=300) as client,
        client.stream(
            "GET",
            f"{base}/odata/v4/SlaTickets",
            params={"$filter": FILTER, "$format": "csv"},
            headers=headers,
        ) as r,
    ):
        r.raise_for_status()
        for chunk in r.iter_bytes():
            size += len(chunk)
            newlines += chunk.count(b"\n")  # a CRLF may be split across two chunks
    return newlines - 1, size, time.perf_counter() - started  # less the header line


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_100_000)
    parser.add_argument("--quick", action="store_true", help="a small run (220,000 rows)")
    args = parser.parse_args()
    if args.quick:
        args.rows = 220_000

    from services.metrics.odata.schemas import BY_NAME
    from shared.db.migrate import upgrade

    admin = server_url()
    db_url, name = scratch_database(admin)
    server = None
    try:
        upgrade(db_url)
        print(f"sla_outcomes: {args.rows:,} rows generated in {fill(db_url, args.rows):.1f} s")
        token = mint_token(
            Settings(), subject="bench", roles=["admin"], organisations=[], ttl=timedelta(hours=1)
        )
        headers = {"Authorization": f"Bearer {token}"}
        # the public URL the feed builds its nextLinks from: this server
        env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "YARDSTICK_METRICS_PUBLIC_URL": f"http://127.0.0.1:{PORT}",
        }
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
        ready = None
        for _ in range(600):
            try:
                ready = httpx.get(base + "/readyz", timeout=1)
                if ready.status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if server.poll() is not None:
                raise SystemExit("the metrics server stopped; see its output above")
            time.sleep(0.1)
        if ready is None or ready.status_code != 200:
            raise SystemExit(f"the metrics server is not ready: {ready and ready.text}")
        columns = BY_NAME["SlaTickets"].columns
        load_before = os.getloadavg()
        copy_rows, copy_bytes, copy_s = copy_baseline(db_url, columns)
        results = {}
        cpus: dict[str, tuple[float, float]] = {}
        big = {"Prefer": "odata.maxpagesize=50000"}
        plain = {"Accept-Encoding": "identity"}
        zipped = {"Accept-Encoding": "gzip"}
        page_through(base, {**headers, **big, **plain})  # warm-up: caches, prepared plans
        for label, extra, parse in (
            ("default pages (5,000 rows), gzip, parsed by the client", zipped, True),
            ("odata.maxpagesize=50000, gzip, parsed by the client", {**big, **zipped}, True),
            ("default pages (5,000 rows), no compression, read", plain, False),
            ("odata.maxpagesize=50000, no compression, read", {**big, **plain}, False),
            ("odata.maxpagesize=50000, gzip, read", {**big, **zipped}, False),
        ):
            cpu = server_cpu(server.pid)
            client = time.process_time()
            results[label] = page_through(base, {**headers, **extra}, parse)
            cpus[label] = (server_cpu(server.pid) - cpu, time.process_time() - client)
        csv_rows, csv_bytes, csv_s = download_csv(base, {**headers, **plain})
        copy_s2 = copy_baseline(db_url, columns)[2]  # again, after the feed: the better one
        copy_s = min(copy_s, copy_s2)
        load_after = os.getloadavg()
        copy_rate = copy_rows / copy_s
        print(
            f"\nquery: $filter={FILTER} (every column, key order)\n"
            f"baseline COPY (SELECT {len(columns)} columns FROM sla_outcomes WHERE "
            f"{SQL_FILTER}) TO STDOUT:\n"
            f"  {copy_rows:,} rows  {copy_bytes / 1e6:.0f} MB  {copy_s:.2f} s  "
            f"{copy_rate:,.0f} rows/s"
        )
        for label, (rows, pages, size, seconds) in results.items():
            rate = rows / seconds
            assert rows == copy_rows, (rows, copy_rows)
            print(
                f"OData feed, {label}:\n"
                f"  {rows:,} rows  {pages} pages  {size / 1e6:.0f} MB  {seconds:.2f} s  "
                f"{rate:,.0f} rows/s  = {rate / copy_rate:.2f}x COPY "
                f"(target >= 0.5x: {'met' if rate >= 0.5 * copy_rate else 'NOT met'})\n"
                f"  CPU: uvicorn {cpus[label][0]:.2f} s, client {cpus[label][1]:.2f} s "
                f"(the rest of the wall time: PostgreSQL, and waiting for a core)"
            )
        assert csv_rows == copy_rows, (csv_rows, copy_rows)
        csv_rate = csv_rows / csv_s
        print(
            f"whole table in one call ($format=csv, streamed from a COPY), over HTTP:\n"
            f"  {csv_rows:,} rows  {csv_bytes / 1e6:.0f} MB  {csv_s:.2f} s  {csv_rate:,.0f} "
            f"rows/s  = {csv_rate / copy_rate:.2f}x COPY"
        )
        print(
            f"machine: {os.cpu_count()} CPU(s) shared by PostgreSQL, uvicorn and the client; "
            f"load average (1, 5, 15 min) before {', '.join(f'{x:.2f}' for x in load_before)}"
            f"; after {', '.join(f'{x:.2f}' for x in load_after)}"
        )
        return 0
    finally:
        if server is not None:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=30)
        drop_database(admin, name)


if __name__ == "__main__":
    raise SystemExit(main())
