"""Weights for survey responses from an organisation's headcount (DOMAIN.md, "Survey
confidence and weighting").

Which method, and why:

- **Cell weighting**, when the headcount gives every combination of the weighting
  attributes (role × location as HR holds it): ``weight = cell headcount ÷ cell responses``,
  so each cell counts as many people as it has, whatever its response rate. A cell with
  fewer responses than the threshold (or none, or more responses than headcount) is
  merged with a stated neighbour first: the cell sharing the most leading attribute values
  (same role, another location), the one with the fewest responses among those. One
  response standing for a hundred people would make the result that person's opinion.
- **Raking** (iterative proportional fitting), when only each attribute's totals are known:
  the weights are adjusted to each attribute's margins in turn until all agree (to 1e-10),
  which is the cell weighting the margins allow without inventing the cross-classification.
  Values with fewer responses than the threshold are merged with the smallest other value
  of the same attribute first, for the same reason.
- **Users in scope**, for an organisation without a headcount in a group view: one cell,
  ``weight = users in scope ÷ responses``, so each organisation counts as many people as
  it has.

Respondents who did not state a weighting attribute cannot be placed in a cell: they keep
the average weight N/n (they stand for their share of the population), and the cells share
the rest of the population in proportion to their headcount. The weights of a campaign
always add up to its headcount total N.

Input frames: ``responses`` with ``_row`` (a row id), ``campaign_id`` and the ``attr.*``
columns; ``cells``: campaign_id, attr.* (the cell) and headcount; ``margins``: campaign_id,
attribute (attr.*), value, headcount. Output: ``_row``, ``weight``, and one note per
campaign saying which method was used, why, and what was merged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import polars as pl

RAKING_TOLERANCE = 1e-10
RAKING_MAX_ITERATIONS = 200

WHY = {
    "cell": "the headcount gives every combination of {attributes}, so each cell is weighted "
    "to its own headcount (cell weighting)",
    "raking": "the headcount gives only each attribute's totals ({attributes}), so the weights "
    "are raked to those margins (iterative proportional fitting)",
    "scope": "no headcount was uploaded, so the organisation's responses are weighted to its "
    "users in scope as one cell",
}


@dataclass
class WeightingNote:
    campaign_id: int
    method: str  # cell | raking | scope
    attributes: list[str]
    why: str
    merged: list[str] = field(default_factory=list)
    iterations: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "campaign_id": self.campaign_id,
            "method": self.method,
            "attributes": self.attributes,
            "why": self.why,
            "merged": self.merged,
            "iterations": self.iterations,
        }


def _label(attributes: Sequence[str], key: Sequence[Any]) -> str:
    return ", ".join(
        f"{a.removeprefix('attr.')} = {v}" for a, v in zip(attributes, key, strict=True)
    )


def _shared_prefix(a: Sequence[Any], b: Sequence[Any]) -> int:
    k = 0
    for x, y in zip(a, b, strict=True):
        if x != y:
            break
        k += 1
    return k


def collapse_cells(
    cells: list[tuple[tuple[Any, ...], int, int]],
    min_cell: int,
    attributes: Sequence[str],
) -> tuple[dict[tuple[Any, ...], int], list[str]]:
    """Merge cells (key, headcount, responses) until every group has at least ``min_cell``
    responses and no more responses than headcount (or one group is left).

    Returns (cell key → group number, notes). The smallest offending group (fewest
    responses, then label) goes first, into the neighbour sharing the most leading
    attribute values, the one with the fewest responses among those (then label).
    Example, min 5: (M, Office) 3 responses, (M, Home) 9, (F, Office) 20 → (M, Office)
    merges with (M, Home), not (F, Office).
    """
    groups: list[dict[str, Any]] = [
        {"keys": [k], "pop": pop, "resp": resp} for k, pop, resp in sorted(cells)
    ]
    notes: list[str] = []

    def bad(g: dict[str, Any]) -> bool:
        return bool(g["resp"] < min_cell or g["resp"] > g["pop"] or g["resp"] == 0)

    while len(groups) > 1:
        offending = [g for g in groups if bad(g)]
        if not offending:
            break
        g = min(offending, key=lambda x: (x["resp"], x["keys"][0]))
        others = [o for o in groups if o is not g]

        def closeness(o: dict[str, Any], g: dict[str, Any] = g) -> tuple[int, int, Any]:
            share = max(_shared_prefix(a, b) for a in g["keys"] for b in o["keys"])
            return (-share, o["resp"], o["keys"][0])

        into = min(others, key=closeness)
        if g["resp"] > 0 or g["pop"] > 0:
            notes.append(
                " + ".join(_label(attributes, k) for k in g["keys"])
                + f" ({g['resp']} responses, headcount {g['pop']}) merged with "
                + " + ".join(_label(attributes, k) for k in into["keys"])
            )
        into["keys"] += g["keys"]
        into["pop"] += g["pop"]
        into["resp"] += g["resp"]
        groups.remove(g)
    mapping = {k: i for i, g in enumerate(groups) for k in g["keys"]}
    return mapping, notes


def _campaign_sizes(responses: pl.DataFrame) -> pl.DataFrame:
    return responses.group_by("campaign_id").agg(pl.len().cast(pl.Int64).alias("_n"))


def cell_weights(
    responses: pl.DataFrame,
    cells: pl.DataFrame,
    *,
    attributes: Sequence[str],
    min_cell: int,
) -> tuple[pl.DataFrame, list[WeightingNote]]:
    """Cell weighting of every campaign in ``cells`` (all weighted by ``attributes``)."""
    attrs = list(attributes)
    campaigns = cells.get_column("campaign_id").unique().sort().to_list()
    resp = responses.filter(pl.col("campaign_id").is_in(campaigns))
    stated = pl.all_horizontal(pl.col(a).is_not_null() for a in attrs)
    counts = resp.filter(stated).group_by(["campaign_id", *attrs]).agg(pl.len().alias("_resp"))
    joined = (
        cells.select("campaign_id", *attrs, "headcount")
        .join(counts, on=["campaign_id", *attrs], how="full", coalesce=True)
        .with_columns(pl.col("headcount").fill_null(0), pl.col("_resp").fill_null(0))
        .sort("campaign_id", *attrs)
    )
    notes: list[WeightingNote] = []
    group_rows: list[dict[str, Any]] = []
    for (cid,), part in joined.group_by(["campaign_id"], maintain_order=True):
        listed = [
            (tuple(row[:-2]), int(row[-2]), int(row[-1]))
            for row in part.select(*attrs, "headcount", "_resp").iter_rows()
        ]
        mapping, merged = collapse_cells(listed, min_cell, attrs)
        for key, gid in mapping.items():
            group_rows.append({"campaign_id": cid, **dict(zip(attrs, key, strict=True)), "_g": gid})
        notes.append(
            WeightingNote(
                int(str(cid)),
                "cell",
                [a.removeprefix("attr.") for a in attrs],
                WHY["cell"].format(attributes=" × ".join(a.removeprefix("attr.") for a in attrs)),
                merged,
            )
        )
    schema: dict[str, pl.DataType] = {"campaign_id": joined.schema["campaign_id"]}
    schema |= {a: pl.String() for a in attrs}
    schema["_g"] = pl.Int64()
    groups = pl.DataFrame(group_rows, schema=schema)
    group_sizes = (
        joined.join(groups, on=["campaign_id", *attrs], how="left")
        .group_by("campaign_id", "_g")
        .agg(pl.col("headcount").sum().alias("_pop"), pl.col("_resp").sum().alias("_gresp"))
    )
    totals = joined.group_by("campaign_id").agg(pl.col("headcount").sum().alias("_N"))
    sizes = _campaign_sizes(resp).join(
        resp.filter(stated).group_by("campaign_id").agg(pl.len().cast(pl.Int64).alias("_stated")),
        on="campaign_id",
        how="left",
    )
    weights = (
        resp.select("_row", "campaign_id", *attrs)
        .join(groups, on=["campaign_id", *attrs], how="left")
        .join(group_sizes, on=["campaign_id", "_g"], how="left")
        .join(sizes, on="campaign_id", how="left")
        .join(totals, on="campaign_id", how="left")
        .select(
            "_row",
            pl.when(pl.col("_g").is_not_null() & (pl.col("_gresp") > 0))
            .then(
                pl.col("_pop").cast(pl.Float64)
                / pl.col("_gresp")
                * pl.col("_stated").fill_null(0)
                / pl.col("_n")
            )
            .otherwise(pl.col("_N").cast(pl.Float64) / pl.col("_n"))
            .alias("weight"),
        )
    )
    return weights, notes


def rake_weights(
    responses: pl.DataFrame,
    margins: pl.DataFrame,
    *,
    min_cell: int,
) -> tuple[pl.DataFrame, list[WeightingNote]]:
    """Raking of every campaign in ``margins`` to its attributes' totals."""
    campaigns = margins.get_column("campaign_id").unique().sort().to_list()
    resp = responses.filter(pl.col("campaign_id").is_in(campaigns))
    attrs = margins.get_column("attribute").unique().sort().to_list()
    notes: dict[int, WeightingNote] = {}
    # Merge thin values per campaign and attribute: value → group label "_g".
    maps: list[dict[str, Any]] = []
    for attr in attrs:
        counts = (
            resp.filter(pl.col(attr).is_not_null())
            .group_by("campaign_id", attr)
            .agg(pl.len().alias("_resp"))
            .rename({attr: "value"})
        )
        listed = (
            margins.filter(pl.col("attribute") == attr)
            .select("campaign_id", "value", "headcount")
            .join(counts, on=["campaign_id", "value"], how="full", coalesce=True)
            .with_columns(pl.col("headcount").fill_null(0), pl.col("_resp").fill_null(0))
            .sort("campaign_id", "value")
        )
        for (cid,), part in listed.group_by(["campaign_id"], maintain_order=True):
            cells = [
                ((v,), int(h), int(r))
                for v, h, r in part.select("value", "headcount", "_resp").iter_rows()
            ]
            mapping, merged = collapse_cells(cells, min_cell, [attr])
            note = notes.setdefault(
                int(str(cid)),
                WeightingNote(int(str(cid)), "raking", [], ""),
            )
            note.attributes.append(attr.removeprefix("attr."))
            note.merged += merged
            maps += [
                {"campaign_id": cid, "attribute": attr, "value": k[0], "_g": g}
                for k, g in mapping.items()
            ]
    for note in notes.values():
        note.why = WHY["raking"].format(attributes=", ".join(note.attributes))
    value_map = pl.DataFrame(
        maps,
        schema={
            "campaign_id": margins.schema["campaign_id"],
            "attribute": pl.String,
            "value": pl.String,
            "_g": pl.Int64,
        },
    )
    targets = (
        margins.join(value_map, on=["campaign_id", "attribute", "value"], how="left")
        .group_by("campaign_id", "attribute", "_g")
        .agg(pl.col("headcount").sum().cast(pl.Float64).alias("_target"))
    )
    big_n = (
        margins.group_by("campaign_id", "attribute")
        .agg(pl.col("headcount").sum())
        .group_by("campaign_id")
        .agg(pl.col("headcount").max().cast(pl.Float64).alias("_N"))
    )
    frame = (
        resp.select("_row", "campaign_id", *attrs)
        .join(_campaign_sizes(resp), on="campaign_id")
        .join(big_n, on="campaign_id")
        .with_columns((pl.col("_N") / pl.col("_n")).alias("weight"))
    )
    for attr in attrs:
        groups = value_map.filter(pl.col("attribute") == attr).select(
            "campaign_id", pl.col("value").alias(attr), pl.col("_g").alias(f"_g_{attr}")
        )
        frame = frame.join(groups, on=["campaign_id", attr], how="left")
    iterations = 0
    for iterations in range(1, RAKING_MAX_ITERATIONS + 1):  # noqa: B007
        worst = 0.0
        for attr in attrs:
            g = f"_g_{attr}"
            t = targets.filter(pl.col("attribute") == attr).select(
                "campaign_id", pl.col("_g").alias(g), "_target"
            )
            current = (
                frame.group_by("campaign_id", g)
                .agg(pl.col("weight").sum().alias("_sum"))
                .with_columns(
                    pl.col("_sum")
                    .filter(pl.col(g).is_null())
                    .sum()
                    .over("campaign_id")
                    .alias("_ns")
                )
                .filter(pl.col(g).is_not_null())
                .join(t, on=["campaign_id", g], how="left")
                .join(big_n, on="campaign_id")
                .with_columns(
                    (
                        pl.col("_target").fill_null(0.0)
                        * (pl.col("_N") - pl.col("_ns"))
                        / pl.col("_N")
                        / pl.col("_sum")
                    ).alias("_f")
                )
            )
            if current.height:
                largest = (current.get_column("_f") - 1.0).abs().max()
                worst = max(worst, float(largest) if isinstance(largest, int | float) else 0.0)
            frame = (
                frame.join(
                    current.select("campaign_id", g, "_f"), on=["campaign_id", g], how="left"
                )
                .with_columns((pl.col("weight") * pl.col("_f").fill_null(1.0)).alias("weight"))
                .drop("_f")
            )
        if worst < RAKING_TOLERANCE:
            break
    for note in notes.values():
        note.iterations = iterations
    return frame.select("_row", "weight"), list(notes.values())


def scope_weights(
    responses: pl.DataFrame, scope: pl.DataFrame
) -> tuple[pl.DataFrame, list[WeightingNote]]:
    """One cell per campaign: users in scope ÷ responses (``scope``: campaign_id,
    users_in_scope)."""
    campaigns = scope.get_column("campaign_id").to_list()
    resp = responses.filter(pl.col("campaign_id").is_in(campaigns))
    weights = (
        resp.select("_row", "campaign_id")
        .join(_campaign_sizes(resp), on="campaign_id")
        .join(scope, on="campaign_id")
        .select("_row", (pl.col("users_in_scope").cast(pl.Float64) / pl.col("_n")).alias("weight"))
    )
    notes = [WeightingNote(int(c), "scope", [], WHY["scope"]) for c in sorted(campaigns)]
    return weights, notes


def weigh(
    responses: pl.DataFrame,
    heads: dict[int, dict[str, Any]],
    rows: Sequence[dict[str, Any]],
    users_in_scope: dict[int, int],
    *,
    min_cell: int,
) -> tuple[pl.DataFrame, list[WeightingNote]]:
    """Weights for every response of ``responses`` (``_row``, ``campaign_id``, attr.*):
    cell weighting for campaigns whose headcount gives cells, raking where it gives margins,
    users in scope for the rest (``heads``/``rows`` as the survey service stores them)."""
    frames: list[pl.DataFrame] = []
    notes: list[WeightingNote] = []
    by_attributes: dict[tuple[str, ...], list[int]] = {}
    margin_campaigns: list[int] = []
    for cid, head in heads.items():
        if head["kind"] == "cells":
            key = tuple(f"attr.{a}" for a in head["attributes"])
            by_attributes.setdefault(key, []).append(cid)
        else:
            margin_campaigns.append(cid)
    for attrs, cids in by_attributes.items():
        cells = pl.DataFrame(
            [
                {"campaign_id": r["campaign_id"], **{f"attr.{k}": v for k, v in r["cell"].items()}}
                | {"headcount": r["headcount"]}
                for r in rows
                if r["campaign_id"] in cids
            ],
            schema={"campaign_id": responses.schema["campaign_id"]}
            | {a: pl.String() for a in attrs}
            | {"headcount": pl.Int64()},
        )
        w, n = cell_weights(responses, cells, attributes=list(attrs), min_cell=min_cell)
        frames.append(w)
        notes += n
    if margin_campaigns:
        margins = pl.DataFrame(
            [
                {
                    "campaign_id": r["campaign_id"],
                    "attribute": f"attr.{k}",
                    "value": v,
                    "headcount": r["headcount"],
                }
                for r in rows
                if r["campaign_id"] in margin_campaigns
                for k, v in r["cell"].items()
            ],
            schema={
                "campaign_id": responses.schema["campaign_id"],
                "attribute": pl.String(),
                "value": pl.String(),
                "headcount": pl.Int64(),
            },
        )
        w, n = rake_weights(responses, margins, min_cell=min_cell)
        frames.append(w)
        notes += n
    rest = [c for c in users_in_scope if c not in heads]
    if rest:
        scope = pl.DataFrame(
            {"campaign_id": rest, "users_in_scope": [users_in_scope[c] for c in rest]},
            schema={"campaign_id": responses.schema["campaign_id"], "users_in_scope": pl.Int64},
        )
        w, n = scope_weights(responses, scope)
        frames.append(w)
        notes += n
    empty = pl.DataFrame(schema={"_row": responses.schema["_row"], "weight": pl.Float64})
    weights = pl.concat([empty, *frames], how="vertical_relaxed") if frames else empty
    return weights, sorted(notes, key=lambda x: x.campaign_id)


def effective_size(weights: pl.Series) -> float | None:
    """Kish's effective sample size (Σw)² / Σw² of a set of weights."""
    total = float(weights.sum())
    squares = float((weights * weights).sum())
    return total * total / squares if squares > 0 else None
