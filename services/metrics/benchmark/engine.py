"""Benchmark computation: metric values per organisation, then peer-group statistics.

Pure Polars, no database. Rules (DOMAIN.md "Benchmark statistics"):

- Only accepted submissions are passed in; the caller filters.
- A metric value is each organisation's own formula result. Null, NaN and ±inf results
  (a missing input, a ``nonzero`` guard, a zero denominator) are dropped: no value.
- Statistics per group are n, min, Q1, median, Q3, max, with quantiles by linear
  interpolation between order statistics (Hyndman-Fan type 7, Excel QUARTILE.INC,
  Postgres ``percentile_cont``). The median is of organisations' values, never a ratio of
  totals.
- Disclosure control: a group with fewer than ``min_n`` distinct organisations (never
  below 3) keeps its row and ``n`` but its statistics are null, ``suppressed`` is true and
  ``suppression_reason`` says why.

Peer-group keys (stable strings, safe in URLs):

==========================  ==========================================================
``all``                     every organisation in the cycle
``type:L``                  by organisation type (E S W C D L M O)
``nation:England``          by nation, as recorded on the organisation
``partnership:true|false``  by partnership flag
``size:<band>``             by number of ICT users: ``under-1000``, ``1000-2499``,
                            ``2500-4999``, ``5000-9999``, ``10000-and-over``
``past``                    all earlier cycles pooled (every earlier response counts,
                            so ``n`` counts responses and ``n_organisations`` distinct
                            organisations; suppression uses the latter). The earliest
                            cycle has no ``past`` row.
``custom:<filters>``        see ``custom_group_key``: ``custom:`` then
                            ``name=v1,v2`` parts in the fixed order cycle, type, nation,
                            partnership, size, joined by ``;``, values sorted, e.g.
                            ``custom:type=D,L;nation=England;partnership=false``
==========================  ==========================================================

Size bands use the ``users`` column of ``orgs`` (the organisation's ICT users in that
cycle); an organisation with no user count is in no size group.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from typing import Any, Final, cast

import polars as pl

from shared.catalogue import Catalogue, Metric, Polarity, load_catalogue

ORG_TYPES: Final = ("E", "S", "W", "C", "D", "L", "M", "O")
# (label, lower bound inclusive, upper bound exclusive or None)
SIZE_BANDS: Final[tuple[tuple[str, int, int | None], ...]] = (
    ("under-1000", 0, 1000),
    ("1000-2499", 1000, 2500),
    ("2500-4999", 2500, 5000),
    ("5000-9999", 5000, 10000),
    ("10000-and-over", 10000, None),
)
MIN_N_FLOOR: Final = 3

ANSWERS_SCHEMA: Final = pl.Schema(
    {
        "cycle_year": pl.Int32,
        "organisation_id": pl.Int64,
        "question_key": pl.String,
        "value": pl.Float64,
    }
)
VALUES_SCHEMA: Final = pl.Schema(
    {
        "cycle_year": pl.Int32,
        "organisation_id": pl.Int64,
        "metric_key": pl.String,
        "value": pl.Float64,
    }
)
ORGS_SCHEMA: Final = pl.Schema(
    {
        "cycle_year": pl.Int32,
        "organisation_id": pl.Int64,
        "type": pl.String,
        "nation": pl.String,
        "partnership": pl.Boolean,
        "users": pl.Int64,
    }
)
BENCHMARK_SCHEMA: Final = pl.Schema(
    {
        "cycle_year": pl.Int32,
        "peer_group_key": pl.String,
        "metric_key": pl.String,
        "n": pl.Int64,
        "n_organisations": pl.Int64,
        "median": pl.Float64,
        "q1": pl.Float64,
        "q3": pl.Float64,
        "min": pl.Float64,
        "max": pl.Float64,
        "suppressed": pl.Boolean,
        "suppression_reason": pl.String,
    }
)
_STAT_COLUMNS: Final = ("median", "q1", "q3", "min", "max")
_CUSTOM_ORDER: Final = ("cycle", "type", "nation", "partnership", "size")


def _cast(df: pl.DataFrame | pl.LazyFrame, schema: pl.Schema) -> pl.LazyFrame:
    missing = [c for c in schema if c not in df.collect_schema()]
    if missing:
        raise ValueError(f"missing columns {missing}; expected {list(schema)}")
    return df.lazy().select([pl.col(c).cast(t, strict=True) for c, t in schema.items()])


def _check_min_n(min_n: int) -> None:
    if min_n < MIN_N_FLOOR:
        raise ValueError(f"min_n must be at least {MIN_N_FLOOR} (disclosure control), got {min_n}")


# ---------------------------------------------------------------- metric values


def compute_metric_values(
    answers_long: pl.DataFrame, catalogues: Mapping[int, Catalogue] | None = None
) -> pl.DataFrame:
    """Each organisation's metric values from its accepted answers.

    ``answers_long``: (cycle_year, organisation_id, question_key, value) with numeric
    values (choices as their points, booleans 1/0; see ``Catalogue.numeric_answers``).
    ``catalogues`` maps cycle year to catalogue (default: the packaged catalogues).
    Answers to questions not in a cycle's catalogue are ignored. Returns
    (cycle_year, organisation_id, metric_key, value) with no null, NaN or infinite
    values, ordered by metric (catalogue order), cycle, then organisation.
    """
    answers = _cast(answers_long, ANSWERS_SCHEMA).collect()
    cycles = sorted(answers.get_column("cycle_year").unique().drop_nulls().to_list())
    cats: dict[int, Catalogue] = {}
    for year in cycles:
        if catalogues is not None and year not in catalogues:
            raise KeyError(f"no catalogue given for cycle {year}")
        cats[year] = catalogues[year] if catalogues is not None else load_catalogue(int(year))
    if not cycles:
        return pl.DataFrame(schema=VALUES_SCHEMA)
    # One pivot for all cycles over the union of their questions; a question a cycle
    # does not ask is simply a null column there.
    qkeys = list(dict.fromkeys(k for c in cats.values() for k in c.questions))
    try:
        wide = (
            answers.filter(pl.col("question_key").is_in(qkeys))
            .pivot(
                on="question_key",
                on_columns=qkeys,
                index=["cycle_year", "organisation_id"],
                values="value",
            )
            .sort("cycle_year", "organisation_id")
        )
    except pl.exceptions.ComputeError as exc:
        raise ValueError(
            "answers_long has more than one value for a (cycle, organisation, question)"
        ) from exc
    # One expression per metric for all cycles: cycles sharing a definition share a
    # branch, and a cycle whose catalogue lacks the metric gets null (dropped below).
    variants: dict[str, dict[str, tuple[Metric, list[int]]]] = {}
    for year in cycles:
        for key, metric in cats[year].metrics.items():
            text = "".join(metric.formula.split())
            variants.setdefault(key, {}).setdefault(text, (metric, []))[1].append(year)
    exprs: list[pl.Expr] = []
    for key, by_formula in variants.items():
        branches = list(by_formula.values())
        if len(branches) == 1 and len(branches[0][1]) == len(cycles):
            exprs.append(branches[0][0].expr())
            continue
        chain: Any = pl
        for metric, years in branches:
            chain = chain.when(pl.col("cycle_year").is_in(years)).then(metric.expr())
        exprs.append(chain.otherwise(None).alias(key))
    if not exprs:
        return pl.DataFrame(schema=VALUES_SCHEMA)
    return (
        wide.lazy()
        .select("cycle_year", "organisation_id", *exprs)
        .unpivot(
            index=["cycle_year", "organisation_id"],
            variable_name="metric_key",
            value_name="value",
        )
        .filter(pl.col("value").is_finite())
        .select([pl.col(c).cast(t) for c, t in VALUES_SCHEMA.items()])
        .collect()
    )


# ---------------------------------------------------------------- statistics


def size_band_expr(users: pl.Expr) -> pl.Expr:
    """The size band label for a number of ICT users (null when users is null)."""
    expr: Any = pl.when(users.is_null()).then(pl.lit(None, dtype=pl.String))
    for label, _lo, hi in SIZE_BANDS:
        expr = expr.when(users < hi).then(pl.lit(label)) if hi is not None else expr
    result: pl.Expr = expr.otherwise(pl.lit(SIZE_BANDS[-1][0]))
    return result


def _size_band_index(users: pl.Expr) -> pl.Expr:
    """0-based index into SIZE_BANDS (null when users is null)."""
    return pl.sum_horizontal(
        [(users >= lo).cast(pl.UInt8) for _label, lo, _hi in SIZE_BANDS[1:]],
        ignore_nulls=False,
    ).cast(pl.UInt8)


def size_band(users: int | None) -> str | None:
    """Scalar version of ``size_band_expr``."""
    if users is None:
        return None
    for label, _lo, hi in SIZE_BANDS:
        if hi is None or users < hi:
            return label
    raise AssertionError("unreachable")


def _stats(n_organisations: pl.Expr | None = None) -> list[pl.Expr]:
    v = pl.col("value")
    return [
        pl.len().cast(pl.Int64).alias("n"),
        (n_organisations if n_organisations is not None else pl.len())
        .cast(pl.Int64)
        .alias("n_organisations"),
        v.quantile(0.5, interpolation="linear").alias("median"),
        v.quantile(0.25, interpolation="linear").alias("q1"),
        v.quantile(0.75, interpolation="linear").alias("q3"),
        v.min().alias("min"),
        v.max().alias("max"),
    ]


def _suppress(lf: pl.LazyFrame, min_n: int) -> pl.LazyFrame:
    hidden = pl.col("n_organisations") < min_n
    return lf.with_columns(
        *[pl.when(hidden).then(None).otherwise(pl.col(c)).alias(c) for c in _STAT_COLUMNS],
        hidden.alias("suppressed"),
        pl.when(hidden)
        .then(
            pl.format(
                "fewer than {} organisations in the group ({}): statistics withheld",
                pl.lit(min_n),
                pl.col("n_organisations"),
            )
        )
        .otherwise(None)
        .alias("suppression_reason"),
    ).select([pl.col(c).cast(t) for c, t in BENCHMARK_SCHEMA.items()])


def compute_benchmarks(
    values: pl.DataFrame, orgs: pl.DataFrame, min_n: int, *, include_past: bool = True
) -> pl.DataFrame:
    """Statistics for every standard peer group, cycle and metric present in ``values``.

    ``orgs``: (cycle_year, organisation_id, type, nation, partnership, users), one row per
    organisation and cycle. A value whose organisation has no row counts in ``all`` and
    ``past`` only. Output columns: ``BENCHMARK_SCHEMA``, sorted by cycle, group, metric.
    Empty groups have no row.
    """
    _check_min_n(min_n)
    v = _cast(values, VALUES_SCHEMA).collect()
    # Materialised once: every dimension below aggregates these same rows.
    joined = (
        v.lazy()
        .join(_cast(orgs, ORGS_SCHEMA), on=["cycle_year", "organisation_id"], how="left")
        .collect()
        .lazy()
    )
    base = ["cycle_year", "metric_key"]
    # One aggregation per dimension over the same rows (cheaper than stacking a copy of
    # every row per group), grouped on cheap columns (a boolean, a band number); the key
    # strings are built on the small aggregated frame, not on every row.
    labels = pl.Series([b[0] for b in SIZE_BANDS], dtype=pl.String)
    dims: list[tuple[str, pl.Expr | None, pl.Expr]] = [
        ("all", None, pl.lit("all")),
        ("type", pl.col("type"), "type:" + pl.col("_g")),
        ("nation", pl.col("nation"), "nation:" + pl.col("_g")),
        (
            "partnership",
            pl.col("partnership"),
            pl.when(pl.col("_g"))
            .then(pl.lit("partnership:true"))
            .otherwise(pl.lit("partnership:false")),
        ),
        (
            "size",
            _size_band_index(pl.col("users")),
            "size:" + pl.col("_g").replace_strict(list(range(len(labels))), labels),
        ),
    ]
    parts: list[pl.LazyFrame] = []
    for _name, dim, key in dims:
        if dim is None:
            agg = v.lazy().group_by(base).agg(_stats())
        else:
            agg = (
                joined.group_by([*base, dim.alias("_g")])
                .agg(_stats())
                .filter(pl.col("_g").is_not_null())
            )
        parts.append(_suppress(agg.with_columns(key.alias("peer_group_key")), min_n))
    if include_past:
        # Sorted by cycle once, "all earlier cycles" is a prefix: a zero-copy slice each.
        by_cycle = v.sort("cycle_year")
        cycles = by_cycle.get_column("cycle_year").unique(maintain_order=True).to_list()
        for year in cycles[1:]:
            end = int(by_cycle.get_column("cycle_year").search_sorted(year, side="left"))
            past = (
                by_cycle.lazy()
                .slice(0, end)
                .group_by("metric_key")
                .agg(_stats(pl.col("organisation_id").n_unique()))
                .with_columns(
                    pl.lit(year, dtype=pl.Int32).alias("cycle_year"),
                    pl.lit("past").alias("peer_group_key"),
                )
            )
            parts.append(_suppress(past, min_n))
    return pl.concat(parts).sort("cycle_year", "peer_group_key", "metric_key").collect()


# ---------------------------------------------------------------- outlier references

REFERENCE_SCHEMA: Final = pl.Schema(
    {
        "cycle_year": pl.Int32,
        "peer_group_key": pl.String,
        "metric_key": pl.String,
        "n_organisations": pl.Int64,
        "median": pl.Float64,
        "mad": pl.Float64,
        "q1": pl.Float64,
        "q3": pl.Float64,
    }
)


def compute_references(values: pl.DataFrame, orgs: pl.DataFrame, min_n: int) -> pl.DataFrame:
    """The distributions new values are checked against (DOMAIN.md "Reviewer checks and
    peers"), per cycle, metric and peer group ``all`` and ``type:X``: n, median, MAD (the
    median of absolute deviations from the median), Q1 and Q3 (type 7, as the benchmark).
    Groups of fewer than ``min_n`` organisations get no row: a check against them would
    disclose what the benchmark suppresses. Columns: ``REFERENCE_SCHEMA``."""
    _check_min_n(min_n)
    v = pl.col("value")
    stats = [
        pl.len().cast(pl.Int64).alias("n_organisations"),
        v.median().alias("median"),
        (v - v.median()).abs().median().alias("mad"),
        v.quantile(0.25, interpolation="linear").alias("q1"),
        v.quantile(0.75, interpolation="linear").alias("q3"),
    ]
    values_lf = _cast(values, VALUES_SCHEMA)
    base = ["cycle_year", "metric_key"]
    overall = (
        values_lf.group_by(base).agg(stats).with_columns(pl.lit("all").alias("peer_group_key"))
    )
    by_type = (
        values_lf.join(_cast(orgs, ORGS_SCHEMA), on=["cycle_year", "organisation_id"], how="inner")
        .group_by([*base, "type"])
        .agg(stats)
        .with_columns(("type:" + pl.col("type")).alias("peer_group_key"))
        .drop("type")
    )
    return (
        pl.concat([overall, by_type], how="diagonal")
        .filter(pl.col("n_organisations") >= min_n)
        .select([pl.col(c).cast(t) for c, t in REFERENCE_SCHEMA.items()])
        .sort("cycle_year", "peer_group_key", "metric_key")
        .collect()
    )


# ---------------------------------------------------------------- custom groups


def _norm_filters(filters: Mapping[str, object]) -> dict[str, object]:
    unknown = set(filters) - set(_CUSTOM_ORDER)
    if unknown:
        raise ValueError(f"unknown peer-group filters {sorted(unknown)}; use {_CUSTOM_ORDER}")
    out: dict[str, object] = {}
    for name in ("type", "nation", "size"):
        if name not in filters or filters[name] is None:
            continue
        raw = filters[name]
        items = [raw] if isinstance(raw, str) else raw
        if not isinstance(items, Sequence) or not items:
            raise ValueError(f"filter {name!r} needs one or more values")
        vals = sorted({str(x) for x in items})
        allowed = {"type": ORG_TYPES, "size": tuple(b[0] for b in SIZE_BANDS)}.get(name)
        if allowed is not None and not set(vals) <= set(allowed):
            raise ValueError(
                f"filter {name!r}: {sorted(set(vals) - set(allowed))} not in {allowed}"
            )
        if any(("," in x or ";" in x or "=" in x) for x in vals):
            raise ValueError(f"filter {name!r}: values may not contain ',', ';' or '='")
        out[name] = vals
    if filters.get("partnership") is not None:
        if not isinstance(filters["partnership"], bool):
            raise ValueError("filter 'partnership' must be true or false")
        out["partnership"] = filters["partnership"]
    if filters.get("cycle") is not None:
        cycle = filters["cycle"]
        if not isinstance(cycle, int) or isinstance(cycle, bool):
            raise ValueError("filter 'cycle' must be a cycle year")
        out["cycle"] = cycle
    return out


def custom_group_key(filters: Mapping[str, object]) -> str:
    """Canonical key for a combination of filters: same filters, same key, whatever the
    order they were given in. ``{"nation": ["Wales"], "type": ["W", "C"]}`` gives
    ``custom:type=C,W;nation=Wales``."""
    norm = _norm_filters(filters)
    parts = []
    for name in _CUSTOM_ORDER:
        if name not in norm:
            continue
        val = norm[name]
        if isinstance(val, bool):
            text = "true" if val else "false"
        elif isinstance(val, list):
            text = ",".join(val)
        else:
            text = str(val)
        parts.append(f"{name}={text}")
    return "custom:" + ";".join(parts) if parts else "all"


def compute_custom_group(
    values: pl.DataFrame,
    orgs: pl.DataFrame,
    filters: Mapping[str, object],
    cycle_year: int,
    min_n: int,
) -> pl.DataFrame:
    """Statistics per metric for one combination of attributes, reported under
    ``cycle_year``. Filters: ``type`` (list of letters), ``nation`` (list),
    ``partnership`` (bool), ``size`` (list of band labels), ``cycle`` (take the peers'
    values from another cycle). Same columns as ``compute_benchmarks``."""
    _check_min_n(min_n)
    norm = _norm_filters(filters)
    if norm.get("cycle") == cycle_year:
        del norm["cycle"]
    source = cast(int, norm.get("cycle", cycle_year))
    conds: list[pl.Expr] = [pl.col("cycle_year") == pl.lit(source, dtype=pl.Int32)]
    if "type" in norm:
        conds.append(pl.col("type").is_in(cast(list[str], norm["type"])))
    if "nation" in norm:
        conds.append(pl.col("nation").is_in(cast(list[str], norm["nation"])))
    if "partnership" in norm:
        conds.append(pl.col("partnership") == pl.lit(cast(bool, norm["partnership"])))
    if "size" in norm:
        conds.append(size_band_expr(pl.col("users")).is_in(cast(list[str], norm["size"])))
    joined = _cast(values, VALUES_SCHEMA).join(
        _cast(orgs, ORGS_SCHEMA), on=["cycle_year", "organisation_id"], how="inner"
    )
    agg = (
        joined.filter(*conds)
        .group_by("metric_key")
        .agg(_stats())
        .with_columns(
            pl.lit(cycle_year, dtype=pl.Int32).alias("cycle_year"),
            pl.lit(custom_group_key(norm)).alias("peer_group_key"),
        )
    )
    return _suppress(agg, min_n).sort("metric_key").collect()


def compute_group_of(values: pl.DataFrame, key: str, cycle_year: int, min_n: int) -> pl.DataFrame:
    """Statistics per metric over exactly the values given (a saved group's members, already
    chosen by the caller), reported as group ``key`` of ``cycle_year``; same columns and
    suppression as ``compute_benchmarks``."""
    _check_min_n(min_n)
    agg = (
        _cast(values, VALUES_SCHEMA)
        .group_by("metric_key")
        .agg(_stats())
        .with_columns(
            pl.lit(cycle_year, dtype=pl.Int32).alias("cycle_year"),
            pl.lit(key).alias("peer_group_key"),
        )
    )
    return _suppress(agg, min_n).sort("metric_key").collect()


# ---------------------------------------------------------------- positions


def quartile_band(value: float, q1: float, median: float, q3: float, polarity: Polarity) -> int:
    """1..4, where 1 is the best quartile (for ``neutral`` metrics: the lowest values).
    A value exactly on a boundary goes to the better band."""
    if polarity == "higher_better":
        return 1 if value >= q3 else 2 if value >= median else 3 if value >= q1 else 4
    return 1 if value <= q1 else 2 if value <= median else 3 if value <= q3 else 4


def quartile_band_expr(
    value: pl.Expr, q1: pl.Expr, median: pl.Expr, q3: pl.Expr, polarity: Polarity
) -> pl.Expr:
    """Vectorised ``quartile_band`` (null where any input is null)."""
    if polarity == "higher_better":
        band = (
            pl.when(value >= q3)
            .then(1)
            .when(value >= median)
            .then(2)
            .when(value >= q1)
            .then(3)
            .otherwise(4)
        )
    else:
        band = (
            pl.when(value <= q1)
            .then(1)
            .when(value <= median)
            .then(2)
            .when(value <= q3)
            .then(3)
            .otherwise(4)
        )
    nulls = pl.any_horizontal(value.is_null(), q1.is_null(), median.is_null(), q3.is_null())
    return pl.when(nulls).then(None).otherwise(band).cast(pl.Int8)


def rank_of_n(value: float, peer_values: Sequence[float], polarity: Polarity) -> tuple[int, int]:
    """(rank, n) of ``value`` among ``peer_values`` (which include it): rank 1 is best;
    ties share the best rank; for ``neutral`` metrics rank 1 is the lowest value."""
    ordered = sorted(peer_values)
    n = len(ordered)
    if polarity == "higher_better":
        return n - bisect.bisect_right(ordered, value) + 1, n
    return bisect.bisect_left(ordered, value) + 1, n


def rank_expr(polarity: Polarity, over: Sequence[str] = ("cycle_year", "metric_key")) -> pl.Expr:
    """Rank of ``value`` within the ``over`` partition, as in ``rank_of_n``."""
    return (
        pl.col("value")
        .rank(method="min", descending=polarity == "higher_better")
        .over(list(over))
        .cast(pl.Int64)
    )
