# ruff: noqa: E501
"""Ticket push benchmark: 1,000,000 rows through the HTTP endpoint (a real uvicorn
process, processing until the job is done) next to a plain psycopg COPY + upsert of the
same file, and next to the SQLAlchemy ORM ``add_all`` path on a 100,000-row slice.

Same work on each side of a comparison:

* The COPY baseline upserts into ``bench_tickets``, made with the same definition as
  ``tickets``: ``LIKE tickets INCLUDING ALL`` (columns, defaults, checks, indexes) plus the
  foreign key to ``organisations`` that ``LIKE`` does not copy. Without it the baseline
  skips the per-row FK check the real table makes (about a fifth of the upsert).
* The ORM path is the one a developer would write: a class mapped onto the real
  ``tickets`` table (``shared.db.tables``), ``csv.DictReader`` + ``strptime`` for the
  slice, ``session.add_all(objects)`` and one commit. Its rows go into ``tickets`` under
  their own ``source_system`` so they never collide with the pushed rows. SQLAlchemy's
  defaults apply: batched ``insertmanyvalues`` INSERTs that also return the server
  defaults (created_at, updated_at, flags) into the objects, as ``add_all`` does for any
  table with server defaults.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/bench_ingest.py

Makes (and drops) its own scratch database on that server.
"""

from __future__ import annotations

import csv
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import datetime
from pathlib import Path

import httpx
import polars as pl
import psutil
import psycopg
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from shared.auth import mint_token  # noqa: E402
from shared.db.engine import normalise_url, psycopg_conninfo  # noqa: E402
from shared.db.migrate import upgrade  # noqa: E402
from shared.db.tables.ingest_tickets import tickets  # noqa: E402
from shared.settings import Settings  # noqa: E402

N = int(os.environ.get("BENCH_ROWS", "1000000"))
ORM_N = min(N, 100_000)
HEADER = [
    "ticket_ref", "type", "priority", "request_type", "team", "closure_category",
    "logged_at", "resolved_at", "status",
]  # fmt: skip


def make_csv(path: Path, n: int) -> None:
    base = datetime(2021, 1, 4, 8, 0)
    i = pl.int_range(0, n, eager=True)
    logged = pl.lit(base) + pl.duration(minutes=i * 7 % (365 * 24 * 60))
    df = pl.DataFrame({"i": i}).select(
        ("INC" + pl.col("i").cast(pl.Utf8).str.zfill(8)).alias("ticket_ref"),
        pl.when(pl.col("i") % 3 == 0)
        .then(pl.lit("request"))
        .otherwise(pl.lit("incident"))
        .alias("type"),
        ("P" + (pl.col("i") % 5).cast(pl.Utf8)).alias("priority"),
        pl.lit(None, pl.Utf8).alias("request_type"),
        ("Team " + (pl.col("i") % 7).cast(pl.Utf8)).alias("team"),
        pl.lit("Fixed").alias("closure_category"),
        logged.dt.strftime("%d/%m/%Y %H:%M").alias("logged_at"),
        (logged + pl.duration(minutes=(pl.col("i") * 37) % 5000))
        .dt.strftime("%d/%m/%Y %H:%M")
        .alias("resolved_at"),
        pl.lit("resolved").alias("status"),
    )
    df.write_csv(path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def conninfo(url: str) -> str:
    return psycopg_conninfo(url)


def peak_rss(pid: int, stop: threading.Event, out: list[int]) -> None:
    proc = psutil.Process(pid)
    peak = 0
    while not stop.is_set():
        try:
            rss = proc.memory_info().rss + sum(c.memory_info().rss for c in proc.children(True))
        except psutil.Error:
            break
        peak = max(peak, rss)
        time.sleep(0.05)
    out.append(peak)


def via_http(url: str, path: Path, org: int, data_dir: Path) -> tuple[float, int, dict]:
    from shared.db.engine import make_engine
    from shared.db.tables.ingest import ingest_outbox
    from shared.http import ServiceClient
    from shared.outbox import OutboxWorker

    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "YARDSTICK_DATA_DIR": str(data_dir),
        "YARDSTICK_INGEST_URL": f"http://127.0.0.1:{port}",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "services.ingest.main:app",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    settings = Settings(
        database_url=url,
        ingest_url=f"http://127.0.0.1:{port}",
        outbox_backoff_base_seconds=0.2,
        outbox_backoff_cap_seconds=1.0,
    )
    engine = make_engine(url, role="ingest", pool_size=2)
    worker = OutboxWorker(
        settings, [(ingest_outbox, engine)], ServiceClient(settings, "worker", timeout=3600.0)
    )
    try:
        for _ in range(200):
            try:
                if httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        stop, peak = threading.Event(), []
        watcher = threading.Thread(target=peak_rss, args=(server.pid, stop, peak))
        watcher.start()
        token = mint_token(settings, subject="bench", roles=["admin"], organisations=[org])
        headers = {"Authorization": f"Bearer {token}"}
        t0 = time.perf_counter()

        def chunks():
            with path.open("rb") as fh:
                while block := fh.read(1 << 20):
                    yield block

        r = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/ticket-imports",
            params={"organisation_id": org, "profile": "yardstick", "source_system": "bench"},
            content=chunks(),
            headers=headers,
            timeout=3600,
        )
        assert r.status_code == 202, r.text
        print(f"  upload accepted (202) after {time.perf_counter() - t0:.1f} s", flush=True)
        location = r.headers["location"]
        deliver = threading.Thread(target=worker.run_once)
        deliver.start()
        while True:
            job = httpx.get(location, headers=headers).json()
            if job["status"] in ("done", "failed"):
                break
            time.sleep(0.2)
        elapsed = time.perf_counter() - t0
        started, finished = (datetime.fromisoformat(job[k]) for k in ("started_at", "finished_at"))
        print(
            f"  processing (the job's started_at to finished_at): "
            f"{(finished - started).total_seconds():.1f} s",
            flush=True,
        )
        deliver.join()
        stop.set()
        watcher.join()
        return elapsed, peak[0], job
    finally:
        worker.client.close()
        engine.dispose()
        server.terminate()
        server.wait()


def via_copy(url: str, path: Path, org: int) -> float:
    with psycopg.connect(conninfo(url)) as conn:
        # Same definition as the real table: LIKE … INCLUDING ALL copies columns,
        # defaults, checks and indexes but not foreign keys, so add tickets' FK too.
        conn.execute("CREATE TABLE bench_tickets (LIKE tickets INCLUDING ALL)")
        conn.execute(
            "ALTER TABLE bench_tickets ADD FOREIGN KEY (organisation_id) "
            "REFERENCES organisations (id) ON DELETE CASCADE"
        )
        conn.commit()
        t0 = time.perf_counter()
        conn.execute("SET datestyle = 'ISO, DMY'")
        conn.execute(
            "CREATE TEMP TABLE stage (ticket_ref text, type text, priority text, request_type text, "
            "team text, closure_category text, logged_at timestamp, resolved_at timestamp, status text)"
        )
        with conn.cursor() as cur:
            with (
                cur.copy("COPY stage FROM STDIN (FORMAT csv, HEADER true)") as copy,
                path.open("rb") as fh,
            ):
                while block := fh.read(1 << 20):
                    copy.write(block)
            cur.execute(
                "INSERT INTO bench_tickets AS t (organisation_id, source_system, reference, type, priority, "
                "request_type, team, closure_category, logged_at, resolved_at, status) "
                "SELECT %s, 'bench', ticket_ref, type, priority, request_type, team, closure_category, "
                "logged_at AT TIME ZONE 'Europe/London', resolved_at AT TIME ZONE 'Europe/London', status "
                "FROM stage ON CONFLICT (organisation_id, source_system, reference) DO UPDATE SET "
                "type = EXCLUDED.type, priority = EXCLUDED.priority, team = EXCLUDED.team, "
                "logged_at = EXCLUDED.logged_at, resolved_at = EXCLUDED.resolved_at, updated_at = now() "
                "WHERE (t.type, t.priority, t.team, t.logged_at, t.resolved_at) IS DISTINCT FROM "
                "(EXCLUDED.type, EXCLUDED.priority, EXCLUDED.team, EXCLUDED.logged_at, EXCLUDED.resolved_at)",
                (org,),
            )
        conn.commit()
        return time.perf_counter() - t0


class Base(DeclarativeBase):
    pass


class OrmTicket(Base):
    """The real ``tickets`` table, mapped the usual declarative way."""

    __table__ = tickets


def via_orm(url: str, path: Path, org: int, n: int) -> float:
    from zoneinfo import ZoneInfo

    london = ZoneInfo("Europe/London")
    engine = create_engine(normalise_url(url))
    t0 = time.perf_counter()
    with Session(engine) as session, path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        objs = []
        for k, row in enumerate(reader):
            if k >= n:
                break
            objs.append(
                OrmTicket(
                    organisation_id=org,
                    source_system="bench-orm",
                    reference=row["ticket_ref"],
                    type=row["type"],
                    priority=row["priority"],
                    team=row["team"],
                    closure_category=row["closure_category"],
                    logged_at=datetime.strptime(row["logged_at"], "%d/%m/%Y %H:%M").replace(
                        tzinfo=london
                    ),
                    resolved_at=datetime.strptime(row["resolved_at"], "%d/%m/%Y %H:%M").replace(
                        tzinfo=london
                    ),
                    status=row["status"],
                )
            )
        session.add_all(objs)
        session.commit()
    engine.dispose()
    return time.perf_counter() - t0


def main() -> None:
    if os.environ.get("DATABASE_URL"):
        admin = os.environ["DATABASE_URL"]
    else:  # like the rest of Yardstick: the embedded PostgreSQL when no DATABASE_URL
        from shared import embedded
        from shared.settings import Settings

        admin = embedded.start(Settings(), name="pgdata-bench")
    name = f"ys_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(conninfo(admin), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(normalise_url(admin)).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        with psycopg.connect(conninfo(url)) as conn:
            org = conn.execute(
                "INSERT INTO organisations (name, type, nation, users) "
                "VALUES ('Bench Council', 'L', 'England', 1000) RETURNING id"
            ).fetchone()[0]
            conn.commit()
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "tickets.csv"
            t = time.perf_counter()
            make_csv(path, N)
            print(
                f"generated {N:,} rows ({path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t:.1f} s"
            )
            http_s, peak, job = via_http(url, path, org, Path(tmp) / "data")
            p = job["progress"]
            print(
                f"HTTP push (upload + processing until done): {http_s:.1f} s, "
                f"{N / http_s:,.0f} rows/s, server peak RSS {peak / 2**20:.0f} MiB; "
                f"status {job['status']}, accepted {p['rows_accepted']:,}, inserted {p['rows_inserted']:,}"
            )
            copy_s = via_copy(url, path, org)
            print(
                f"plain COPY + upsert:                        {copy_s:.1f} s, {N / copy_s:,.0f} rows/s "
                "(into a table defined like tickets: same columns, checks, indexes and FK)"
            )
            orm_s = via_orm(url, path, org, ORM_N)
            print(
                f"ORM add_all ({ORM_N:,} rows):               {orm_s:.1f} s, {ORM_N / orm_s:,.0f} rows/s"
            )
            print(f"ratio HTTP / COPY+upsert time: {http_s / copy_s:.2f}x (target <= 1.5x)")
            per_row_http = http_s / N
            per_row_orm = orm_s / ORM_N
            per_row_copy = copy_s / N
            orm_vs_http = per_row_orm / per_row_http
            orm_vs_copy = per_row_orm / per_row_copy
            print(f"ORM per-row time / HTTP per-row time: {orm_vs_http:.1f}x (target >= 20x)")
            print(
                f"ORM per-row time / COPY+upsert per-row time: {orm_vs_copy:.1f}x "
                "(the same ratio for the plain COPY baseline itself)"
            )
            if orm_vs_copy < 20:
                print(
                    "NOTE: even the plain COPY + upsert baseline is under 20x the ORM path on "
                    "this machine, so the 20x target cannot be met by any HTTP path that is "
                    "no faster than that baseline."
                )
    finally:
        with psycopg.connect(conninfo(admin), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
