# ruff: noqa: E501
"""Growth benchmark (issue 16): ticket import and SLA recompute at 1M, 5M and 20M tickets
for the same 400 organisations; time per million rows at each size, and the ratio of the
largest size's per-million time to the smallest's (target <= 1.3x).

Each size gets its own scratch database at head (``tickets`` and ``sla_outcomes``
partitioned by organisation hash), then:

* import: the size's tickets as CSV files of ``--file-rows`` rows each (every file holds
  all the organisations, as a shared service's push does), each through the product's
  own path: a ``ticket_imports`` job with its spool file, run by
  ``services.ingest.tickets.service.process_import`` (parse in a thread, COPY into the
  stage, the upsert, two writer connections, per-batch commits);
* retention: ``yardstick retention``'s own ``prune`` with the cut-off at 1 January 2023
  (about the first of the two years the tickets span), timed per million tickets removed
  (with their outcomes), next to the import;
* recompute: every organisation's SLA outcomes recomputed and stored, through
  ``services.metrics.sla.service.recompute`` (what the worker's ``sla.recompute_requested``
  job runs), ``--orgs-per-recompute`` organisations (default 20) per transaction: the
  same number of runs at every size, so a run's fixed cost (~60 ms) is not mistaken for
  a cost of the data.

``--upsert-baseline`` also measures, at the smallest size, the import before this
change: a database at revision 0013 (plain ``tickets``) and the upsert as it was
(``RETURNING (xmax = 0)``), against the current upsert on the partitioned table; each side
imports the files, then imports them again with half the rows changed (updates and
unchanged rows); the counts and the months touched of both must be equal. "Before" is
0013's ``upsert_batch`` copied here (``RETURNING (xmax = 0)``; the touched months of a
batch that changed only some rows read back by joining the stage to ``tickets``); "after"
is the product's (``created_at = now()``; the months grouped from the rows written). The sides alternate twice and the
best time of each is kept.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/growth_bench.py
    .venv/bin/python bench/growth_bench.py --quick          # 0.2M, 1M, 2M
    .venv/bin/python bench/growth_bench.py --sizes 1,5,20 --upsert-baseline

Makes (and drops) its own scratch databases on that server.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl
import psycopg
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from services.ingest.tickets import repository as tickets_repo  # noqa: E402
from services.ingest.tickets.service import process_import  # noqa: E402
from services.metrics.sla.service import recompute  # noqa: E402
from shared.db.engine import make_engine, normalise_url, psycopg_conninfo  # noqa: E402
from shared.db.migrate import upgrade  # noqa: E402
from shared.db.retention import prune  # noqa: E402
from shared.tickets import TICKET_KEY  # noqa: E402

_VALUES = [c for c in tickets_repo.STAGE_COLUMNS if c not in TICKET_KEY]

ORGS = 400
HEADER = "organisation,ticket_ref,type,priority,request_type,team,closure_category,logged_at,resolved_at,status\n"

# The ticket upsert as it was at revision 0013 (services/ingest/tickets/repository.py
# before tickets were partitioned): RETURNING (xmax = 0), and the months touched by a
# batch that changed only some rows read back by joining the stage to tickets.
_OLD_UPSERT = f"""
WITH up AS (
    INSERT INTO tickets AS t ({", ".join(tickets_repo.STAGE_COLUMNS)}, last_import_id)
    SELECT {", ".join(tickets_repo.STAGE_COLUMNS)}, %(import_id)s FROM ticket_stage
    ON CONFLICT ({", ".join(TICKET_KEY)}) DO UPDATE SET
        {", ".join(f"{c} = EXCLUDED.{c}" for c in _VALUES)},
        last_import_id = EXCLUDED.last_import_id,
        updated_at = now()
    WHERE ({", ".join(f"t.{c}" for c in _VALUES)})
        IS DISTINCT FROM ({", ".join(f"EXCLUDED.{c}" for c in _VALUES)})
    RETURNING (xmax = 0) AS inserted
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM up
"""
_OLD_STAGED_CHANGED_MONTHS = f"""
SELECT DISTINCT t.organisation_id, to_char(t.logged_at AT TIME ZONE 'Europe/London', 'YYYY-MM')
FROM ticket_stage s JOIN tickets t USING ({", ".join(TICKET_KEY)})
WHERE t.last_import_id = %(import_id)s
"""


def _old_upsert_batch(
    session: Any, frame: pl.DataFrame, import_id: int, *, payload: bytes | None = None
) -> tuple[int, int, set[tuple[int, str]]]:
    """``upsert_batch`` as it was at revision 0013 (its batch months made in Polars)."""
    conn = tickets_repo.driver_connection(session)
    payload = payload or tickets_repo.copy_payload(frame)
    with conn.cursor() as cur:
        cur.execute(tickets_repo._CREATE_STAGE)
        with cur.copy(
            f"COPY ticket_stage ({', '.join(tickets_repo.STAGE_COLUMNS)}) FROM STDIN (FORMAT csv)"
        ) as copy:
            copy.write(payload)
        cur.execute(_OLD_UPSERT, {"import_id": import_id})
        inserted, updated = (int(n) for n in cur.fetchone() or (0, 0))
        touched: set[tuple[int, str]] = set()
        if inserted + updated == frame.height:
            pairs = frame.select(
                pl.col("organisation_id").cast(pl.Int64),
                pl.col("logged_at").dt.convert_time_zone("Europe/London").dt.strftime("%Y-%m"),
            ).unique()
            touched = {(int(o), str(m)) for o, m in pairs.iter_rows()}
        elif inserted + updated:
            cur.execute(_OLD_STAGED_CHANGED_MONTHS, {"import_id": import_id})
            touched = {(int(o), str(m)) for o, m in cur.fetchall()}
        cur.execute("TRUNCATE ticket_stage")
    return inserted, updated, touched


def make_csv(path: Path, first: int, n: int, changed: bool = False) -> None:
    """Tickets ``first`` .. ``first + n - 1``, spread over all organisations and two years
    of logged times; ``changed``: every other row's team differs."""
    i = pl.int_range(first, first + n, eager=True)
    logged = pl.lit(datetime(2022, 1, 3, 8, 0)) + pl.duration(minutes=(i * 7919) % (730 * 24 * 60))
    team = "Team " + (pl.col("i") % 7).cast(pl.Utf8)
    if changed:
        team = pl.when(pl.col("i") % 2 == 0).then("Moved " + team).otherwise(team)
    df = pl.DataFrame({"i": i}).select(
        (pl.col("i") % ORGS + 1).cast(pl.Utf8).alias("organisation"),
        ("INC" + pl.col("i").cast(pl.Utf8).str.zfill(9)).alias("ticket_ref"),
        pl.when(pl.col("i") % 3 == 0)
        .then(pl.lit("request"))
        .otherwise(pl.lit("incident"))
        .alias("type"),
        ("P" + (pl.col("i") % 5).cast(pl.Utf8)).alias("priority"),
        pl.lit(None, pl.Utf8).alias("request_type"),
        team.alias("team"),
        pl.lit("Fixed").alias("closure_category"),
        logged.dt.strftime("%d/%m/%Y %H:%M").alias("logged_at"),
        pl.when(pl.col("i") % 10 == 0)
        .then(pl.lit(None, pl.Utf8))
        .otherwise(
            (logged + pl.duration(minutes=(pl.col("i") * 37) % 9000)).dt.strftime("%d/%m/%Y %H:%M")
        )
        .alias("resolved_at"),
        pl.when(pl.col("i") % 10 == 0)
        .then(pl.lit("open"))
        .otherwise(pl.lit("resolved"))
        .alias("status"),
    )
    with path.open("w") as fh:
        fh.write(HEADER)
        df.write_csv(fh, include_header=False)


@contextmanager
def scratch(admin_url: str, revision: str = "head") -> Iterator[str]:
    admin = make_url(normalise_url(admin_url))
    name = f"ys_growth_{uuid.uuid4().hex[:8]}"
    conninfo = psycopg_conninfo(admin_url)
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url, revision)
        with psycopg.connect(psycopg_conninfo(url), autocommit=True) as conn:
            conn.execute(
                "INSERT INTO organisations (id, name, type, nation, users) "
                "SELECT o, 'Council ' || o, 'L', 'England', 100 FROM generate_series(1, %s) o",
                (ORGS,),
            )
            conn.execute(
                """
                INSERT INTO sla_policies (organisation_id, priority, target_seconds,
                                          target_share, effective_from)
                SELECT o, 'P' || p, (p + 1) * 4 * 3600, 0.95, date '2020-01-01'
                FROM generate_series(1, %s) o, generate_series(0, 4) p
                """,
                (ORGS,),
            )
        yield url
    finally:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def import_files(url: str, files: list[Path]) -> tuple[float, dict[str, int]]:
    """Each file as its own import job through ``process_import``; (seconds, counts)."""
    engine = make_engine(url, role="ingest", pool_size=4)
    counts = {"rows_inserted": 0, "rows_updated": 0, "rows_unchanged": 0, "rows_rejected": 0}
    touched: set[tuple[int, str]] = set()
    elapsed = 0.0
    try:
        for source in files:
            # The import removes its spool file when done: it gets a link to the source.
            path = source.with_suffix(".spool")
            path.unlink(missing_ok=True)
            os.link(source, path)
            with Session(engine) as session:
                job = tickets_repo.insert_import(
                    session,
                    {
                        "organisation_id": None,
                        "allowed_organisations": None,
                        "source_system": "sn",
                        "profile": "yardstick",
                        "file_format": "csv",
                        "bytes_received": path.stat().st_size,
                        "spool_path": str(path),
                        "created_by": "growth-bench",
                    },
                )
                session.commit()
            started = time.perf_counter()
            result = process_import(engine, int(job["id"]))
            elapsed += time.perf_counter() - started
            if result.get("status") != "done":
                raise SystemExit(f"import of {source.name} ended {result}")
            with Session(engine) as session:
                stored = tickets_repo.get_import(session, int(job["id"]))
            assert stored is not None
            for k in counts:
                counts[k] += int(stored[k])
            for org, months in (stored["touched_months"] or {}).items():
                touched.update((int(org), m) for m in months)
    finally:
        engine.dispose()
    counts["touched_months"] = len(touched)
    return elapsed, counts


def recompute_all(url: str, per_run: int) -> tuple[float, int]:
    """Every organisation's outcomes, ``per_run`` organisations per transaction (a
    recompute's fixed cost, ~60 ms, is paid per run); (seconds, rows)."""
    engine = make_engine(url, role="metrics", pool_size=1)
    as_of = datetime(2024, 6, 1, tzinfo=UTC)
    total = 0
    try:
        started = time.perf_counter()
        for first in range(1, ORGS + 1, per_run):
            orgs = list(range(first, min(first + per_run, ORGS + 1)))
            with Session(engine) as session:
                total += recompute(session, organisation_ids=orgs, as_of=as_of)
                session.commit()
        return time.perf_counter() - started, total
    finally:
        engine.dispose()


def retention(url: str) -> tuple[float, int, int]:
    """``yardstick retention`` with a cut-off of 1 January 2023 (a year of the two the
    tickets span); (seconds, tickets removed, outcomes removed)."""
    ingest = make_engine(url, role="ingest", pool_size=1)
    metrics = make_engine(url, role="metrics", pool_size=1)
    try:
        started = time.perf_counter()
        result = prune(ingest, metrics, 1, now=datetime(2023, 2, 15, tzinfo=UTC))
        return time.perf_counter() - started, result.total("tickets"), result.total("sla_outcomes")
    finally:
        ingest.dispose()
        metrics.dispose()


def spool(folder: Path, rows: int, file_rows: int, changed: bool = False) -> list[Path]:
    files = []
    for k, first in enumerate(range(0, rows, file_rows)):
        path = folder / f"{'c' if changed else 't'}{rows}_{k:03d}.csv"
        if not path.exists():
            make_csv(path, first, min(file_rows, rows - first), changed)
        files.append(path)
    return files


def per_million(seconds: float, rows: int) -> float:
    return seconds / (rows / 1_000_000)


def upsert_baseline(admin_url: str, folder: Path, rows: int, file_rows: int) -> None:
    files = spool(folder, rows, file_rows)
    again = spool(folder, rows, file_rows, changed=True)
    sides = (
        ("before: 0013's plain tickets and upsert", "0013", _old_upsert_batch),
        ("after: partitioned tickets, this upsert", "head", tickets_repo.upsert_batch),
    )
    results: dict[str, Any] = {}
    for _round in range(2):  # alternated, best of two each: neither side runs cold only
        for label, revision, upsert in sides:
            current = tickets_repo.upsert_batch
            tickets_repo.upsert_batch = upsert  # type: ignore[assignment]
            try:
                with scratch(admin_url, revision) as url:
                    first = import_files(url, files)
                    second = import_files(url, again)
            finally:
                tickets_repo.upsert_batch = current  # type: ignore[assignment]
            best = results.get(label)
            if best is not None:
                first = min(first, best[0], key=lambda r: r[0])
                second = min(second, best[1], key=lambda r: r[0])
            results[label] = (first, second)
    for label, (first, second) in results.items():
        print(
            f"  {label:50s} first push {first[0]:7.2f} s ({rows / first[0]:9,.0f} rows/s)"
            f"  second push {second[0]:7.2f} s ({rows / second[0]:9,.0f} rows/s)",
            flush=True,
        )
        print(f"    counts: {first[1]} then {second[1]}", flush=True)
    (b1, b2), (a1, a2) = results.values()
    assert (b1[1], b2[1]) == (a1[1], a2[1]), "the two upserts counted differently"
    print(
        f"  after / before: first push {a1[0] / b1[0]:.2f}x, second push {a2[0] / b2[0]:.2f}x, "
        f"both {(a1[0] + a2[0]) / (b1[0] + b2[0]):.2f}x (same counts)",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--sizes", default="1,5,20", help="sizes in millions of tickets, comma-separated"
    )
    parser.add_argument("--quick", action="store_true", help="sizes 0.2,1,2")
    parser.add_argument("--file-rows", type=int, default=500_000, help="rows per imported file")
    parser.add_argument(
        "--orgs-per-recompute", type=int, default=20, help="organisations per recompute transaction"
    )
    parser.add_argument(
        "--upsert-baseline",
        action="store_true",
        help="also compare the upsert before/after (at the smallest size)",
    )
    args = parser.parse_args()
    sizes = [0.2, 1.0, 2.0] if args.quick else [float(s) for s in args.sizes.split(",")]
    admin_url = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    print(
        f"growth bench: {ORGS} organisations, files of {args.file_rows:,} rows, sizes {sizes} M",
        flush=True,
    )
    print(f"load: {os.getloadavg()}", flush=True)
    rows_of = [int(s * 1_000_000) for s in sizes]
    table: list[tuple[int, float, float, int]] = []
    with tempfile.TemporaryDirectory(prefix="ys_growth_") as tmp:
        folder = Path(tmp)
        if args.upsert_baseline:
            print(f"upsert before/after at {rows_of[0]:,} tickets:", flush=True)
            upsert_baseline(admin_url, folder, rows_of[0], args.file_rows)
        for rows in rows_of:
            files = spool(folder, rows, args.file_rows)
            with scratch(admin_url) as url:
                seconds, counts = import_files(url, files)
                assert counts["rows_inserted"] == rows and counts["rows_rejected"] == 0, counts
                with psycopg.connect(psycopg_conninfo(url), autocommit=True) as conn:
                    conn.execute("VACUUM ANALYZE tickets")
                r_seconds, outcomes = recompute_all(url, args.orgs_per_recompute)
                assert outcomes == rows, (outcomes, rows)
                p_seconds, p_tickets, p_outcomes = retention(url)
                assert p_tickets == p_outcomes > 0, (p_tickets, p_outcomes)
            table.append((rows, seconds, r_seconds, outcomes))
            print(
                f"  {rows:>11,} tickets: import {seconds:8.2f} s = {per_million(seconds, rows):6.2f} s/M"
                f" | recompute {r_seconds:8.2f} s = {per_million(r_seconds, rows):6.2f} s/M"
                f" | retention: {p_tickets:,} tickets + outcomes removed in {p_seconds:.2f} s"
                f" = {per_million(p_seconds, p_tickets):6.2f} s/M removed",
                flush=True,
            )
            for path in files:
                path.unlink()
    base, top = table[0], table[-1]
    imp = per_million(top[1], top[0]) / per_million(base[1], base[0])
    rec = per_million(top[2], top[0]) / per_million(base[2], base[0])
    print(
        f"per-million time, {top[0]:,} vs {base[0]:,} tickets: import {imp:.2f}x, recompute {rec:.2f}x "
        f"(target <= 1.3x)"
    )
    print(f"load: {os.getloadavg()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
