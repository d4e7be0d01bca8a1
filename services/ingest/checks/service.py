"""Reviewer checks on a submission: outlier flags (on save and on submit) and its data
quality score.

Peer figures come from the metrics service through the table it publishes for this
(``outlier_references``: the last published cycle's distribution per peer group and
metric) and the organisation's history from ``metric_values``; both are read-only here.
The peer group of a check is the organisation's type group (``type:L``) when metrics
published one for the metric (at least the disclosure threshold of organisations),
otherwise all participants.

A metric with any flag needs the participant's comment before the submission can be
submitted: the flags become one warning per metric with rule key ``outlier.<metric>``,
answered through the same ``warning_comments`` as the catalogue's warning rules.
"""

from __future__ import annotations

import math
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy.orm import Session

from services.ingest.checks import engine
from services.ingest.checks import repository as repo
from services.ingest.checks.engine import Flag, Quality
from shared.auth import Principal
from shared.catalogue import Catalogue, Issue, load_catalogue
from shared.catalogue import formula as fx
from shared.clock import LONDON
from shared.errors import Forbidden, NotFound

RULE_PREFIX = "outlier."


def metric_values(
    catalogue: Catalogue, module: str, answers: dict[str, object], context: dict[str, object]
) -> dict[str, float]:
    """The module's metric values from these answers (and the organisation's answers to
    other modules), by the catalogue's formulas; metrics without a value are left out."""
    env: dict[str, float | None] = dict(catalogue.numeric_answers(context))
    env.update(catalogue.numeric_answers(answers))
    out: dict[str, float] = {}
    for key, metric in catalogue.metrics_for(module).items():
        value = metric.evaluate(env)
        if engine.finite(value):
            assert value is not None
            out[key] = value
    return out


@dataclass(frozen=True)
class Peers:
    """What the checks of one cycle compare with, read once: the last published cycle's
    references (every peer group) and the organisations' values in earlier cycles."""

    references: pl.DataFrame  # engine.REFERENCES_SCHEMA
    history: pl.DataFrame  # engine.HISTORY_SCHEMA


def peers_for(
    session: Session,
    year: int,
    organisation_ids: Collection[int] | None,
    metric_keys: Collection[str],
) -> Peers:
    ref_year = repo.last_published_year(session, before=year)
    refs = (
        engine.frame([], engine.REFERENCES_SCHEMA)
        if ref_year is None
        else repo.reference_frame(session, ref_year, metric_keys)
    )
    return Peers(refs, repo.history_frame(session, organisation_ids, metric_keys, before=year))


def run_checks(
    peers: Peers, values: pl.DataFrame, catalogue: Catalogue, year: int
) -> list[tuple[int, Flag]]:
    """(submission id, flag) for every flagged value of ``values`` (engine.VALUES_SCHEMA)."""
    flagged = engine.flag_frame(
        values, peers.references, peers.history, engine.thresholds_frame(catalogue.outliers), year
    )
    wanted = flagged.filter(pl.col("check") == "history_sd").select("organisation_id", "metric_key")
    history: dict[tuple[int, str], dict[int, float]] = {}
    if wanted.height:
        rows = peers.history.join(wanted.unique(), on=["organisation_id", "metric_key"])
        for org, key, y, v in rows.filter(pl.col("cycle_year") < year).iter_rows():
            history.setdefault((org, key), {})[y] = v
    return engine.to_flags(flagged, catalogue.metrics, history)


CHECKED_STATES = ("submitted", "accepted")


def cycle_values(
    session: Session, year: int, catalogue: Catalogue, states: Collection[str] = CHECKED_STATES
) -> pl.DataFrame:
    """Every metric value of the cycle's submissions in ``states`` (engine.VALUES_SCHEMA),
    computed in one pass: each organisation's answers to every module (any state, as the
    submission's own validation reads them) as formula inputs, each metric by the
    catalogue's compiled expression, kept for the submission of the metric's module."""
    answers = repo.cycle_answers(session, year)
    points = engine.frame(
        [
            (q.key, ch.key, float(ch.points))
            for q in catalogue.questions.values()
            for ch in q.choices
        ],
        pl.Schema({"question_key": pl.String, "value_text": pl.String, "points": pl.Float64}),
    )
    numeric = (
        answers.filter(pl.col("question_key").is_in(list(catalogue.questions)))
        .join(points, on=["question_key", "value_text"], how="left")
        .select(
            "organisation_id",
            "question_key",
            pl.coalesce("value_number", pl.col("value_boolean").cast(pl.Float64), "points").alias(
                "value"
            ),
        )
        .drop_nulls("value")
    )
    keys = list(catalogue.questions)
    wide = numeric.pivot(
        on="question_key", on_columns=keys, index="organisation_id", values="value"
    )
    module_of = engine.frame(
        [
            (k, m.module, catalogue.modules[m.module].peer_comparison)
            for k, m in catalogue.metrics.items()
        ],
        pl.Schema({"metric_key": pl.String, "module": pl.String, "peer_checks": pl.Boolean}),
    )
    checked = (
        answers.filter(pl.col("state").is_in(list(states)))
        .select("submission_id", "organisation_id", "organisation_type", "module")
        .unique()
    )
    return (
        wide.lazy()
        .select("organisation_id", *catalogue.metric_exprs().values())
        .unpivot(index="organisation_id", variable_name="metric_key", value_name="value")
        .filter(pl.col("value").is_finite())
        .join(module_of.lazy(), on="metric_key")
        .join(checked.lazy(), on=["organisation_id", "module"])
        .select(list(engine.VALUES_SCHEMA))
        .cast(engine.VALUES_SCHEMA)
        .collect()
    )


def cycle_flags(session: Session, year: int, catalogue: Catalogue) -> list[tuple[int, Flag]]:
    """(submission id, flag) for every metric value of the cycle's submitted and accepted
    submissions, in one pass (validation monitoring; ``bench/trust_bench.py``)."""
    values = cycle_values(session, year, catalogue)
    if values.is_empty():
        return []
    peers = peers_for(session, year, None, values.get_column("metric_key").unique().to_list())
    return run_checks(peers, values, catalogue, year)


def flags_for(
    session: Session,
    sub: dict[str, Any],
    catalogue: Catalogue,
    values: dict[str, float],
) -> list[Flag]:
    """Every flag of these metric values of one submission."""
    if not values:
        return []
    peer = catalogue.modules[sub["module"]].peer_comparison
    frame = engine.frame(
        [
            (sub["id"], sub["organisation_id"], sub["organisation_type"], k, v, peer)
            for k, v in values.items()
        ],
        engine.VALUES_SCHEMA,
    )
    peers = peers_for(session, sub["cycle_year"], [sub["organisation_id"]], list(values))
    return [f for _s, f in run_checks(peers, frame, catalogue, sub["cycle_year"])]


def issues(catalogue: Catalogue, flags: list[Flag] | list[dict[str, Any]]) -> list[Issue]:
    """One warning per flagged metric, naming its inputs, its reasons joined."""
    by_metric: dict[str, list[str]] = {}
    for f in flags:
        key, reason = (
            (f.metric_key, f.reason) if isinstance(f, Flag) else (f["metric_key"], f["reason"])
        )
        by_metric.setdefault(key, []).append(reason)
    out = []
    for key, reasons in by_metric.items():
        metric = catalogue.metrics.get(key)
        inputs = metric.inputs if metric is not None else ()
        out.append(
            Issue(
                tuple(inputs),
                "warning",
                "outlier",
                " ".join(reasons) + " Say why in a comment, or correct the answers.",
                RULE_PREFIX + key,
            )
        )
    return out


def check(
    session: Session,
    sub: dict[str, Any],
    catalogue: Catalogue,
    answers: dict[str, object],
    context: dict[str, object],
) -> list[Flag]:
    """Compute and store the submission's flags (replacing the previous ones)."""
    flags = flags_for(
        session, sub, catalogue, metric_values(catalogue, sub["module"], answers, context)
    )
    repo.replace_flags(session, sub["id"], flags)
    return flags


# ------------------------------------------------------------------ data quality


def expected_questions(catalogue: Catalogue, module: str) -> list[str]:
    """Questions a complete submission answers: the required ones and every input of the
    module's metrics that belongs to the module."""
    own = catalogue.questions_for(module)
    wanted = {k for k, q in own.items() if q.required}
    for metric in catalogue.metrics_for(module).values():
        wanted.update(k for k in metric.inputs if k in own)
    return [k for k in own if k in wanted]


def rules_checked(
    catalogue: Catalogue, module: str, answers: dict[str, object], context: dict[str, object]
) -> tuple[list[str], list[str]]:
    """(rules that could be checked, those that failed): a rule is checked when one of its
    questions is in ``module`` and all its inputs are answered."""
    env: dict[str, float | None] = dict(catalogue.numeric_answers(context))
    env.update(catalogue.numeric_answers(answers))
    checked, failed = [], []
    for rule in catalogue.rules.values():
        if not any(catalogue.questions[k].module == module for k in rule.questions):
            continue
        ok = fx.evaluate_check(rule.ast, env)
        if ok is None:
            continue
        checked.append(rule.key)
        if not ok:
            failed.append(rule.key)
    return checked, failed


def quality(
    session: Session,
    sub: dict[str, Any],
    catalogue: Catalogue,
    answers: dict[str, object],
    context: dict[str, object],
    flags: list[Flag] | list[dict[str, Any]],
) -> Quality:
    expected = expected_questions(catalogue, sub["module"])
    answered = [k for k in expected if answers.get(k) is not None]
    checked, failed = rules_checked(catalogue, sub["module"], answers, context)
    values = metric_values(catalogue, sub["module"], answers, context)
    flagged = sorted({f.metric_key if isinstance(f, Flag) else f["metric_key"] for f in flags})
    deadline = sub.get("cycle_deadline")
    first = repo.first_submitted_at(session, sub["id"])
    days_late: int | None = None
    if deadline is not None:
        moment = first if first is not None else repo.db_now(session)
        days_late = (moment.astimezone(LONDON).date() - deadline).days
        if first is None and days_late <= 0:
            days_late = None  # a draft before the deadline is on time so far
    return Quality(
        completeness=engine.share(len(answered), len(expected)),
        timeliness=engine.timeliness(days_late),
        consistency=engine.share(len(checked) - len(failed), len(checked)),
        outliers=engine.share(len(values) - len([k for k in flagged if k in values]), len(values)),
        detail={
            "expected_questions": expected,
            "missing_questions": [k for k in expected if k not in answered],
            "deadline": deadline.isoformat() if deadline else None,
            "first_submitted_at": first.isoformat() if first else None,
            "days_late": max(days_late, 0) if days_late is not None else 0,
            "rules_checked": checked,
            "rules_failed": failed,
            "metrics_with_value": sorted(values),
            "metrics_flagged": flagged,
        },
    )


def store_quality(session: Session, sub: dict[str, Any], q: Quality) -> None:
    repo.upsert_quality(
        session,
        {
            "submission_id": sub["id"],
            "organisation_id": sub["organisation_id"],
            "cycle_year": sub["cycle_year"],
            "module": sub["module"],
            "score": q.score,
            "completeness": q.completeness,
            "timeliness": q.timeliness,
            "consistency": q.consistency,
            "outliers": q.outliers,
            "detail": q.detail,
        },
    )


# ------------------------------------------------------------------ reads


_FLAG_NUMBERS = (
    "peer_group_key",
    "reference_cycle_year",
    "n_organisations",
    "median",
    "mad",
    "modified_z",
    "q1",
    "q3",
    "iqr",
    "lower_fence",
    "upper_fence",
    "history_n",
    "history_mean",
    "history_sd",
    "previous_value",
    "change_pct",
    "threshold",
)


def _require_reader(principal: Principal, organisation_id: int) -> None:
    if principal.is_admin:
        return
    if not principal.has_any_role(("participant",)):
        raise Forbidden(
            "Only reviewers (admins) and participants of the organisation can read its checks.",
            code="role_forbidden",
        )
    principal.require_organisation(organisation_id)


def flag_rows(
    session: Session, principal: Principal, submission_id: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    sub = repo.submission(session, submission_id)
    if sub is None:
        raise NotFound(f"There is no submission {submission_id}.", code="submission_not_found")
    _require_reader(principal, sub["organisation_id"])
    catalogue = load_catalogue(sub["cycle_year"])
    rows = []
    for f in repo.flags(session, submission_id):
        detail = f["detail"]
        metric = catalogue.metrics.get(f["metric_key"])
        rows.append(
            {
                "submission_id": submission_id,
                "organisation_id": sub["organisation_id"],
                "cycle_year": sub["cycle_year"],
                "metric_key": f["metric_key"],
                "metric_name": metric.name if metric else f["metric_key"],
                "check": f["check"],
                "value": f["value"],
                "reason": f["reason"],
                **{k: detail.get(k) for k in _FLAG_NUMBERS},
                "comment": f["comment"],
                "commented_by": f["commented_by"],
                "checked_at": f["checked_at"],
            }
        )
    return sub, rows


def _scope(principal: Principal, organisation_id: int | None) -> list[int] | None:
    if principal.is_admin:
        return None if organisation_id is None else [organisation_id]
    if not principal.has_any_role(("participant",)):
        raise Forbidden(
            "Only reviewers (admins) and participants can read data quality.",
            code="role_forbidden",
        )
    if organisation_id is not None:
        principal.require_organisation(organisation_id)
        return [organisation_id]
    return sorted(principal.organisations)


def quality_rows(
    session: Session, principal: Principal, cycle: int | None, organisation_id: int | None
) -> list[dict[str, Any]]:
    rows = repo.quality_rows(session, cycle, _scope(principal, organisation_id))
    return [
        {
            **{k: r[k] for k in ("submission_id", "organisation_id", "cycle_year", "module")},
            **{k: r[k] for k in ("score", "completeness", "timeliness", "consistency", "outliers")},
            "days_late": r["detail"].get("days_late", 0),
            "deadline": r["detail"].get("deadline"),
            "missing_questions": r["detail"].get("missing_questions", []),
            "rules_failed": r["detail"].get("rules_failed", []),
            "metrics_flagged": r["detail"].get("metrics_flagged", []),
            "computed_at": r["computed_at"],
        }
        for r in rows
    ]


PARTS = ("score", "completeness", "timeliness", "consistency", "outliers")


def organisation_quality(
    session: Session, principal: Principal, cycle: int | None, organisation_id: int | None
) -> list[dict[str, Any]]:
    groups: dict[tuple[int, int], list[dict[str, Any]]] = {}
    for r in repo.quality_rows(session, cycle, _scope(principal, organisation_id)):
        groups.setdefault((r["organisation_id"], r["cycle_year"]), []).append(r)
    return [
        {
            "organisation_id": org,
            "cycle_year": year,
            "submissions": len(rows),
            **{p: math.fsum(r[p] for r in rows) / len(rows) for p in PARTS},
        }
        for (org, year), rows in sorted(groups.items())
    ]
