"""Recompute metric values and standard peer-group statistics after accepted data change.

One query reads every accepted answer into Polars; the engine computes values and
statistics; the affected cycles' rows are replaced in bulk, in the caller's transaction
(the inbox record of the event that triggered it commits with them).

Which cycles: the ``past`` peer group of a cycle pools every earlier cycle, so a change
to cycle Y changes Y's figures and the ``past`` figures of every later cycle. A
recompute therefore rewrites Y and every later cycle (values of later cycles come out
unchanged, which is cheap and keeps one rule). Only accepted submissions are read.
"""

from __future__ import annotations

import time
from typing import Any

import polars as pl
from sqlalchemy.orm import Session

from services.metrics.benchmark import engine
from services.metrics.benchmark import repository as repo
from services.metrics.runs import repository as runs
from shared.catalogue import available_cycles, load_catalogue


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
    value_rows = values.filter(keep).to_dicts()
    member_rows = orgs.filter(keep).to_dicts()
    stat_rows = stats.filter(keep).to_dicts()
    repo.replace(session, affected, value_rows, member_rows, stat_rows)
    detail = {
        "cycles": affected,
        "metric_values": len(value_rows),
        "statistics": len(stat_rows),
        "organisations": len(member_rows),
        "seconds": round(time.perf_counter() - started, 3),
    }
    runs.record(
        session,
        kind="benchmark",
        scope={"cycle_years": affected},
        trigger=trigger,
        detail=detail,
    )
    return detail
