"""Outlier checks for every metric of a 400-organisation cycle, next to the recompute of
the same cycle (issue #14: target under 20 % of the recompute's time).

A scratch database (on DATABASE_URL's server, or the embedded PostgreSQL) gets 400
organisations with accepted estate, cost, performance and user-satisfaction submissions
in cycles 2018-2021 (answers drawn at random within each question's range, ~95 per
organisation and cycle), 2020 published. Then, best of several runs each:

- recompute: ``benchmark.service.recompute`` of cycle 2021 (reads every accepted answer,
  computes values, statistics, references and restatements, writes them);
- outlier checks: ``monitoring.service.outlier_flags`` of cycle 2021 (every metric value
  of every submission against the 2020 references and its organisation's 2018-2020
  history), as the validation monitoring job runs them: the flags with the numbers
  behind them; each flag's sentence is written when first read, so the whole monitoring
  pass (rules too, every finding's message written) is printed beside it.

    DATABASE_URL=postgresql://... .venv/bin/python bench/trust_bench.py
"""

from __future__ import annotations

import math
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from services.ingest.monitoring import service as monitoring
from services.metrics.benchmark.service import recompute
from shared.catalogue import load_catalogue
from shared.db.engine import make_engine
from shared.db.tables.ingest import cycles, organisations
from shared.db.tables.ingest_submissions import submission_answers, submissions
from shared.settings import Settings
from shared.testing.plugin import scratch_database

N_ORGS = 400
YEARS = (2018, 2019, 2020, 2021)
MODULES = ("estate", "cost", "performance", "user_satisfaction")
RUNS = 5
SEED = 14


def server_url() -> str:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    from shared import embedded

    return embedded.start(Settings(), name="pgdata-bench")


def answer(rng: random.Random, q: Any, base: float, drift: float) -> dict[str, Any]:
    """An organisation's answer: ``base`` (its own level of the question, the same every
    cycle) moved by ``drift`` (a few per cent a year), within the question's range."""
    if q.type == "boolean":
        return {"value_boolean": base < 0.5}
    if q.type == "choice":
        return {"value_text": q.choices[int(base * len(q.choices)) % len(q.choices)].key}
    lo = q.min if q.min is not None else 0.0
    hi = q.max if q.max is not None else 1e9
    if q.type == "percentage":
        return {"value_number": round(min(hi, max(lo, 10 + 80 * base * drift)), 1)}
    if "mean" in q.key or "level" in q.key:
        return {"value_number": round(min(hi, max(lo, 2 + 4 * base * drift)), 2)}
    value = min(hi, max(lo, 200 * math.exp(3 * base) * drift))
    return {"value_number": int(value) if q.type == "count" else round(value, 2)}


def load(url: str) -> int:
    rng = random.Random(SEED)
    engine = make_engine(url, pool_size=1)
    levels: dict[tuple[int, str], float] = {}
    rows = 0
    with Session(engine) as session, session.begin():
        org_rows = [
            {
                "name": f"Bench Council {i}",
                "type": rng.choice("ESWCDLMO"),
                "nation": "England",
                "partnership": rng.random() < 0.1,
                "users": rng.randint(300, 20000),
            }
            for i in range(N_ORGS)
        ]
        org_ids = list(
            session.execute(insert(organisations).returning(organisations.c.id), org_rows).scalars()
        )
        for year in YEARS:
            status = "published" if year < 2021 else "open"
            cycle_id = session.execute(
                insert(cycles)
                .values(
                    year=year,
                    status=status,
                    results_release_date="2021-01-01" if status == "published" else None,
                )
                .returning(cycles.c.id)
            ).scalar_one()
            catalogue = load_catalogue(year)
            subs = [
                {
                    "organisation_id": o,
                    "cycle_id": cycle_id,
                    "module": m,
                    "state": "accepted",
                    "created_by": "bench",
                }
                for o in org_ids
                for m in MODULES
            ]
            sub_ids = list(
                session.execute(
                    insert(submissions).returning(
                        submissions.c.id, submissions.c.organisation_id, submissions.c.module
                    ),
                    subs,
                ).all()
            )
            answers = []
            for sub_id, org, module in sub_ids:
                for q in catalogue.questions_for(module).values():
                    base = levels.setdefault((org, q.key), rng.random())
                    drift = 1 + rng.gauss(0, 0.04)
                    values = {"value_number": None, "value_text": None, "value_boolean": None}
                    values.update(answer(rng, q, base, drift))
                    answers.append({"submission_id": sub_id, "question_key": q.key, **values})
            session.execute(insert(submission_answers), answers)
            rows += len(answers)
    with Session(engine) as session, session.begin():
        recompute(session, None, min_n=5, trigger="bench:load")
    engine.dispose()
    return rows


def best(fn: Any) -> tuple[float, Any]:
    fn()  # warm-up
    times, result = [], None
    for _ in range(RUNS):
        started = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - started)
    return min(times), result


def main() -> int:
    with scratch_database(server_url(), "ys_trust_bench") as url:
        started = time.perf_counter()
        rows = load(url)
        print(
            f"loaded {N_ORGS} organisations x {len(YEARS)} cycles, {rows} answers "
            f"in {time.perf_counter() - started:.1f} s"
        )
        engine = make_engine(url, pool_size=2)

        def do_recompute() -> dict[str, Any]:
            with Session(engine) as session, session.begin():
                return recompute(session, [2021], min_n=5, trigger="bench")

        def do_checks() -> int:
            with Session(engine) as session, session.begin():
                return len(monitoring.outlier_flags(session, 2021))

        def do_monitoring() -> int:
            with Session(engine) as session, session.begin():
                found = monitoring.findings(session, 2021, load_catalogue(2021))
                session.rollback()
                return len(found)

        with Session(engine) as session:
            values = session.execute(
                text("SELECT count(*) FROM metric_values WHERE cycle_year = 2021")
            ).scalar_one()
        t_recompute, detail = best(do_recompute)
        t_checks, flags = best(do_checks)
        t_monitoring, found = best(do_monitoring)
        engine.dispose()
    ratio = t_checks / t_recompute
    print(f"metric values checked (cycle 2021): {values}; flags raised: {flags}")
    print(
        f"recompute of cycle 2021:            {t_recompute * 1000:8.1f} ms  "
        f"({detail['metric_values']} values, {detail['statistics']} statistics)"
    )
    print(f"outlier checks of cycle 2021:       {t_checks * 1000:8.1f} ms")
    print(f"(whole monitoring pass, rules too:  {t_monitoring * 1000:8.1f} ms, {found} findings)")
    verdict = "met" if ratio < 0.2 else "NOT met"
    print(f"ratio checks / recompute:           {ratio:8.3f}  (target < 0.20: {verdict})")
    print(f"load average (1, 5, 15 min):        {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0 if ratio < 0.2 else 1


if __name__ == "__main__":
    raise SystemExit(main())
