"""SQL of the reviewer checks. Reads two tables the metrics service owns, read-only (the
migration grants SELECT): ``outlier_references`` and ``metric_values``."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from services.ingest.checks.engine import Flag, Reference
from shared.db.tables.ingest import cycles as c
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


def all_references(
    session: Session, year: int, metric_keys: Collection[str]
) -> dict[tuple[str, str], Reference]:
    """Every peer group's reference of ``metric_keys`` in cycle ``year``."""
    rows = session.execute(
        select(orf).where(orf.c.cycle_year == year, orf.c.metric_key.in_(list(metric_keys)))
    ).mappings()
    return {
        (r["peer_group_key"], r["metric_key"]): Reference(
            cycle_year=r["cycle_year"],
            peer_group_key=r["peer_group_key"],
            n_organisations=r["n_organisations"],
            median=r["median"],
            mad=r["mad"],
            q1=r["q1"],
            q3=r["q3"],
        )
        for r in rows
    }


def histories(
    session: Session,
    organisation_ids: Collection[int],
    metric_keys: Collection[str],
    before: int,
) -> dict[int, dict[str, dict[int, float]]]:
    """Organisation → metric → cycle year → value, for cycles before ``before``."""
    rows = session.execute(
        select(mv.c.organisation_id, mv.c.metric_key, mv.c.cycle_year, mv.c.value).where(
            mv.c.organisation_id.in_(list(organisation_ids)),
            mv.c.metric_key.in_(list(metric_keys)),
            mv.c.cycle_year < before,
        )
    ).all()
    out: dict[int, dict[str, dict[int, float]]] = {}
    for org, key, year, value in rows:
        out.setdefault(int(org), {}).setdefault(key, {})[int(year)] = float(value)
    return out


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
