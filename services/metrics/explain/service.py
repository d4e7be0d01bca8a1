"""Explain: every figure says how it was made.

An explanation carries the formula or rule, the inputs with their values and where they
came from, the peer group's members as codes, the quantile method, the suppression rule
and whether it applied, the computation run and the data version. Its inputs recompute
the figure exactly (``tests/metrics/test_explain.py`` does so from explanations alone).

Access is the results' own: an explanation is served to whoever may see the figure, and
shows nothing the results would not: the organisation's own answers, peers only as codes
with their metric values (as the distribution shows them), never a name or another
organisation's answers. A suppressed statistic's explanation says it is suppressed and
why, and nothing more: no value, no member, no peer value.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

import polars as pl
from sqlalchemy.orm import Session

from services.metrics.benchmark import repository as bench_repo
from services.metrics.benchmark import service as bench
from services.metrics.benchmark.service import Access, PeerGroup
from services.metrics.explain import repository as repo
from services.metrics.sla import service as sla
from shared.auth import Principal
from shared.catalogue import Metric
from shared.errors import NotFound
from shared.settings import Settings

QUANTILE_METHOD = (
    "Hyndman-Fan type 7 (Excel QUARTILE.INC, PostgreSQL percentile_cont): for p in 0.25, "
    "0.5, 0.75, with the n values in order x1..xn, h = (n − 1)p + 1 and the quantile is "
    "x⌊h⌋ + (h − ⌊h⌋)(x⌊h⌋+1 − x⌊h⌋)"
)


def access_for(
    session: Session, settings: Settings, principal: Principal, organisation_id: int, year: int
) -> Access:
    bench.check_caller(principal, organisation_id)
    snap = bench_repo.snapshot_now(session, year, organisation_id)
    return bench.check_access(settings, principal, organisation_id, year, snap)


def data_version(access: Access) -> str:
    """The data version the figure was read at (the results cache's key, as text)."""
    parts = [x.isoformat() if isinstance(x, datetime) else str(x) for x in access.version]
    return "|".join(parts)


def _run(session: Session, year: int) -> dict[str, Any] | None:
    run = bench_repo.latest_run(session, year)
    if run is None:
        return None
    return {
        "id": run["id"],
        "kind": run["kind"],
        "trigger": run["trigger"],
        "started_at": run["started_at"],
        "cycle_years": run["scope"].get("cycle_years", []),
    }


def _describe_source(r: dict[str, Any]) -> str:
    decided = r["decided_at"].date().isoformat() if r["decided_at"] else "?"
    return (
        f"submission {r['submission_id']} ({r['module']}, accepted {decided}), "
        f"question {r['question_key']}"
    )


def metric_value(
    session: Session, access: Access, organisation_id: int, metric_key: str
) -> dict[str, Any]:
    year = access.cycle["year"]
    catalogue = bench.catalogue_of(year)
    metric: Metric = bench.metric_of(catalogue, metric_key)
    value = bench_repo.my_values(session, organisation_id, [year], metric_key).get(
        (year, metric_key)
    )
    if value is None:
        raise NotFound(
            f"Organisation {organisation_id} has no value of {metric_key} in cycle {year}: "
            f"an input of {metric.formula} is missing or a denominator is zero.",
            code="no_figure",
        )
    code = bench_repo.codes(session, {(year, organisation_id)}).get((year, organisation_id))
    rows = []
    env: dict[str, float | None] = {}
    for r in repo.accepted_inputs(session, organisation_id, year, metric.inputs):
        question = catalogue.questions[r["question_key"]]
        raw: Any
        shown: str | None
        if r["value_boolean"] is not None:
            raw, shown = r["value_boolean"], "true" if r["value_boolean"] else "false"
        elif r["value_text"] is not None:
            raw, shown = r["value_text"], r["value_text"]  # a choice: its points count
        else:
            raw, shown = float(r["value_number"]), None  # a number: the value itself
        number = question.numeric(raw)
        env[question.key] = number
        rows.append(
            {
                "role": "input",
                "name": question.key,
                "label": question.label,
                "value": number,
                "raw_answer": shown,
                "unit": question.unit,
                "cycle_year": year,
                "source": _describe_source(r),
                "submission_id": r["submission_id"],
                "is_mine": True,
            }
        )
    restated = bench_repo.restated(session, organisation_id, [year], metric_key)
    return {
        "kind": "metric_value",
        "organisation_id": organisation_id,
        "organisation_code": code,
        "cycle_year": year,
        "metric_key": metric.key,
        "metric_name": metric.name,
        "unit": metric.unit,
        "value": value,
        "formula": metric.formula,
        "formula_source": f"catalogue {year}, {metric.source}",
        "rule": "The organisation's own formula result over its accepted answers (choices "
        "count as their points, yes/no as 1/0); no value when an input is missing or a "
        "denominator is zero",
        # The formula over the inputs listed. Equal to the figure up to floating-point
        # rounding: Polars may order a product and a quotient differently from this
        # scalar evaluation (e.g. 100 × (11 / 18) against (100 × 11) / 18), a difference
        # in the 16th significant digit.
        "recomputed": metric.evaluate(env),
        **bench.restatement(restated, year, metric.key, value),
        "computation_run": _run(session, year),
        "data_version": data_version(access),
        "rows": rows,
    }


def _definition(group: PeerGroup) -> str:
    if group.saved_id is not None:
        return f"saved peer group {group.saved_id}: the organisation and its saved neighbours"
    if group.custom:
        return f"custom group {group.key}: organisations matching every filter"
    kind, _, value = group.key.partition(":")
    return {
        "all": "every organisation with accepted data in the cycle",
        "past": "every response of all earlier cycles, pooled",
        "type": f"organisations of type {value}",
        "nation": f"organisations in {value}",
        "partnership": f"organisations with the partnership flag {value}",
        "size": f"organisations with {value} ICT users",
    }[kind]


def benchmark(
    session: Session,
    settings: Settings,
    access: Access,
    organisation_id: int,
    metric_key: str,
    group: PeerGroup,
) -> dict[str, Any]:
    year = access.cycle["year"]
    metric = bench.metric_of(bench.catalogue_of(year), metric_key)
    group = bench.bind_saved(session, group, organisation_id, year)
    peers = bench.group_values(session, group, year, metric=metric_key)
    stat = bench.group_statistics(
        session, settings, group, [year], metric=metric_key, values=peers
    ).get((year, metric_key))
    figures = bench.stat_fields(stat)
    code = bench_repo.codes(session, {(year, organisation_id)}).get((year, organisation_id))
    rule = (
        f"statistics over fewer than {settings.disclosure_min_n} organisations are withheld "
        "(disclosure control)"
    )
    base = {
        "kind": "benchmark_statistic",
        "organisation_id": organisation_id,
        "organisation_code": code,
        "cycle_year": year,
        "metric_key": metric.key,
        "metric_name": metric.name,
        "unit": metric.unit,
        "peer_group_key": group.key,
        "peer_group_definition": _definition(group),
        "quantile_method": QUANTILE_METHOD,
        "rule": "n, min, Q1, median, Q3 and max of the peer group's metric values (each "
        "organisation's own value, never a ratio of totals), accepted submissions only",
        "suppression_rule": rule,
        "suppressed": figures["suppressed"],
        "suppression_reason": figures["suppression_reason"],
        "computation_run": _run(session, year),
        "data_version": data_version(access),
    }
    if figures["suppressed"]:
        # Suppressed: the rule and the reason, nothing else.
        return {
            **base,
            **dict.fromkeys(("n", "n_organisations", "median", "q1", "q3", "min", "max")),
            "member_codes": [],
            "rows": [],
        }
    pairs = {(r[0], r[1]) for r in peers.select("cycle_year", "organisation_id").iter_rows()}
    codes = bench_repo.codes(session, pairs)
    listed = sorted(
        (
            {
                "role": "peer_value",
                "name": codes.get((r["cycle_year"], r["organisation_id"]), "no code"),
                "label": f"{metric.name} of a peer",
                "value": r["value"],
                "raw_answer": None,
                "unit": metric.unit,
                "cycle_year": r["cycle_year"],
                "source": f"metric value of cycle {r['cycle_year']} (computation run)",
                "submission_id": None,
                "is_mine": r["organisation_id"] == organisation_id and r["cycle_year"] == year,
            }
            for r in peers.iter_rows(named=True)
        ),
        key=lambda r: (r["value"], r["name"]),
    )
    return {
        **base,
        **{k: figures[k] for k in ("n", "n_organisations", "median", "q1", "q3", "min", "max")},
        "member_codes": [r["name"] for r in listed],
        "rows": listed,
    }


# ------------------------------------------------------------------ SLA percentages

SLA_RULE = (
    "% met = 100 × met / (met + missed), 2 decimals, half up; the tickets resolved in the "
    "month (Europe/London) at this priority; a ticket is met when its elapsed time on its "
    "policy's clock (pauses deducted) is within the policy's target; tickets rejected into "
    "the data-quality list count as neither"
)


def sla_percentage(
    session: Session,
    organisation_id: int,
    priority: str,
    month: date,
    teams: list[str] | None,
    closure_categories: list[str] | None,
) -> dict[str, Any]:
    """The monthly SLA report's % met for one organisation, priority and month: the rule,
    the ticket counts with the filter that selected them, the policy targets the tickets
    were held to, and the computation run of the outcomes."""
    last = (month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    q = sla.ReportQuery(
        organisation_ids=[organisation_id],
        priorities=[priority],
        teams=teams,
        closure_categories=closure_categories,
        resolved_from=month,
        resolved_to=last,
    )
    report = sla.monthly(session, [organisation_id], q).filter(pl.col("month") == month)
    if report.is_empty():
        raise NotFound(
            f"Organisation {organisation_id} has no {priority} ticket resolved in "
            f"{month:%Y-%m}: there is no % met to explain.",
            code="no_figure",
        )
    row = report.row(0, named=True)
    counted = sla.tickets_of_month(session, q)
    policies = (
        counted.filter(pl.col("sla_status").is_in(["met", "missed"]))
        .group_by("target_seconds", "calendar_id", "target_share", "policy_effective_from")
        .agg(
            (pl.col("sla_status") == "met").sum().alias("met"),
            (pl.col("sla_status") == "missed").sum().alias("missed"),
        )
        .sort("policy_effective_from", "target_seconds")
    )
    rejected = counted.filter(pl.col("sla_status") == "data_quality").height
    where = (
        f"organisation {organisation_id}, priority {priority}, resolved "
        f"{month.isoformat()} to {last.isoformat()} (Europe/London)"
        + (f", teams {', '.join(teams)}" if teams else "")
        + (f", closure categories {', '.join(closure_categories)}" if closure_categories else "")
    )
    rows = [
        _count("met", "Tickets resolved within target", row["met"], where, month.year),
        _count("missed", "Tickets resolved outside target", row["missed"], where, month.year),
        _count(
            "data_quality", "Tickets rejected (counted as neither)", rejected, where, month.year
        ),
    ]
    for p in policies.iter_rows(named=True):
        clock = p["calendar_id"] or "24x7"
        rows.append(
            _count(
                f"policy from {p['policy_effective_from']}",
                f"target {p['target_seconds']} s on clock {clock}, share "
                f"{float(p['target_share']) * 100:g}%: met {p['met']}, missed {p['missed']}",
                p["met"] + p["missed"],
                where,
                month.year,
            )
        )
    run = sla.latest_outcomes_run(session, organisation_id)
    return {
        "kind": "sla_percentage",
        "organisation_id": organisation_id,
        "priority": priority,
        "month": month,
        "met": row["met"],
        "missed": row["missed"],
        "total": row["total"],
        "pct_met": float(row["pct_met"]),
        "target_share_pct": float(row["target_share_pct"]),
        "target_achieved": row["target_achieved"],
        "rule": SLA_RULE,
        "filter": where,
        "computation_run": None
        if run is None
        else {
            "id": run["id"],
            "kind": run["kind"],
            "trigger": run["trigger"],
            "started_at": run["started_at"],
            "cycle_years": [],
        },
        "data_version": "" if run is None else f"{run['id']}|{run['started_at'].isoformat()}",
        "rows": rows,
    }


def _count(name: str, label: str, n: int, where: str, year: int) -> dict[str, Any]:
    return {
        "role": "ticket_count",
        "name": name,
        "label": label,
        "value": float(n),
        "raw_answer": None,
        "unit": "tickets",
        "cycle_year": year,
        "source": f"SLA outcomes of the tickets pushed for {where}",
        "submission_id": None,
        "is_mine": True,
    }
