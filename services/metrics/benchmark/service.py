"""Benchmark results for participants, admins and BI tools.

Access (DOMAIN.md): admins always; participants and read-only API keys (role ``reader``)
only for their own organisations, only for a published cycle, and only for
``access_months`` (12) from the cycle's results release date, after which the answer is
403 with the reason and the date access ended. No response names another organisation
or shows its raw answers: peers appear only as their anonymous code and metric value,
except during a results workshop, to its consenting members, whose names then appear
beside their codes (``Access.named``, decided by ``services.metrics.workshops``).

Peer groups: a standard key (``all``, ``type:L``, ``nation:Wales``,
``partnership:true``, ``size:1000-2499``, ``past``), whose statistics were stored by the
last recompute, or custom filters (type, nation, partnership, size, peer_cycle),
computed on request by the same engine.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any
from urllib.parse import urlencode

import polars as pl
from sqlalchemy.orm import Session

from services.metrics.benchmark import engine
from services.metrics.benchmark import repository as repo
from services.metrics.runs import repository as runs
from services.metrics.workshops.service import NamedView
from shared.auth import Principal
from shared.catalogue import Catalogue, Metric, available_cycles, load_catalogue
from shared.errors import Forbidden, NotFound, Unprocessable
from shared.events import BenchmarkInputsChanged, CycleStatusChanged, EventType
from shared.observability import timed
from shared.settings import Settings

RESULT_ROLES = ("admin", "participant", "reader")
NATIONS = ("England", "Scotland", "Wales", "Northern Ireland")
SIZE_LABELS = tuple(b[0] for b in engine.SIZE_BANDS)


@dataclass(frozen=True)
class PeerGroup:
    key: str
    filters: dict[str, Any] = field(default_factory=dict)  # custom only
    custom: bool = False
    # A saved group (``saved:<id>``): its id, then its members once read (bind_saved).
    saved_id: int | None = None
    members: frozenset[int] | None = None

    def source_year(self, year: int) -> int:
        return int(self.filters.get("cycle", year))


def add_months(day: date, months: int) -> date:
    index = day.month - 1 + months
    year, month = day.year + index // 12, index % 12 + 1
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month, d)
        except ValueError:
            continue
    raise AssertionError("unreachable")


# ------------------------------------------------------------------ access


@dataclass(frozen=True)
class Access:
    """What a request may see, decided afresh for every request (never cached)."""

    cycle: dict[str, Any]  # the cycle's row plus ``access_ends_on``
    is_admin: bool
    version: tuple[Any, ...]  # the data version read with the cycle (see ResultCache)
    named: NamedView | None = None  # names a workshop lets this request show; None: codes

    def with_names(self, named: NamedView | None) -> Access:
        return replace(self, named=named)

    def name_of(self, year: int, organisation_id: int) -> str | None:
        """The name to show beside ``organisation_id``'s code of cycle ``year``, if any."""
        return self.named.name_of(year, organisation_id) if self.named else None

    @property
    def workshop_ids(self) -> list[int]:
        return self.named.workshop_ids if self.named else []


def check_caller(principal: Principal, organisation_id: int) -> None:
    """The checks that need no data: the caller's role and organisation scope."""
    if not principal.has_any_role(RESULT_ROLES):
        raise Forbidden(
            "Results are for admins, participants and read-only API keys.",
            code="role_forbidden",
        )
    principal.require_organisation(organisation_id)


def check_access(
    settings: Settings,
    principal: Principal,
    organisation_id: int,
    year: int,
    snap: dict[str, Any],
    today: date | None = None,
) -> Access:
    """The cycle, if ``principal`` may see ``organisation_id``'s results in it, with the
    data version. Call :func:`check_caller` first; ``snap`` is this request's snapshot
    (``SnapshotReader.read``), read after that passed."""
    if snap["cycle_id"] is None:
        raise NotFound(f"There is no cycle {year}.", code="cycle_not_found")
    if not snap["organisation_exists"]:
        raise NotFound(
            f"There is no organisation {organisation_id}.", code="organisation_not_found"
        )
    version = snap["version"]
    release = snap["results_release_date"]
    ends = add_months(release, settings.access_months) if release else None
    cycle = {
        "id": snap["cycle_id"],
        "year": snap["year"],
        "status": snap["status"],
        "results_release_date": release,
        "access_ends_on": ends,
    }
    if principal.is_admin:
        return Access(cycle, True, version)
    if cycle["status"] != "published" or release is None:
        raise Forbidden(
            f"The results of cycle {year} have not been published yet.",
            code="results_not_published",
        )
    today = today or date.today()
    if today < release:
        raise Forbidden(
            f"The results of cycle {year} are released on {release.isoformat()}.",
            code="results_not_released",
            release_date=release.isoformat(),
        )
    assert ends is not None
    if today >= ends:
        raise Forbidden(
            f"Access to the results of cycle {year} lasted {settings.access_months} months "
            f"from their release on {release.isoformat()} and ended on {ends.isoformat()}; "
            "take part in a later cycle to see current results.",
            code="access_expired",
            access_ended_on=ends.isoformat(),
        )
    return Access(cycle, False, version)


def catalogue_of(year: int) -> Catalogue:
    if year not in available_cycles():
        raise NotFound(f"There is no catalogue for cycle {year}.", code="catalogue_not_found")
    return load_catalogue(year)


def metric_of(catalogue: Catalogue, key: str) -> Metric:
    metric = catalogue.metrics.get(key)
    if metric is None:
        raise Unprocessable(
            f"{key!r} is not a metric in the {catalogue.cycle} catalogue.",
            code="unknown_metric",
            errors=[{"field": "query.metric", "message": "unknown metric"}],
        )
    if not catalogue.modules[metric.module].peer_comparison:
        raise Unprocessable(
            f"{key!r} belongs to {metric.module}, which is not compared with peers.",
            code="no_peer_comparison",
            errors=[{"field": "query.metric", "message": "not compared with peers"}],
        )
    return metric


# ------------------------------------------------------------------ peer groups


def _bad_group(message: str, field_name: str = "query.peer_group") -> Unprocessable:
    return Unprocessable(
        message, code="invalid_peer_group", errors=[{"field": field_name, "message": message}]
    )


def resolve_group(
    peer_group: str | None,
    types: list[str] | None,
    nations: list[str] | None,
    partnership: bool | None,
    sizes: list[str] | None,
    peer_cycle: int | None,
) -> PeerGroup:
    custom = {
        k: v
        for k, v in {
            "type": types or None,
            "nation": nations or None,
            "partnership": partnership,
            "size": sizes or None,
            "cycle": peer_cycle,
        }.items()
        if v is not None
    }
    if custom:
        if peer_group not in (None, "all"):
            raise _bad_group("Give either peer_group or custom filters, not both.")
        try:
            key = engine.custom_group_key(custom)
        except ValueError as exc:
            raise _bad_group(str(exc), "query") from None
        nations_given = custom.get("nation")
        if isinstance(nations_given, list) and not set(nations_given) <= set(NATIONS):
            raise _bad_group(f"nation must be among {', '.join(NATIONS)}", "query.nation")
        return PeerGroup(key, custom, custom=True)
    key = peer_group or "all"
    kind, _, value = key.partition(":")
    if kind == "saved" and value.isdigit() and 0 < int(value) <= 2_147_483_647:
        return PeerGroup(key, custom=True, saved_id=int(value))
    valid = (
        key in ("all", "past")
        or (kind == "type" and value in engine.ORG_TYPES)
        or (kind == "nation" and value in NATIONS)
        or (kind == "partnership" and value in ("true", "false"))
        or (kind == "size" and value in SIZE_LABELS)
    )
    if not valid:
        raise _bad_group(
            f"{key!r} is not a peer group; use all, past, type:<E|S|W|C|D|L|M|O>, "
            f"nation:<{'|'.join(NATIONS)}>, partnership:<true|false>, "
            f"size:<{'|'.join(SIZE_LABELS)}>, saved:<id> (a saved peer group), or custom "
            "filters."
        )
    return PeerGroup(key)


def bind_saved(session: Session, group: PeerGroup, organisation_id: int, year: int) -> PeerGroup:
    """A saved group with its members, if it is ``organisation_id``'s for cycle ``year``;
    any other group as it is. Another organisation's group is not found (404), so its
    existence is not disclosed."""
    if group.saved_id is None:
        return group
    row = repo.saved_group(session, group.saved_id)
    if row is None or row["organisation_id"] != organisation_id or row["cycle_year"] != year:
        raise NotFound(
            f"Organisation {organisation_id} has no saved peer group {group.saved_id} for "
            f"cycle {year}.",
            code="peer_group_not_found",
        )
    return replace(group, members=frozenset(row["members"]))


def _membership(group: PeerGroup) -> pl.Expr:
    if group.members is not None:
        return pl.col("organisation_id").is_in(sorted(group.members))
    if group.custom:
        f = group.filters
        conds = [pl.lit(True)]
        if "type" in f:
            conds.append(pl.col("type").is_in(f["type"]))
        if "nation" in f:
            conds.append(pl.col("nation").is_in(f["nation"]))
        if "partnership" in f:
            conds.append(pl.col("partnership") == pl.lit(f["partnership"]))
        if "size" in f:
            conds.append(pl.col("size_band").is_in(f["size"]))
        return pl.all_horizontal(conds)
    kind, _, value = group.key.partition(":")
    if kind == "type":
        return pl.col("type") == value
    if kind == "nation":
        return pl.col("nation") == value
    if kind == "partnership":
        return pl.col("partnership") == (value == "true")
    if kind == "size":
        return pl.col("size_band") == value
    return pl.lit(True)


def _sql_membership(group: PeerGroup) -> dict[str, list[Any]]:
    """The same membership as ``_membership``, for the database to filter on first."""
    if group.members is not None:
        return {"organisation_id": sorted(group.members)}
    if group.custom:
        names = {"type": "type", "nation": "nation", "size": "size_band"}
        out = {names[k]: list(v) for k, v in group.filters.items() if k in names}
        if "partnership" in group.filters:
            out["partnership"] = [group.filters["partnership"]]
        return out
    kind, _, value = group.key.partition(":")
    if kind in ("type", "nation"):
        return {kind: [value]}
    if kind == "partnership":
        return {"partnership": [value == "true"]}
    if kind == "size":
        return {"size_band": [value]}
    return {}


def group_values(
    session: Session, group: PeerGroup, year: int, metric: str | None = None
) -> pl.DataFrame:
    """The peers' values for ``year`` under ``group`` (for ``past``: every earlier cycle)."""
    members = _sql_membership(group)
    if group.key == "past":
        df = repo.group_values(session, before=year, metric=metric)
    else:
        df = repo.group_values(
            session, years=[group.source_year(year)], metric=metric, members=members
        )
    return df.filter(_membership(group))


def group_statistics(
    session: Session,
    settings: Settings,
    group: PeerGroup,
    years: list[int],
    metric: str | None = None,
    values: pl.DataFrame | None = None,
) -> dict[tuple[int, str], dict[str, Any]]:
    if not group.custom:
        return repo.statistics(session, years, group.key, metric)
    if group.members is not None:
        frame = values if values is not None else group_values(session, group, years[0], metric)
        stats = engine.compute_group_of(
            frame.filter(pl.col("cycle_year") == years[0]).select(
                "cycle_year", "organisation_id", "metric_key", "value"
            ),
            group.key,
            years[0],
            settings.disclosure_min_n,
        )
        return {(years[0], row["metric_key"]): row for row in stats.to_dicts()}
    out: dict[tuple[int, str], dict[str, Any]] = {}
    for year in years:
        source = group.source_year(year)
        df = values if values is not None and len(years) == 1 else None
        if df is None:
            df = repo.group_values(session, years=[source], metric=metric)
        frame = df.filter(pl.col("cycle_year") == source)
        orgs = frame.select(
            "cycle_year", "organisation_id", "type", "nation", "partnership", "users"
        ).unique()
        stats = engine.compute_custom_group(
            frame.select("cycle_year", "organisation_id", "metric_key", "value"),
            orgs,
            group.filters,
            year,
            settings.disclosure_min_n,
        )
        for row in stats.to_dicts():
            out[(year, row["metric_key"])] = row
    return out


# ------------------------------------------------------------------ tables


def stat_fields(stat: dict[str, Any] | None) -> dict[str, Any]:
    if stat is None:
        return {
            "median": None,
            "q1": None,
            "q3": None,
            "min": None,
            "max": None,
            "n": 0,
            "n_organisations": 0,
            "suppressed": True,
            "suppression_reason": "no organisation in the peer group has a value for this metric",
        }
    return {k: stat[k] for k in ("median", "q1", "q3", "min", "max", "n", "n_organisations")} | {
        "suppressed": bool(stat["suppressed"]),
        "suppression_reason": stat["suppression_reason"],
    }


def _context(
    cycle: dict[str, Any], group: PeerGroup, code: str | None, name: str | None
) -> dict[str, Any]:
    year = cycle["year"]
    return {
        "organisation_code": code,
        "organisation_name": name,
        "cycle_year": year,
        "data_year": f"{year - 1}/{year % 100:02d}",
        "results_release_date": cycle["results_release_date"],
        "peer_group_key": group.key,
    }


def restatement(
    restated: dict[tuple[int, str], dict[str, Any]], year: int, metric: str, value: float | None
) -> dict[str, Any]:
    """``my_value_restated_at`` and ``my_previous_value`` for a figure: from its latest
    restatement, if that produced the value shown."""
    r = restated.get((year, metric))
    if r is None or value is None or r["value"] != value:
        return {"my_value_restated_at": None, "my_previous_value": None}
    return {"my_value_restated_at": r["restated_at"], "my_previous_value": r["previous_value"]}


def explain_paths(organisation_id: int, year: int, metric: str, group: PeerGroup) -> dict[str, str]:
    base = {"organisation_id": organisation_id, "cycle": year, "metric": metric}
    group_query: dict[str, Any] = {"peer_group": group.key}
    if group.custom and group.saved_id is None:
        group_query = {
            k: v
            for k, v in {
                "type": group.filters.get("type"),
                "nation": group.filters.get("nation"),
                "partnership": group.filters.get("partnership"),
                "size": group.filters.get("size"),
                "peer_cycle": group.filters.get("cycle"),
            }.items()
            if v is not None
        }
    return {
        "explain_value": "/api/v1/explain/metric-value?" + urlencode(base),
        "explain_statistic": "/api/v1/explain/benchmark?"
        + urlencode({**base, **group_query}, doseq=True),
    }


def comparison(
    session: Session,
    settings: Settings,
    access: Access,
    organisation_id: int,
    group: PeerGroup,
) -> dict[str, Any]:
    """Call after :func:`check_access` (whose result ``access`` is)."""
    cycle = access.cycle
    year = cycle["year"]
    catalogue = catalogue_of(year)
    group = bind_saved(session, group, organisation_id, year)
    mine = repo.my_values(session, organisation_id, [year])
    peers = group_values(session, group, year)
    stats = group_statistics(session, settings, group, [year], values=peers)
    by_metric: dict[str, tuple[list[float], bool]] = {}
    if peers.height:
        agg = peers.group_by("metric_key").agg(
            pl.col("value"),
            ((pl.col("organisation_id") == organisation_id) & (pl.col("cycle_year") == year))
            .any()
            .alias("mine"),
        )
        for row in agg.iter_rows(named=True):
            by_metric[row["metric_key"]] = (row["value"], row["mine"])
    code = repo.codes(session, {(year, organisation_id)}).get((year, organisation_id))
    context = _context(cycle, group, code, access.name_of(year, organisation_id))
    restated = repo.restated(session, organisation_id, [year])
    rows = []
    # Beside the rows (whose columns the BI feed shares), by metric: where each figure's
    # explanation is, and whether my value was restated and from what.
    explanations: dict[str, dict[str, Any]] = {}
    for metric in catalogue.metrics.values():
        if not catalogue.modules[metric.module].peer_comparison:
            continue
        figures = stat_fields(stats.get((year, metric.key)))
        value = mine.get((year, metric.key))
        band = rank = rank_of = None
        if value is not None and not figures["suppressed"]:
            band = engine.quartile_band(
                value, figures["q1"], figures["median"], figures["q3"], metric.polarity
            )
            values, in_group = by_metric.get(metric.key, ([], False))
            rank, rank_of = engine.rank_of_n(
                value, values if in_group else [*values, value], metric.polarity
            )
        rows.append(
            {
                **context,
                "metric_key": metric.key,
                "metric_name": metric.name,
                "module": metric.module,
                "unit": metric.unit,
                "polarity": metric.polarity,
                "my_value": value,
                **figures,
                "quartile_band": band,
                "rank": rank,
                "rank_of": rank_of,
            }
        )
        links = explain_paths(organisation_id, year, metric.key, group)
        explanations[metric.key] = {
            "explain_value": links["explain_value"] if value is not None else None,
            "explain_statistic": links["explain_statistic"],
            **restatement(restated, year, metric.key, value),
        }
    return {
        **context,
        "organisation_id": organisation_id,
        "access_ends_on": cycle["access_ends_on"],
        "peer_group_custom": group.custom,
        "data_quality": repo.data_quality(session, organisation_id, year),
        "min_n": settings.disclosure_min_n,
        "workshop_ids": access.workshop_ids,
        "explanations": explanations,
        "rows": rows,
    }


def distribution(
    session: Session,
    settings: Settings,
    access: Access,
    organisation_id: int,
    metric_key: str,
    group: PeerGroup,
) -> dict[str, Any]:
    """Call after :func:`check_access` (whose result ``access`` is)."""
    metric_of(catalogue_of(access.cycle["year"]), metric_key)
    return distributions(session, settings, access, organisation_id, [metric_key], group)[0]


def distributions(
    session: Session,
    settings: Settings,
    access: Access,
    organisation_id: int,
    metric_keys: list[str] | None,
    group: PeerGroup,
) -> list[dict[str, Any]]:
    """:func:`distribution` of each metric in ``metric_keys`` (None: every metric compared
    with peers), in catalogue order, from one read of the group's values: the rows of the
    JSON API's one-metric answer and of the BI feed's all-metric table are made here."""
    cycle = access.cycle
    year = cycle["year"]
    catalogue = catalogue_of(year)
    if metric_keys is None:
        metrics = [
            m for m in catalogue.metrics.values() if catalogue.modules[m.module].peer_comparison
        ]
    else:
        metrics = [metric_of(catalogue, k) for k in metric_keys]
    one = metrics[0].key if len(metrics) == 1 else None
    group = bind_saved(session, group, organisation_id, year)
    peers = group_values(session, group, year, metric=one)
    stats = group_statistics(session, settings, group, [year], metric=one, values=peers)
    pairs = {(r[0], r[1]) for r in peers.select("cycle_year", "organisation_id").iter_rows()}
    codes = repo.codes(session, pairs | {(year, organisation_id)})
    my_code = codes.get((year, organisation_id))
    context = _context(cycle, group, my_code, access.name_of(year, organisation_id))
    mine = repo.my_values(session, organisation_id, [year], one)
    restated = repo.restated(session, organisation_id, [year], one)
    by_metric: dict[str, list[dict[str, Any]]] = {}
    for r in peers.iter_rows(named=True):
        by_metric.setdefault(r["metric_key"], []).append(r)
    out = []
    for metric in metrics:
        figures = stat_fields(stats.get((year, metric.key)))
        rows: list[dict[str, Any]] = []
        if not figures["suppressed"]:
            listed = [
                {
                    "peer_code": codes.get((r["cycle_year"], r["organisation_id"]), "no code"),
                    "peer_name": access.name_of(r["cycle_year"], r["organisation_id"]),
                    "peer_cycle_year": r["cycle_year"],
                    "value": r["value"],
                    "is_mine": r["organisation_id"] == organisation_id and r["cycle_year"] == year,
                }
                for r in by_metric.get(metric.key, [])
            ]
            # Value order; ties by code (codes are random numbers, so never name or id order).
            listed.sort(key=lambda r: (r["value"], r["peer_code"]))
            rows = [
                {
                    **context,
                    "metric_key": metric.key,
                    "unit": metric.unit,
                    "position": i + 1,
                    **r,
                }
                for i, r in enumerate(listed)
            ]
        out.append(
            {
                **context,
                "organisation_id": organisation_id,
                "metric_key": metric.key,
                "metric_name": metric.name,
                "unit": metric.unit,
                "polarity": metric.polarity,
                "my_value": mine.get((year, metric.key)),
                **figures,
                **restatement(restated, year, metric.key, mine.get((year, metric.key))),
                **explain_paths(organisation_id, year, metric.key, group),
                "workshop_ids": access.workshop_ids,
                "rows": rows,
            }
        )
        if out[-1]["my_value"] is None:
            out[-1]["explain_value"] = None
    return out


def check_trends_group(group: PeerGroup) -> None:
    if group.custom and "cycle" in group.filters:
        raise _bad_group("peer_cycle cannot be used with trends.", "query.peer_cycle")
    if group.saved_id is not None:
        raise _bad_group(
            "A saved peer group belongs to one cycle; trends need a standard or custom group."
        )


def trends(
    session: Session,
    settings: Settings,
    access: Access,
    organisation_id: int,
    metric_key: str,
    group: PeerGroup,
) -> dict[str, Any]:
    """The metric across every cycle up to the access's cycle (published ones, for
    participants). Call after :func:`check_trends_group` and :func:`check_access`."""
    metric_of(catalogue_of(access.cycle["year"]), metric_key)
    found = trends_of(session, settings, access, organisation_id, [metric_key], group)
    # Beside the rows (whose columns CSV and the BI feed share): each point's explanations.
    explanations = []
    for row in found["rows"]:
        links = explain_paths(organisation_id, row["cycle_year"], metric_key, group)
        if row["my_value"] is None:
            links["explain_value"] = None  # type: ignore[assignment]
        explanations.append({"cycle_year": row["cycle_year"], **links})
    return {
        **_context(access.cycle, group, None, None),
        **found,
        "metric_key": metric_key,
        "explanations": explanations,
    }


def trends_of(
    session: Session,
    settings: Settings,
    access: Access,
    organisation_id: int,
    metric_keys: list[str] | None,
    group: PeerGroup,
) -> dict[str, Any]:
    """:func:`trends` of each metric in ``metric_keys`` (None: every metric of the
    access's cycle compared with peers), from one read of the statistics: ``rows`` by
    metric, then cycle."""
    check_trends_group(group)
    cycle = access.cycle
    year = cycle["year"]
    catalogue = catalogue_of(year)
    if metric_keys is None:
        metric_keys = [
            m.key for m in catalogue.metrics.values() if catalogue.modules[m.module].peer_comparison
        ]
    else:
        for key in metric_keys:
            metric_of(catalogue, key)
    with_catalogue = set(available_cycles())
    visible = [
        c["year"]
        for c in repo.cycles(session)
        if c["year"] <= year
        and c["year"] in with_catalogue
        and (access.is_admin or c["status"] == "published")
    ]
    one = metric_keys[0] if len(metric_keys) == 1 else None
    stats = group_statistics(session, settings, group, visible, metric=one)
    mine = repo.my_values(session, organisation_id, visible, one)
    restated = repo.restated(session, organisation_id, visible, one)
    code = repo.codes(session, {(year, organisation_id)}).get((year, organisation_id))
    name = access.name_of(year, organisation_id)
    rows = []
    restatements: list[dict[str, Any]] = []
    for metric_key in metric_keys:
        for y in visible:
            m = load_catalogue(y).metrics.get(metric_key)
            if m is None:
                continue
            rows.append(
                {
                    "organisation_code": code,
                    "organisation_name": name,
                    "cycle_year": y,
                    "data_year": f"{y - 1}/{y % 100:02d}",
                    "peer_group_key": group.key,
                    "metric_key": metric_key,
                    "metric_name": m.name,
                    "unit": m.unit,
                    "polarity": m.polarity,
                    "definition_changed": y in m.changed_in,
                    "introduced": y == m.introduced_in,
                    "my_value": mine.get((y, metric_key)),
                    **stat_fields(stats.get((y, metric_key))),
                }
            )
            note = restatement(restated, y, metric_key, mine.get((y, metric_key)))
            if note["my_value_restated_at"] is not None:
                restatements.append(
                    {
                        "cycle_year": y,
                        "metric_key": metric_key,
                        "value": mine.get((y, metric_key)),
                        "previous_value": note["my_previous_value"],
                        "restated_at": note["my_value_restated_at"],
                    }
                )
    return {
        **_context(cycle, group, code, name),
        "organisation_id": organisation_id,
        "workshop_ids": access.workshop_ids,
        "restatements": restatements,
        "rows": rows,
    }


def peer_groups(session: Session, year: int) -> list[dict[str, Any]]:
    if repo.cycle_by_year(session, year) is None:
        raise NotFound(f"There is no cycle {year}.", code="cycle_not_found")
    return repo.peer_groups(session, year)


# ------------------------------------------------------------------ recompute
# Recompute metric values and standard peer-group statistics after accepted data change.
#
# One query reads every accepted answer into Polars; the engine computes values and
# statistics; the affected cycles' rows are replaced in bulk, in the caller's transaction
# (the inbox record of the event that triggered it commits with them).
#
# Which cycles: the ``past`` peer group of a cycle pools every earlier cycle, so a change
# to cycle Y changes Y's figures and the ``past`` figures of every later cycle. A
# recompute therefore rewrites Y and every later cycle (values of later cycles come out
# unchanged, which is cheap and keeps one rule). Only accepted submissions are read.


def _choice_points(years: list[int]) -> pl.DataFrame:
    rows = [
        (year, q.key, ch.key, float(ch.points))
        for year in years
        for q in load_catalogue(year).questions.values()
        for ch in q.choices
    ]
    return pl.DataFrame(
        rows,
        schema={
            "cycle_year": pl.Int32,
            "question_key": pl.String,
            "value_text": pl.String,
            "points": pl.Float64,
        },
        orient="row",
    )


def numeric_answers(raw: pl.DataFrame, years: list[int]) -> pl.DataFrame:
    """(cycle_year, organisation_id, question_key, value): numbers as they are, booleans as
    1/0, choices as their points in that cycle's catalogue."""
    return (
        raw.filter(pl.col("cycle_year").is_in(years))
        .join(_choice_points(years), on=["cycle_year", "question_key", "value_text"], how="left")
        .select(
            "cycle_year",
            "organisation_id",
            "question_key",
            pl.coalesce(
                pl.col("value_number"), pl.col("value_boolean").cast(pl.Float64), pl.col("points")
            ).alias("value"),
        )
        .drop_nulls("value")
    )


def members(answers: pl.DataFrame, orgs: pl.DataFrame) -> pl.DataFrame:
    """One row per organisation and cycle it has accepted data in; users are the cycle's
    estate answer when there is one, else the organisation's recorded users."""
    users = answers.filter(pl.col("question_key") == "users").select(
        "cycle_year", "organisation_id", pl.col("value").cast(pl.Int64).alias("cycle_users")
    )
    return (
        answers.select("cycle_year", "organisation_id")
        .unique()
        .join(orgs, on="organisation_id", how="inner")
        .join(users, on=["cycle_year", "organisation_id"], how="left")
        .with_columns(pl.coalesce("cycle_users", "users").alias("users"))
        .drop("cycle_users")
        .with_columns(engine.size_band_expr(pl.col("users")).alias("size_band"))
        .sort("cycle_year", "organisation_id")
    )


def recompute(
    session: Session, changed_years: list[int] | None, *, min_n: int, trigger: str
) -> dict[str, Any]:
    started = time.perf_counter()
    repo.lock(session)
    with_catalogue = set(available_cycles())
    all_years = [y for y in repo.cycle_years(session) if y in with_catalogue]
    if changed_years:
        first = min(changed_years)
        affected = [y for y in all_years if y >= first]
    else:
        affected = all_years
    answers = numeric_answers(repo.accepted_answers(session), all_years)
    orgs = members(answers, repo.organisations(session))
    # Cycles after the last affected one are not needed; earlier ones feed "past".
    upto = max(affected) if affected else 0
    answers = answers.filter(pl.col("cycle_year") <= upto)
    values = engine.compute_metric_values(answers, {y: load_catalogue(y) for y in all_years})
    stats = engine.compute_benchmarks(values, orgs, min_n, include_past=True)
    keep = pl.col("cycle_year").is_in(affected)
    kept_values = values.filter(keep)
    kept_orgs = orgs.filter(keep)
    restated = restatements(
        repo.values_frame(session, affected), kept_values, repo.withdrawn(session, affected)
    )
    references = engine.compute_references(kept_values, kept_orgs, min_n)
    value_rows = kept_values.to_dicts()
    member_rows = kept_orgs.to_dicts()
    stat_rows = stats.filter(keep).to_dicts()
    repo.replace(session, affected, value_rows, member_rows, stat_rows)
    detail = {
        "cycles": affected,
        "metric_values": len(value_rows),
        "statistics": len(stat_rows),
        "organisations": len(member_rows),
        "restated": restated.height,
        "seconds": round(time.perf_counter() - started, 3),
    }
    run_id = runs.record(
        session,
        kind="benchmark",
        scope={"cycle_years": affected},
        trigger=trigger,
        detail=detail,
    )
    repo.replace_references(session, affected, references.to_dicts(), run_id)
    repo.insert_restatements(session, restated.to_dicts(), trigger, run_id)
    return detail


def restatements(old: pl.DataFrame, new: pl.DataFrame, withdrawn: pl.DataFrame) -> pl.DataFrame:
    """The figures a recompute changes: (organisation_id, cycle_year, metric_key,
    previous_value, value). A figure that changed, or disappeared (value null: its
    submission was reopened), is restated from its old value; a figure that reappears
    (accepted again) is restated from the value it had before it was withdrawn, when the
    two differ. ``withdrawn``: each figure's latest restatement if that withdrew it."""
    keys = ["organisation_id", "cycle_year", "metric_key"]
    joined = old.lazy().join(new.lazy(), on=keys, how="full", coalesce=True, suffix="_new")
    changed = joined.filter(
        pl.col("value").is_not_null()
        & (pl.col("value_new").is_null() | (pl.col("value_new") != pl.col("value")))
    ).select(*keys, pl.col("value").alias("previous_value"), pl.col("value_new").alias("value"))
    back = (
        joined.filter(pl.col("value").is_null() & pl.col("value_new").is_not_null())
        .join(withdrawn.lazy(), on=keys, how="inner")
        .filter(pl.col("previous_value") != pl.col("value_new"))
        .select(*keys, "previous_value", pl.col("value_new").alias("value"))
    )
    return (
        pl.concat([changed, back])
        .select(
            pl.col("organisation_id").cast(pl.Int64),
            pl.col("cycle_year").cast(pl.Int32),
            pl.col("metric_key").cast(pl.String),
            pl.col("previous_value").cast(pl.Float64),
            pl.col("value").cast(pl.Float64),
        )
        .sort(keys)
        .collect()
    )


# ------------------------------------------------------------------ event handlers
# Listed with their event types in services.metrics.events.service.HANDLERS.


def on_inputs_changed(session: Session, event: BenchmarkInputsChanged, settings: Settings) -> None:
    """A job: recompute the changed cycles (and later ones). The recompute records its own
    computation run, so the job's run_id stays empty."""
    with timed("benchmark_recompute"):
        recompute(session, event.cycle_years, min_n=settings.disclosure_min_n, trigger=event.reason)


def on_cycle_status_changed(
    session: Session, event: CycleStatusChanged, _settings: Settings
) -> int:
    """Recorded as a computation run, so the history shows when a cycle opened or closed."""
    return runs.record(
        session,
        kind="cycle_status",
        scope={"cycle_id": event.cycle_id, "status": event.status},
        trigger=EventType.CYCLE_STATUS_CHANGED,
    )
