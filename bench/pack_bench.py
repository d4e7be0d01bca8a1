"""A full committee pack as JSON, HTML and PDF, each next to its floor (issue #11).

Loads a shared service with three partner councils into a scratch database on the server
of DATABASE_URL (or the embedded PostgreSQL when unset): 100,000 tickets (P1 over the 13
months to June 2024, P2-P4 over April-June 2024; about 3 % still open, a fifth rated),
SLA outcomes computed by the metrics service's own recompute, 60 budget lines with
printed totals, 20 risks assessed twice, a cost table, security incidents and commentary.
Then times, in one run, with the metrics app served in-process (ASGI, no network):

    JSON  GET /api/v1/committee-packs/draft?format=json through HTTP (computed live,
          serialised, sent)
          floor: the figures computed alone (service.compute in a session)   target <= 1.2x
    HTML  the HTML answer from ready figures, as the endpoint makes it (charts drawn,
          template filled, security headers and policy)
          floor: the template filled from ready figures (charts already drawn) <= 1.5x
    PDF   the PDF answer from ready figures, as the endpoint makes it
          floor: the renderer alone turning the finished HTML file into a PDF <= 1.3x

For HTML and PDF it also prints what the same answers cost through HTTP (a version in
review, rendered on read; an issued version, served as stored).

Each is the median of --runs runs (HTML: --html-runs, it takes milliseconds) after a
warm-up, the measured path and its floor taking turns so that load on the machine falls
on both. Every run is timed twice: wall time (time.perf_counter) and this process's CPU
time (time.process_time), which other processes' load on a shared machine does not
inflate. Prints both times and both ratios, what of the HTML's time over its floor is the
charts being drawn, and the load average before and after.

    .venv/bin/python bench/pack_bench.py [--runs 5] [--html-runs 200] [--tickets 100000]
                                         [--keep]
    .venv/bin/python bench/pack_bench.py --quick     # 10,000 tickets, fewer runs

(The JSON's CPU time is this process's only: PostgreSQL's share of it runs elsewhere.)
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from shared.auth import mint_token  # noqa: E402
from shared.db.engine import normalise_url  # noqa: E402
from shared.settings import Settings  # noqa: E402

LONDON = ZoneInfo("Europe/London")
HOURS = {str(d): [["08:00", "18:00"]] for d in range(5)}
POLICIES = (  # priority, target seconds, working days, share
    ("P1", 4 * 3600, None, "0.95"),
    ("P2", 8 * 3600, None, "0.95"),
    ("P3", None, "2", "0.80"),
    ("P4", None, "5", "0.80"),
)
GROUPS = (("expenditure", 25), ("staffing", 20), ("contingency", 10), ("projects", 5))
SECTIONS = ("financial", "resourcing", "loss_of_service", "supportability", "partnership")


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


# ------------------------------------------------------------------------------ data


def _instant(rng: random.Random, first: datetime, last: datetime) -> datetime:
    """A moment in working hours (Mon-Fri 08-18 London) between first and last."""
    span = int((last - first).total_seconds())
    while True:
        t = (first + timedelta(seconds=rng.randrange(span))).astimezone(LONDON)
        if t.weekday() < 5 and 8 <= t.hour < 18:
            return t


def tickets_csv(orgs: list[int], n: int, seed: int = 11) -> bytes:
    """``n`` tickets: a tenth P1 over the 13 months, the rest P2-P4 over the quarter."""
    rng = random.Random(seed)
    history = datetime(2023, 6, 1, tzinfo=LONDON)
    quarter = datetime(2024, 4, 1, tzinfo=LONDON)
    end = datetime(2024, 6, 30, 18, tzinfo=LONDON)
    mean_hours = {"P1": 3.0, "P2": 6.0, "P3": 14.0, "P4": 40.0}
    out = io.StringIO()
    for i in range(n):
        priority = "P1" if i % 10 == 0 else ("P2", "P3", "P4")[i % 3]
        logged = _instant(rng, history if priority == "P1" else quarter, end)
        open_ = rng.random() < 0.03
        resolved = (
            ""
            if open_
            else (logged + timedelta(hours=rng.expovariate(1 / mean_hours[priority]))).isoformat()
        )
        rating = str(rng.randint(0, 10)) if rng.random() < 0.2 else ""
        reopen = "1" if rng.random() < 0.02 else "0"
        kind = "request" if priority == "P4" else "incident"
        out.write(
            f"{orgs[i % len(orgs)]}\tsn\tT{i}\t{kind}\t{priority}\tDesk\t"
            f"{logged.isoformat()}\t{resolved or chr(92) + 'N'}\t"
            f"{'open' if open_ else 'resolved'}\t{reopen}\t{rating or chr(92) + 'N'}\n"
        )
    return out.getvalue().encode()


def load(db_url: str, n_tickets: int) -> list[int]:
    """The data set; returns the shared service's id and its partners'."""
    import psycopg

    from shared.db.engine import psycopg_conninfo

    with psycopg.connect(psycopg_conninfo(db_url)) as conn, conn.cursor() as cur:

        def org(name: str) -> int:
            cur.execute(
                "INSERT INTO organisations (name, type, nation, partnership, users) "
                "VALUES (%s, 'O', 'England', %s, 3000) RETURNING id",
                (name, name.startswith("Shared")),
            )
            return int(cur.fetchone()[0])  # type: ignore[index]

        svc = org("Shared ICT Service")
        partners = [org(n) for n in ("Brent", "Lewisham", "Southwark")]
        for i, p in enumerate(partners):
            cur.execute(
                "INSERT INTO organisation_partners (shared_service_id, partner_id, position) "
                "VALUES (%s, %s, %s)",
                (svc, p, i),
            )
        for o in [svc, *partners]:
            cur.execute(
                "INSERT INTO business_calendars (organisation_id, name, nation, hours) "
                "VALUES (%s, 'Office', 'GB-ENG', %s) RETURNING id",
                (o, json.dumps(HOURS)),
            )
            cal = cur.fetchone()[0]  # type: ignore[index]
            for p, secs, days, share in POLICIES:
                cur.execute(
                    "INSERT INTO sla_policies (organisation_id, priority, target_seconds, "
                    "target_working_days, calendar_id, target_share, effective_from) "
                    "VALUES (%s, %s, %s, %s, %s, %s, '2020-01-01')",
                    (o, p, secs, days, cal, share),
                )
        with cur.copy(
            "COPY tickets (organisation_id, source_system, reference, type, priority, team, "
            "logged_at, resolved_at, status, reopen_count, nps_rating) FROM STDIN"
        ) as copy:
            copy.write(tickets_csv(partners, n_tickets))
        rng = random.Random(5)
        cur.execute(
            "INSERT INTO finance_reports (service_id, financial_year, period, source, "
            "created_by) VALUES (%s, 2024, 3, 'api', 'bench') RETURNING id",
            (svc,),
        )
        report = cur.fetchone()[0]  # type: ignore[index]
        position = 0
        for group, count in GROUPS:
            sums = [0, 0, 0]
            for k in range(count):
                position += 1
                budget = rng.randrange(0, 500_000) * 100
                forecast = budget + rng.randrange(-20_000, 20_000) * 100
                months = [rng.randrange(0, budget // 12 + 100) for _ in range(3)]
                actuals = sum(months)
                cur.execute(
                    "INSERT INTO finance_lines (report_id, position, group_key, line, "
                    "budget_pence, forecast_pence, actuals_pence, printed_variance_pence, "
                    "printed_remaining_pence, period_actuals_pence) VALUES "
                    "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    (
                        report,
                        position,
                        group,
                        f"{group.upper()} LINE {k + 1}",
                        budget,
                        forecast,
                        actuals,
                        forecast - budget,
                        budget - actuals,
                        months,
                    ),
                )
                sums = [sums[0] + budget, sums[1] + forecast, sums[2] + actuals]
            cur.execute(
                "INSERT INTO finance_printed_totals (report_id, group_key, budget_pence, "
                "forecast_pence, actuals_pence) VALUES (%s, %s, %s, %s, %s)",
                (report, group, sums[0], sums[1] + 4_000, sums[2]),
            )
        categories = ["Courier", "Equipment", "Mobile telephony", "Licences", "Staff", "Printing"]
        cur.execute(
            "INSERT INTO cost_tables (service_id, financial_year, period, title, columns, "
            "categories, created_by) VALUES (%s, 2024, 3, 'Covid-19 costs', %s, %s, 'bench') "
            "RETURNING id",
            (svc, ["P1", "P2", "P3"], categories),  # categories: in the order imported
        )
        table = cur.fetchone()[0]  # type: ignore[index]
        for p in partners:
            for category in categories:
                for col in range(3):
                    cur.execute(
                        "INSERT INTO cost_table_cells (table_id, organisation_id, category, "
                        "column_index, amount_pence) VALUES (%s, %s, %s, %s, %s)",
                        (table, p, category, col, rng.randrange(0, 5_000_000)),
                    )
        for r in range(20):
            cur.execute(
                "INSERT INTO risks (service_id, reference, section, title, cause, event, "
                "consequence, owner) VALUES (%s, %s, %s, %s, 'A cause', 'An event', "
                "'A consequence', 'Head of Service') RETURNING id",
                (svc, f"R{r + 1}", SECTIONS[r % 5], f"Risk number {r + 1}"),
            )
            risk = cur.fetchone()[0]  # type: ignore[index]
            for period in (1, 3):
                impact, probability = rng.randint(1, 5), rng.randint(1, 5)
                cur.execute(
                    "INSERT INTO risk_assessments (risk_id, financial_year, period, impact, "
                    "probability, imported_priority, developments, actions) VALUES "
                    "(%s, 2024, %s, %s, %s, %s, 'Reviewed at the board', 'Monitor monthly')",
                    (
                        risk,
                        period,
                        impact,
                        probability,
                        impact * probability + (1 if r == 7 else 0),
                    ),
                )
        for i in range(10):
            cur.execute(
                "INSERT INTO security_incidents (service_id, reference, title, opened_on, "
                "severity, os, assets_affected, status) VALUES (%s, %s, %s, %s, %s, "
                "'Windows 11', '3 laptops', 'closed')",
                (
                    svc,
                    f"SI-{i}",
                    f"Incident {i}",
                    f"2024-0{4 + i % 3}-1{i}",
                    ("low", "medium", "high", "critical")[i % 4],
                ),
            )
        for section, measure in (("kpi", ""), ("sla", "sla.P1"), ("finance", "")):
            cur.execute(
                "INSERT INTO pack_commentary (service_id, financial_year, period, section, "
                "measure, body, author) VALUES (%s, 2024, 3, %s, %s, %s, 'Head of Service')",
                (svc, section, measure, "The service's own words on this section."),
            )
        conn.commit()
    return [svc, *partners]


def recompute_outcomes(db_url: str, orgs: list[int]) -> None:
    from sqlalchemy.orm import Session

    from services.metrics.sla.service import recompute
    from shared.db.engine import make_engine

    engine = make_engine(db_url, pool_size=1)
    with Session(engine) as session:
        recompute(session, organisation_ids=orgs, as_of=datetime.now(UTC))
        session.commit()
    engine.dispose()


# ---------------------------------------------------------------------------- timing


@dataclass(frozen=True)
class Times:
    """Medians of one path's runs: wall time and this process's CPU time, in seconds."""

    wall: float
    cpu: float


def _run(fn: Callable[[], Any], walls: list[float], cpus: list[float]) -> None:
    w0, c0 = time.perf_counter(), time.process_time()
    fn()
    c1, w1 = time.process_time(), time.perf_counter()
    walls.append(w1 - w0)
    cpus.append(c1 - c0)


def median_runs(fns: list[Callable[[], Any]], runs: int) -> list[Times]:
    """Every path warmed up, then all run in turns ``runs`` times each."""
    for fn in fns:
        fn()
    samples: list[tuple[list[float], list[float]]] = [([], []) for _ in fns]
    for _ in range(runs):
        for fn, (walls, cpus) in zip(fns, samples, strict=True):
            _run(fn, walls, cpus)
    return [Times(statistics.median(w), statistics.median(c)) for w, c in samples]


def median_pair(
    measured: Callable[[], Any], floor: Callable[[], Any], runs: int
) -> tuple[Times, Times]:
    """Both paths warmed up, then run in turns ``runs`` times each."""
    a, b = median_runs([measured, floor], runs)
    return a, b


def timed(fn: Callable[[], Any], runs: int) -> Times:
    walls: list[float] = []
    cpus: list[float] = []
    for _ in range(runs):
        _run(fn, walls, cpus)
    return Times(statistics.median(walls), statistics.median(cpus))


def ms(t: Times) -> str:
    return f"{t.wall * 1000:8.1f} ms wall {t.cpu * 1000:8.1f} ms CPU"


def report(name: str, measured: Times, floor: Times, what: str, target: float) -> None:
    def verdict(ratio: float) -> str:
        return f"{ratio:5.2f}x ({'met' if ratio <= target else 'NOT met'})"

    print(
        f"{name:<5} {ms(measured)}\n"
        f"      floor ({what}) {ms(floor)}\n"
        f"      ratio wall {verdict(measured.wall / floor.wall)}   "
        f"CPU {verdict(measured.cpu / floor.cpu)}   target <= {target}x"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5, help="runs of JSON and PDF")
    parser.add_argument("--html-runs", type=int, default=200, help="runs of the HTML")
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--keep", action="store_true", help="keep the scratch database")
    parser.add_argument(
        "--quick", action="store_true", help="a small run: 10,000 tickets, 3 and 60 runs"
    )
    args = parser.parse_args()
    if args.quick:
        args.tickets, args.runs, args.html_runs = 10_000, 3, 60

    import pikepdf
    from fastapi.testclient import TestClient

    from services.metrics.main import build
    from services.metrics.packs import render, service
    from services.metrics.packs.router import pack_response
    from shared.db.migrate import upgrade

    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    admin_url = server_url()
    db_url, name = scratch_database(admin_url)
    try:
        t0 = time.perf_counter()
        upgrade(db_url)
        orgs = load(db_url, args.tickets)
        svc = orgs[0]
        recompute_outcomes(db_url, orgs)
        print(
            f"loaded {args.tickets:,} tickets, 60 budget lines, 20 risks and their outcomes "
            f"in {time.perf_counter() - t0:.1f} s"
        )
        settings = Settings(
            database_url=db_url, metrics_jobs_in_background=False, log_level="WARNING"
        )
        app = build(settings=settings, database_url=db_url)
        token = mint_token(
            settings, subject="bench", roles=["admin"], organisations=[], ttl=timedelta(hours=1)
        )
        auth = {"Authorization": f"Bearer {token}"}
        query = {"service_id": svc, "financial_year": 2024, "period": 3}
        with TestClient(app) as client:

            def get(path: str, **params: Any) -> bytes:
                response = client.get(path, params=params, headers=auth)
                assert response.status_code == 200, response.text[:500]
                return response.content

            def figures_alone() -> None:
                with app.state.sessionmaker() as session:
                    service.compute(session, settings, svc, 2024, 3)

            body = get("/api/v1/committee-packs/draft", **query)
            pack = json.loads(body)
            print(
                f"pack: {len(body):,} bytes of JSON; {len(pack['sla'])} SLA tables "
                f"({sum(m['total'] for t in pack['sla'] for m in t['months']):,} tickets "
                f"resolved in them), {sum(len(g['lines']) for g in pack['outturn']['groups'])} "
                f"budget lines, {sum(len(s['risks']) for s in pack['risks'])} risks, "
                f"{len(pack['checks'])} checks"
            )
            json_t, floor_t = median_pair(
                lambda: get("/api/v1/committee-packs/draft", **query), figures_alone, args.runs
            )
            report("JSON", json_t, floor_t, "figures computed alone", 1.2)

            created = client.post("/api/v1/committee-packs", json=query, headers=auth)
            assert created.status_code == 201, created.text
            path = created.headers["location"]
            frozen = service.stored_pack({"figures": json.loads(get(path))})
            ready = render.context(frozen)  # the figures ready, the charts drawn
            template = render._TEMPLATE
            many = args.html_runs
            # The charts (the context alone) taking the same turns, so the split is of one
            # set of conditions.
            html_t, fill_t, charts_t = median_runs(
                [
                    lambda: pack_response(frozen, "html"),
                    lambda: template.render(**ready),
                    lambda: render.context(frozen),
                ],
                many,
            )
            report("HTML", html_t, fill_t, "template filled from ready figures", 1.5)
            over = Times(html_t.wall - fill_t.wall, html_t.cpu - fill_t.cpu)
            print(
                f"      over the floor: {over.wall * 1000:.1f} ms wall, {over.cpu * 1000:.1f} ms "
                f"CPU; of it the {len(frozen.charts)} charts drawn (the context alone) "
                f"{charts_t.wall * 1000:.1f} ms wall ({charts_t.wall / over.wall:.0%}), "
                f"{charts_t.cpu * 1000:.1f} ms CPU ({charts_t.cpu / over.cpu:.0%})"
            )
            page_t, render_t = median_pair(
                lambda: pack_response(frozen, "html"), lambda: render.render_html(frozen), many
            )
            print(
                f"      the endpoint's part (policy, headers) over render_html alone: "
                f"{page_t.cpu * 1000:.2f} ms vs {render_t.cpu * 1000:.2f} ms CPU, "
                f"{page_t.cpu / render_t.cpu:.2f}x"
            )
            http_t = timed(lambda: get(path, format="html"), many)
            print(
                f"      through HTTP (version in review: its figures read and checked, the "
                f"page rendered) {ms(http_t)}"
            )
            with tempfile.TemporaryDirectory() as folder:
                finished = Path(folder) / "pack.html"
                finished.write_text(render.render_html(frozen), encoding="utf-8")
                pdf_t, alone_t = median_pair(
                    lambda: pack_response(frozen, "pdf"),
                    lambda: render.pdf_from_source(finished),
                    args.runs,
                )
            report("PDF", pdf_t, alone_t, "renderer alone on the finished HTML file", 1.3)
            pdf = get(path, format="pdf")
            pages = len(pikepdf.open(io.BytesIO(pdf)).pages)
            issued = client.post(f"{path}/issue", headers=auth)
            assert issued.status_code == 200, issued.text
            stored_t = timed(lambda: get(path, format="pdf"), many)
            print(
                f"      {len(pdf):,} bytes, {pages} A4 pages; once issued, served as stored "
                f"through HTTP in {ms(stored_t)}"
            )
    finally:
        if not args.keep:
            drop_database(admin_url, name)
    print(f"load average after:  {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
