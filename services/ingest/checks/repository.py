"""SQL of the reviewer checks. Reads two tables the metrics service owns, read-only (the
migration grants SELECT): ``outlier_references`` and ``metric_values``."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy import delete, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from services.ingest.checks.engine import HISTORY_SCHEMA, REFERENCES_SCHEMA, Flag, frame
from shared.db.tables.ingest import cycles as c
from shared.db.tables.ingest import organisations as o
from shared.db.tables.ingest_submissions import submission_answers as a
from shared.db.tables.ingest_submissions import submission_audit as au
from shared.db.tables.ingest_submissions import submission_warning_comments as wc
from shared.db.tables.ingest_submissions import submissions as s
from shared.db.tables.ingest_trust import FLAG_CHECKS
from shared.db.tables.ingest_trust import submission_flags as sf
from shared.db.tables.ingest_trust import submission_quality as sq
from shared.db.tables.metrics_benchmark import metric_values as mv
from shared.db.tables.metrics_trust import outlier_references as orf


def last_published_year(session: Session, before: int) -> int | None:
    year: int | None = session.execute(
        select(func.max(c.c.year)).where(c.c.status == "published", c.c.year < before)
    ).scalar_one()
    return year


def reference_frame(session: Session, year: int, metric_keys: Collection[str]) -> pl.DataFrame:
    """Every peer group's reference of ``metric_keys`` in cycle ``year``."""
    rows = session.execute(
        select(
            orf.c.peer_group_key,
            orf.c.metric_key,
            orf.c.cycle_year,
            orf.c.n_organisations,
            orf.c.median,
            orf.c.mad,
            orf.c.q1,
            orf.c.q3,
        ).where(orf.c.cycle_year == year, orf.c.metric_key.in_(list(metric_keys)))
    ).all()
    return frame([tuple(r) for r in rows], REFERENCES_SCHEMA)


def _column_frame(
    session: Session, sql: str, params: dict[str, Any], schema: pl.Schema
) -> pl.DataFrame:
    """A query's rows as a frame, in the session's transaction, fetched as one row of
    arrays (one per column, named as ``schema``) in psycopg's binary format: a whole
    cycle's rows arrive several times faster than as Python rows (bench/trust_bench.py)."""
    raw = session.connection().connection.driver_connection
    assert raw is not None  # a checked-out connection always has its driver's
    columns = ", ".join(f"array_agg(t.{name})" for name in schema)
    with raw.cursor(binary=True) as cur:
        cur.execute(f"SELECT {columns} FROM ({sql}) AS t", params)
        row = cur.fetchone()
    assert row is not None  # an aggregate without GROUP BY always answers one row
    return pl.DataFrame(
        {name: values or [] for name, values in zip(schema, row, strict=True)}, schema=schema
    )


_HISTORY_SQL = f"""
    SELECT organisation_id, metric_key, cycle_year, value FROM {mv.name}
    WHERE metric_key = ANY(%(keys)s) AND cycle_year < %(before)s
"""


def history_frame(
    session: Session,
    organisation_ids: Collection[int] | None,
    metric_keys: Collection[str],
    before: int,
) -> pl.DataFrame:
    """The organisations' values of ``metric_keys`` in cycles before ``before`` (None: every
    organisation's, as a whole cycle's check needs: cheaper than naming them all)."""
    params: dict[str, Any] = {"keys": list(metric_keys), "before": before}
    sql = _HISTORY_SQL
    if organisation_ids is not None:
        sql += " AND organisation_id = ANY(%(orgs)s)"
        params["orgs"] = list(organisation_ids)
    return _column_frame(session, sql, params, HISTORY_SCHEMA)


def references_version(session: Session) -> list[Any]:
    """What changes whenever the references change: per cycle, its rows' latest run."""
    rows = session.execute(
        select(orf.c.cycle_year, func.max(orf.c.run_id), func.count())
        .group_by(orf.c.cycle_year)
        .order_by(orf.c.cycle_year)
    ).all()
    return [list(r) for r in rows]


def replace_flags(session: Session, submission_id: int, flags: Iterable[Flag]) -> None:
    session.execute(delete(sf).where(sf.c.submission_id == submission_id))
    rows = [{"submission_id": submission_id, **f.to_row()} for f in flags]
    if rows:
        session.execute(insert(sf), rows)


def flags(session: Session, submission_id: int) -> list[dict[str, Any]]:
    """The stored flags with the participant's comment on each flagged metric."""
    rule = func.concat("outlier.", sf.c.metric_key)
    rows = session.execute(
        select(sf, wc.c.comment, wc.c.created_by.label("commented_by"))
        .outerjoin(wc, (wc.c.submission_id == sf.c.submission_id) & (wc.c.rule_key == rule))
        .where(sf.c.submission_id == submission_id)
        .order_by(sf.c.metric_key)
    ).mappings()
    # Each metric's checks in the order the rules list them (peers first, then history).
    return sorted(
        (dict(r) for r in rows), key=lambda r: (r["metric_key"], FLAG_CHECKS.index(r["check"]))
    )


def submission(session: Session, submission_id: int) -> dict[str, Any] | None:
    row = (
        session.execute(
            select(s.c.id, s.c.organisation_id, s.c.module, s.c.state, c.c.year.label("cycle_year"))
            .join(c, c.c.id == s.c.cycle_id)
            .where(s.c.id == submission_id)
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def first_submitted_at(session: Session, submission_id: int) -> datetime | None:
    moment: datetime | None = session.execute(
        select(func.min(au.c.at)).where(
            au.c.submission_id == submission_id, au.c.action == "submitted"
        )
    ).scalar_one()
    return moment


def db_now(session: Session) -> datetime:
    moment: datetime = session.execute(select(func.now())).scalar_one()
    return moment


def upsert_quality(session: Session, row: dict[str, Any]) -> None:
    stmt = pg_insert(sq).values(**row)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[sq.c.submission_id],
            set_={k: stmt.excluded[k] for k in row if k != "submission_id"}
            | {"computed_at": func.now()},
        )
    )


def quality_rows(
    session: Session, cycle_year: int | None, organisation_ids: Collection[int] | None
) -> list[dict[str, Any]]:
    query = select(sq).order_by(sq.c.organisation_id, sq.c.cycle_year, sq.c.module)
    if cycle_year is not None:
        query = query.where(sq.c.cycle_year == cycle_year)
    if organisation_ids is not None:
        query = query.where(sq.c.organisation_id.in_(list(organisation_ids)))
    return [dict(r) for r in session.execute(query).mappings()]


CYCLE_ANSWERS_SCHEMA = pl.Schema(
    {
        "submission_id": pl.Int64,
        "organisation_id": pl.Int64,
        "organisation_type": pl.String,
        "module": pl.String,
        "state": pl.String,
        "question_key": pl.String,
        "value_number": pl.Float64,
        "value_text": pl.String,
        "value_boolean": pl.Boolean,
    }
)


_CYCLE_ANSWERS_SQL = f"""
    SELECT s.id AS submission_id, s.organisation_id, o.type AS organisation_type, s.module,
      s.state, a.question_key, a.value_number::float8 AS value_number, a.value_text,
      a.value_boolean
    FROM {a.name} a
    JOIN {s.name} s ON s.id = a.submission_id
    JOIN {c.name} c ON c.id = s.cycle_id
    JOIN {o.name} o ON o.id = s.organisation_id
    WHERE c.year = %(year)s
"""


def cycle_answers(session: Session, year: int) -> pl.DataFrame:
    """Every answer of every submission of the cycle, whatever its state, in one query."""
    return _column_frame(session, _CYCLE_ANSWERS_SQL, {"year": year}, CYCLE_ANSWERS_SCHEMA)
