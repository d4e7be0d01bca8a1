"""Explain: every figure says how it was made (metric values, benchmark statistics, SLA
percentages, survey figures, committee pack totals).

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

import hashlib
from datetime import date, datetime, timedelta
from typing import Any

import polars as pl
from sqlalchemy.orm import Session

from services.metrics.benchmark import repository as bench_repo
from services.metrics.benchmark import service as bench
from services.metrics.benchmark.service import Access, PeerGroup
from services.metrics.explain import repository as repo
from services.metrics.nps import service as nps_service
from services.metrics.nps.schemas import Source as NpsSource
from services.metrics.packs import engine as engine_packs
from services.metrics.packs import service as packs
from services.metrics.packs.schemas import Pack
from services.metrics.sla import service as sla
from services.metrics.surveys import confidence, disclosure, engine, group, weighting
from services.metrics.surveys import repository as surveys_repo
from services.metrics.surveys import service as surveys
from shared.auth import Principal
from shared.catalogue import Metric
from shared.errors import NotFound, Unprocessable
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


# ------------------------------------------------------------------ survey figures

SURVEY_MEAN_RULE = (
    "mean = Σx / n over the ratings given (an unanswered question is not a rating), 2 "
    "decimals, half up"
)
SURVEY_MEAN_CI = (
    "95% t-interval: mean ± t(0.975, n − 1) × s / √n × fpc, with s² = (Σx² − (Σx)² / n) / "
    "(n − 1) and fpc = √((N − n) / (N − 1)) where N (users in scope) is known (1 on a "
    "breakdown cell, whose N is not known); bounds 2 decimals, half up; none when n < 2"
)
SURVEY_WILSON = (
    "95% Wilson score interval of k / n with z = 1.959963984540054 and the effective size "
    "n' = n / fpc² (fpc = √((N − n) / (N − 1))): centre = (p + z² / 2n') / (1 + z² / n'), "
    "half = z √(p(1 − p) / n' + z² / 4n'²) / (1 + z² / n'); × 100, bounds 2 decimals, half up"
)
SURVEY_SUPPRESSION = (
    "the organisation's own staff see a campaign's figures (breakdown cells under the "
    "campaign's threshold, never below 5, are withheld with the next smallest cells); anyone "
    "else (publication view) sees a figure only when its n reaches the publication minimum "
    "and the campaign's response rate reaches the publication rate"
)
SURVEY_WEIGHTING = (
    "none: the campaign's results are unweighted (the weighted view, "
    "/api/v1/survey-results/campaigns/{id}/weighted, weights them to the headcount)"
)


def _survey_count(
    name: str, label: str, value: float | None, unit: str, source: str
) -> dict[str, Any]:
    role = "response_count" if unit in ("responses", "ratings", "invitations") else "input"
    if source == "constant" or name in ("t", "z", "fpc"):
        role = "constant"
    return {
        "role": role,
        "name": name,
        "label": label,
        "value": value,
        "unit": unit,
        "source": source,
    }


def _sums(frame: pl.DataFrame, key: str, cell: pl.Expr | None) -> tuple[int, int, int]:
    """n, Σx and Σx² of one question over the responses (one cell's, if ``cell``)."""
    if key not in frame.columns:
        return 0, 0, 0
    x = pl.col(key).cast(pl.Int64)
    picked = frame if cell is None else frame.filter(cell)
    n, s1, s2 = picked.select(
        x.count().cast(pl.Int64).alias("n"),
        x.sum().cast(pl.Int64).alias("s1"),
        (x * x).sum().cast(pl.Int64).alias("s2"),
    ).row(0)
    return int(n), int(s1 or 0), int(s2 or 0)


def _fpc(n: int, population: int | None) -> float:
    value = pl.select(
        confidence.fpc(pl.lit(n, pl.Int64), None if population is None else pl.lit(population))
    ).item()
    return float(value)


def survey_figure(
    session: Session,
    settings: Settings,
    principal: Principal,
    campaign_id: int,
    figure: str,
    key: str | None,
    attribute: str | None,
    cell: str | None,
    audience: surveys.Audience | None,
) -> dict[str, Any]:
    """A campaign's survey figure (a mean, % worse, the response rate raw or adjusted, the
    NPS) as the results serve it to ``principal``: the formula, the aggregates it was made
    from (counts and sums, never a respondent's answers), the thresholds and whether met,
    the suppression rule and whether it applied, the interval's method and inputs.

    Access and audience are the results' own (:func:`surveys.results`). A withheld figure's
    explanation says it is withheld and why, and nothing more. The sums of a shown mean
    disclose nothing its mean and interval do not (n, mean and s are Σx, Σx² again)."""
    found = surveys.results(session, principal, campaign_id, settings, audience)
    frame = surveys_repo.responses_frame(session, [campaign_id])
    thresholds = found["thresholds"]
    publish = found["audience"] == "publication"
    population = int(found["response_rate"]["users_in_scope"]) or None
    served_from = (
        f"responses to campaign {campaign_id} (survey service), aggregated; no respondent's "
        "answers are shown"
    )
    base: dict[str, Any] = {
        "kind": "survey_figure",
        "campaign_id": campaign_id,
        "organisation_id": found["organisation_id"],
        "survey_kind": found["kind"],
        "audience": found["audience"],
        "figure": figure,
        "key": key,
        "attribute": attribute,
        "cell": cell,
        "thresholds": {
            "internal": thresholds["internal"],
            "publication_min_responses": thresholds["publication_min_responses"],
            "publication_min_response_rate": thresholds["publication_min_response_rate"],
        },
        "suppression_rule": SURVEY_SUPPRESSION,
        "weighting": SURVEY_WEIGHTING.replace("{id}", str(campaign_id)),
        "computed_at": found["computed_at"],
        "computation": (
            "kept results of the closed campaign (computed once, kept for good)"
            if found["final"] and not publish
            else "computed on request from the responses received so far"
            if not found["final"]
            else "computed on request (publication view) from the campaign's responses"
        ),
        "data_version": (
            f"campaign {campaign_id}|responses {found['response_rate']['responses']}|"
            f"{found['computed_at']}"
        ),
    }

    def withheld(reason: str, threshold_met: str | None) -> dict[str, Any]:
        # Said so and why; no value, n, interval or input.
        return {
            **base,
            "value": None,
            "unit": unit,
            "formula": formula,
            "rule": rule,
            "n": None,
            "threshold_met": threshold_met,
            "suppressed": True,
            "suppression_reason": reason,
            "ci_low": None,
            "ci_high": None,
            "ci_method": None,
            "rows": [],
        }

    def publication_reason(threshold_met: str | None) -> str | None:
        if not publish:
            return None
        if found["withheld"]:
            return str(found["withheld"])
        if threshold_met != disclosure.PUBLICATION:
            return (
                "withheld for disclosure control: fewer than "
                f"{thresholds['publication_min_responses']} ratings, the publication minimum"
            )
        return None

    if figure in ("response_rate", "response_rate_adjusted"):
        rate = found[figure]
        unit, rule = "%", "1 decimal, half up; more responses than users is shown as it is"
        responses, users = int(rate["responses"]), int(rate["users_in_scope"])
        rows = [
            _survey_count("responses", "Responses received", responses, "responses", served_from)
        ]
        if figure == "response_rate":
            formula = "100 × responses / users_in_scope"
            rows.append(
                _survey_count(
                    "users_in_scope",
                    "Users the survey was sent to",
                    users,
                    "people",
                    f"campaign {campaign_id}'s users in scope, as the organisation set it",
                )
            )
        else:
            formula = "100 × responses / (users_in_scope − undeliverable)"
            undeliverable = int(rate["undeliverable"])
            rows += [
                _survey_count(
                    "users_in_scope",
                    "Users the survey was sent to",
                    users + undeliverable,
                    "people",
                    f"campaign {campaign_id}'s users in scope, as the organisation set it",
                ),
                _survey_count(
                    "undeliverable",
                    "Invitations that bounced or could not be delivered",
                    undeliverable,
                    "invitations",
                    f"delivery records of campaign {campaign_id}'s invitations (counted)",
                ),
            ]
        # The response rate is what the publication rule tests: it is always shown.
        return {
            **base,
            "value": rate["percent"],
            "unit": unit,
            "formula": formula,
            "rule": rule,
            "n": responses,
            "threshold_met": thresholds["met"],
            "suppressed": False,
            "suppression_reason": None,
            "ci_low": None,
            "ci_high": None,
            "ci_method": None,
            "rows": rows,
        }

    if figure == "nps":
        unit = "points (-100 to 100)"
        formula = "100 × (promoters − detractors) / ratings"
        rule = (
            "ratings 0-10 of the recommendation question; promoters 9-10, passives 7-8, "
            "detractors 0-6; 1 decimal, half up; no score without ratings"
        )
        counts = engine.nps_summary(frame).row(0, named=True) if frame.height else None
        n = int(counts["ratings"]) if counts else 0
        met = pl.select(
            disclosure.threshold_met(
                pl.lit(n),
                internal=thresholds["internal"],
                publication_n=thresholds["publication_min_responses"],
                publication_rate=thresholds["publication_min_response_rate"],
                rate=pl.lit(found["response_rate"]["percent"], pl.Float64),
            )
        ).item()
        reason = publication_reason(met)
        if reason:
            return withheld(reason, met)
        rows = [
            _survey_count(k, label, int(counts[k]) if counts else 0, "ratings", served_from)
            for k, label in (
                ("promoters", "Ratings of 9-10"),
                ("passives", "Ratings of 7-8"),
                ("detractors", "Ratings of 0-6"),
                ("ratings", "0-10 ratings given"),
            )
        ]
        score = None if not counts or counts["nps"] is None else float(counts["nps"])
        return {
            **base,
            "value": score,
            "unit": unit,
            "formula": formula,
            "rule": rule,
            "n": n,
            "threshold_met": met,
            "suppressed": False,
            "suppression_reason": None,
            "ci_low": None,
            "ci_high": None,
            "ci_method": None,
            "rows": rows,
        }

    if found["kind"] != "user_satisfaction":
        raise NotFound(
            f"Campaign {campaign_id} is a {found['kind']} survey: its explained figures are "
            "response_rate, response_rate_adjusted and nps.",
            code="no_figure",
        )
    overall = found["overall"]

    if figure == "percent_worse":
        unit, formula = "%", "100 × n_worse / n_improvement"
        rule = (
            "improvement ratings below 4 (the service got worse) as % of the ratings "
            "given, 2 decimals, half up"
        )
        met = overall["threshold_met"]
        reason = publication_reason(met)
        if reason:
            return withheld(reason, met)
        k, n = int(overall["n_worse"]), int(overall["n_improvement"])
        f = _fpc(n, population)
        rows = [
            _survey_count("n_worse", "Improvement ratings below 4", k, "ratings", served_from),
            _survey_count("n_improvement", "Improvement ratings given", n, "ratings", served_from),
            _survey_count("z", "Normal 0.975 quantile", confidence.Z_975, "", "constant"),
            _survey_count(
                "population",
                "N: users in scope",
                population,
                "people",
                f"campaign {campaign_id}'s users in scope",
            ),
            _survey_count("fpc", "Finite-population correction", f, "", "√((N − n)/(N − 1))"),
        ]
        return {
            **base,
            "value": overall["percent_worse_2dp"],
            "unit": unit,
            "formula": formula,
            "rule": rule,
            "n": n,
            "threshold_met": met,
            "suppressed": False,
            "suppression_reason": None,
            "ci_low": overall["percent_worse_ci_low_2dp"],
            "ci_high": overall["percent_worse_ci_high_2dp"],
            "ci_method": SURVEY_WILSON,
            "rows": rows,
        }

    if figure != "mean" or key is None:
        raise NotFound(f"There is no survey figure {figure!r} to explain.", code="no_figure")
    unit, formula, rule = "mean rating 1-7", "Σx / n", SURVEY_MEAN_RULE
    factor, _, measure = key.partition(".")
    cell_expr: pl.Expr | None = None
    if attribute is not None:
        if key not in ("overall", "improvement") or cell is None:
            raise NotFound(
                "Breakdown cells explain the overall and improvement means: give key overall "
                "or improvement, attribute and cell.",
                code="no_figure",
            )
        row = next(
            (
                b
                for b in found.get("breakdowns") or []
                if b["attribute"] == attribute and b["value"] == cell
            ),
            None,
        )
        if row is None:
            raise NotFound(
                f"Campaign {campaign_id}'s results have no breakdown cell {attribute} = {cell}.",
                code="no_figure",
            )
        if row["suppressed"]:
            return withheld(str(row["reason"]), None)
        value, low, high = (
            row[f"mean_{key}_2dp"],
            row[f"{key}_ci_low_2dp"],
            row[f"{key}_ci_high_2dp"],
        )
        met = row["threshold_met"]
        reason = None
        pop: int | None = None  # a cell's N is not known
        column = pl.col(attribute).cast(pl.String) if attribute in frame.columns else pl.lit(None)
        cell_expr = column.fill_null(engine.NOT_STATED) == cell
    elif key in ("overall", "improvement"):
        value, low, high = (
            overall[f"mean_{key}_2dp"],
            overall[f"{key}_ci_low_2dp"],
            overall[f"{key}_ci_high_2dp"],
        )
        met, pop = overall["threshold_met"], population
        reason = publication_reason(met)
    elif factor in engine.FACTOR_KEYS and measure in engine.FACTOR_MEASURES:
        row = next((r for r in found.get("factors") or [] if r["factor"] == factor), None)
        if row is None:
            raise NotFound(f"Campaign {campaign_id} has no factor {factor}.", code="no_figure")
        value, low, high = (
            row[f"mean_{measure}_2dp"],
            row[f"{measure}_ci_low_2dp"],
            row[f"{measure}_ci_high_2dp"],
        )
        met, pop = row["threshold_met"], population
        reason = publication_reason(met)
    else:
        raise NotFound(
            f"There is no survey mean {key!r}: use overall, improvement or a factor's "
            "S1.satisfaction … S20.importance.",
            code="no_figure",
        )
    if reason:
        return withheld(reason, met)
    n, s1, s2 = _sums(frame, key, cell_expr)
    f = _fpc(n, pop)
    rows = [
        _survey_count("n", "Ratings given", n, "ratings", served_from),
        _survey_count("sum", "Σx: the ratings added up", s1, "rating points", served_from),
        _survey_count("sum_of_squares", "Σx²", s2, "rating points²", served_from),
        _survey_count(
            "t",
            "t(0.975, n − 1)",
            confidence.t_quantile(0.975, float(n - 1)) if n >= 2 else None,
            "",
            "Student's t quantile (regularised incomplete beta)",
        ),
        _survey_count(
            "population",
            "N: users in scope (none on a breakdown cell)",
            pop,
            "people",
            f"campaign {campaign_id}'s users in scope",
        ),
        _survey_count("fpc", "Finite-population correction", f, "", "√((N − n)/(N − 1)), else 1"),
    ]
    return {
        **base,
        "value": value,
        "unit": unit,
        "formula": formula,
        "rule": rule,
        "n": n,
        "threshold_met": met,
        "suppressed": False,
        "suppression_reason": None,
        "ci_low": low,
        "ci_high": high,
        "ci_method": SURVEY_MEAN_CI,
        "rows": rows,
    }


# ------------------------------------------------------------------ committee pack totals

PACK_MONEY = ("budget", "forecast", "variance", "actuals", "remaining")
PACK_SUM_RULE = (
    "the sum of the rows listed, in pence, exact (variance = forecast − budget and "
    "remaining = budget − actuals on each line, computed, not as printed); recharges are "
    "excluded and listed apart"
)
PACK_SLA_RULE = (
    "% met = 100 × Σ met / Σ resolved over the reporting window's months (tickets of the "
    "service and its partners resolved at this priority), 2 decimals, half up"
)


def _pack_of(
    session: Session,
    settings: Settings,
    principal: Principal,
    service_id: int,
    financial_year: int,
    period: int,
    version: int | None,
) -> tuple[Pack, dict[str, Any] | None]:
    """The pack through the packs service (its access rule: the service, its partners and
    admins; others 403): the live draft, or a stored version's frozen figures."""
    if version is None:
        return packs.draft(session, settings, principal, service_id, financial_year, period), None
    versions = packs.listing(session, principal, service_id, financial_year, period, None)
    found = next((v for v in versions if v["version"] == version), None)
    if found is None:
        raise NotFound(
            f"Shared service {service_id} has no stored version {version} of its pack for "
            f"{financial_year} P{period}; leave version out for the live draft.",
            code="pack_not_found",
        )
    row = packs.stored(session, principal, int(found["id"]), "figures")
    return packs.stored_pack(row), row


def _pack_row(name: str, label: str, value: int, unit: str, source: str) -> dict[str, Any]:
    return {
        "role": "row",
        "name": name,
        "label": label,
        "value": value,
        "unit": unit,
        "source": source,
    }


def pack_total(
    session: Session,
    settings: Settings,
    principal: Principal,
    service_id: int,
    financial_year: int,
    period: int,
    version: int | None,
    figure: str,
    key: str | None,
    column: str | None,
    organisation_id: int | None,
) -> dict[str, Any]:
    """A committee pack's total (an outturn group's or the grand total's column, a cost
    table's total, the KPI summary's SLA % per priority): the rule, the rows it sums with
    their values and where they came from (the import and its row), the checks of the
    printed total and their tolerance, and for a stored version its frozen data version.
    A stored version's rows are its frozen figures: they recompute it however the live
    data has moved since."""
    pack, stored = _pack_of(
        session, settings, principal, service_id, financial_year, period, version
    )
    h = pack.header
    base: dict[str, Any] = {
        "kind": "pack_total",
        "service_id": service_id,
        "financial_year": financial_year,
        "period": period,
        "version": h.version,
        "status": h.status,
        "figure": figure,
        "key": key,
        "column": column,
        "organisation_id": organisation_id,
        "frozen": stored is not None,
        "computation": (
            f"frozen with version {h.version} at {stored['created_at'].isoformat()}; a stored "
            "version's figures never change (late data is listed among its checks)"
            if stored is not None
            else "the live draft, computed now from the live data"
        ),
        "data_version": h.data_version,
        "data_as_of": h.data_as_of,
    }

    def checks_of(kind: str, row: str, col: str) -> list[str]:
        return [
            c.message for c in pack.checks if c.kind == kind and c.row == row and c.column == col
        ]

    def missing(what: str) -> NotFound:
        return NotFound(f"This pack has no {what}.", code="no_figure")

    if figure in ("outturn_group", "outturn_total"):
        if pack.outturn is None:
            raise missing("outturn (no finance report for the year to this period)")
        if column not in PACK_MONEY:
            raise Unprocessable(
                f"column must be one of {', '.join(PACK_MONEY)} for an outturn total.",
                code="bad_column",
            )
        report, sources = repo.finance_source(session, service_id, financial_year, period)
        if figure == "outturn_group":
            group = next((g for g in pack.outturn.groups if g.key == key), None)
            if group is None:
                raise missing(f"outturn group {key!r}")
            groups = [group]
            total = int(getattr(group, f"{column}_pence"))
            check_kind, check_row = "group_total", f"{key} / total"
        else:
            groups = list(pack.outturn.groups)
            total = int(getattr(pack.outturn.total, f"{column}_pence"))
            check_kind, check_row = "grand_total", "total service charge"
        rows = []
        for g in groups:
            for line in g.lines:
                src = sources.get(line.position)
                same = (
                    src is not None
                    and src["line"] == line.line
                    and (src["budget_pence"], src["forecast_pence"], src["actuals_pence"])
                    == (line.budget_pence, line.forecast_pence, line.actuals_pence)
                )
                if report is not None and same:
                    assert src is not None
                    where = (
                        f"finance import {report['id']} ({report['source']}"
                        + (f" {report['file_name']}" if report["file_name"] else "")
                        + f", P{report['period']}), row {src['source_row'] or '?'}"
                        + f", line {line.position}"
                    )
                else:
                    where = (
                        f"line {line.position} of the finance import frozen with this version "
                        "(since replaced or changed: see the late-data checks)"
                    )
                rows.append(
                    _pack_row(
                        f"{g.key} / {line.line}",
                        f"{line.line} ({g.label}) {column}",
                        int(getattr(line, f"{column}_pence")),
                        "pence",
                        where,
                    )
                )
        return {
            **base,
            "value": total,
            "unit": "pence",
            "rule": PACK_SUM_RULE,
            "tolerance": (
                f"a printed total is checked against its rows as printed, allowing "
                f"{engine_packs.TOLERANCE_PENCE_PER_ROW} pence per row: "
                f"{engine_packs.TOLERANCE_PENCE_PER_ROW * len(rows)} pence for {len(rows)} rows"
            ),
            "checks": checks_of(check_kind, check_row, column),
            "rows": rows,
        }

    if figure == "cost_total":
        table = next((t for t in pack.cost_tables if t.title == key), None)
        if table is None:
            raise missing(f"cost table {key!r}")
        if column is not None and column not in table.columns:
            raise Unprocessable(
                f"column must be one of the table's columns ({', '.join(table.columns)}) or "
                "left out for the total across them.",
                code="bad_column",
            )
        meta = repo.cost_sources(session, service_id, financial_year, period).get(table.title)
        index = None if column is None else table.columns.index(column)
        picked = [
            r for r in table.rows if organisation_id is None or r.organisation.id == organisation_id
        ]
        if organisation_id is not None and not picked:
            raise missing(f"row of organisation {organisation_id} in cost table {key!r}")
        if organisation_id is None:
            total = table.grand_total_pence if index is None else table.column_totals_pence[index]
            where = f"{table.title} / total"
        else:
            org_row = next(
                r for r in table.organisation_totals if r.organisation.id == organisation_id
            )
            total = org_row.total_pence if index is None else org_row.amounts_pence[index]
            where = f"{table.title} / {org_row.organisation.name} / total"
        table_src = (
            f"cost table import {meta['id']} '{table.title}' (P{meta['period']})"
            if meta is not None
            else f"cost table '{table.title}' as frozen with this version"
        )
        rows = [
            _pack_row(
                f"{r.organisation.name} / {r.category}",
                f"{r.category} of {r.organisation.name}, {column or 'all columns'}",
                r.total_pence if index is None else r.amounts_pence[index],
                "pence",
                f"{table_src}, organisation {r.organisation.id}, category {r.category}"
                + ("" if column is None else f", column {column}"),
            )
            for r in picked
        ]
        return {
            **base,
            "value": total,
            "unit": "pence",
            "rule": "the sum of the rows listed (organisation × category), in pence, exact",
            "tolerance": (
                f"a printed total is checked against its rows, allowing "
                f"{engine_packs.TOLERANCE_PENCE_PER_ROW} pence per row: "
                f"{engine_packs.TOLERANCE_PENCE_PER_ROW * len(rows)} pence for {len(rows)} rows"
            ),
            "checks": checks_of("cost_total", where, column or "total"),
            "rows": rows,
        }

    # kpi_sla
    measure = next((m for m in pack.kpi.measures if m.key == f"sla.{key}"), None)
    table_sla = next((t for t in pack.sla if t.priority == key), None)
    if measure is None or table_sla is None:
        raise missing(f"SLA measure for priority {key!r} in its KPI summary")
    window = [m for m in table_sla.months if h.period_start <= m.month <= h.period_end]
    rows = []
    for m in window:
        where = (
            f"SLA outcomes of the tickets of the service and its partners resolved in "
            f"{m.month:%Y-%m} at {key} (the pack's {key} table)"
        )
        rows.append(
            _pack_row(f"met {m.month:%Y-%m}", "Resolved within target", m.met, "tickets", where)
        )
        rows.append(_pack_row(f"resolved {m.month:%Y-%m}", "Resolved", m.total, "tickets", where))
    return {
        **base,
        "value": None if measure.value is None else float(measure.value),
        "unit": "%",
        "rule": PACK_SLA_RULE + f"; target {table_sla.target_label}",
        "tolerance": None,
        "checks": [],
        "rows": rows,
    }


# ------------------------------------------------------------------ NPS report rows

NPS_FORMULA = "round_half_up(100 × (promoters − detractors) / responses, 1)"
NPS_RULE = (
    "ratings 0-10 only (a rating opportunity without a rating, or a value outside 0-10, is "
    "not counted); promoters 9-10, passives 7-8, detractors 0-6; NPS = % promoters − % "
    "detractors, one decimal, half up (services.metrics.figures); no ratings: no score"
)
NPS_SOURCES = {
    "tickets": "the nps_rating column of the organisation's ticket exports",
    "feedback": "ticket-export ratings and POST /api/v1/feedback ratings combined (a "
    "rating sent for a ticket replaces that ticket's export rating)",
    "survey": "the recommendation question (nps) of the organisation's survey responses",
}


def nps_row(
    session: Session,
    source: NpsSource,
    organisation_id: int,
    month: date | None,
    month_from: date | None,
    month_to: date | None,
) -> dict[str, Any]:
    """One row of the NPS report (``/api/v1/nps``): the organisation's month, or its whole
    period (``month`` None) over the months asked for, made exactly as the report makes it
    (the same ratings, the same aggregation): the count of each rating 0-10, the
    promoters, passives and detractors, the rule and the rounding. Counts only, never a
    ticket or a response."""
    frame = nps_service.ratings(session, source, [organisation_id], month_from, month_to)
    if month is not None:
        frame = frame.filter(pl.col("month") == month.replace(day=1))
    span = (
        f"{month:%Y-%m}"
        if month is not None
        else "the whole period"
        + (f" from {month_from:%Y-%m}" if month_from else "")
        + (f" to {month_to:%Y-%m}" if month_to else "")
    )
    if frame.is_empty():
        raise NotFound(
            f"Organisation {organisation_id} has no {source} rating for {span}: the NPS "
            "report has no such row to explain.",
            code="no_figure",
        )
    table = nps_service.by_month_and_total(frame)
    row = table.filter(
        pl.col("month").is_null() if month is None else pl.col("month") == month.replace(day=1)
    ).row(0, named=True)
    rating = pl.col("rating").cast(pl.Int64)
    counts = dict(
        frame.filter(rating.is_between(0, 10))
        .group_by(rating.alias("r"))
        .agg(pl.len().cast(pl.Int64).alias("k"))
        .iter_rows()
    )
    not_counted = frame.height - int(row["responses"])
    where = (
        f"{NPS_SOURCES[source]}, organisation {organisation_id}, {span} "
        f"({nps_service.MONTH_BASIS[source]})"
    )
    rows: list[dict[str, Any]] = []
    for r in range(11):
        band = "promoter" if r >= 9 else "passive" if r >= 7 else "detractor"
        rows.append(
            {
                "role": "rating_count",
                "name": f"rating_{r}",
                "label": f"Ratings of {r} ({band})",
                "value": int(counts.get(r, 0)),
                "unit": "ratings",
                "source": where,
            }
        )
    for name, label in (
        ("promoters", "Ratings of 9-10"),
        ("passives", "Ratings of 7-8"),
        ("detractors", "Ratings of 0-6"),
        ("responses", "Ratings counted (0-10)"),
    ):
        rows.append(
            {
                "role": "category_count",
                "name": name,
                "label": label,
                "value": int(row[name]),
                "unit": "ratings",
                "source": where,
            }
        )
    rows.append(
        {
            "role": "not_counted",
            "name": "not_counted",
            "label": "Rating opportunities without a 0-10 rating (not counted)",
            "value": not_counted,
            "unit": "ratings",
            "source": where,
        }
    )
    ratings_seen = frame.select("month", pl.col("rating").cast(pl.Int64)).sort(
        "month", "rating", nulls_last=True
    )
    digest = hashlib.sha256(repr(ratings_seen.rows()).encode()).hexdigest()[:16]
    return {
        "kind": "nps",
        "source": source,
        "organisation_id": organisation_id,
        "month": None if month is None else month.replace(day=1),
        "month_from": month_from,
        "month_to": month_to,
        "value": None if row["nps"] is None else float(row["nps"]),
        "unit": "points (-100 to 100)",
        "formula": NPS_FORMULA,
        "rule": NPS_RULE,
        "month_basis": nps_service.MONTH_BASIS[source],
        "responses": int(row["responses"]),
        "promoters": int(row["promoters"]),
        "passives": int(row["passives"]),
        "detractors": int(row["detractors"]),
        "suppression_rule": "none: the NPS report shows every organisation you may see, "
        "whatever its count",
        "data_version": f"{source}|opportunities {frame.height}|sha256 {digest}",
        "rows": rows,
    }


# ------------------------------------------------------- survey group views (issue 15)

SUM_NAMES = {
    "n": ("ratings", "Ratings given"),
    "s1": ("sum", "Σx, the ratings summed"),
    "s2": ("sum_of_squares", "Σx², the ratings squared and summed"),
    "sw": ("sum_w", "Σw, the weights of the ratings given"),
    "swx": ("sum_wx", "Σwx"),
    "swx2": ("sum_wx2", "Σwx²"),
    "sw2": ("sum_w2", "Σw², the squared weights"),
}
GROUP_MEAN_RULE = (
    "mean = Σx / n over the ratings given in the cell across every organisation (2 "
    "decimals, half up); weighted mean = Σwx / Σw (2 decimals, half up) with each "
    "organisation's responses weighted to its own headcount; effective sample size n_eff = "
    "(Σw)² / Σw² (1 decimal, half up)"
)
GROUP_WEIGHTED_CI = (
    "95% t-interval of the weighted mean: mean_w ± t(0.975, n_eff − 1) × √(v / (n_eff − 1)) "
    "× fpc, v = Σwx² / Σw − (Σwx / Σw)² (at least 0); bounds 2 decimals, half up; none "
    "when n_eff ≤ 1"
)
GROUP_SCOPE = (
    "Sums over the responses of each organisation's latest closed user-satisfaction "
    "campaign in the cycles (pooled when several); no organisation's own figure is shown"
)


def _t(df: float) -> float | None:
    return confidence.t_quantile(0.975, df) if df >= 1 else None


def _measure_rows(
    label: str, sums: dict[str, Any], population: int | None, source: str
) -> list[dict[str, Any]]:
    """One measure's sums as explanation rows, with the t quantiles and the population."""
    rows = []
    for part, (name, what) in SUM_NAMES.items():
        value = sums[part]
        rows.append(
            {
                "role": "response_count" if part == "n" else "input",
                "name": f"{label}.{name}",
                "label": f"{label}: {what}",
                "value": None
                if value is None
                else (int(value) if part in ("n", "s1", "s2") else float(value)),
                "unit": "ratings" if part == "n" else "sum",
                "source": source,
            }
        )
    n = int(sums["n"] or 0)
    sw, sw2 = float(sums["sw"] or 0.0), float(sums["sw2"] or 0.0)
    n_eff = sw * sw / sw2 if sw2 > 0 else None
    for name, what, value in (
        ("t", "t(0.975, n − 1)", _t(n - 1)),
        (
            "t_weighted",
            "t(0.975, n_eff − 1)",
            None if n_eff is None else _t(n_eff - 1),
        ),
        (
            "fpc",
            "finite-population correction √((N − n) / (N − 1)); 1 where N is unknown",
            _fpc(n, population),
        ),
    ):
        rows.append(
            {
                "role": "constant",
                "name": f"{label}.{name}",
                "label": f"{label}: {what}",
                "value": value,
                "unit": "factor",
                "source": "constant"
                if name != "fpc"
                else f"N = {population}"
                if population
                else "N unknown: 1",
            }
        )
    return rows


def _group_sums(frame: pl.DataFrame, key: str) -> dict[str, Any]:
    """n, Σx, Σx², Σw, Σwx, Σwx², Σw² of one answer key over ``frame``: per cycle and
    organisation first, then summed, as the group views add them."""
    if key not in frame.columns or frame.is_empty():
        return {p: 0 for p in SUM_NAMES}
    per_org = frame.group_by("cycle", group.ORG).agg(
        group._sums(pl.col(key), pl.col("weight").cast(pl.Float64), "v")
    )
    out = per_org.select(pl.col(f"v__{p}").sum().alias(p) for p in SUM_NAMES).row(0, named=True)
    return {p: (0 if out[p] is None else out[p]) for p in SUM_NAMES}


def _group_frame(
    session: Session, settings: Settings, years: list[int]
) -> tuple[pl.DataFrame, list[dict[str, Any]], dict[int, int]]:
    year_of, campaigns = surveys._group_context(session, years)
    if not campaigns:
        return pl.DataFrame(), [], {}
    frame, _ = surveys._group_weights(
        session, surveys._group_frame(session, campaigns, year_of), campaigns, settings
    )
    scope: dict[int, int] = {}
    for c in campaigns:
        y = year_of[c["cycle_id"]]
        scope[y] = scope.get(y, 0) + int(c["users_in_scope"])
    return frame, campaigns, scope


def _group_version(campaigns: list[dict[str, Any]], frame: pl.DataFrame) -> str:
    ids = ",".join(str(c["id"]) for c in sorted(campaigns, key=lambda c: c["id"]))
    return f"campaigns {ids}|responses {frame.height}"


def _group_withheld(base: dict[str, Any], reason: str | None) -> dict[str, Any]:
    return base | {
        "suppressed": True,
        "suppression_reason": reason,
        "threshold_met": None,
        "figures": {},
        "population": None,
        "rows": [],
    }


def survey_group_breakdown(
    session: Session,
    settings: Settings,
    years: list[int],
    attribute: str,
    value: str,
    measure: str,
) -> dict[str, Any]:
    """One cell of ``/api/v1/survey-results/group/breakdowns`` (the same cycles), for
    ``measure`` (overall or improvement): the cell's sums over every organisation's
    responses, the t quantiles, the population, thresholds and whether met. A withheld
    cell says so and why, and nothing more."""
    _, rows, meta = surveys.group_breakdowns(session, settings, years)
    row = next((r for r in rows if r["attribute"] == attribute and r["value"] == value), None)
    if row is None:
        raise NotFound(
            f"The group breakdowns of {', '.join(map(str, sorted(set(years))))} have no cell "
            f"{attribute} = {value!r}.",
            code="no_figure",
        )
    base = {
        "kind": "survey_group",
        "view": "breakdowns",
        "cycles": sorted(set(years)),
        "baseline_cycles": [],
        "scope": row["scope"],
        "attribute": attribute,
        "value": value,
        "factor": None,
        "measure": measure,
        "formula": "Σx / n; Σwx / Σw; (Σw)² / Σw²",
        "rule": GROUP_MEAN_RULE,
        "thresholds": meta["thresholds"],
        "suppression_rule": disclosure.GROUP_RULE,
        "ci_method": SURVEY_MEAN_CI.replace("1 on a breakdown cell", "1 on a cell"),
        "weighted_ci_method": GROUP_WEIGHTED_CI,
        "weighting": meta["weighting"],
    }
    frame, campaigns, scope = _group_frame(session, settings, years)
    base["data_version"] = _group_version(campaigns, frame)
    if row["suppressed"]:
        return _group_withheld(base, row["reason"])
    picked = frame.filter(pl.col("cycle").is_in(base["cycles"]))
    if attribute != group.ALL:
        picked = picked.filter(pl.col(attribute).fill_null(engine.NOT_STATED) == value)
        population = None
    else:
        population = sum(scope.get(c, 0) for c in base["cycles"]) or None
    sums = _group_sums(picked, measure)
    where = f"{GROUP_SCOPE}; cycles {row['scope']}; cell {attribute} = {value}; {measure}"
    cols = [
        "n",
        f"n_{measure}",
        f"mean_{measure}_2dp",
        f"{measure}_ci_low_2dp",
        f"{measure}_ci_high_2dp",
        f"weighted_{measure}_mean_2dp",
        f"weighted_{measure}_ci_low_2dp",
        f"weighted_{measure}_ci_high_2dp",
        f"weighted_{measure}_n_eff_1dp",
    ]
    return base | {
        "suppressed": False,
        "suppression_reason": None,
        "threshold_met": row["threshold_met"],
        "figures": {c: row[c] for c in cols},
        "population": population,
        "rows": _measure_rows(measure, sums, population, where),
    }


def survey_group_factor(
    session: Session,
    settings: Settings,
    year: int,
    baseline: list[int],
    factor: str,
    period: str,
) -> dict[str, Any]:
    """One factor of ``/api/v1/survey-results/group/factors`` (the same cycle and
    baseline), this cycle's figures or the pooled baseline's: the sums of its satisfaction
    and importance ratings across the organisations (gap and weight gap recompute from
    them), thresholds and whether met. A withheld figure says so and why only."""
    _, rows, meta = surveys.group_factors(session, settings, year, baseline)
    row = next((r for r in rows if r["factor"] == factor), None)
    if row is None:
        raise NotFound(f"The group factors have no factor {factor!r}.", code="no_figure")
    cycles = [year] if period == "cycle" else list(meta["baseline_cycles"])
    threshold = settings.survey_publication_min_responses
    base = {
        "kind": "survey_group",
        "view": "factors",
        "cycles": cycles,
        "baseline_cycles": list(meta["baseline_cycles"]),
        "scope": "+".join(map(str, cycles)),
        "attribute": None,
        "value": None,
        "factor": factor,
        "measure": period,
        "formula": "Σx / n per measure; gap = mean satisfaction − mean importance; weight "
        "gap = gap × mean importance / 7",
        "rule": GROUP_MEAN_RULE + "; gap and weight gap from the exact means (2 decimals, "
        "half up); change = this cycle's exact figure − the baseline's",
        "thresholds": {
            "min_responses": threshold,
            "min_organisations": settings.disclosure_min_n,
            "rule": disclosure.GROUP_RULE,
        },
        "suppression_rule": "a figure is withheld when its ratings, organisations or ratings "
        "outside its largest organisation fall short; a pooled baseline figure also when it is "
        "withheld in any baseline cycle",
        "ci_method": SURVEY_MEAN_CI.replace("1 on a breakdown cell", "1 on a cell"),
        "weighted_ci_method": GROUP_WEIGHTED_CI if period == "cycle" else None,
        "weighting": meta["weighting"],
    }
    frame, campaigns, scope = _group_frame(session, settings, [year, *meta["baseline_cycles"]])
    base["data_version"] = _group_version(campaigns, frame)
    hidden = row["suppressed"] if period == "cycle" else row["baseline_suppressed"]
    if hidden:
        return _group_withheld(base, row["reason"])
    picked = frame.filter(pl.col("cycle").is_in(cycles))
    population = sum(scope.get(c, 0) for c in cycles) or None
    where = f"{GROUP_SCOPE}; cycles {base['scope']}; factor {factor}"
    items: list[dict[str, Any]] = []
    for m in engine.FACTOR_MEASURES:
        items += _measure_rows(
            f"{factor}.{m}", _group_sums(picked, f"{factor}.{m}"), population, where
        )
    prefix = "" if period == "cycle" else "baseline_"
    cols = [
        f"{prefix}{c}"
        for c in (
            "n_satisfaction",
            "mean_satisfaction_2dp",
            "satisfaction_ci_low_2dp",
            "satisfaction_ci_high_2dp",
            "n_importance",
            "mean_importance_2dp",
            "importance_ci_low_2dp",
            "importance_ci_high_2dp",
            "gap_2dp",
            "weight_gap_2dp",
        )
    ]
    if period == "cycle":
        cols += [
            "weighted_mean_satisfaction_2dp",
            "weighted_mean_importance_2dp",
            "weighted_gap_2dp",
            "weighted_weight_gap_2dp",
            "weighted_satisfaction_n_eff_1dp",
        ]
    return base | {
        "suppressed": False,
        "suppression_reason": None,
        "threshold_met": row["threshold_met"] if period == "cycle" else disclosure.PUBLICATION,
        "figures": {c: row[c] for c in cols},
        "population": population,
        "rows": items,
    }


# ------------------------------------------------ a campaign's weighted table (issue 15)

WEIGHTED_FORMULA = "Σx / n beside Σwx / Σw; n_eff = (Σw)² / Σw²; design effect = n / n_eff"
CELL_WEIGHT_RULE = (
    "cell weighting: a cell's weight = its headcount (merged cells' summed) / its responses "
    "× (responses that state every weighting attribute / all responses); a response that "
    "does not state one weighs N / n (N the headcount total); the weights add up to N"
)


def _label_of(attributes: list[str], key: tuple[Any, ...]) -> str:
    return ", ".join(
        f"{a.removeprefix('attr.')} = {engine.NOT_STATED if v is None else v}"
        for a, v in zip(attributes, key, strict=True)
    )


def survey_weighted(
    session: Session,
    settings: Settings,
    principal: Principal,
    campaign_id: int,
    figure: str,
    attribute: str | None,
    value: str | None,
    audience: surveys.Audience | None,
) -> dict[str, Any]:
    """A row of ``/api/v1/survey-results/campaigns/{id}/weighted`` (the same access and
    audience): the row's sums, unweighted and weighted (the means, intervals and effective
    size recompute from them), the weighting method with its inputs (the headcount's cells
    and the weight of each weighting cell with at least the campaign's threshold of
    responses; for the internal audience only). A withheld row says so and why only."""
    _, rows, meta = surveys.weighted(session, principal, campaign_id, settings, audience)
    row = next(
        (
            r
            for r in rows
            if r["figure"] == figure and r["attribute"] == attribute and r["value"] == value
        ),
        None,
    )
    if row is None:
        where = "all responses" if attribute is None else f"the cell {attribute} = {value!r}"
        raise NotFound(
            f"The weighted results of campaign {campaign_id} have no {figure!r} for {where}.",
            code="no_figure",
        )
    campaign = surveys_repo.get_campaign(session, campaign_id)
    assert campaign is not None  # surveys.weighted found it
    chosen = meta["audience"]
    internal = surveys.compute(session, campaign, settings, chosen)
    threshold = int(internal["thresholds"]["internal"])
    frame = surveys._with_rows(surveys_repo.responses_frame(session, [campaign_id]))
    base = {
        "kind": "survey_weighted",
        "campaign_id": campaign_id,
        "audience": chosen,
        "figure": figure,
        "attribute": attribute,
        "value": value,
        "formula": WEIGHTED_FORMULA,
        "rule": "mean = Σx / n over the ratings given, 2 decimals, half up; weighted mean = "
        "Σwx / Σw, 2 decimals, half up; effective sample size (Σw)² / Σw², 1 decimal, half up",
        "suppression_rule": SURVEY_SUPPRESSION,
        "ci_method": SURVEY_MEAN_CI,
        "weighted_ci_method": GROUP_WEIGHTED_CI,
        "weighting": meta["weighting"],
        "data_version": f"campaign {campaign_id}|responses {frame.height}|"
        f"headcount {meta['weighting']['headcount_total']}",
    }
    if row["suppressed"]:
        return base | {
            "suppressed": True,
            "suppression_reason": row["reason"],
            "threshold_met": None,
            "figures": {},
            "population": None,
            "rows": [],
        }
    users = int(campaign["users_in_scope"])
    heads, cell_rows = surveys_repo.headcounts(session, [campaign_id])
    weights, notes = weighting.weigh(
        frame, heads, cell_rows, {campaign_id: users}, min_cell=threshold
    )
    frame = frame.join(weights, on="_row", how="left").with_columns(pl.lit(0).alias("cycle"))
    picked = frame
    if attribute is not None:
        picked = frame.filter(pl.col(attribute).fill_null(engine.NOT_STATED) == value)
    population = (users or None) if attribute is None else None
    where = f"campaign {campaign_id}'s responses" + (
        "" if attribute is None else f" with {attribute} = {value}"
    )
    items = _measure_rows(figure, _group_sums(picked, figure), population, where)
    if chosen == "internal":
        for r in cell_rows:
            label = ", ".join(f"{k} = {v}" for k, v in r["cell"].items())
            items.append(
                {
                    "role": "input",
                    "name": f"headcount: {label}",
                    "label": f"People in {label} (the campaign's headcount)",
                    "value": int(r["headcount"]),
                    "unit": "people",
                    "source": f"headcount of campaign {campaign_id} ({heads[campaign_id]['kind']})",
                }
            )
        attrs = [a if a.startswith("attr.") else f"attr.{a}" for a in notes[0].attributes]
        attrs = [a for a in attrs if a in frame.columns]
        by: list[str | pl.Expr] = [*attrs] or [pl.lit("all responses").alias("_all")]
        cells = (
            frame.group_by(by)
            .agg(pl.len().alias("k"), pl.col("weight").first().alias("w"))
            .sort(attrs or "_all", nulls_last=True)
        )
        hidden = 0
        for c in cells.iter_rows(named=True):
            if c["k"] < threshold:
                hidden += 1
                continue
            label = _label_of(attrs, tuple(c[a] for a in attrs)) if attrs else "all responses"
            items.append(
                {
                    "role": "input",
                    "name": f"weight: {label}",
                    "label": f"The weight of each response in {label} ({notes[0].method})",
                    "value": float(c["w"]),
                    "unit": "weight",
                    "source": CELL_WEIGHT_RULE if notes[0].method == "cell" else notes[0].why,
                }
            )
        if hidden:
            items.append(
                {
                    "role": "input",
                    "name": "weights not shown",
                    "label": f"Weighting cells with fewer than {threshold} responses, whose "
                    "weights are not shown (a weight and a headcount give the responses)",
                    "value": hidden,
                    "unit": "cells",
                    "source": "disclosure control",
                }
            )
    return base | {
        "suppressed": False,
        "suppression_reason": None,
        "threshold_met": row["threshold_met"],
        "figures": {k: row[k] for k in group.WEIGHTED_COLUMNS[3:]},
        "population": population,
        "rows": items,
    }
