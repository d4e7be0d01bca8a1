"""Nearest neighbours by statistical distance (CIPFA-style), pure Polars.

The rules (DOMAIN.md "Reviewer checks and peers"), for one organisation (the subject) and
the cycle's organisations:

1. Each contextual variable (catalogue data: ``Catalogue.neighbours``) is a number per
   organisation: a numeric question's accepted answer, ICT users, or for a category
   (type, nation, partnership) 1 when it equals the subject's and 0 otherwise.
   Organisations without a value for a variable of non-zero weight are left out; but a
   *where-loaded* variable (population: not every organisation has one loaded) that some
   of the organisations compared lack is left out of the suggestion instead, so that all
   are compared on the same variables (the suggestion says which and why).
2. Each variable is standardised to z = (x − mean) / SD over the organisations kept (SD
   with divisor n; a variable with SD 0 gives z = 0 for everyone and contributes nothing).
   The choice of divisor cannot change a result: the rebasing below divides it out.
3. Distance to the subject: √Σ wᵢ (zᵢ − z'ᵢ)², z' the subject's.
4. Rebased so the farthest organisation is 1 (every distance divided by the largest).
5. Each variable's contribution = distance × wᵢ(zᵢ − z'ᵢ)² / Σₖ wₖ(zₖ − z'ₖ)², so the
   contributions of a neighbour add up to its distance (all 0 at distance 0).
6. The nearest ``count`` (15 unless asked), nearest first; ties in code order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

import polars as pl

from shared.catalogue.model import NeighbourVariable

DEFAULT_COUNT: Final = 15


@dataclass(frozen=True)
class Result:
    neighbours: pl.DataFrame  # organisation_id, code, distance, c_<variable>..., position
    candidates: int  # organisations compared (the subject excluded)
    excluded: int  # organisations left out for a missing value
    # where-loaded variables left out: key -> (organisations without it, organisations)
    left_out: Mapping[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def used(self) -> list[str]:
        return [c.removeprefix("c_") for c in self.neighbours.columns if c.startswith("c_")]


class SubjectMissing(ValueError):
    """The subject has no value for these variables."""

    def __init__(self, variables: list[str]) -> None:
        self.variables = variables
        super().__init__(f"no value for {', '.join(variables)}")


def contribution_column(key: str) -> str:
    return f"c_{key}"


def nearest(
    frame: pl.DataFrame,
    variables: Mapping[str, NeighbourVariable],
    subject_id: int,
    count: int = DEFAULT_COUNT,
) -> Result:
    """``frame``: one row per organisation with ``organisation_id``, ``code`` and one column
    per variable key (numbers; categories as their values). See the module doc."""
    used = [v for v in variables.values() if v.weight > 0]
    subject = frame.filter(pl.col("organisation_id") == subject_id)
    if subject.height != 1:
        raise SubjectMissing([v.key for v in used])
    missing = [v.key for v in used if not v.where_loaded and subject.get_column(v.key)[0] is None]
    if missing:
        raise SubjectMissing(missing)
    # A where-loaded variable is used only when every organisation compared (those with
    # every other variable, the subject among them) has it: else it is left out, so that
    # all are compared on the same variables and none is dropped for a value not loaded.
    required = [v.key for v in used if not v.where_loaded]
    compared = frame.drop_nulls(required) if required else frame
    left_out: dict[str, tuple[int, int]] = {}
    for v in used:
        if v.where_loaded:
            lacking = compared.get_column(v.key).null_count()
            if lacking:
                left_out[v.key] = (lacking, compared.height)
    used = [v for v in used if v.key not in left_out]
    numeric = frame.select(
        "organisation_id",
        "code",
        *[
            (
                (pl.col(v.key) == subject.get_column(v.key)[0]).cast(pl.Float64)
                if v.compare_same
                else pl.col(v.key).cast(pl.Float64)
            ).alias(v.key)
            for v in used
        ],
    )
    kept = numeric.drop_nulls([v.key for v in used]) if used else numeric
    excluded = numeric.height - kept.height

    def z(key: str) -> pl.Expr:
        sd = pl.col(key).std(ddof=0)
        return pl.when(sd > 0).then((pl.col(key) - pl.col(key).mean()) / sd).otherwise(0.0)

    standard = kept.with_columns([z(v.key).alias(v.key) for v in used])
    own = standard.filter(pl.col("organisation_id") == subject_id).row(0, named=True)
    terms = [(v.weight * (pl.col(v.key) - own[v.key]) ** 2).alias(f"t_{v.key}") for v in used]
    others = standard.filter(pl.col("organisation_id") != subject_id).with_columns(terms)
    total = pl.sum_horizontal([pl.col(f"t_{v.key}") for v in used]) if used else pl.lit(0.0)
    raw = others.with_columns(total.alias("_sum")).with_columns(pl.col("_sum").sqrt().alias("_d"))
    rebased = raw.with_columns(
        pl.when(pl.col("_d").max() > 0)
        .then(pl.col("_d") / pl.col("_d").max())
        .otherwise(0.0)
        .alias("distance")
    )
    shares = [
        pl.when(pl.col("_sum") > 0)
        .then(pl.col("distance") * pl.col(f"t_{v.key}") / pl.col("_sum"))
        .otherwise(0.0)
        .alias(contribution_column(v.key))
        for v in used
    ]
    chosen = (
        rebased.with_columns(shares)
        .sort("distance", "code")
        .head(count)
        .with_row_index("position", offset=1)
        .select(
            "position",
            "organisation_id",
            "code",
            "distance",
            *[contribution_column(v.key) for v in used],
        )
    )
    return Result(chosen, candidates=others.height, excluded=excluded, left_out=left_out)


def members_of(result: Result, subject_id: int) -> Sequence[int]:
    """A saved group's members: the subject and its neighbours."""
    return [subject_id, *result.neighbours.get_column("organisation_id").to_list()]
