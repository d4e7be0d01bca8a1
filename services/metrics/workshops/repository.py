"""SQL of named views: reads ingest's workshop tables (read-only, as the metrics role) and
writes the audit trail of named views (metrics' own, append-only)."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from shared.db.tables.ingest import cycles as c
from shared.db.tables.ingest import organisations as o
from shared.db.tables.ingest_workshops import workshop_members as m
from shared.db.tables.ingest_workshops import workshops as w
from shared.db.tables.metrics_workshops import workshop_named_views as nv


@dataclass(frozen=True)
class Window:
    """A workshop in which ``organisation_id`` consented: names may be shown to its staff
    from ``starts_at`` until ``ends_at`` (the earlier of the planned and the early end)."""

    workshop_id: int
    organisation_id: int
    cycle_year: int
    starts_at: datetime
    ends_at: datetime


# Plain SQL, so the results API's snapshot query runs the very same text on its psycopg
# connection (services/metrics/benchmark/repository.py) as ``windows`` does on a session.
# LEAST ignores a null: no early end, the planned one.
WINDOWS_SQL = f"""
    SELECT w.id, m.organisation_id, cy.year, w.starts_at, LEAST(w.ends_at, w.ended_early_at)
    FROM {m.name} AS m
    JOIN {w.name} AS w ON w.id = m.workshop_id
    JOIN {c.name} AS cy ON cy.id = w.cycle_id
    WHERE m.consent = 'consented'
      AND m.organisation_id = ANY(%(orgs)s::int[]) AND cy.year = ANY(%(years)s::int[])
    """


def window_params(organisation_ids: Collection[int], years: Collection[int]) -> dict[str, Any]:
    return {"orgs": sorted(organisation_ids), "years": sorted(years)}


def windows_of(rows: Collection[tuple[Any, ...]]) -> tuple[Window, ...]:
    return tuple(Window(*row) for row in rows)


def windows(session: Session, organisation_ids: Collection[int], year: int) -> tuple[Window, ...]:
    """The workshops of cycle ``year`` in which any of ``organisation_ids`` consented."""
    if not organisation_ids:
        return ()
    result = session.connection().exec_driver_sql(
        WINDOWS_SQL, window_params(organisation_ids, [year])
    )
    return windows_of(result.all())


def consenting_members(session: Session, workshop_ids: Collection[int]) -> dict[int, str]:
    """Organisation id -> name of every member that consented in these workshops."""
    rows = session.execute(
        select(o.c.id, o.c.name)
        .join(m, m.c.organisation_id == o.c.id)
        .where(m.c.workshop_id.in_(list(workshop_ids)), m.c.consent == "consented")
    )
    return {int(i): str(name) for i, name in rows}


def workshop_exists(session: Session, workshop_id: int) -> bool:
    return session.execute(select(w.c.id).where(w.c.id == workshop_id)).first() is not None


def record_views(session: Session, rows: list[dict[str, Any]]) -> None:
    if rows:
        session.execute(insert(nv), rows)


def views(session: Session, workshop_id: int | None) -> list[dict[str, Any]]:
    """The trail (of one workshop, when given), oldest first."""
    query = select(nv).order_by(nv.c.viewed_at, nv.c.id)
    if workshop_id is not None:
        query = query.where(nv.c.workshop_id == workshop_id)
    return [dict(r) for r in session.execute(query).mappings()]
