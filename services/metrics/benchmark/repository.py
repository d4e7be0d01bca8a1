"""SQL for the benchmark recompute: one read of the accepted answers, bulk writes."""

from __future__ import annotations

from typing import Any

import polars as pl
from sqlalchemy import delete, insert, select, text
from sqlalchemy.orm import Session

from shared.db.tables.ingest import cycles as c
from shared.db.tables.ingest import organisations as o
from shared.db.tables.ingest_submissions import submission_answers as a
from shared.db.tables.ingest_submissions import submissions as s
from shared.db.tables.metrics_benchmark import benchmark_members as bm
from shared.db.tables.metrics_benchmark import benchmark_statistics as bs
from shared.db.tables.metrics_benchmark import metric_values as mv

ANSWER_SCHEMA = {
    "cycle_year": pl.Int32,
    "organisation_id": pl.Int64,
    "question_key": pl.String,
    "value_number": pl.Float64,
    "value_text": pl.String,
    "value_boolean": pl.Boolean,
}
ORG_SCHEMA = {
    "organisation_id": pl.Int64,
    "type": pl.String,
    "nation": pl.String,
    "partnership": pl.Boolean,
    "users": pl.Int64,
}


def lock(session: Session) -> None:
    """Serialise recomputes: each rewrites whole cycles and pools earlier ones."""
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext('yardstick.benchmark'))"))


def accepted_answers(session: Session) -> pl.DataFrame:
    """Every accepted answer of every cycle, in one query."""
    rows = session.execute(
        select(
            c.c.year,
            s.c.organisation_id,
            a.c.question_key,
            a.c.value_number,
            a.c.value_text,
            a.c.value_boolean,
        )
        .select_from(a)
        .join(s, s.c.id == a.c.submission_id)
        .join(c, c.c.id == s.c.cycle_id)
        .where(s.c.state == "accepted")
    ).all()
    return pl.DataFrame(
        [(r[0], r[1], r[2], None if r[3] is None else float(r[3]), r[4], r[5]) for r in rows],
        schema=ANSWER_SCHEMA,
        orient="row",
    )


def organisations(session: Session) -> pl.DataFrame:
    rows = session.execute(select(o.c.id, o.c.type, o.c.nation, o.c.partnership, o.c.users)).all()
    return pl.DataFrame([tuple(r) for r in rows], schema=ORG_SCHEMA, orient="row")


def cycle_years(session: Session) -> list[int]:
    return list(session.execute(select(c.c.year).order_by(c.c.year)).scalars())


def replace(
    session: Session,
    years: list[int],
    values: list[dict[str, Any]],
    members: list[dict[str, Any]],
    statistics: list[dict[str, Any]],
) -> None:
    for table in (mv, bm, bs):
        session.execute(delete(table).where(table.c.cycle_year.in_(years)))
    for table, rows in ((mv, values), (bm, members), (bs, statistics)):
        if rows:
            session.execute(insert(table), rows)
