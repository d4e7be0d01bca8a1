"""SLA outcomes (recomputed on events), the SLA reports built from them, and the feedback
reports (NPS and satisfaction from post-interaction ratings)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import polars as pl
from sqlalchemy.orm import Session

from services.metrics import figures
from services.metrics.runs import repository as runs
from services.metrics.sla import engine
from services.metrics.sla import repository as repo
from services.metrics.sla.calendar import LONDON, TWENTY_FOUR_SEVEN
from services.metrics.sla.engine import TicketFilter
from shared.auth import Principal
from shared.errors import Forbidden
from shared.events import EventType, SlaRecompute, TicketsImported
from shared.observability import timed
from shared.settings import Settings


def _evaluate(
    session: Session,
    organisation_ids: list[int] | None,
    months: dict[int, list[str]] | None,
    as_of: datetime,
    *,
    open_only: bool = False,
) -> pl.DataFrame:
    """Evaluate the tickets of the organisations (or of the months given per
    organisation; or, with ``open_only``, only those open at ``as_of``) with their
    holds, reopen gaps and histories."""
    orgs = organisation_ids if months is None else sorted(months)
    if open_only:
        tickets = repo.load_tickets_open_at(session, organisation_ids, as_of)
        events = repo.load_events(session, organisation_ids, open_at=as_of)
    else:
        tickets = repo.load_tickets(session, organisation_ids, months)
        events = repo.load_events(session, organisation_ids, months)
    holds, reopens = repo.load_intervals(session, orgs)
    policies = repo.load_policies(session, orgs)
    clocks = repo.load_clocks(session, orgs)
    return engine.evaluate_tickets(
        tickets, policies, clocks, as_of=as_of, holds=holds, reopens=reopens, events=events
    )


def recompute(
    session: Session,
    *,
    organisation_ids: list[int] | None = None,
    months: dict[int, list[str]] | None = None,
    as_of: datetime,
) -> int:
    """Evaluate and store outcomes: of whole organisations, or of the local logged
    months given per organisation (the months an import touched)."""
    with timed("sla_outcomes"):
        results = _evaluate(session, organisation_ids, months, as_of)
        return repo.write_outcomes(
            session, results, replace_organisations=organisation_ids if months is None else None
        )


def on_tickets_imported(session: Session, event: TicketsImported, _settings: Settings) -> int:
    """A job (services.metrics.events): recompute the months a ticket import touched."""
    months = event.months()
    n = recompute(session, months=months, as_of=datetime.now(UTC))
    run_id = runs.record(
        session,
        kind="sla_outcomes",
        scope={"import_id": event.import_id, "organisations": sorted(months)},
        trigger=EventType.TICKETS_IMPORTED,
        detail={"tickets": n, "months": {str(k): v for k, v in months.items()}},
    )
    if event.import_id is not None:
        # Same transaction as the outcomes: the import's figures are ready at commit.
        repo.record_import_run(session, event.import_id, run_id)
    return run_id


def on_recompute_requested(session: Session, event: SlaRecompute, _settings: Settings) -> int:
    """A job (services.metrics.events): an organisation's policies, calendars or intervals
    changed, so all its outcomes are recomputed."""
    org = event.organisation_id
    n = recompute(session, organisation_ids=[org], as_of=datetime.now(UTC))
    return runs.record(
        session,
        kind="sla_outcomes",
        scope={"organisations": [org]},
        trigger=f"{EventType.SLA_RECOMPUTE}:{event.reason}",
        detail={"tickets": n},
    )


# --------------------------------------------------------------------------- reports


@dataclass(frozen=True)
class ReportQuery:
    organisation_ids: list[int] | None = None
    priorities: list[str] | None = None
    teams: list[str] | None = None
    closure_categories: list[str] | None = None
    resolved_from: date | None = None
    resolved_to: date | None = None
    logged_from: date | None = None
    logged_to: date | None = None


def visible_organisations(principal: Principal, asked: list[int] | None) -> list[int] | None:
    """The organisations a report covers; None = all (admins without a filter)."""
    if asked:
        for org in asked:
            principal.require_organisation(org)
        return sorted(set(asked))
    if principal.is_admin:
        return None
    if not principal.organisations:
        raise Forbidden("Your credentials are not scoped to any organisation.")
    return sorted(principal.organisations)


# ------------------------------------------------------------------ shared services
# A shared service is an organisation with partner organisations (organisation_partners,
# managed by ingest). Its report rows cover its own tickets and its partners' (the
# service's totals, organisation_id = the service). Its staff also read each partner's
# rows and tickets; a partner reads its own and the service's totals, never another
# partner's rows or tickets.


@dataclass(frozen=True)
class Scope:
    """What a report covers: ``organisations`` report their own tickets (None = every
    organisation but the rolled-up services); each of ``services`` reports its own and
    its partners' tickets under its id."""

    organisations: list[int] | None
    services: dict[int, list[int]] = field(default_factory=dict)

    def ids(self) -> list[int] | None:
        """Every organisation whose tickets take part (None = all)."""
        if self.organisations is None:
            return None
        ids = set(self.organisations)
        for service, partners in self.services.items():
            ids |= {service, *partners}
        return sorted(ids)


def _readable(session: Session, principal: Principal) -> tuple[set[int], dict[int, list[int]]]:
    """(organisations whose rows and tickets the principal reads, services whose totals
    it reads → their partners)."""
    mine = sorted(principal.organisations)
    own_services = repo.shared_services(session, mine)
    rows = set(mine) | {p for ps in own_services.values() for p in ps}
    partnered = sorted({s for ss in repo.services_of(session, mine).values() for s in ss})
    services = own_services | repo.shared_services(session, partnered)
    return rows, services


def report_scope(session: Session, principal: Principal, asked: list[int] | None) -> Scope:
    """The scope of an aggregate report for ``principal`` asking for ``asked`` (None:
    everything it may read; for a non-admin, its own organisations)."""
    if principal.is_admin:
        services = repo.shared_services(session, sorted(set(asked)) if asked else None)
        if not asked:
            return Scope(None, services)
        return Scope(sorted(set(asked) - set(services)), services)
    if not principal.organisations:
        raise Forbidden("Your credentials are not scoped to any organisation.")
    rows, services = _readable(session, principal)
    own: set[int] = set()
    rolled: dict[int, list[int]] = {}
    for org in sorted(set(asked or principal.organisations)):
        if org in services:
            rolled[org] = services[org]
        elif org in rows:
            own.add(org)
        else:
            principal.require_organisation(org)  # raises: not theirs
    return Scope(sorted(own), rolled)


def ticket_scope(
    session: Session, principal: Principal, asked: list[int] | None
) -> list[int] | None:
    """The organisations whose tickets ``principal`` may list (None = all): its own, and
    a shared service's partners for the service's staff; a shared service asked for
    stands for itself and its partners."""
    if principal.is_admin:
        if not asked:
            return None
        services = repo.shared_services(session, sorted(set(asked)))
        return sorted(set(asked) | {p for ps in services.values() for p in ps})
    if not principal.organisations:
        raise Forbidden("Your credentials are not scoped to any organisation.")
    rows, services = _readable(session, principal)
    out: set[int] = set()
    for org in sorted(set(asked or principal.organisations)):
        if org in rows:
            out.add(org)
            if org in services:
                out |= set(services[org])
        elif org in services:
            raise Forbidden(
                f"Organisation {org} is a shared service: its tickets include other "
                "partners'. A partner reads the service's totals in the SLA reports and its "
                "own tickets here (organisation_id = your organisation).",
                code="partner_tickets_forbidden",
            )
        else:
            principal.require_organisation(org)  # raises: not theirs
    return sorted(out)


def scope_notes(scope: Scope) -> dict[str, str]:
    if not scope.services:
        return {}
    text = "; ".join(
        f"{s} covers its own tickets and those of its partners "
        f"{', '.join(map(str, ps)) or '(none)'}"
        for s, ps in sorted(scope.services.items())
    )
    return {"shared_services": text}


def _relabelled(frame: pl.DataFrame, service: int) -> pl.DataFrame:
    return frame.with_columns(
        pl.lit(service).cast(frame.schema["organisation_id"]).alias("organisation_id")
    )


def _rolled_up(scope: Scope, load: Callable[[list[int] | None], pl.DataFrame]) -> pl.DataFrame:
    """``load`` for the scope's own organisations, plus each rolled-up service's frame of
    its own and its partners' tickets under the service's id."""
    own = load(scope.organisations)
    if scope.organisations is None and scope.services:
        own = own.filter(~pl.col("organisation_id").is_in(list(scope.services)))
    frames = [own] if scope.organisations is None or scope.organisations else []
    frames += [_relabelled(load([s, *ps]), s) for s, ps in sorted(scope.services.items())]
    if not frames:
        return load([])
    return pl.concat(frames, how="vertical_relaxed")


def _as_scope(orgs: list[int] | None, services: Mapping[int, list[int]] | None) -> Scope:
    return Scope(orgs, dict(services or {}))


# ------------------------------------------------------------------ the rules printed


_REOPEN_TEXT = {
    "gap_excluded": "gap_excluded: the time between a resolution and the reopening does not count",
    "new_cycle": "new_cycle: a reopening restarts the clock as a new cycle; a ticket with "
    "any missed cycle is missed",
}
_PRIORITY_TEXT = {
    "retroactive": "retroactive: after a priority change the new target runs from logging",
    "from_change": "from_change: after a priority change the new target runs from the change",
}


def _rule_note(policies: pl.DataFrame, column: str, texts: dict[str, str]) -> str:
    rules = policies.select("organisation_id", "priority", column).unique()
    kinds = sorted(set(rules[column].drop_nulls().to_list())) or [next(iter(texts))]
    if len(kinds) == 1:
        return texts[kinds[0]]
    per = (
        rules.group_by(column)
        .agg(pl.format("{} {}", "organisation_id", "priority").sort().alias("who"))
        .sort(column)
    )
    return "by policy: " + "; ".join(
        f"{texts[k]} ({', '.join(w)})" for k, w in per.iter_rows() if k in texts
    )


def rules_notes(session: Session, orgs: list[int] | None) -> dict[str, str]:
    """How reopenings and priority changes were counted, from the policies in scope."""
    policies = repo.load_policies(session, orgs)
    return {
        "reopen_rule": _rule_note(policies, "reopen_rule", _REOPEN_TEXT),
        "priority_change": _rule_note(policies, "priority_change", _PRIORITY_TEXT),
    }


def _filter(q: ReportQuery) -> TicketFilter:
    return TicketFilter(
        resolved_from=q.resolved_from,
        resolved_to=q.resolved_to,
        logged_from=q.logged_from,
        logged_to=q.logged_to,
        priorities=q.priorities or None,
        teams=q.teams or None,
        closure_categories=q.closure_categories or None,
    )


def _outcomes(
    session: Session, orgs: list[int] | None, services: Mapping[int, list[int]] | None = None
) -> pl.DataFrame:
    return _rolled_up(_as_scope(orgs, services), lambda ids: repo.load_outcomes(session, ids))


def monthly(
    session: Session,
    orgs: list[int] | None,
    q: ReportQuery,
    services: Mapping[int, list[int]] | None = None,
) -> pl.DataFrame:
    out = engine.monthly_sla(_outcomes(session, orgs, services), _filter(q))
    return out.drop("avg_closure_sla_clock_seconds", "avg_closure_wall_seconds")


def tickets_of_month(session: Session, q: ReportQuery) -> pl.DataFrame:
    """The outcomes a report's filter selects (an explanation's inputs)."""
    return engine.apply_filter(_outcomes(session, q.organisation_ids), _filter(q))


def latest_outcomes_run(session: Session, organisation_id: int) -> dict[str, Any] | None:
    """The last computation run that rewrote the organisation's SLA outcomes."""
    return repo.latest_outcomes_run(session, organisation_id)


def logged(
    session: Session,
    orgs: list[int] | None,
    q: ReportQuery,
    services: Mapping[int, list[int]] | None = None,
) -> pl.DataFrame:
    return engine.monthly_logged(_outcomes(session, orgs, services), _filter(q))


def backlog(
    session: Session,
    orgs: list[int] | None,
    q: ReportQuery,
    as_of: datetime | None,
    services: Mapping[int, list[int]] | None = None,
) -> pl.DataFrame:
    # Open-ticket status depends on the moment asked about, so it is evaluated live.
    moment = as_of or datetime.now(UTC)
    results = _rolled_up(
        _as_scope(orgs, services), lambda ids: _evaluate(session, ids, None, moment)
    )
    return engine.backlog(results, _filter(q))


def totals(
    session: Session,
    orgs: list[int] | None,
    q: ReportQuery,
    by: Sequence[str],
    services: Mapping[int, list[int]] | None = None,
) -> pl.DataFrame:
    """Totals over the filtered date range (not per month), per organisation and ``by``."""
    return engine.sla_totals(_outcomes(session, orgs, services), _filter(q), by)


def ticket_ratings(session: Session, orgs: list[int] | None) -> pl.DataFrame:
    """NPS ratings in ticket exports: organisation_id, month, rating (services.metrics.nps)."""
    return engine.nps_ratings(_outcomes(session, orgs))


def performance(
    session: Session,
    orgs: list[int] | None,
    q: ReportQuery,
    clock_basis: str,
    services: Mapping[int, list[int]] | None = None,
) -> pl.DataFrame:
    return engine.performance_metrics(
        _outcomes(session, orgs, services),
        f=_filter(q),
        clock_basis="24x7" if clock_basis == "24x7" else "sla_clock",
    )


def data_quality(
    session: Session,
    orgs: list[int] | None,
    q: ReportQuery,
    services: Mapping[int, list[int]] | None = None,
) -> pl.DataFrame:
    r = engine.apply_filter(_outcomes(session, orgs, services), _filter(q))
    return (
        r.filter(pl.col("sla_status") == "data_quality")
        .select(
            "organisation_id",
            "source_system",
            "reference",
            "priority",
            "logged_at",
            "resolution_at",
            pl.col("data_quality_reason").alias("reason"),
        )
        .sort("organisation_id", "source_system", "reference")
    )


# ------------------------------------------------------------------ the ticket-level view

TICKET_VIEW_COLUMNS = (
    "organisation_id",
    "source_system",
    "reference",
    "type",
    "priority",
    "request_type",
    "team",
    "closure_category",
    "logged_at",
    "resolution_at",
    "policy",
    "calendar_id",
    "target_seconds",
    "elapsed_seconds",
    "remaining_seconds",
    "due_at",
    "pct_target_elapsed",
    "status",
    "warning_pct",
    "on_hold",
    "paused_seconds",
    "pending_seconds",
    "cycles",
    "reopen_rule",
    "priority_change",
    "priority_changed_at",
    "first_response_at",
    "response_target_seconds",
    "response_elapsed_seconds",
    "response_due_at",
    "response_status",
    "data_quality_reason",
)
TICKET_STATUSES = engine.SLA_STATUSES

_SPLIT_KEY = [
    pl.col("ticket_key")
    .str.split_exact(repo.SEP, 1)
    .struct.field("field_0")
    .alias("source_system"),
    pl.col("ticket_key").str.split_exact(repo.SEP, 1).struct.field("field_1").alias("reference"),
]


def _hours_text(seconds: pl.Expr) -> pl.Expr:
    """4 h, 8.5 h, 0.25 h: the target in hours, as few decimals as it needs."""
    hours = figures.half_up(seconds, pl.lit(3600), 4).cast(pl.Float64).cast(pl.Utf8)
    return hours.str.replace(r"\.0$", "") + pl.lit(" h")


def _view(frame: pl.DataFrame) -> pl.DataFrame:
    clock = (
        pl.when(pl.col("calendar_id") == TWENTY_FOUR_SEVEN)
        .then(pl.lit("24x7"))
        .otherwise(pl.format("business calendar {}", pl.col("calendar_id")))
    )
    policy = pl.when(pl.col("target_seconds").is_not_null()).then(
        pl.format(
            "{} within {} on the {} clock, from {}",
            pl.col("priority"),
            _hours_text(pl.col("target_seconds")),
            clock,
            pl.col("policy_effective_from").cast(pl.Utf8),
        )
    )
    return frame.with_columns(
        policy.alias("policy"),
        pl.col("elapsed_sla_seconds").alias("elapsed_seconds"),
        (pl.col("target_seconds") - pl.col("elapsed_sla_seconds")).alias("remaining_seconds"),
        figures.half_up_pct(pl.col("elapsed_sla_seconds"), pl.col("target_seconds")).alias(
            "pct_target_elapsed"
        ),
        pl.col("sla_status").alias("status"),
    )


def ticket_view(
    session: Session, orgs: list[int] | None, q: ReportQuery, as_of: datetime
) -> pl.DataFrame:
    """Every ticket logged by ``as_of``: those open then evaluated as of that moment,
    the rest as stored (their figures no longer move), in ``TICKET_VIEW_COLUMNS`` plus
    logged_date and is_open, filtered by ``q``."""
    live = _evaluate(session, orgs, None, as_of, open_only=True).with_columns(_SPLIT_KEY)
    stored = repo.load_outcomes(session, orgs).filter(
        (pl.col("logged_at") <= as_of)
        & pl.col("resolution_at").is_not_null()
        & (pl.col("resolution_at") <= as_of)
    )
    stored = stored.with_columns(
        pl.lit(None, pl.Float64).alias("warning_pct"),
        pl.lit(None, pl.Datetime("us", "UTC")).alias("due_at"),
        pl.col("cycles").cast(pl.Int64),
    )
    cols = [c for c in TICKET_VIEW_COLUMNS if c not in _DERIVED] + [
        "elapsed_sla_seconds", "sla_status", "policy_effective_from", "logged_date", "is_open",
        "target_share",
    ]  # fmt: skip
    both = pl.concat(
        [live.select(cols), stored.select(live.select(cols).schema.names())],
        how="vertical_relaxed",
    )
    return _view(engine.apply_filter(both, _filter(q))).sort(
        "organisation_id", "source_system", "reference"
    )


_DERIVED = ("policy", "elapsed_seconds", "remaining_seconds", "pct_target_elapsed", "status")


def tickets(
    session: Session,
    orgs: list[int] | None,
    q: ReportQuery,
    as_of: datetime,
    *,
    statuses: Sequence[str] | None = None,
    warning_only: bool = False,
) -> pl.DataFrame:
    """The ticket-level view (``TICKET_VIEW_COLUMNS``), optionally only some statuses or
    only open tickets at or past a warning threshold of their policy."""
    view = ticket_view(session, orgs, q, as_of)
    if statuses:
        view = view.filter(pl.col("status").is_in(list(statuses)))
    if warning_only:
        view = view.filter(pl.col("warning_pct").is_not_null())
    return view.select(TICKET_VIEW_COLUMNS)


def breach_forecast(
    session: Session, orgs: list[int] | None, q: ReportQuery, as_of: datetime, within_hours: float
) -> pl.DataFrame:
    """Open tickets within their target at ``as_of`` that breach within the next
    ``within_hours`` working hours of their own policy's clock if nothing moves them
    (no resolution, no pause): remaining on the clock <= that many hours. Soonest first."""
    view = ticket_view(session, orgs, q, as_of).filter(
        (pl.col("status") == "open_within")
        & (pl.col("remaining_seconds") <= pl.lit(within_hours * 3600.0))
    )
    return view.sort("due_at", "organisation_id", "source_system", "reference").select(
        TICKET_VIEW_COLUMNS
    )


# ------------------------------------------------------------------ OLAs


def _ola_rows(session: Session, ids: list[int] | None, as_of: datetime) -> pl.DataFrame:
    """OLA outcomes per ticket and resolver group of the organisations, as of ``as_of``."""
    holds, _reopens = repo.load_intervals(session, ids)
    return engine.evaluate_olas(
        repo.load_tickets(session, ids),
        repo.load_events(session, ids),
        repo.load_ola_policies(session, ids),
        repo.load_clocks(session, ids),
        as_of=as_of,
        holds=holds,
    )


def olas(
    session: Session,
    orgs: list[int] | None,
    q: ReportQuery,
    as_of: datetime,
    services: Mapping[int, list[int]] | None = None,
) -> pl.DataFrame:
    """OLA outcomes per organisation and resolver group, evaluated as of ``as_of``."""
    rows = _rolled_up(_as_scope(orgs, services), lambda ids: _ola_rows(session, ids, as_of))
    return engine.ola_summary(rows, _filter(q))


OLA_TICKET_COLUMNS = (
    "organisation_id",
    "source_system",
    "reference",
    "priority",
    "team",
    "closure_category",
    "resolution_at",
    "resolver_group",
    "policy",
    "calendar_id",
    "target_seconds",
    "assigned_at",
    "released_at",
    "assignments",
    "elapsed_seconds",
    "paused_seconds",
    "remaining_seconds",
    "due_at",
    "pct_target_elapsed",
    "status",
)
# An OLA assignment's status in the per-ticket view: the OLA report's four, with the open
# assignments within the target split at the warning threshold.
OLA_TICKET_STATUSES = ("met", "missed", "open_within", "open_warning", "open_breached")


@dataclass(frozen=True)
class OlaTicketQuery:
    resolver_groups: list[str] | None = None
    statuses: list[str] | None = None
    assigned_from: date | None = None
    assigned_to: date | None = None
    warning_pct: float = 75.0


def ola_tickets(
    session: Session, orgs: list[int] | None, q: ReportQuery, as_of: datetime, o: OlaTicketQuery
) -> pl.DataFrame:
    """The OLA per-ticket view: per ticket and resolver group with an OLA, the OLA in
    words, its target, elapsed (pauses deducted), remaining, due time (while assigned),
    % of the target elapsed and status (``OLA_TICKET_STATUSES``; ``open_warning``: still
    assigned, within the target, at or past ``o.warning_pct`` % of it), filtered by the
    ticket filters, the groups (ignoring case and surrounding spaces), the statuses and
    the local date of the first assignment to the group; in ``OLA_TICKET_COLUMNS``."""
    rows = engine.apply_filter(_ola_rows(session, orgs, as_of), _filter(q))
    assigned_day = _local_date("assigned_at")
    if o.assigned_from is not None:
        rows = rows.filter(assigned_day >= o.assigned_from)
    if o.assigned_to is not None:
        rows = rows.filter(assigned_day <= o.assigned_to)
    if o.resolver_groups:
        wanted = sorted({g.strip().lower() for g in o.resolver_groups})
        rows = rows.filter(pl.col("resolver_group").str.to_lowercase().is_in(wanted))
    clock = (
        pl.when(pl.col("calendar_id") == TWENTY_FOUR_SEVEN)
        .then(pl.lit("24x7"))
        .otherwise(pl.format("business calendar {}", pl.col("calendar_id")))
    )
    who = pl.when(pl.col("policy_priority").is_not_null()).then(
        pl.format(" for {}", pl.col("policy_priority"))
    )
    policy = pl.format(
        "{}{} within {} on the {} clock, from {}",
        pl.col("resolver_group"),
        who.fill_null(""),
        _hours_text(pl.col("target_seconds")),
        clock,
        pl.col("policy_effective_from").cast(pl.Utf8),
    )
    pct = figures.half_up_pct(pl.col("elapsed_seconds"), pl.col("target_seconds"))
    warning = (pl.col("ola_status") == "open_within") & (
        pl.col("elapsed_seconds") * 100.0 >= pl.col("target_seconds") * o.warning_pct
    )
    view = (
        rows.with_columns(_SPLIT_KEY)
        .with_columns(
            policy.alias("policy"),
            (pl.col("target_seconds") - pl.col("elapsed_seconds")).alias("remaining_seconds"),
            pct.alias("pct_target_elapsed"),
            pl.when(warning)
            .then(pl.lit("open_warning"))
            .otherwise(pl.col("ola_status"))
            .alias("status"),
        )
        .sort("organisation_id", "source_system", "reference", "assigned_at", "resolver_group")
    )
    if o.statuses:
        view = view.filter(pl.col("status").is_in(list(o.statuses)))
    return view.select(OLA_TICKET_COLUMNS)


def _local_date(col: str) -> pl.Expr:
    return pl.col(col).dt.convert_time_zone(LONDON).dt.date()


# ------------------------------------------------------------------ feedback reports
# NPS and mean service-desk satisfaction from post-interaction ratings (Polars).
#
# Ratings come from ticket exports (the 0-10 ``nps_rating`` column) and from
# ``POST /api/v1/feedback`` (satisfaction 1-7 and/or recommendation 0-10). Each report has
# a row per organisation and month, then a row per organisation over the whole period
# (``month`` null). A month or organisation with ratings of the other kind only shows
# 0 ratings and a null figure: no ratings gives no score, not 0.


def _by_month_and_total(df: pl.DataFrame, aggs: list[pl.Expr]) -> pl.DataFrame:
    monthly = df.group_by("organisation_id", "month").agg(aggs)
    total = (
        df.group_by("organisation_id").agg(aggs).with_columns(pl.lit(None, pl.Date).alias("month"))
    )
    return pl.concat([monthly, total.select(monthly.columns)]).sort(
        "organisation_id", "month", nulls_last=True
    )


def feedback_ratings(
    session: Session, orgs: list[int] | None, month_from: date | None, month_to: date | None
) -> pl.DataFrame:
    """0-10 recommendation ratings, ticket exports and ``POST /api/v1/feedback`` combined
    (a rating sent for a ticket replaces the export's): organisation_id, month, rating."""
    df = repo.load_ratings(session, orgs, month_from, month_to)
    return df.select("organisation_id", "month", pl.col("recommendation").alias("rating"))


def feedback_satisfaction(
    session: Session, orgs: list[int] | None, month_from: date | None, month_to: date | None
) -> pl.DataFrame:
    # Ticket exports carry no satisfaction rating, so only endpoint rows take part.
    df = repo.load_ratings(session, orgs, month_from, month_to).filter(
        pl.col("origin") == "feedback"
    )
    s = pl.col("satisfaction")
    return _by_month_and_total(
        df,
        [
            s.count().alias("ratings"),
            figures.half_up(s.sum(), s.count(), 2).alias("mean_satisfaction"),
            (s >= 5).sum().alias("satisfied"),
            (s <= 3).sum().alias("dissatisfied"),
        ],
    )
