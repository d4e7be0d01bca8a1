"""The feed's rules: what each entity set holds for the caller, made by the same functions
that answer the JSON API (services.metrics.benchmark, sla, nps, surveys), so a figure is the
same in both, under the same access rules:

- benchmark sets (Comparisons, Distributions, Trends, BenchmarkStatistics): admins, and
  participants and read-only keys for their own organisations only, only for published
  cycles inside the access window (``benchmark.service.check_access``); peers appear only
  as their anonymous code and value; suppressed statistics are null with the reason;
- SLA and NPS sets: the organisations ``sla.service.visible_organisations`` allows;
- survey sets: campaigns of the caller's own organisations (admins: every one), the
  breakdown cells suppressed as in the JSON API.

A set computed per organisation, cycle, peer group or metric is computed only for the
values an ``eq``/``in`` in ``$filter`` leaves possible (``engine.pinned``); cycles the caller
may not see are left out, and a filter that asks only for such cycles is answered with the
reason (403), as the JSON API does. Admins name the organisation (``organisation_id eq …``)
on the per-organisation benchmark sets: those are one organisation's view.

Rows are then filtered, ordered and paged by Polars expressions (computed sets) or in SQL
(SlaTickets, BenchmarkStatistics: read page by page, never whole).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import polars as pl
from sqlalchemy.orm import Session

from services.metrics.benchmark import repository as bench_repo
from services.metrics.benchmark import service as bench
from services.metrics.nps import service as nps
from services.metrics.nps.schemas import Source
from services.metrics.odata import engine
from services.metrics.odata import repository as repo
from services.metrics.odata.engine import Options, Position
from services.metrics.odata.exceptions import ODataError
from services.metrics.odata.schemas import EntitySet
from services.metrics.packs import repository as packs_repo
from services.metrics.packs import service as packs
from services.metrics.sla import service as sla
from services.metrics.sla.service import ReportQuery
from services.metrics.surveys import service as surveys
from shared.auth import Principal
from shared.catalogue import available_cycles, load_catalogue
from shared.errors import Forbidden, ProblemError
from shared.settings import Settings

DEFAULT_PAGE = 5_000
MAX_PAGE = 50_000


@dataclass(frozen=True)
class Page:
    rows: pl.DataFrame | None  # the page, with the properties asked for (computed sets)
    next: Position | None  # where the next page starts; None on the last page
    count: int | None  # rows matching $filter, when $count=true
    json_rows: str | None = None  # or the rows as JSON text made by the database: {…},{…}
    json_bytes: bytes | None = None  # or the page's JSON array, written by Polars

    def json_array(self) -> bytes:
        if self.json_bytes is not None:
            return self.json_bytes
        if self.json_rows is not None:
            return b"[" + self.json_rows.encode() + b"]"
        assert self.rows is not None
        return engine.json_ready(self.rows).write_json().encode()


def check_role(principal: Principal, es: EntitySet) -> None:
    if not principal.has_any_role(es.roles):
        raise Forbidden(
            f"{es.name} is for the roles {', '.join(es.roles)}; you have "
            f"{', '.join(sorted(principal.roles))}.",
            code="role_forbidden",
        )


def frame_schema(es: EntitySet) -> dict[str, pl.DataType]:
    return {p.name: repo.polars_type(p.type) for p in es.properties}


def _frame(es: EntitySet, rows: Iterable[dict[str, Any]]) -> pl.DataFrame:
    return pl.from_dicts(list(rows), schema=frame_schema(es)) if rows else _empty(es)


def _empty(es: EntitySet) -> pl.DataFrame:
    return pl.DataFrame(schema=frame_schema(es))


def _conform(es: EntitySet, frame: pl.DataFrame) -> pl.DataFrame:
    """A frame made by another package's engine, cast to the declared property types."""
    return frame.select(pl.col(n).cast(t) for n, t in frame_schema(es).items())


# ------------------------------------------------------------------ benchmark access


def _org_scope(principal: Principal, pinned: set[Any] | None, es: EntitySet) -> list[int]:
    if pinned is not None:
        orgs = sorted(int(o) for o in pinned)
        for org in orgs:
            principal.require_organisation(org)
        return orgs
    if principal.is_admin:
        raise ODataError(
            f"{es.name} is one organisation's view: as an administrator, name it with "
            "$filter=organisation_id eq <id>.",
            code="organisation_required",
            target="$filter",
        )
    if not principal.organisations:
        raise Forbidden("Your credentials are not scoped to any organisation.")
    return sorted(principal.organisations)


def _accesses(
    session: Session,
    settings: Settings,
    principal: Principal,
    organisation_id: int,
    pinned_years: set[Any] | None,
) -> list[bench.Access]:
    """The cycles ``organisation_id``'s results may be seen in, by the JSON API's rule
    (``check_access``); a filter naming only cycles that are not visible gets the reason."""
    bench.check_caller(principal, organisation_id)
    exists = bool(repo.existing_organisations(session, [organisation_id]))
    out: list[bench.Access] = []
    refused: ProblemError | None = None
    for cycle in repo.cycles(session):
        if pinned_years is not None and cycle["year"] not in pinned_years:
            continue
        snap = {
            "cycle_id": cycle["id"],
            "year": cycle["year"],
            "status": cycle["status"],
            "results_release_date": cycle["results_release_date"],
            "organisation_exists": exists,
            "version": (),
        }
        try:
            year = cycle["year"]
            out.append(bench.check_access(settings, principal, organisation_id, year, snap))
        except ProblemError as exc:
            refused = refused or exc
    if not out and pinned_years is not None and refused is not None:
        raise refused
    return out


def _groups(session: Session, year: int, pinned: set[Any] | None) -> list[bench.PeerGroup]:
    stored = [g["peer_group_key"] for g in bench_repo.peer_groups(session, year)]
    keys = stored if pinned is None else sorted(str(k) for k in pinned)
    out = []
    for key in keys:
        try:
            out.append(bench.resolve_group(key, None, None, None, None, None))
        except ProblemError:
            continue  # not a peer group: no rows match it
    return out


def _per_access(
    session: Session,
    settings: Settings,
    principal: Principal,
    es: EntitySet,
    tree: Any,
    years: set[Any] | None,
) -> Iterator[tuple[int, bench.Access]]:
    for org in _org_scope(principal, engine.pinned(tree, "organisation_id"), es):
        for access in _accesses(session, settings, principal, org, years):
            yield org, access


def comparisons(
    session: Session, settings: Settings, principal: Principal, es: EntitySet, tree: Any
) -> pl.DataFrame:
    rows: list[dict[str, Any]] = []
    years = engine.pinned(tree, "cycle_year")
    for org, access in _per_access(session, settings, principal, es, tree, years):
        for group in _groups(session, access.cycle["year"], engine.pinned(tree, "peer_group_key")):
            data = bench.comparison(session, settings, access, org, group)
            rows += ({**r, "organisation_id": org} for r in data["rows"])
    return _frame(es, rows)


def distributions(
    session: Session, settings: Settings, principal: Principal, es: EntitySet, tree: Any
) -> pl.DataFrame:
    rows: list[dict[str, Any]] = []
    years = engine.pinned(tree, "cycle_year")
    metrics = engine.pinned(tree, "metric_key")
    for org, access in _per_access(session, settings, principal, es, tree, years):
        catalogue = load_catalogue(access.cycle["year"])
        keys = None
        if metrics is not None:
            keys = [
                k
                for k in sorted(str(m) for m in metrics)
                if k in catalogue.metrics
                and catalogue.modules[catalogue.metrics[k].module].peer_comparison
            ]
            if not keys:
                continue
        for group in _groups(session, access.cycle["year"], engine.pinned(tree, "peer_group_key")):
            for metric in bench.distributions(session, settings, access, org, keys, group):
                rows += ({**r, "organisation_id": org} for r in metric["rows"])
    return _frame(es, rows)


def trends(
    session: Session, settings: Settings, principal: Principal, es: EntitySet, tree: Any
) -> pl.DataFrame:
    """Each organisation's trends end at the latest cycle it may see (``as_of_cycle_year``)."""
    rows: list[dict[str, Any]] = []
    metrics = engine.pinned(tree, "metric_key")
    for org in _org_scope(principal, engine.pinned(tree, "organisation_id"), es):
        accesses = _accesses(session, settings, principal, org, None)
        if not accesses:
            continue
        access = accesses[-1]
        year = access.cycle["year"]
        catalogue = load_catalogue(year)
        keys = None
        if metrics is not None:
            keys = [
                k
                for k in sorted(str(m) for m in metrics)
                if k in catalogue.metrics
                and catalogue.modules[catalogue.metrics[k].module].peer_comparison
            ]
            if not keys:
                continue
        for group in _groups(session, year, engine.pinned(tree, "peer_group_key")):
            data = bench.trends_of(session, settings, access, org, keys, group)
            rows += ({**r, "organisation_id": org, "as_of_cycle_year": year} for r in data["rows"])
    return _frame(es, rows)


def metrics(
    session: Session, settings: Settings, principal: Principal, es: EntitySet, tree: Any
) -> pl.DataFrame:
    rows = []
    for year in available_cycles():
        catalogue = load_catalogue(year)
        for m in catalogue.metrics.values():
            rows.append(
                {
                    "cycle_year": year,
                    "metric_key": m.key,
                    "metric_name": m.name,
                    "module": m.module,
                    "unit": m.unit,
                    "polarity": m.polarity,
                    "peer_comparison": catalogue.modules[m.module].peer_comparison,
                    "introduced_in": m.introduced_in,
                    "definition_changed": year in m.changed_in,
                    "description": m.description or None,
                }
            )
    return _frame(es, rows)


def statistics_scope(
    session: Session, settings: Settings, principal: Principal
) -> list[int] | None:
    """The cycles whose stored statistics the caller may read (None: every cycle)."""
    if principal.is_admin:
        return None
    if not principal.organisations:
        raise Forbidden("Your credentials are not scoped to any organisation.")
    years: set[int] = set()
    for org in sorted(principal.organisations):
        years |= {a.cycle["year"] for a in _accesses(session, settings, principal, org, None)}
    return sorted(years)


# ------------------------------------------------------------------ SLA, NPS


def _sla_orgs(principal: Principal, tree: Any) -> list[int] | None:
    pinned = engine.pinned(tree, "organisation_id")
    asked = sorted(int(o) for o in pinned) if pinned is not None else None
    return sla.visible_organisations(principal, asked)


def _key(*columns: str) -> pl.Expr:
    return pl.concat_str(
        [pl.col(c).cast(pl.String).fill_null("") for c in columns], separator="|"
    ).alias("key")


def sla_monthly(
    session: Session, settings: Settings, principal: Principal, es: EntitySet, tree: Any
) -> pl.DataFrame:
    orgs = _sla_orgs(principal, tree)
    return _conform(es, sla.monthly(session, orgs, ReportQuery(organisation_ids=orgs)))


def sla_logged(
    session: Session, settings: Settings, principal: Principal, es: EntitySet, tree: Any
) -> pl.DataFrame:
    orgs = _sla_orgs(principal, tree)
    df = sla.logged(session, orgs, ReportQuery(organisation_ids=orgs))
    return _conform(es, df.with_columns(_key("organisation_id", "priority", "month")))


def sla_backlog(
    session: Session, settings: Settings, principal: Principal, es: EntitySet, tree: Any
) -> pl.DataFrame:
    orgs = _sla_orgs(principal, tree)
    now = datetime.now(UTC).replace(microsecond=0)
    df = sla.backlog(session, orgs, ReportQuery(organisation_ids=orgs), now)
    df = df.with_columns(_key("organisation_id", "priority"), pl.lit(now).alias("as_of"))
    return _conform(es, df)


NPS_SOURCES: tuple[Source, ...] = ("tickets", "feedback", "survey")


def nps_rows(
    session: Session, settings: Settings, principal: Principal, es: EntitySet, tree: Any
) -> pl.DataFrame:
    orgs = _sla_orgs(principal, tree)
    pinned = engine.pinned(tree, "source")
    parts = []
    for source in NPS_SOURCES:
        if pinned is not None and source not in pinned:
            continue
        if source == "survey" and not principal.has_any_role(("admin", "participant", "reader")):
            continue  # survey NPS needs a survey role, as in the JSON API
        df = nps.nps(session, source, orgs, None, None)
        parts.append(
            df.with_columns(pl.lit(source).alias("source")).with_columns(
                _key("source", "organisation_id", "month")
            )
        )
    if not parts:
        return _empty(es)
    return pl.concat([_conform(es, p) for p in parts])


# ------------------------------------------------------------------ surveys


def _campaign_tables(
    session: Session, principal: Principal, tree: Any, table: str
) -> list[dict[str, Any]]:
    orgs = None if principal.is_admin else sorted(principal.organisations)
    pinned = engine.pinned(tree, "campaign_id")
    rows = []
    for campaign_id in repo.satisfaction_campaigns(session, orgs):
        if pinned is not None and campaign_id not in pinned:
            continue
        found = surveys.results(session, principal, campaign_id)
        for r in found.get(table) or []:
            rows.append(
                {
                    **r,
                    "campaign_id": campaign_id,
                    "organisation_id": found["organisation_id"],
                    "final": found["final"],
                }
            )
    return rows


def survey_factors(
    session: Session, settings: Settings, principal: Principal, es: EntitySet, tree: Any
) -> pl.DataFrame:
    return _frame(es, _campaign_tables(session, principal, tree, "factors"))


def survey_breakdowns(
    session: Session, settings: Settings, principal: Principal, es: EntitySet, tree: Any
) -> pl.DataFrame:
    return _frame(es, _campaign_tables(session, principal, tree, "breakdowns"))


# ------------------------------------------------------------------ committee packs


def _packs(
    session: Session, principal: Principal, tree: Any
) -> Iterator[tuple[dict[str, Any], Any]]:
    """Each stored pack version the caller may read (``packs.service.readable_services``,
    the pack API's rule), with its figures; only the versions ``pack_id`` may take."""
    services = packs.readable_services(session, principal)
    pinned = engine.pinned(tree, "pack_id")
    for row in packs_repo.list_packs(session, services, None, None, None):
        if pinned is not None and row["id"] not in pinned:
            continue
        figures = packs_repo.stored(session, row["id"], "figures")["figures"]
        head = {
            "pack_id": row["id"],
            "service_id": row["service_id"],
            "financial_year": row["financial_year"],
            "period": row["period"],
            "version": row["version"],
            "status": row["status"],
        }
        yield head, packs.stored_pack({"figures": figures})


def _f(value: Any) -> float | None:
    return None if value is None else float(value)


def pack_kpis(
    session: Session, settings: Settings, principal: Principal, es: EntitySet, tree: Any
) -> pl.DataFrame:
    rows = [
        {
            **head,
            **m.model_dump(include={"key", "label", "unit", "rag", "comment"}),
            "value": _f(m.value),
            "target": _f(m.target),
            "previous": _f(m.previous),
            "change": _f(m.change),
        }
        for head, pack in _packs(session, principal, tree)
        for m in pack.kpi.measures
    ]
    return _frame(es, rows)


def pack_sla_months(
    session: Session, settings: Settings, principal: Principal, es: EntitySet, tree: Any
) -> pl.DataFrame:
    rows = [
        {
            **head,
            "priority": t.priority,
            "target_label": t.target_label,
            "target_pct": _f(t.target_pct),
            "month": m.month,
            "met": m.met,
            "missed": m.missed,
            "total": m.total,
            "met_pct": _f(m.met_pct),
            "missed_pct": _f(m.missed_pct),
        }
        for head, pack in _packs(session, principal, tree)
        for t in pack.sla
        for m in t.months
    ]
    return _frame(es, rows)


def _money(m: Any) -> dict[str, int]:
    return m.model_dump(
        include={"budget_pence", "forecast_pence", "variance_pence", "actuals_pence",
                 "remaining_pence"}
    )  # fmt: skip


def pack_outturn(
    session: Session, settings: Settings, principal: Principal, es: EntitySet, tree: Any
) -> pl.DataFrame:
    rows: list[dict[str, Any]] = []
    for head, pack in _packs(session, principal, tree):
        if pack.outturn is None:
            continue
        out: list[dict[str, Any]] = []
        for g in pack.outturn.groups:
            group = {"group_key": g.key, "group_label": g.label}
            for line in g.lines:
                out.append(
                    {**group, "kind": "line", "category": line.category, "line": line.line,
                     **_money(line)}
                )  # fmt: skip
            out.append({**group, "kind": "group_total", **_money(g)})
        out.append({"kind": "total", **_money(pack.outturn.total)})
        for line in pack.outturn.recharges:
            out.append(
                {"kind": "recharge", "category": line.category, "line": line.line,
                 **_money(line)}
            )  # fmt: skip
        rows += ({**head, "row": i + 1, **r} for i, r in enumerate(out))
    return _frame(es, rows)


def pack_risks(
    session: Session, settings: Settings, principal: Principal, es: EntitySet, tree: Any
) -> pl.DataFrame:
    rows = [
        {
            **head,
            **r.model_dump(
                include={
                    "reference",
                    "section",
                    "title",
                    "impact",
                    "probability",
                    "priority",
                    "band",
                    "previous_priority",
                    "trend",
                    "owner",
                }
            ),
        }
        for head, pack in _packs(session, principal, tree)
        for section in pack.risks
        for r in section.risks
    ]
    return _frame(es, rows)


Producer = Callable[[Session, Settings, Principal, EntitySet, Any], pl.DataFrame]
PRODUCERS: dict[str, Producer] = {
    "Metrics": metrics,
    "Comparisons": comparisons,
    "Distributions": distributions,
    "Trends": trends,
    "SlaMonthly": sla_monthly,
    "SlaLogged": sla_logged,
    "SlaBacklog": sla_backlog,
    "Nps": nps_rows,
    "SurveyFactors": survey_factors,
    "SurveyBreakdowns": survey_breakdowns,
    "PackKpis": pack_kpis,
    "PackSlaMonths": pack_sla_months,
    "PackOutturn": pack_outturn,
    "PackRisks": pack_risks,
}


# ------------------------------------------------------------------ reading a page


def _scope(
    session: Session, settings: Settings, principal: Principal, es: EntitySet, tree: Any
) -> list[Any] | None:
    if es.name == "SlaTickets":
        return _sla_orgs(principal, tree)
    return statistics_scope(session, settings, principal)


def matching(
    session: Session,
    settings: Settings,
    principal: Principal,
    es: EntitySet,
    options: Options,
) -> pl.LazyFrame:
    """A computed set's rows that match ``$filter``, in the order asked for (lazy)."""
    frame = PRODUCERS[es.name](session, settings, principal, es, options.filter).lazy()
    if options.filter is not None:
        frame = frame.filter(engine.polars_filter(es, options.filter))
    return engine.sort_frame(frame, options)


def _selected(es: EntitySet, options: Options) -> list[str]:
    return list(options.select) if options.select else es.columns


def page(
    session: Session,
    settings: Settings,
    principal: Principal,
    es: EntitySet,
    options: Options,
    position: Position,
    page_size: int,
) -> Page:
    """One page of the set as asked: at most ``page_size`` rows from ``position``."""
    check_role(principal, es)
    size = page_size
    if options.top is not None:
        size = min(size, max(options.top - position.sent, 0))
    if es.name in repo.TABLE_COLUMNS:
        return _table_page(session, settings, principal, es, options, position, size, page_size)
    frame = matching(session, settings, principal, es, options)
    start = options.skip + position.sent
    rows = frame.slice(start, size + 1).collect() if size else _empty(es).head(0)
    count = frame.select(pl.len()).collect().item() if options.count else None
    more = rows.height > size
    nxt = Position(position.sent + size, page_size=page_size) if more else None
    return Page(rows.head(size).select(_selected(es, options)), nxt, count)


def _table_page(
    session: Session,
    settings: Settings,
    principal: Principal,
    es: EntitySet,
    options: Options,
    position: Position,
    size: int,
    page_size: int,
) -> Page:
    columns = repo.TABLE_COLUMNS[es.name]
    scope = _scope(session, settings, principal, es, options.filter)
    where = [] if options.filter is None else [engine.sql_filter(es, options.filter, columns)]
    keyset = not options.custom_order
    offset = options.skip + position.sent
    if keyset and position.last_key is not None:
        where.append(engine.sql_after(es, columns, position.last_key))
        offset = 0
    order = engine.sql_order(es, options, columns)
    wanted = _selected(es, options)
    text, n, more, last = "", 0, False, None
    body: bytes | None = None
    if size and repo.frame_pages(es, wanted):
        body, n, more, last = repo.frame_page(
            session, es, scope, where, order, size, offset, wanted
        )
    elif size:
        text, n, more, last = repo.json_page(session, es, scope, where, order, size, offset, wanted)
    count = None
    if options.count:
        base = [] if options.filter is None else where[:1]
        count = repo.count(session, repo.table_query(es, scope, base))
    nxt = None
    if more:
        key = tuple(last) if keyset and last is not None else None
        nxt = Position(position.sent + n, last_key=key, page_size=page_size)
    return Page(None, nxt, count, json_rows=text, json_bytes=body)


# ------------------------------------------------------------------ whole downloads


def whole(
    session: Session,
    settings: Settings,
    principal: Principal,
    es: EntitySet,
    options: Options,
) -> pl.DataFrame:
    """Every row a computed set's query matches ($top and $skip honoured), for a
    download."""
    check_role(principal, es)
    frame = matching(session, settings, principal, es, options).slice(options.skip, options.top)
    return frame.collect().select(_selected(es, options))


def table_download(
    session: Session,
    settings: Settings,
    principal: Principal,
    es: EntitySet,
    options: Options,
    *,
    csv: bool,
) -> tuple[Any, str]:
    """The SELECT of a whole table download (streamed by the router) and the data version
    it answers from (for its ETag)."""
    check_role(principal, es)
    columns = repo.TABLE_COLUMNS[es.name]
    scope = _scope(session, settings, principal, es, options.filter)
    where = [] if options.filter is None else [engine.sql_filter(es, options.filter, columns)]
    stmt = repo.table_query(
        es,
        scope,
        where,
        engine.sql_order(es, options, columns),
        options.top,
        options.skip,
        columns=_selected(es, options),
        csv=csv,
    )
    return stmt, repo.data_version(session, es, scope)


def count(
    session: Session, settings: Settings, principal: Principal, es: EntitySet, options: Options
) -> int:
    """Rows matching ``$filter`` (``/{set}/$count``)."""
    check_role(principal, es)
    if es.name in repo.TABLE_COLUMNS:
        columns = repo.TABLE_COLUMNS[es.name]
        scope = _scope(session, settings, principal, es, options.filter)
        where = [] if options.filter is None else [engine.sql_filter(es, options.filter, columns)]
        return repo.count(session, repo.table_query(es, scope, where))
    n: int = matching(session, settings, principal, es, options).select(pl.len()).collect().item()
    return n
