"""Disclosure control for survey figures seen beyond one organisation (DOMAIN.md, "Surveys"
and "Survey confidence and weighting"), and the two thresholds.

**Thresholds.** The *internal* threshold (the campaign's own, never below 5) governs what the
organisation's own staff see; the *publication* threshold (settings: n ≥ 10 and a response
rate ≥ 30 % by default, and never below the internal one) governs anything other
organisations, exports or BI tools see. Every figure says which it met: ``publication``,
``internal`` or null (neither; shown only where it always was, to the organisation itself).

**Group cells** (a breakdown pooled over organisations). A cell is *primary* suppressed when
any of these holds:

- fewer than ``threshold`` responses;
- fewer than ``min_orgs`` organisations contributing (the benchmark's minimum);
- fewer than ``threshold`` responses once its largest organisation is taken out: a
  participant can subtract its own responses from a group cell, and what is left must still
  be a group of at least ``threshold`` people from several organisations.

Then *complementary* suppression, because the breakdown's total is published: the
suppressed set of a breakdown is the smallest cells (by responses, ties by label), as few as
possible such that it holds every primary cell, at least two cells, and, taken together,
passes the same three tests (else total − visible cells would disclose it); if no such set
exists every cell is suppressed. So any suppressed cell can move against another one while
every published figure stays the same: an attacker's bounds on it never close to a point.

**Pooled cycles.** A figure pooled over several cycles (a pooled breakdown, a pooled
baseline) is published only when every one of its constituents is published in its own
cycle: then it is a function of figures already public and discloses nothing new.
Otherwise (pooled minus the other cycles would give a suppressed cell back) it is withheld,
and the pooled table's complement follows from the cycles' own complements.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import polars as pl

PUBLICATION = "publication"
INTERNAL = "internal"

GROUP_RULE = (
    "a group cell is shown when it has at least the minimum responses, from at least the "
    "minimum organisations, and at least the minimum responses outside its largest "
    "organisation; when one is withheld, the next smallest cells are withheld with it until "
    "the withheld cells together pass the same test"
)
REASON_SUPPRESSED = (
    "withheld for disclosure control: fewer than {t} responses (or fewer than {k} "
    "organisations) in this cell or in another cell of this breakdown"
)
REASON_POOLED = (
    "withheld: it is withheld in at least one of the pooled cycles, and the pooled figure "
    "would give it back"
)


def threshold_met(
    n: pl.Expr,
    *,
    internal: int,
    publication_n: int,
    publication_rate: float,
    rate: pl.Expr | None,
) -> pl.Expr:
    """``publication`` when n ≥ max(publication n, internal) and the response rate (%) ≥
    the publication rate; else ``internal`` when n ≥ internal; else null."""
    pub_n = max(publication_n, internal)
    rate_ok = pl.lit(True) if rate is None else rate.fill_null(-1.0) >= publication_rate
    return (
        pl.when((n >= pub_n) & rate_ok)
        .then(pl.lit(PUBLICATION))
        .when(n >= internal)
        .then(pl.lit(INTERNAL))
        .otherwise(pl.lit(None, dtype=pl.String))
    )


def _safe(n: int, orgs: dict[Any, int], threshold: int, min_orgs: int) -> bool:
    largest = max(orgs.values(), default=0)
    return n >= threshold and len(orgs) >= min_orgs and n - largest >= threshold


def group_suppression(
    contributions: pl.DataFrame,
    *,
    by: Sequence[str],
    threshold: int,
    min_orgs: int,
    label: str = "value",
    org: str = "organisation_id",
) -> pl.DataFrame:
    """Suppression of group cells from each organisation's contribution to each cell.

    ``contributions``: one row per (``by``…, ``label``, ``org``) with its responses ``n``.
    Returns one row per (``by``…, ``label``) with ``n``, ``suppressed`` and ``suppression``
    (primary | complementary | null). See the module docstring for the rule. Breakdowns have
    a handful of cells each, so the search for the complementary set is a small loop per
    breakdown; the counting is done by Polars.
    """
    keys = [*by, label]
    cells = (
        contributions.group_by(keys)
        .agg(
            pl.col("n").sum().cast(pl.Int64).alias("n"),
            pl.col(org).alias("_orgs"),
            pl.col("n").alias("_org_n"),
        )
        .sort([*by, "n", label], nulls_last=True)
    )
    out: list[dict[str, Any]] = []
    parts = cells.group_by(list(by), maintain_order=True) if by else [((), cells)]
    for _key, part in parts:
        rows = part.to_dicts()
        orgs = [dict(zip(r["_orgs"], r["_org_n"], strict=True)) for r in rows]
        primary = [
            not _safe(r["n"], o, threshold, min_orgs) for r, o in zip(rows, orgs, strict=True)
        ]
        chosen = 0
        if any(primary):
            last_primary = max(i for i, p in enumerate(primary) if p)
            chosen = len(rows)
            total, union = 0, {}  # type: ignore[var-annotated]
            for i, (r, o) in enumerate(zip(rows, orgs, strict=True)):
                total += r["n"]
                for k, v in o.items():
                    union[k] = union.get(k, 0) + v
                if i >= max(last_primary, 1) and _safe(total, union, threshold, min_orgs):
                    chosen = i + 1
                    break
        for i, r in enumerate(rows):
            suppressed = i < chosen
            out.append(
                {
                    **{k: r[k] for k in keys},
                    "n": r["n"],
                    "suppressed": suppressed,
                    "suppression": "primary"
                    if primary[i]
                    else ("complementary" if suppressed else None),
                }
            )
    schema = {k: cells.schema[k] for k in keys} | {
        "n": pl.Int64,
        "suppressed": pl.Boolean,
        "suppression": pl.String,
    }
    return pl.DataFrame(out, schema=schema)


def primary_only(
    contributions: pl.DataFrame,
    *,
    by: Sequence[str],
    threshold: int,
    min_orgs: int,
    org: str = "organisation_id",
) -> pl.DataFrame:
    """Primary suppression alone, for figures that are not parts of a published total
    (each factor's mean is its own figure): one row per ``by`` with ``n`` and
    ``suppressed``."""
    per_org = contributions.group_by([*by, org]).agg(pl.col("n").sum())
    return (
        per_org.group_by(list(by))
        .agg(
            pl.col("n").sum().cast(pl.Int64).alias("n"),
            pl.col(org).n_unique().alias("_orgs"),
            pl.col("n").max().alias("_largest"),
        )
        .with_columns(
            (
                (pl.col("n") < threshold)
                | (pl.col("_orgs") < min_orgs)
                | (pl.col("n") - pl.col("_largest") < threshold)
            ).alias("suppressed")
        )
        .drop("_orgs", "_largest")
    )


def pooled_flags(per_cycle: pl.DataFrame, *, keys: Sequence[str]) -> pl.DataFrame:
    """For figures pooled over cycles: ``suppressed`` if any constituent (a row of
    ``per_cycle`` with its own ``suppressed``) is suppressed. One row per ``keys``."""
    return per_cycle.group_by(list(keys)).agg(pl.col("suppressed").any().alias("suppressed"))


def complementary(
    frame: pl.DataFrame,
    *,
    by: Sequence[str],
    label: str,
    threshold: int,
    known: str | None = None,
) -> pl.DataFrame:
    """Complementary suppression where each cell is one organisation's figure (``n`` its
    respondents, ``primary`` whether it is withheld on its own) and their total is published.
    Cells flagged in the ``known`` column are the viewer's own (shown to it, so known): they
    are never withheld and never count towards protecting anyone else's cell. Then
    the suppressed set, smallest first (ties by label), holds every primary cell, at least
    two cells, and at least ``threshold`` respondents outside its largest member, so that
    neither an outsider (total − shown) nor a member subtracting its own figure can isolate
    one organisation. Adds ``suppressed``."""
    out: list[pl.DataFrame] = []
    parts = frame.group_by(list(by), maintain_order=True) if by else [((), frame)]
    for _key, part in parts:
        is_known = pl.col(known).fill_null(False) if known else pl.lit(False)
        ordered = part.with_columns(is_known.alias("_known")).sort(
            ["_known", "n", label], nulls_last=True
        )
        rows = ordered.select("n", "primary", "_known").rows()
        candidates = [i for i, (_, _, k) in enumerate(rows) if not k]
        chosen: set[int] = set()
        if any(p and not k for _, p, k in rows):
            last = max(i for i, (_, p, k) in enumerate(rows) if p and not k)
            chosen = set(candidates)
            total, largest, taken = 0, 0, []
            for i in candidates:
                total += int(rows[i][0] or 0)
                largest = max(largest, int(rows[i][0] or 0))
                taken.append(i)
                if i >= last and len(taken) >= 2 and total - largest >= threshold:
                    chosen = set(taken)
                    break
        out.append(
            ordered.with_columns(
                pl.int_range(0, pl.len()).is_in(list(chosen)).alias("suppressed")
            ).drop("_known")
        )
    return (
        pl.concat(out, how="vertical")
        if out
        else frame.with_columns(pl.lit(False).alias("suppressed"))
    )
