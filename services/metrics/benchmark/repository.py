"""SQL of the benchmark family.

Serving results reads only the metrics service's own result tables, plus cycles,
organisations (existence only), anonymous codes and the workshops the organisations asked
for consented in (``services/metrics/workshops``). The recompute (at the end) reads every
accepted answer in one query and writes its results in bulk."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import polars as pl
import psycopg
from sqlalchemy import delete, func, insert, select, text
from sqlalchemy.orm import Session

from services.metrics.workshops import repository as workshops
from services.metrics.workshops.repository import Window
from shared.db.tables.ingest import cycles as c
from shared.db.tables.ingest import organisation_codes as oc
from shared.db.tables.ingest import organisations as o
from shared.db.tables.ingest_submissions import submission_answers as a
from shared.db.tables.ingest_submissions import submissions as s
from shared.db.tables.ingest_trust import submission_quality as sq
from shared.db.tables.metrics import computation_runs as runs
from shared.db.tables.metrics_benchmark import benchmark_members as bm
from shared.db.tables.metrics_benchmark import benchmark_statistics as bs
from shared.db.tables.metrics_benchmark import metric_values as mv
from shared.db.tables.metrics_trust import metric_restatements as mr
from shared.db.tables.metrics_trust import outlier_references as orf
from shared.db.tables.metrics_trust import saved_peer_groups as spg

GROUP_VALUES_SCHEMA = {
    "cycle_year": pl.Int32,
    "organisation_id": pl.Int64,
    "metric_key": pl.String,
    "value": pl.Float64,
    "type": pl.String,
    "nation": pl.String,
    "partnership": pl.Boolean,
    "users": pl.Int64,
    "size_band": pl.String,
}


def cycle_by_year(session: Session, year: int) -> dict[str, Any] | None:
    row = session.execute(select(c).where(c.c.year == year)).mappings().first()
    return dict(row) if row else None


@dataclass(frozen=True)
class Snapshots:
    """What one snapshot query read for a batch of requests (see ``snapshots``)."""

    version: tuple[Any, ...]
    cycles: dict[int, dict[str, Any]]  # by year, only the years asked for
    organisations: frozenset[int]  # those asked for that exist
    windows: tuple[Window, ...] = ()  # workshops of those years they consented in
    replayed: str | None = None  # on a replica: the WAL position it had replayed

    def for_request(self, year: int, organisation_id: int) -> dict[str, Any]:
        """One request's view: its cycle's row (``cycle_id`` None when there is no such
        cycle), whether its organisation exists, the data version, and the workshops of
        the cycle its organisation consented in (whether names may be shown)."""
        cycle = self.cycles.get(year)
        return {
            "cycle_id": cycle["id"] if cycle else None,
            "year": year,
            "status": cycle["status"] if cycle else None,
            "results_release_date": cycle["results_release_date"] if cycle else None,
            "organisation_exists": organisation_id in self.organisations,
            "version": self.version,
            "replayed": self.replayed,
            "windows": tuple(
                w
                for w in self.windows
                if w.organisation_id == organisation_id and w.cycle_year == year
            ),
        }


async def snapshots(
    conn: psycopg.AsyncConnection[Any], years: Collection[int], organisation_ids: Collection[int]
) -> Snapshots:
    """One round trip for a batch of results requests: the cycles of ``years``, which of
    ``organisation_ids`` exist, the data version, and the workshops of those years those
    organisations consented in.

    The version changes whenever anything a results response is built from changes:
    metric values, members, statistics, outlier references and restatements are only ever
    written by a recompute, which records a ``benchmark`` computation run in the same
    transaction. The version is that run's id *and* start time (so a restarted sequence
    cannot repeat a version) when it changed any figure, or the version of the run that
    last did when it wrote exactly what was there (same digest, ``service.recompute``):
    so a recompute that changes nothing keeps every cached body, and one that changes a
    figure changes the version. Cycles (status, release date, a new cycle) move
    ``max(updated_at)``/``count``; anonymous codes are insert-only.
    """
    cur = await conn.execute(_SNAPSHOT, workshops.window_params(organisation_ids, years))
    row = await cur.fetchone()
    assert row is not None  # the query always returns exactly one row
    # (run id, run start, cycles' max(updated_at) and count, codes' count and max(created_at))
    *version, ids, cyears, statuses, releases, orgs, replayed = row[:-5]
    windows = workshops.windows_of(list(zip(*(column or () for column in row[-5:]), strict=True)))
    cycles = {
        year: {"id": cid, "status": status, "results_release_date": release}
        for cid, year, status, release in zip(
            ids or (), cyears or (), statuses or (), releases or (), strict=True
        )
    }
    return Snapshots(tuple(version), cycles, frozenset(orgs or ()), windows, replayed)


# The data version of the figures: the latest benchmark run's own (id, started_at), or,
# when that run wrote exactly the figures that were already there, the version it carried
# forward (``detail.data_version``, see ``service.recompute``).
_RUN_VERSION = (
    "COALESCE((detail->'data_version'->>0)::int, id) AS id, "
    "COALESCE((detail->'data_version'->>1)::timestamptz, started_at) AS started_at"
)


# Plain SQL for psycopg, prepared by the server after a few runs: this runs for every
# batch of results requests. Scalar subqueries over tiny tables or an index
# (computation_runs by primary key, newest first, stops at the first benchmark run).
# The workshops the organisations consented in are metrics.workshops' own query, the same
# text, as columns of arrays (a second statement, even pipelined, doubled the time).
_SNAPSHOT = f"""
    SELECT r.id, r.started_at,
      (SELECT max(updated_at) FROM {c.name}),
      (SELECT count(*) FROM {c.name}),
      (SELECT count(*) FROM {oc.name}),
      (SELECT max(created_at) FROM {oc.name}),
      cy.ids, cy.years, cy.statuses, cy.releases,
      ARRAY(SELECT id FROM {o.name} WHERE id = ANY(%(orgs)s::int[])),
      pg_last_wal_replay_lsn()::text,
      ws.ids, ws.orgs, ws.years, ws.starts, ws.ends
    FROM (
      SELECT array_agg(id) AS ids, array_agg(year) AS years,
        array_agg(status::text) AS statuses, array_agg(results_release_date) AS releases
      FROM {c.name} WHERE year = ANY(%(years)s::int[])
    ) AS cy
    CROSS JOIN (
      SELECT array_agg(id) AS ids, array_agg(org) AS orgs, array_agg(year) AS years,
        array_agg(starts_at) AS starts, array_agg(ends_at) AS ends
      FROM ({workshops.WINDOWS_SQL}) AS consented(id, org, year, starts_at, ends_at)
    ) AS ws
    LEFT JOIN (
      SELECT {_RUN_VERSION} FROM {runs.name} WHERE kind = 'benchmark' ORDER BY id DESC LIMIT 1
    ) AS r ON true
    """


def snapshot_now(session: Session, year: int, organisation_id: int) -> dict[str, Any]:
    """What ``service.check_access`` needs, read in this session (for the endpoints
    that do not go through the results cache and its batched ``snapshots``)."""
    cycle = session.execute(select(c).where(c.c.year == year)).mappings().first()
    exists = session.execute(select(o.c.id).where(o.c.id == organisation_id)).first()
    run = session.execute(
        text(
            f"SELECT {_RUN_VERSION} FROM {runs.name} WHERE kind = 'benchmark' "
            "ORDER BY id DESC LIMIT 1"
        )
    ).first()
    return {
        "cycle_id": cycle["id"] if cycle else None,
        "year": year,
        "status": cycle["status"] if cycle else None,
        "results_release_date": cycle["results_release_date"] if cycle else None,
        "organisation_exists": exists is not None,
        "version": tuple(run) if run else (None, None),
        "windows": (),
    }


def cycles(session: Session) -> list[dict[str, Any]]:
    return [dict(r) for r in session.execute(select(c).order_by(c.c.year)).mappings()]


def my_values(
    session: Session, organisation_id: int, years: list[int], metric: str | None = None
) -> dict[tuple[int, str], float]:
    query = select(mv.c.cycle_year, mv.c.metric_key, mv.c.value).where(
        mv.c.organisation_id == organisation_id, mv.c.cycle_year.in_(years)
    )
    if metric is not None:
        query = query.where(mv.c.metric_key == metric)
    return {(r[0], r[1]): r[2] for r in session.execute(query)}


def statistics(
    session: Session, years: list[int], peer_group_key: str, metric: str | None = None
) -> dict[tuple[int, str], dict[str, Any]]:
    query = select(bs).where(bs.c.cycle_year.in_(years), bs.c.peer_group_key == peer_group_key)
    if metric is not None:
        query = query.where(bs.c.metric_key == metric)
    return {(r["cycle_year"], r["metric_key"]): dict(r) for r in session.execute(query).mappings()}


def group_values(
    session: Session,
    *,
    years: list[int] | None = None,
    before: int | None = None,
    metric: str | None = None,
    members: dict[str, list[Any]] | None = None,
) -> pl.DataFrame:
    """Values with their organisation's attributes, for the given cycles (or all cycles
    before ``before``), optionally one metric, optionally only organisations whose
    attributes (type, nation, partnership, size_band) are among the given values."""
    query = select(
        mv.c.cycle_year,
        mv.c.organisation_id,
        mv.c.metric_key,
        mv.c.value,
        bm.c.type,
        bm.c.nation,
        bm.c.partnership,
        bm.c.users,
        bm.c.size_band,
    ).join(
        bm,
        (bm.c.organisation_id == mv.c.organisation_id) & (bm.c.cycle_year == mv.c.cycle_year),
    )
    if years is not None:
        query = query.where(mv.c.cycle_year.in_(years))
    if before is not None:
        query = query.where(mv.c.cycle_year < before)
    if metric is not None:
        query = query.where(mv.c.metric_key == metric)
    for column, allowed in (members or {}).items():
        query = query.where(bm.c[column].in_(allowed))
    rows = session.execute(query).all()
    return pl.DataFrame([tuple(r) for r in rows], schema=GROUP_VALUES_SCHEMA, orient="row")


def codes(session: Session, pairs: set[tuple[int, int]]) -> dict[tuple[int, int], str]:
    """Anonymous codes for (cycle year, organisation id) pairs."""
    if not pairs:
        return {}
    years = {y for y, _ in pairs}
    rows = session.execute(
        select(c.c.year, oc.c.organisation_id, oc.c.code)
        .join(c, c.c.id == oc.c.cycle_id)
        .where(c.c.year.in_(years), oc.c.organisation_id.in_({i for _, i in pairs}))
    )
    return {(r[0], r[1]): r[2] for r in rows}


def saved_group(session: Session, group_id: int) -> dict[str, Any] | None:
    row = session.execute(
        select(spg.c.organisation_id, spg.c.cycle_year, spg.c.members).where(spg.c.id == group_id)
    ).first()
    return (
        None
        if row is None
        else {"organisation_id": row[0], "cycle_year": row[1], "members": row[2]}
    )


def peer_groups(session: Session, year: int) -> list[dict[str, Any]]:
    rows = session.execute(
        select(bs.c.peer_group_key, func.max(bs.c.n_organisations))
        .where(bs.c.cycle_year == year)
        .group_by(bs.c.peer_group_key)
        .order_by(bs.c.peer_group_key)
    )
    return [{"peer_group_key": r[0], "n_organisations": r[1]} for r in rows]


# ------------------------------------------------------------------ recompute

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


VALUE_KEY_SCHEMA = {
    "organisation_id": pl.Int64,
    "cycle_year": pl.Int32,
    "metric_key": pl.String,
    "value": pl.Float64,
}


def values_frame(session: Session, years: list[int]) -> pl.DataFrame:
    """The stored metric values of ``years`` (what a recompute is about to replace)."""
    rows = session.execute(
        select(mv.c.organisation_id, mv.c.cycle_year, mv.c.metric_key, mv.c.value).where(
            mv.c.cycle_year.in_(years)
        )
    ).all()
    return pl.DataFrame([tuple(r) for r in rows], schema=VALUE_KEY_SCHEMA, orient="row")


def withdrawn(session: Session, years: list[int]) -> pl.DataFrame:
    """Per figure of ``years`` whose latest restatement withdrew it (value null): the value
    it had before."""
    latest = (
        select(
            mr.c.organisation_id,
            mr.c.cycle_year,
            mr.c.metric_key,
            mr.c.previous_value,
            mr.c.value,
        )
        .distinct(mr.c.organisation_id, mr.c.cycle_year, mr.c.metric_key)
        .where(mr.c.cycle_year.in_(years))
        .order_by(mr.c.organisation_id, mr.c.cycle_year, mr.c.metric_key, mr.c.id.desc())
        .subquery()
    )
    rows = session.execute(
        select(
            latest.c.organisation_id,
            latest.c.cycle_year,
            latest.c.metric_key,
            latest.c.previous_value,
        ).where(latest.c.value.is_(None))
    ).all()
    return pl.DataFrame(
        [tuple(r) for r in rows],
        schema={
            **{k: VALUE_KEY_SCHEMA[k] for k in list(VALUE_KEY_SCHEMA)[:3]},
            "previous_value": pl.Float64,
        },
        orient="row",
    )


def replace_references(
    session: Session, years: list[int], rows: list[dict[str, Any]], run_id: int
) -> None:
    session.execute(delete(orf).where(orf.c.cycle_year.in_(years)))
    if rows:
        session.execute(insert(orf), [{**r, "run_id": run_id} for r in rows])


def insert_restatements(
    session: Session, rows: list[dict[str, Any]], trigger: str, run_id: int
) -> None:
    if rows:
        session.execute(insert(mr), [{**r, "trigger": trigger, "run_id": run_id} for r in rows])


def restated(
    session: Session, organisation_id: int, years: list[int], metric: str | None = None
) -> dict[tuple[int, str], dict[str, Any]]:
    """Per (cycle, metric) of the organisation: its latest restatement that set a value
    (restated_at, previous_value, value)."""
    query = (
        select(mr.c.cycle_year, mr.c.metric_key, mr.c.restated_at, mr.c.previous_value, mr.c.value)
        .distinct(mr.c.cycle_year, mr.c.metric_key)
        .where(
            mr.c.organisation_id == organisation_id,
            mr.c.cycle_year.in_(years),
            mr.c.value.is_not(None),
        )
        .order_by(mr.c.cycle_year, mr.c.metric_key, mr.c.id.desc())
    )
    if metric is not None:
        query = query.where(mr.c.metric_key == metric)
    return {
        (r[0], r[1]): {"restated_at": r[2], "previous_value": r[3], "value": r[4]}
        for r in session.execute(query)
    }


def data_quality(session: Session, organisation_id: int, year: int) -> dict[str, Any] | None:
    """The mean quality of the organisation's accepted submissions in the cycle."""
    parts = ("score", "completeness", "timeliness", "consistency", "outliers")
    row = session.execute(
        select(func.count(), *[func.avg(sq.c[p]) for p in parts])
        .select_from(sq)
        .join(s, s.c.id == sq.c.submission_id)
        .where(
            sq.c.organisation_id == organisation_id,
            sq.c.cycle_year == year,
            s.c.state == "accepted",
        )
    ).one()
    if not row[0]:
        return None
    return {"submissions": row[0], **{p: float(v) for p, v in zip(parts, row[1:], strict=True)}}


def _last_run_of(session: Session, year: int) -> dict[str, Any] | None:
    """The last benchmark computation run whose scope included cycle ``year``."""
    row = (
        session.execute(
            select(runs)
            .where(runs.c.kind == "benchmark", runs.c.scope["cycle_years"].contains([year]))
            .order_by(runs.c.id.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def latest_run(session: Session, year: int) -> dict[str, Any] | None:
    """The benchmark computation run that wrote cycle ``year``'s current figures: the last
    run over the cycle, or, when that one rewrote the figures unchanged, the run that
    first wrote them (``detail.figures[year].run``, see ``service.recompute``)."""
    last = _last_run_of(session, year)
    if last is None:
        return None
    wrote = (last["detail"].get("figures") or {}).get(str(year), {}).get("run")
    if wrote is None or wrote == last["id"]:
        return last
    row = session.execute(select(runs).where(runs.c.id == wrote)).mappings().first()
    return dict(row) if row else last


def figures_of(session: Session, years: list[int]) -> dict[int, dict[str, Any]]:
    """Per cycle of ``years``: the digest of its current figures and the run that wrote
    them, as the last run over it recorded them (cycles without a digest are left out)."""
    found: dict[int, dict[str, Any]] = {}
    for year in years:
        last = _last_run_of(session, year)
        figures = (last["detail"].get("figures") or {}).get(str(year)) if last else None
        if last is not None and figures and figures.get("digest"):
            found[year] = {"digest": figures["digest"], "run": figures.get("run") or last["id"]}
    return found


def latest_version(session: Session) -> list[Any] | None:
    """The data version the latest benchmark run left (``[id, started_at]``, ISO)."""
    row = session.execute(
        text(
            f"SELECT {_RUN_VERSION} FROM {runs.name} WHERE kind = 'benchmark' "
            "ORDER BY id DESC LIMIT 1"
        )
    ).first()
    return None if row is None else [row[0], row[1].isoformat()]


QUALITY_SCHEMA = {
    "organisation_id": pl.Int64,
    "cycle_year": pl.Int32,
    "submission_id": pl.Int64,
    "score": pl.Float64,
    "completeness": pl.Float64,
    "timeliness": pl.Float64,
    "consistency": pl.Float64,
    "outliers": pl.Float64,
}


def quality_frame(session: Session, years: list[int]) -> pl.DataFrame:
    """The quality scores of the accepted submissions of ``years`` (shown beside the
    figures as ``data_quality``): part of what a recompute's digest covers."""
    rows = session.execute(
        select(
            sq.c.organisation_id,
            sq.c.cycle_year,
            sq.c.submission_id,
            sq.c.score,
            sq.c.completeness,
            sq.c.timeliness,
            sq.c.consistency,
            sq.c.outliers,
        )
        .join(s, s.c.id == sq.c.submission_id)
        .where(sq.c.cycle_year.in_(years), s.c.state == "accepted")
    ).all()
    return pl.DataFrame([tuple(r) for r in rows], schema=QUALITY_SCHEMA, orient="row")
