"""SQL for SLA computation: read source tables into Polars with one COPY each, write
outcomes back in bulk (COPY into a temp table, then delete-and-insert by key)."""

from __future__ import annotations

import io
from datetime import date, datetime, time
from typing import Any, cast

import polars as pl
import psycopg
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from services.metrics.sla import engine
from services.metrics.sla.calendar import (
    TWENTY_FOUR_SEVEN,
    BusinessCalendar,
    TwentyFourSeven,
)
from shared.db.tables.metrics import computation_runs as runs
from shared.tickets import FACT_FIELDS

# Joins source_system and reference into the engine's ticket_key, the one string that
# identifies a ticket within its organisation (ticket_ref is the reference alone).
SEP = "\x1f"

_EPOCH = "floor(extract(epoch FROM {c}))::bigint AS {a}"


def _conn(session: Session) -> psycopg.Connection[Any]:
    return cast(psycopg.Connection[Any], session.connection().connection.driver_connection)


def _copy_frame(
    session: Session, sql: str, params: dict[str, Any], schema: dict[str, pl.DataType]
) -> pl.DataFrame:
    buf = io.BytesIO()
    # COPY binds its parameters client-side.
    copy_sql = f"COPY ({sql}) TO STDOUT (FORMAT csv, HEADER true)"
    with _conn(session).cursor() as cur, cur.copy(copy_sql, params) as copy:
        for block in copy:
            buf.write(block)
    if buf.tell() == 0:
        return pl.DataFrame(schema=schema)
    buf.seek(0)
    # PostgreSQL writes booleans as t/f: read them as text, then convert.
    bools = [c for c, t in schema.items() if isinstance(t, pl.Boolean)]
    read = {c: (pl.Utf8() if c in bools else t) for c, t in schema.items()}
    df = pl.read_csv(buf, schema=read)
    return df.with_columns((pl.col(c) == "t").alias(c) for c in bools) if bools else df


def _to_utc(*cols: str) -> list[pl.Expr]:
    return [
        pl.from_epoch(pl.col(c), time_unit="s").dt.replace_time_zone("UTC").alias(c) for c in cols
    ]


def _scope(organisation_ids: list[int] | None, months: dict[int, list[str]] | None) -> str:
    if months is not None:
        # The organisation filter on its own first, so that only those organisations'
        # partitions are read (the pair test alone probes every partition).
        return (
            "organisation_id = ANY(%(m_orgs)s::int[]) AND "
            "(organisation_id, to_char(logged_at AT TIME ZONE 'Europe/London', 'YYYY-MM')) IN "
            "(SELECT * FROM unnest(%(m_orgs)s::int[], %(m_months)s::text[]))"
        )
    if organisation_ids is not None:
        return "organisation_id = ANY(%(orgs)s)"
    return "true"


def _params(
    organisation_ids: list[int] | None, months: dict[int, list[str]] | None
) -> dict[str, Any]:
    pairs = [(o, m) for o, ms in (months or {}).items() for m in ms]
    return {
        "orgs": organisation_ids or [],
        "m_orgs": [o for o, _ in pairs],
        "m_months": [m for _, m in pairs],
    }


# The ticket frame the SLA engine takes: the key, then every fact of the ticket declaration
# (shared/tickets.py), instants read as epoch seconds and made UTC datetimes after.
_INSTANTS = tuple(f.name for f in FACT_FIELDS if f.kind == "instant")
TICKET_SCHEMA: dict[str, pl.DataType] = {
    "organisation_id": pl.Int64(),
    "ticket_key": pl.Utf8(),
    **{f.name: pl.Int64() if f.name in _INSTANTS else f.dtype for f in FACT_FIELDS},
}
_TICKET_SELECT = ", ".join(
    [
        "organisation_id",
        "source_system || chr(31) || reference AS ticket_key",
        *(
            _EPOCH.format(c=f.column, a=f.name) if f.name in _INSTANTS else f.column
            for f in FACT_FIELDS
        ),
    ]
)


def load_tickets(
    session: Session,
    organisation_ids: list[int] | None,
    months: dict[int, list[str]] | None = None,
    *,
    open_at: datetime | None = None,
) -> pl.DataFrame:
    """Tickets of the organisations (or of the logged months given per organisation);
    with ``open_at``, only those logged before it and not resolved (nor closed) by then."""
    sql = f"SELECT {_TICKET_SELECT} FROM tickets WHERE " + _scope(organisation_ids, months)
    params = _params(organisation_ids, months)
    if open_at is not None:
        sql += (
            " AND logged_at < %(open_at)s AND (coalesce(resolved_at, closed_at) IS NULL"
            " OR coalesce(resolved_at, closed_at) > %(open_at)s)"
        )
        params["open_at"] = open_at
    df = _copy_frame(session, sql, params, TICKET_SCHEMA)
    return df.with_columns(_to_utc(*_INSTANTS))


def load_intervals(
    session: Session, organisation_ids: list[int] | None
) -> tuple[pl.DataFrame, pl.DataFrame]:
    sql = (
        "SELECT organisation_id, source_system || chr(31) || reference AS ticket_key, kind, "
        + _EPOCH.format(c="start_at", a="start")
        + ", "
        + _EPOCH.format(c="end_at", a="end")
        + " FROM ticket_intervals WHERE "
        + _scope(organisation_ids, None)
    )
    df = _copy_frame(
        session,
        sql,
        _params(organisation_ids, None),
        {
            "organisation_id": pl.Int64(),
            "ticket_key": pl.Utf8(),
            "kind": pl.Utf8(),
            "start": pl.Int64(),
            "end": pl.Int64(),
        },
    ).with_columns(_to_utc("start", "end"))
    holds = df.filter(pl.col("kind") == "hold").drop("kind")
    reopens = (
        df.filter(pl.col("kind") == "reopen")
        .drop("kind")
        .rename({"start": "resolved_at", "end": "reopened_at"})
        .filter(pl.col("reopened_at").is_not_null())
    )
    return holds, reopens


def load_policies(session: Session, organisation_ids: list[int] | None) -> pl.DataFrame:
    """SLA policies with their history rules (pause_statuses, priority_change,
    reopen_rule, response_target_seconds, warning_pcts): the engine's policy frame."""
    sql = (
        "SELECT organisation_id, priority, request_type, target_seconds, "
        "target_working_days::float8 AS target_working_days, "
        "coalesce(calendar_id::text, '24x7') AS calendar_id, target_share::float8 AS target_share, "
        "effective_from, array_to_json(pause_statuses)::text AS pause_statuses, "
        "priority_change, reopen_rule, response_target_seconds, "
        "array_to_json(warning_pcts::float8[])::text AS warning_pcts "
        "FROM sla_policies WHERE " + _scope(organisation_ids, None)
    )
    df = _copy_frame(
        session,
        sql,
        _params(organisation_ids, None),
        {
            "organisation_id": pl.Int64(),
            "priority": pl.Utf8(),
            "request_type": pl.Utf8(),
            "target_seconds": pl.Int64(),
            "target_working_days": pl.Float64(),
            "calendar_id": pl.Utf8(),
            "target_share": pl.Float64(),
            "effective_from": pl.Date(),
            "pause_statuses": pl.Utf8(),
            "priority_change": pl.Utf8(),
            "reopen_rule": pl.Utf8(),
            "response_target_seconds": pl.Int64(),
            "warning_pcts": pl.Utf8(),
        },
    )
    return df.with_columns(
        pl.col("pause_statuses").str.json_decode(pl.List(pl.Utf8)),
        pl.col("warning_pcts").str.json_decode(pl.List(pl.Float64)),
    )


def _t(s: str) -> time:
    h, m = s.split(":")
    return time(int(h), int(m))


def load_clocks(session: Session, organisation_ids: list[int] | None) -> dict[str, Any]:
    cur = _conn(session).cursor()
    with cur:
        cur.execute(
            "SELECT c.id, c.nation, c.hours, "
            "coalesce(array_agg(x.closed_on) FILTER (WHERE x.closed_on IS NOT NULL), '{}') "
            "FROM business_calendars c LEFT JOIN calendar_closures x ON x.calendar_id = c.id "
            "WHERE "
            + _scope(organisation_ids, None).replace("organisation_id", "c.organisation_id")
            + " GROUP BY c.id",
            _params(organisation_ids, None),
        )
        rows = cur.fetchall()
    clocks: dict[str, Any] = {TWENTY_FOUR_SEVEN: TwentyFourSeven()}
    for cal_id, nation, hours, closed in rows:
        clocks[str(cal_id)] = BusinessCalendar(
            str(cal_id),
            {int(k): tuple((_t(s), _t(e)) for s, e in v) for k, v in hours.items()},
            nation,
            closure_dates=frozenset(closed),
        )
    return clocks


OUTCOME_COLUMNS = (
    "organisation_id",
    "source_system",
    "reference",
    "type",
    "priority",
    "request_type",
    "team",
    "closure_category",
    "logged_at",
    "logged_date",
    "resolution_at",
    "reopen_count",
    "resolved_first_contact",
    "nps_rating",
    "calendar_id",
    "target_seconds",
    "target_share",
    "policy_effective_from",
    "is_open",
    "on_hold",
    "paused_seconds",
    "elapsed_sla_seconds",
    "elapsed_wall_seconds",
    "due_at",
    "sla_status",
    "data_quality_reason",
    *(
        "priority_changed_at",
        "clock_start_at",
        "pending_seconds",
        "priority_change",
        "reopen_rule",
        "cycles",
        "first_response_at",
        "response_target_seconds",
        "response_elapsed_seconds",
        "response_due_at",
        "response_status",
    ),
)


def write_outcomes(
    session: Session, results: pl.DataFrame, *, replace_organisations: list[int] | None
) -> int:
    """Store evaluated tickets. With ``replace_organisations``, every outcome of those
    organisations is replaced (a full recompute); otherwise only the tickets given."""
    frame = results.with_columns(
        pl.col("ticket_key").str.split_exact(SEP, 1).struct.rename_fields(["ss", "ref"]).alias("_k")
    ).with_columns(
        pl.col("_k").struct.field("ss").alias("source_system"),
        pl.col("_k").struct.field("ref").alias("reference"),
    )
    payload = frame.select(OUTCOME_COLUMNS).write_csv(include_header=False).encode()
    with _conn(session).cursor() as cur:
        cur.execute(
            "CREATE TEMP TABLE IF NOT EXISTS sla_outcome_stage "
            "(LIKE sla_outcomes INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
        with cur.copy(
            f"COPY sla_outcome_stage ({', '.join(OUTCOME_COLUMNS)}) FROM STDIN (FORMAT csv)"
        ) as copy:
            copy.write(payload)
        if replace_organisations is not None:
            cur.execute(
                "DELETE FROM sla_outcomes WHERE organisation_id = ANY(%s)",
                (replace_organisations,),
            )
        else:
            cur.execute(
                "DELETE FROM sla_outcomes o USING sla_outcome_stage s "
                "WHERE o.organisation_id = s.organisation_id "
                "AND o.source_system = s.source_system AND o.reference = s.reference"
            )
        cur.execute(
            f"INSERT INTO sla_outcomes ({', '.join(OUTCOME_COLUMNS)}) "
            f"SELECT {', '.join(OUTCOME_COLUMNS)} FROM sla_outcome_stage"
        )
        cur.execute("TRUNCATE sla_outcome_stage")
    return frame.height


# Outcome columns from histories and the policy's rules (instants read as epoch seconds).
HISTORY_OUTCOME_SCHEMA: dict[str, pl.DataType] = {
    "priority_changed_at": pl.Int64(),
    "clock_start_at": pl.Int64(),
    "pending_seconds": pl.Int64(),
    "priority_change": pl.Utf8(),
    "reopen_rule": pl.Utf8(),
    "cycles": pl.Int64(),
    "first_response_at": pl.Int64(),
    "response_target_seconds": pl.Int64(),
    "response_elapsed_seconds": pl.Int64(),
    "response_due_at": pl.Int64(),
    "response_status": pl.Utf8(),
}
_OUTCOME_INSTANTS = (
    "logged_at",
    "resolution_at",
    "priority_changed_at",
    "clock_start_at",
    "first_response_at",
    "response_due_at",
)

OUTCOME_SCHEMA: dict[str, pl.DataType] = {
    "organisation_id": pl.Int64(),
    "source_system": pl.Utf8(),
    "reference": pl.Utf8(),
    "type": pl.Utf8(),
    "priority": pl.Utf8(),
    "request_type": pl.Utf8(),
    "team": pl.Utf8(),
    "closure_category": pl.Utf8(),
    "logged_at": pl.Int64(),
    "logged_date": pl.Date(),
    "resolution_at": pl.Int64(),
    "reopen_count": pl.Int32(),
    "resolved_first_contact": pl.Boolean(),
    "nps_rating": pl.Int8(),
    "calendar_id": pl.Utf8(),
    "target_seconds": pl.Int64(),
    "target_share": pl.Float64(),
    "policy_effective_from": pl.Date(),
    "is_open": pl.Boolean(),
    "on_hold": pl.Boolean(),
    "paused_seconds": pl.Int64(),
    "elapsed_sla_seconds": pl.Int64(),
    "elapsed_wall_seconds": pl.Int64(),
    "sla_status": pl.Utf8(),
    "data_quality_reason": pl.Utf8(),
    **HISTORY_OUTCOME_SCHEMA,
}


def load_outcomes(
    session: Session,
    organisation_ids: list[int] | None,
    *,
    logged_before: datetime | None = None,
    resolved_from: datetime | None = None,
) -> pl.DataFrame:
    """Outcomes of the organisations; ``logged_before`` and ``resolved_from`` keep only
    tickets logged before an instant and resolved at or after another (or unresolved)."""
    cols = []
    for c in OUTCOME_SCHEMA:
        if c in _OUTCOME_INSTANTS:
            cols.append(_EPOCH.format(c=c, a=c))
        elif c == "target_share":
            cols.append("target_share::float8 AS target_share")
        else:
            cols.append(c)
    sql = f"SELECT {', '.join(cols)} FROM sla_outcomes WHERE " + _scope(organisation_ids, None)
    params = _params(organisation_ids, None)
    if logged_before is not None:
        sql += " AND logged_at < %(logged_before)s"
        params["logged_before"] = logged_before
    if resolved_from is not None:
        sql += " AND (resolution_at IS NULL OR resolution_at >= %(resolved_from)s)"
        params["resolved_from"] = resolved_from
    df = _copy_frame(session, sql, params, OUTCOME_SCHEMA)
    return df.with_columns(_to_utc(*_OUTCOME_INSTANTS))


# ------------------------------------------------- feedback ratings (NPS, satisfaction)
# Reads of the ratings that feed NPS and service-desk satisfaction (ingest's tables).

# Month basis: a ticket's rating belongs to its month of resolution (Europe/London), or
# of logging while unresolved, as in the SLA NPS report; a rating sent on its own
# belongs to the month it was received.
_TICKET_SQL = """
SELECT t.organisation_id, t.nps_rating AS recommendation,
       date_trunc('month', COALESCE(t.resolved_at, t.logged_at) AT TIME ZONE 'Europe/London')::date
           AS month
FROM tickets t
WHERE t.nps_rating IS NOT NULL {orgs}
  -- A rating sent for this very ticket through the endpoint replaces the export's.
  AND NOT EXISTS (
      SELECT 1 FROM feedback_ratings f
      WHERE f.organisation_id = t.organisation_id AND f.source_system = t.source_system
        AND f.ticket_reference = t.reference AND f.recommendation IS NOT NULL)
"""
_FEEDBACK_SQL = """
SELECT organisation_id, satisfaction, recommendation,
       date_trunc('month', received_at AT TIME ZONE 'Europe/London')::date AS month
FROM feedback_ratings f WHERE true {orgs}
"""

RATING_SCHEMA = {
    "organisation_id": pl.Int64(),
    "origin": pl.Utf8(),
    "satisfaction": pl.Int16(),
    "recommendation": pl.Int16(),
    "month": pl.Date(),
}


def load_ratings(
    session: Session,
    organisation_ids: list[int] | None,
    month_from: date | None,
    month_to: date | None,
) -> pl.DataFrame:
    """One row per rating: organisation_id, origin (ticket_export | feedback), satisfaction,
    recommendation, month (first day, Europe/London)."""
    params: dict[str, Any] = {}
    orgs = ""
    if organisation_ids is not None:
        orgs = "AND {a}.organisation_id = ANY(:orgs)"
        params["orgs"] = organisation_ids
    rows: list[tuple[Any, ...]] = []
    for org, rec, month in session.execute(
        text(_TICKET_SQL.format(orgs=orgs.format(a="t"))), params
    ).all():
        rows.append((org, "ticket_export", None, rec, month))
    for org, sat, rec, month in session.execute(
        text(_FEEDBACK_SQL.format(orgs=orgs.format(a="f"))), params
    ).all():
        rows.append((org, "feedback", sat, rec, month))
    df = pl.DataFrame(rows, schema=RATING_SCHEMA, orient="row")
    if month_from is not None:
        df = df.filter(pl.col("month") >= month_from.replace(day=1))
    if month_to is not None:
        df = df.filter(pl.col("month") <= month_to)
    return df


def latest_outcomes_run(session: Session, organisation_id: int) -> dict[str, Any] | None:
    """The last computation run that wrote the organisation's SLA outcomes."""
    row = (
        session.execute(
            select(runs)
            .where(
                runs.c.kind == "sla_outcomes",
                runs.c.scope["organisations"].contains([organisation_id]),
            )
            .order_by(runs.c.id.desc())
            .limit(1)
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


# ------------------------------------------- histories, OLAs, shared services, imports

# The tickets open at an instant, as ``load_tickets(open_at=...)`` selects them.
_OPEN_AT = (
    " AND logged_at < %(open_at)s AND (coalesce(resolved_at, closed_at) IS NULL"
    " OR coalesce(resolved_at, closed_at) > %(open_at)s)"
)


def load_tickets_open_at(
    session: Session, organisation_ids: list[int] | None, as_of: datetime
) -> pl.DataFrame:
    """The tickets of the organisations that were logged and not yet resolved (nor
    closed) at ``as_of``: the ones whose figures depend on the moment asked about."""
    return load_tickets(session, organisation_ids, open_at=as_of)


EVENT_SCHEMA: dict[str, pl.DataType] = {
    "organisation_id": pl.Int64(),
    "ticket_key": pl.Utf8(),
    "kind": pl.Utf8(),
    "at": pl.Int64(),
    "value": pl.Utf8(),
    "canonical": pl.Utf8(),
    "end_at": pl.Int64(),
}


def load_events(
    session: Session,
    organisation_ids: list[int] | None,
    months: dict[int, list[str]] | None = None,
    *,
    open_at: datetime | None = None,
) -> pl.DataFrame:
    """Ticket history events (the engine's ``events`` frame), in order within a ticket:
    of the organisations, of the tickets logged in the months given per organisation, or
    of the tickets open at ``open_at``."""
    where = _scope(organisation_ids, months).replace("organisation_id", "t.organisation_id")
    where = where.replace("logged_at", "t.logged_at")
    params = _params(organisation_ids, months)
    if open_at is not None:
        where += _OPEN_AT.replace("logged_at", "t.logged_at").replace(
            "coalesce(resolved_at, closed_at)", "coalesce(t.resolved_at, t.closed_at)"
        )
        params["open_at"] = open_at
    sql = (
        "SELECT e.organisation_id, e.source_system || chr(31) || e.reference AS ticket_key, "
        "e.kind, "
        + _EPOCH.format(c="e.at", a="at")
        + ", e.value, e.canonical, "
        + _EPOCH.format(c="e.end_at", a="end_at")
        + " FROM ticket_events e JOIN tickets t USING (organisation_id, source_system, "
        "reference) WHERE " + where + " ORDER BY e.organisation_id, e.source_system, "
        "e.reference, e.at, e.seq"
    )
    df = _copy_frame(session, sql, params, EVENT_SCHEMA)
    return df.with_columns(*_to_utc("at", "end_at"), pl.col("kind").cast(engine.EVENT_KIND))


def load_ola_policies(session: Session, organisation_ids: list[int] | None) -> pl.DataFrame:
    sql = (
        "SELECT organisation_id, resolver_group, priority, target_seconds, "
        "target_working_days::float8 AS target_working_days, "
        "coalesce(calendar_id::text, '24x7') AS calendar_id, target_share::float8 AS target_share, "
        "effective_from, array_to_json(pause_statuses)::text AS pause_statuses "
        "FROM ola_policies WHERE " + _scope(organisation_ids, None)
    )
    df = _copy_frame(
        session,
        sql,
        _params(organisation_ids, None),
        {
            "organisation_id": pl.Int64(),
            "resolver_group": pl.Utf8(),
            "priority": pl.Utf8(),
            "target_seconds": pl.Int64(),
            "target_working_days": pl.Float64(),
            "calendar_id": pl.Utf8(),
            "target_share": pl.Float64(),
            "effective_from": pl.Date(),
            "pause_statuses": pl.Utf8(),
        },
    )
    return df.with_columns(pl.col("pause_statuses").str.json_decode(pl.List(pl.Utf8)))


def shared_services(session: Session, organisation_ids: list[int] | None) -> dict[int, list[int]]:
    """Shared service → its partners (in their order), for the services among the
    organisations given (all services when None)."""
    params: dict[str, Any] = {}
    where = ""
    if organisation_ids is not None:
        where = "WHERE shared_service_id = ANY(:ids)"
        params["ids"] = organisation_ids
    rows = session.execute(
        text(
            "SELECT shared_service_id, partner_id FROM organisation_partners "
            f"{where} ORDER BY shared_service_id, position, partner_id"
        ),
        params,
    ).all()
    out: dict[int, list[int]] = {}
    for service, partner in rows:
        out.setdefault(int(service), []).append(int(partner))
    return out


def services_of(session: Session, organisation_ids: list[int]) -> dict[int, list[int]]:
    """Partner → the shared services it is a partner of."""
    rows = session.execute(
        text(
            "SELECT partner_id, shared_service_id FROM organisation_partners "
            "WHERE partner_id = ANY(:ids) ORDER BY 1, 2"
        ),
        {"ids": organisation_ids},
    ).all()
    out: dict[int, list[int]] = {}
    for partner, service in rows:
        out.setdefault(int(partner), []).append(int(service))
    return out


def record_import_run(session: Session, import_id: int, run_id: int) -> None:
    """The computation run that first included ticket import ``import_id``: its figures
    are ready now (ingest shows it on the import job)."""
    session.execute(
        text(
            "INSERT INTO sla_import_runs (import_id, run_id, figures_ready_at) "
            "VALUES (:i, :r, now()) ON CONFLICT (import_id) DO NOTHING"
        ),
        {"i": import_id, "r": run_id},
    )
