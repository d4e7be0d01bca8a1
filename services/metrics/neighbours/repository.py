"""SQL of nearest neighbours and saved peer groups. Reads the cycle's members (the
benchmark's own table), accepted answers for question variables (ingest's tables,
read-only) and codes; writes ``saved_peer_groups``."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import polars as pl
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from shared.db.tables.ingest import cycles as c
from shared.db.tables.ingest import organisations as o
from shared.db.tables.ingest_submissions import submission_answers as a
from shared.db.tables.ingest_submissions import submissions as s
from shared.db.tables.metrics_benchmark import benchmark_members as bm
from shared.db.tables.metrics_trust import saved_peer_groups as g

MEMBER_SCHEMA = {
    "organisation_id": pl.Int64,
    "type": pl.String,
    "nation": pl.String,
    "partnership": pl.Boolean,
    "users": pl.Int64,
    "population": pl.Int64,
}


def members(session: Session, year: int) -> pl.DataFrame:
    """The cycle's members with their attributes as the recompute grouped by, and the
    organisation's resident population where loaded (ingest's table: its current value)."""
    rows = session.execute(
        select(
            bm.c.organisation_id,
            bm.c.type,
            bm.c.nation,
            bm.c.partnership,
            bm.c.users,
            o.c.population,
        )
        .select_from(bm)
        .join(o, o.c.id == bm.c.organisation_id, isouter=True)
        .where(bm.c.cycle_year == year)
    ).all()
    return pl.DataFrame([tuple(r) for r in rows], schema=MEMBER_SCHEMA, orient="row")


def accepted_numbers(session: Session, year: int, question_keys: Collection[str]) -> pl.DataFrame:
    """(organisation_id, question_key, value) of the cycle's accepted numeric answers."""
    rows = session.execute(
        select(s.c.organisation_id, a.c.question_key, a.c.value_number)
        .select_from(a)
        .join(s, s.c.id == a.c.submission_id)
        .join(c, c.c.id == s.c.cycle_id)
        .where(
            s.c.state == "accepted",
            c.c.year == year,
            a.c.question_key.in_(list(question_keys)),
            a.c.value_number.is_not(None),
        )
    ).all()
    return pl.DataFrame(
        [(r[0], r[1], float(r[2])) for r in rows],
        schema={"organisation_id": pl.Int64, "question_key": pl.String, "value": pl.Float64},
        orient="row",
    )


def insert_group(session: Session, values: dict[str, Any]) -> int:
    new_id: int = session.execute(insert(g).values(**values).returning(g.c.id)).scalar_one()
    return new_id


def get_group(session: Session, group_id: int) -> dict[str, Any] | None:
    row = session.execute(select(g).where(g.c.id == group_id)).mappings().first()
    return dict(row) if row else None


def list_groups(
    session: Session, organisation_ids: Collection[int] | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    conds = [] if organisation_ids is None else [g.c.organisation_id.in_(list(organisation_ids))]
    total = session.execute(select(func.count()).select_from(g).where(*conds)).scalar_one()
    rows = session.execute(
        select(g).where(*conds).order_by(g.c.id).limit(limit).offset(offset)
    ).mappings()
    return [dict(r) for r in rows], total
