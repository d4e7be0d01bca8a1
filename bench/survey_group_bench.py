"""Survey group views for 50 organisations × 2,000 responses (100,000 responses), with
weighting and disclosure control: the Polars engine against a plain pandas implementation
of the same rules, in one run (issue 15).

The work, identical on both sides:

1. weights for every response: cell weighting (role × location headcounts, thin cells
   merged with a neighbour) for 20 organisations, raking to margins for 10, users in scope
   for the other 20;
2. the group breakdowns (device type, location, mode of working, role) of the two cycles
   pooled (each organisation answered 1,000 responses in 2019 and 1,000 in 2020):
   per-cycle suppression (threshold, organisations, largest contributor, complementary
   cells), the pooled rule, unweighted and weighted means of overall satisfaction and
   improvement with 95% intervals and effective sample sizes;
3. the factor view: S1–S20 satisfaction and importance for 2020 against the 2019
   baseline, unweighted and weighted, with intervals and suppression.

Both sides share only what is not a hot path: the data, the t quantile (one call per
distinct degrees of freedom), the merge of thin weighting cells (a loop over a few cells per
organisation) and half-up rounding of the final figures. The figures are compared value by
value (every column of both tables); the script fails if any differs.

    .venv/bin/python bench/survey_group_bench.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from services.metrics.surveys import confidence, group, weighting  # noqa: E402
from services.metrics.surveys.engine import (  # noqa: E402
    ATTRIBUTES,
    FACTOR_KEYS,
    IMPORTANCE_SCALE_MAX,
    NOT_STATED,
)

ORGS, PER_CYCLE, CYCLES = 50, 1000, (2019, 2020)
THRESHOLD, MIN_ORGS, MIN_CELL = 10, 5, 10
ROLES = ["Senior manager", "Manager or team leader", "Professional", "Frontline", "Other"]
LOCATIONS = ["Main office", "Depot", "Home", "School"]
DEVICES = ["Laptop", "Desktop computer", "Thin client", "Tablet", "Smartphone"]
MODES = ["Office based", "Hybrid", "Home based", "Mobile"]
MEASURES = ("overall", "improvement")


# ----------------------------------------------------------------------------- the data


def make_data(seed: int = 2020) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    n = ORGS * PER_CYCLE * len(CYCLES)
    org = np.repeat(np.arange(1, ORGS + 1), PER_CYCLE * len(CYCLES))
    cycle = np.tile(np.repeat(np.array(CYCLES), PER_CYCLE), ORGS)
    campaign = (org - 1) * len(CYCLES) + np.searchsorted(np.array(CYCLES), cycle) + 1

    def pick(values: list[str], p: list[float], blank: float) -> list[str | None]:
        chosen = rng.choice(len(values), n, p=p)
        out: list[str | None] = [values[i] for i in chosen]
        for i in np.flatnonzero(rng.random(n) < blank):
            out[i] = None
        return out

    # Only three organisations use tablets at all: that group cell is withheld (too few
    # organisations), and with it its complement.
    device_p = [0.55, 0.25, 0.12, 0.01, 0.07]
    data: dict[str, Any] = {
        "campaign_id": campaign,
        "organisation_id": org,
        "cycle": cycle,
        "overall": rng.integers(1, 8, n),
        "improvement": rng.integers(1, 8, n),
        "attr.role": pick(ROLES, [0.05, 0.2, 0.3, 0.4, 0.05], 0.05),
        "attr.location": pick(LOCATIONS, [0.5, 0.2, 0.25, 0.05], 0.08),
        "attr.device_type": [
            "Laptop" if d == "Tablet" and o > 3 else d
            for d, o in zip(pick(DEVICES, device_p, 0.1), org, strict=True)
        ],
        "attr.mode_of_working": pick(MODES, [0.3, 0.5, 0.15, 0.05], 0.1),
    }
    for f in FACTOR_KEYS:
        for m in ("satisfaction", "importance"):
            values = rng.integers(1, 8, n).astype(float)
            values[rng.random(n) < 0.1] = np.nan
            data[f"{f}.{m}"] = values
    frame = pl.DataFrame(data, nan_to_null=True).with_columns(
        pl.col(f"{f}.{m}").cast(pl.Int64)
        for f in FACTOR_KEYS
        for m in ("satisfaction", "importance")
    )
    frame = frame.with_row_index("_row")
    # headcounts: campaigns of organisations 1–20 give cells, 21–30 margins, the rest none
    heads: dict[int, dict[str, Any]] = {}
    rows: list[dict[str, Any]] = []
    scope: dict[int, int] = {}
    for cid in range(1, ORGS * len(CYCLES) + 1):
        o = (cid - 1) // len(CYCLES) + 1
        scope[cid] = 4000
        if o <= 20:
            heads[cid] = {"kind": "cells", "attributes": ["role", "location"], "total": 0}
            total = 0
            for r in ROLES:
                for loc in LOCATIONS:
                    h = int(rng.integers(30, 300))
                    total += h
                    rows.append(
                        {"campaign_id": cid, "cell": {"role": r, "location": loc}, "headcount": h}
                    )
            heads[cid]["total"] = total
        elif o <= 30:
            heads[cid] = {"kind": "margins", "attributes": ["role", "location"], "total": 4000}
            for name, values in (("role", ROLES), ("location", LOCATIONS)):
                shares = rng.dirichlet(np.ones(len(values)) * 5)
                counts = np.floor(shares * 4000).astype(int)
                counts[0] += 4000 - counts.sum()
                for v, h in zip(values, counts, strict=True):
                    rows.append({"campaign_id": cid, "cell": {name: v}, "headcount": int(h)})
    return {"frame": frame, "heads": heads, "rows": rows, "scope": scope}


def _half_up(value: float | None, places: int) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    q = Decimal(1).scaleb(-places)
    return float(Decimal(repr(value)).quantize(q, rounding=ROUND_HALF_UP))


# ------------------------------------------------------------------------------ Polars


def polars_views(data: dict[str, Any]) -> tuple[pl.DataFrame, pl.DataFrame]:
    frame = data["frame"]
    weights, _notes = weighting.weigh(
        frame, data["heads"], data["rows"], data["scope"], min_cell=MIN_CELL
    )
    weighted = frame.join(weights, on="_row", how="left")
    users = {c: ORGS * 4000 for c in CYCLES}
    breakdowns = group.breakdowns(
        weighted, cycles=list(CYCLES), users_in_scope=users, threshold=THRESHOLD, min_orgs=MIN_ORGS
    )
    factors = group.factors(
        weighted,
        cycle=CYCLES[1],
        baseline=[CYCLES[0]],
        users_in_scope=users,
        threshold=THRESHOLD,
        min_orgs=MIN_ORGS,
    )
    return breakdowns, factors


# ------------------------------------------------------------------------------ pandas


def pandas_weights(df: pd.DataFrame, data: dict[str, Any]) -> pd.Series:
    heads, rows = data["heads"], data["rows"]
    n_by = df.groupby("campaign_id").size().rename("_n")
    w = pd.Series(np.nan, index=df.index)
    # cell weighting
    cell_ids = [c for c, h in heads.items() if h["kind"] == "cells"]
    cells = pd.DataFrame(
        [
            {
                "campaign_id": r["campaign_id"],
                "attr.role": r["cell"]["role"],
                "attr.location": r["cell"]["location"],
                "headcount": r["headcount"],
            }
            for r in rows
            if r["campaign_id"] in cell_ids
        ]
    )
    sub = df[df["campaign_id"].isin(cell_ids)]
    stated = sub["attr.role"].notna() & sub["attr.location"].notna()
    counts = (
        sub[stated].groupby(["campaign_id", "attr.role", "attr.location"]).size().rename("_resp")
    )
    joined = cells.merge(
        counts.reset_index(), on=["campaign_id", "attr.role", "attr.location"], how="outer"
    ).fillna({"headcount": 0, "_resp": 0})
    groups = []
    for cid, part in joined.sort_values(["campaign_id", "attr.role", "attr.location"]).groupby(
        "campaign_id"
    ):
        listed = [
            ((r, loc), int(h), int(k))
            for r, loc, h, k in part[
                ["attr.role", "attr.location", "headcount", "_resp"]
            ].itertuples(index=False)
        ]
        mapping, _ = weighting.collapse_cells(listed, MIN_CELL, ["attr.role", "attr.location"])
        groups += [
            {"campaign_id": cid, "attr.role": k[0], "attr.location": k[1], "_g": g}
            for k, g in mapping.items()
        ]
    gmap = pd.DataFrame(groups)
    sizes = (
        joined.merge(gmap, on=["campaign_id", "attr.role", "attr.location"])
        .groupby(["campaign_id", "_g"])
        .agg(_pop=("headcount", "sum"), _gresp=("_resp", "sum"))
        .reset_index()
    )
    totals = joined.groupby("campaign_id")["headcount"].sum().rename("_N")
    stated_n = sub[stated].groupby("campaign_id").size().rename("_stated")
    m = (
        sub[["campaign_id", "attr.role", "attr.location"]]
        .reset_index()
        .merge(gmap, on=["campaign_id", "attr.role", "attr.location"], how="left")
        .merge(sizes, on=["campaign_id", "_g"], how="left")
        .merge(n_by, left_on="campaign_id", right_index=True)
        .merge(totals, left_on="campaign_id", right_index=True)
        .merge(stated_n, left_on="campaign_id", right_index=True, how="left")
        .set_index("index")
    )
    cell_w = np.where(
        m["_g"].notna() & (m["_gresp"] > 0),
        m["_pop"] / m["_gresp"] * m["_stated"].fillna(0) / m["_n"],
        m["_N"] / m["_n"],
    )
    w.loc[m.index] = cell_w
    # raking
    rake_ids = [c for c, h in heads.items() if h["kind"] == "margins"]
    margins = pd.DataFrame(
        [
            {
                "campaign_id": r["campaign_id"],
                "attribute": f"attr.{k}",
                "value": v,
                "headcount": r["headcount"],
            }
            for r in rows
            if r["campaign_id"] in rake_ids
            for k, v in r["cell"].items()
        ]
    )
    sub = df[df["campaign_id"].isin(rake_ids)][["campaign_id", "attr.role", "attr.location"]].copy()
    big_n = (
        margins.groupby(["campaign_id", "attribute"])["headcount"]
        .sum()
        .groupby("campaign_id")
        .max()
    )
    sub["_N"] = sub["campaign_id"].map(big_n).astype(float)
    sub["weight"] = sub["_N"] / sub["campaign_id"].map(n_by)
    attrs = sorted(margins["attribute"].unique())
    targets: dict[str, pd.Series] = {}
    for attr in attrs:
        listed = (
            margins[margins["attribute"] == attr][["campaign_id", "value", "headcount"]]
            .merge(
                sub[sub[attr].notna()]
                .groupby(["campaign_id", attr])
                .size()
                .rename("_resp")
                .reset_index()
                .rename(columns={attr: "value"}),
                on=["campaign_id", "value"],
                how="outer",
            )
            .fillna({"headcount": 0, "_resp": 0})
            .sort_values(["campaign_id", "value"])
        )
        maps = []
        for cid, part in listed.groupby("campaign_id"):
            cells_ = [
                ((v,), int(h), int(k))
                for v, h, k in part[["value", "headcount", "_resp"]].itertuples(index=False)
            ]
            mapping, _ = weighting.collapse_cells(cells_, MIN_CELL, [attr])
            maps += [{"campaign_id": cid, attr: k[0], f"_g_{attr}": g} for k, g in mapping.items()]
        sub = sub.merge(pd.DataFrame(maps), on=["campaign_id", attr], how="left").set_axis(
            sub.index
        )
        t = (
            margins[margins["attribute"] == attr]
            .merge(pd.DataFrame(maps).rename(columns={attr: "value"}), on=["campaign_id", "value"])
            .groupby(["campaign_id", f"_g_{attr}"])["headcount"]
            .sum()
            .astype(float)
            .rename("_target")
        )
        targets[attr] = t
    for _ in range(weighting.RAKING_MAX_ITERATIONS):
        worst = 0.0
        for attr in attrs:
            g = f"_g_{attr}"
            ns = sub[sub[g].isna()].groupby("campaign_id")["weight"].sum()
            cur = sub[sub[g].notna()].groupby(["campaign_id", g])["weight"].sum().rename("_sum")
            target = targets[attr]
            f = cur.to_frame().join(target, how="left")
            cid = f.index.get_level_values(0)
            big = big_n.reindex(cid).to_numpy(dtype=float)
            f["_f"] = (
                f["_target"].fillna(0.0).to_numpy()
                * (big - ns.reindex(cid).fillna(0.0).to_numpy())
                / big
                / f["_sum"].to_numpy()
            )
            if len(f):
                worst = max(worst, float((f["_f"] - 1.0).abs().max()))
            factor = (
                sub[["campaign_id", g]]
                .merge(f["_f"].reset_index(), on=["campaign_id", g], how="left")["_f"]
                .fillna(1.0)
                .to_numpy()
            )
            sub["weight"] = sub["weight"].to_numpy() * factor
        if worst < weighting.RAKING_TOLERANCE:
            break
    w.loc[sub.index] = sub["weight"]
    # users in scope
    rest = df["campaign_id"].map(lambda c: c not in heads)
    scope = df.loc[rest, "campaign_id"].map(data["scope"]).astype(float)
    w.loc[rest] = scope / df.loc[rest, "campaign_id"].map(n_by)
    return w


def _pd_sums(frame: pd.DataFrame, keys: list[str], measure_cols: list[str]) -> pd.DataFrame:
    parts = {}
    for m in measure_cols:
        x = frame[m].astype(float)
        has = x.notna()
        wm = frame["weight"].where(has)
        parts[f"{m}__n"] = has.astype(int)
        parts[f"{m}__s1"] = x.fillna(0)
        parts[f"{m}__s2"] = (x * x).fillna(0)
        parts[f"{m}__sw"] = wm.fillna(0)
        parts[f"{m}__swx"] = (wm * x).fillna(0)
        parts[f"{m}__swx2"] = (wm * x * x).fillna(0)
        parts[f"{m}__sw2"] = (wm * wm).fillna(0)
    cols = pd.DataFrame(parts, index=frame.index)
    cols[keys] = frame[keys]
    cols["n"] = 1
    return cols.groupby(keys, dropna=False).sum().reset_index()


def _pd_t(df_values: pd.Series) -> pd.Series:
    uniq = {
        d: confidence.t_quantile(0.975, float(d)) for d in df_values.dropna().unique() if d >= 1
    }
    return df_values.map(uniq)


def _pd_figures(
    cells: pd.DataFrame, measures: list[str], population: pd.Series | None
) -> pd.DataFrame:
    out = cells.copy()
    for m in measures:
        n = out[f"{m}__n"].astype(float)
        s1, s2 = out[f"{m}__s1"], out[f"{m}__s2"]
        mean = (s1 / n).where(n > 0)
        var = ((s2 - s1 * s1 / n) / (n - 1)).clip(lower=0).where(n > 1)
        if population is not None:
            big = population.astype(float)
            fpc = np.where(
                big.notna() & (big > 1) & (n <= big), np.sqrt((big - n) / (big - 1)), 1.0
            )
        else:
            fpc = 1.0
        se = np.sqrt(var) / np.sqrt(n) * fpc
        t = _pd_t(n - 1)
        out[f"mean_{m}"] = mean
        out[f"mean_{m}_2dp_exact"] = [(a, b) for a, b in zip(s1, n, strict=True)]
        out[f"{m}_ci_low"] = mean - t * se
        out[f"{m}_ci_high"] = mean + t * se
        w, wx, wx2, w2 = (out[f"{m}__{p}"] for p in ("sw", "swx", "swx2", "sw2"))
        wmean = (wx / w).where(w > 0)
        n_eff = (w * w / w2).where(w2 > 0)
        wvar = (wx2 / w - (wx / w) ** 2).clip(lower=0).where(w > 0)
        wse = (np.sqrt(wvar / (n_eff - 1)) * fpc).where(n_eff > 1)
        wt = _pd_t(n_eff - 1)
        out[f"weighted_{m}_mean"] = wmean
        out[f"weighted_{m}_n_eff"] = n_eff
        out[f"weighted_{m}_ci_low"] = wmean - wt * wse
        out[f"weighted_{m}_ci_high"] = wmean + wt * wse
    return out


def _exact_2dp(pair: tuple[float, float]) -> float | None:
    s, n = pair
    if not n:
        return None
    return float(
        (Decimal(int(s)) / Decimal(int(n))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    )


def _pd_safe(n: int, orgs: dict, threshold: int, min_orgs: int) -> bool:
    largest = max(orgs.values(), default=0)
    return n >= threshold and len(orgs) >= min_orgs and n - largest >= threshold


def _pd_suppress(contrib: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """The same complementary rule as services.metrics.surveys.disclosure, in pandas."""
    cells = (
        contrib.groupby([*by, "value"])
        .apply(
            lambda g: pd.Series(
                {
                    "n": int(g["n"].sum()),
                    "orgs": dict(zip(g["organisation_id"], g["n"], strict=True)),
                }
            ),
            include_groups=False,
        )
        .reset_index()
        .sort_values([*by, "n", "value"])
    )
    out = []
    for _, part in cells.groupby(by, sort=False):
        rows = part.to_dict("records")
        primary = [not _pd_safe(r["n"], r["orgs"], THRESHOLD, MIN_ORGS) for r in rows]
        chosen = 0
        if any(primary):
            last = max(i for i, p in enumerate(primary) if p)
            chosen, total, union = len(rows), 0, {}
            for i, r in enumerate(rows):
                total += r["n"]
                for k, v in r["orgs"].items():
                    union[k] = union.get(k, 0) + v
                if i >= max(last, 1) and _pd_safe(total, union, THRESHOLD, MIN_ORGS):
                    chosen = i + 1
                    break
        for i, r in enumerate(rows):
            out.append(
                {
                    **{k: r[k] for k in by},
                    "value": r["value"],
                    "suppressed": i < chosen,
                    "pooled": False,
                }
            )
    return pd.DataFrame(out)


def pandas_breakdowns(df: pd.DataFrame) -> pd.DataFrame:
    long_parts = []
    base = df[["cycle", "organisation_id", "weight", *MEASURES]]
    for attr in ATTRIBUTES:
        part = base.copy()
        part["attribute"] = attr
        part["value"] = df[attr].fillna(NOT_STATED)
        long_parts.append(part)
    every = base.copy()
    every["attribute"], every["value"] = group.ALL, group.ALL_VALUE
    long = pd.concat([every, *long_parts], ignore_index=True)
    per_org = _pd_sums(long, ["cycle", "attribute", "value", "organisation_id"], list(MEASURES))
    contrib = per_org[["cycle", "attribute", "value", "organisation_id", "n"]]
    flags = _pd_suppress(contrib[contrib["attribute"] != group.ALL], ["cycle", "attribute"])
    alls = (
        contrib[contrib["attribute"] == group.ALL]
        .groupby(["cycle", "attribute", "value"])
        .agg(n=("n", "sum"), orgs=("organisation_id", "nunique"), largest=("n", "max"))
        .reset_index()
    )
    alls["suppressed"] = (
        (alls["n"] < THRESHOLD)
        | (alls["orgs"] < MIN_ORGS)
        | (alls["n"] - alls["largest"] < THRESHOLD)
    )
    flags = pd.concat(
        [flags, alls[["cycle", "attribute", "value", "suppressed"]]], ignore_index=True
    )
    hidden_cycle = flags[flags["attribute"] == group.ALL].set_index("cycle")["suppressed"]
    flags["suppressed"] = flags["suppressed"] | flags["cycle"].map(hidden_cycle).fillna(False)
    sum_cols = [c for c in per_org.columns if "__" in c] + ["n"]
    per_cycle = per_org.groupby(["cycle", "attribute", "value"])[sum_cols].sum().reset_index()
    per_cycle = per_cycle.merge(
        flags[["cycle", "attribute", "value", "suppressed"]], on=["cycle", "attribute", "value"]
    )
    pooled = (
        per_cycle.groupby(["attribute", "value"])
        .agg(**{c: (c, "sum") for c in sum_cols}, suppressed=("suppressed", "any"))
        .reset_index()
    )
    pooled["_N"] = np.where(pooled["attribute"] == group.ALL, ORGS * 4000 * len(CYCLES), np.nan)
    fig = _pd_figures(pooled, list(MEASURES), pooled["_N"])
    out = pd.DataFrame(
        {"scope": "+".join(map(str, CYCLES)), "attribute": fig["attribute"], "value": fig["value"]}
    )
    hide = fig["suppressed"].to_numpy()
    out["n"] = np.where(hide, None, fig["n"])
    for m in MEASURES:
        out[f"n_{m}"] = np.where(hide, None, fig[f"{m}__n"])
        out[f"mean_{m}_2dp"] = [
            None if h else _exact_2dp(p)
            for h, p in zip(hide, fig[f"mean_{m}_2dp_exact"], strict=True)
        ]
        for c in (
            f"{m}_ci_low",
            f"{m}_ci_high",
            f"weighted_{m}_mean",
            f"weighted_{m}_ci_low",
            f"weighted_{m}_ci_high",
        ):
            out[f"{c}_2dp"] = [
                None if h else _half_up(v, 2) for h, v in zip(hide, fig[c], strict=True)
            ]
        out[f"weighted_{m}_n_eff_1dp"] = [
            None if h else _half_up(v, 1)
            for h, v in zip(hide, fig[f"weighted_{m}_n_eff"], strict=True)
        ]
    out["suppressed"] = hide
    out["threshold_met"] = np.where(hide, None, "publication")
    order = {a: i for i, a in enumerate([group.ALL, *ATTRIBUTES])}
    out["_order"] = out["attribute"].map(order)
    out["_size"] = np.where(hide, np.nan, fig["n"])
    out = out.sort_values(
        ["_order", "suppressed", "_size", "value"],
        ascending=[True, True, False, True],
        na_position="last",
    )
    return out.drop(columns=["_order", "_size"]).reset_index(drop=True)


def pandas_factors(df: pd.DataFrame) -> pd.DataFrame:
    cols = [f"{f}.{m}" for f in FACTOR_KEYS for m in ("satisfaction", "importance")]
    long = (
        df[["cycle", "organisation_id", "weight", *cols]]
        .melt(
            id_vars=["cycle", "organisation_id", "weight"],
            value_vars=cols,
            var_name="key",
            value_name="x",
        )
        .dropna(subset=["x"])
    )
    long[["factor", "measure"]] = long["key"].str.split(".", n=1, expand=True)
    sums = _pd_sums(long, ["cycle", "organisation_id", "factor", "measure"], ["x"])
    blocks = {}
    for name, years in (("now", [CYCLES[1]]), ("base", [CYCLES[0]])):
        part = sums[sums["cycle"].isin(years)]
        per = (
            part.groupby(["cycle", "factor", "measure", "organisation_id"])["x__n"]
            .sum()
            .reset_index()
        )
        agg = per.groupby(["cycle", "factor", "measure"]).agg(
            n=("x__n", "sum"), orgs=("organisation_id", "nunique"), largest=("x__n", "max")
        )
        agg["suppressed"] = (
            (agg["n"] < THRESHOLD)
            | (agg["orgs"] < MIN_ORGS)
            | (agg["n"] - agg["largest"] < THRESHOLD)
        )
        hidden = agg.groupby("factor")["suppressed"].any()
        pooled = part.groupby(["factor", "measure"])[
            [c for c in part.columns if c.startswith("x__")]
        ].sum()
        wide = None
        for m in ("satisfaction", "importance"):
            blk = pooled.xs(m, level="measure").rename(columns=lambda c: c.replace("x__", f"{m}__"))
            wide = blk if wide is None else wide.join(blk, how="outer")
        wide = wide.reindex(list(FACTOR_KEYS))
        population = pd.Series(ORGS * 4000, index=wide.index)
        fig = _pd_figures(
            wide.reset_index().rename(columns={"index": "factor"}),
            ["satisfaction", "importance"],
            population.reset_index(drop=True),
        )
        fig["suppressed"] = fig["factor"].map(hidden).fillna(True).astype(bool)
        ns, ss = fig["satisfaction__n"], fig["satisfaction__s1"]
        ni, si = fig["importance__n"], fig["importance__s1"]
        gap_exact = [
            (Decimal(int(a)) * int(d) - Decimal(int(b)) * int(c), Decimal(int(c)) * int(d))
            for a, b, c, d in zip(ss, si, ns, ni, strict=True)
        ]
        fig["gap_2dp"] = [
            float((a / b).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)) if b else None
            for a, b in gap_exact
        ]
        fig["weight_gap_2dp"] = [
            float(
                (a * int(s) / (b * int(n) * IMPORTANCE_SCALE_MAX)).quantize(
                    Decimal("0.01"), rounding=ROUND_HALF_UP
                )
            )
            if b
            else None
            for (a, b), s, n in zip(gap_exact, si, ni, strict=True)
        ]
        fig["gap"] = fig["mean_satisfaction"] - fig["mean_importance"]
        ws, wi = fig["weighted_satisfaction_mean"], fig["weighted_importance_mean"]
        fig["weighted_gap"] = ws - wi
        fig["weighted_weight_gap"] = (ws - wi) * wi / IMPORTANCE_SCALE_MAX
        blocks[name] = fig
    now, base = blocks["now"], blocks["base"]
    out = pd.DataFrame({"factor": now["factor"]})
    hide, bhide = now["suppressed"].to_numpy(), base["suppressed"].to_numpy()

    def col(frame, name, hidden, places=2, exact=None):
        if exact is not None:
            return [None if h else _exact_2dp(p) for h, p in zip(hidden, frame[exact], strict=True)]
        return [
            None if h else _half_up(v, places) for h, v in zip(hidden, frame[name], strict=True)
        ]

    for prefix, frame, hidden in (("", now, hide), ("baseline_", base, bhide)):
        for m in ("satisfaction", "importance"):
            out[f"{prefix}n_{m}"] = np.where(hidden, None, frame[f"{m}__n"])
            out[f"{prefix}mean_{m}_2dp"] = col(frame, None, hidden, exact=f"mean_{m}_2dp_exact")
            out[f"{prefix}{m}_ci_low_2dp"] = col(frame, f"{m}_ci_low", hidden)
            out[f"{prefix}{m}_ci_high_2dp"] = col(frame, f"{m}_ci_high", hidden)
        out[f"{prefix}gap_2dp"] = [
            None if h else v for h, v in zip(hidden, frame["gap_2dp"], strict=True)
        ]
        out[f"{prefix}weight_gap_2dp"] = [
            None if h else v for h, v in zip(hidden, frame["weight_gap_2dp"], strict=True)
        ]
        if not prefix:
            out["weighted_mean_satisfaction_2dp"] = col(frame, "weighted_satisfaction_mean", hidden)
            out["weighted_mean_importance_2dp"] = col(frame, "weighted_importance_mean", hidden)
            out["weighted_gap_2dp"] = col(frame, "weighted_gap", hidden)
            out["weighted_weight_gap_2dp"] = col(frame, "weighted_weight_gap", hidden)
            out["weighted_satisfaction_n_eff_1dp"] = col(
                frame, "weighted_satisfaction_n_eff", hidden, 1
            )
    both = hide | bhide
    out["change_satisfaction_2dp"] = [
        None if h else _half_up(a - b, 2)
        for h, a, b in zip(both, now["mean_satisfaction"], base["mean_satisfaction"], strict=True)
    ]
    out["change_gap_2dp"] = [
        None if h else _half_up(a - b, 2)
        for h, a, b in zip(both, now["gap"], base["gap"], strict=True)
    ]
    out["suppressed"] = hide
    out["baseline_suppressed"] = bhide
    out["threshold_met"] = np.where(hide, None, "publication")
    return out


def pandas_views(data: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    df = data["pandas"]
    df = df.assign(weight=pandas_weights(df, data))
    return pandas_breakdowns(df), pandas_factors(df)


# --------------------------------------------------------------------------- comparing


def compare(polars_table: pl.DataFrame, pandas_table: pd.DataFrame, columns: list[str]) -> int:
    """Count of values that differ (every column the two share)."""
    differ = 0
    left = polars_table.to_dicts()
    right = pandas_table.to_dict("records")
    assert len(left) == len(right), (len(left), len(right))
    for a, b in zip(left, right, strict=True):
        for c in columns:
            if c not in b:
                continue
            x, y = a[c], b[c]
            y = None if y is None or (isinstance(y, float) and math.isnan(y)) else y
            if isinstance(y, np.generic):
                y = y.item()
            if x != y:
                differ += 1
                if differ <= 5:
                    where = f"{a.get('attribute', a.get('factor'))} {a.get('value', '')}"
                    print(f"  differs: {where} {c}: {x!r} vs {y!r}")
    return differ


def best_of(fn, repeat: int) -> tuple[float, Any]:
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()}")
    data = make_data()
    # (no pyarrow here: the pandas frame is built from NumPy arrays; nulls become NaN/None)
    data["pandas"] = pd.DataFrame({c: data["frame"][c].to_numpy() for c in data["frame"].columns})
    print(
        f"{data['frame'].height:,} responses, {ORGS} organisations, cycles {CYCLES}; "
        f"polars {pl.__version__}, pandas {pd.__version__}"
    )
    t_pl, (b_pl, f_pl) = best_of(lambda: polars_views(data), args.repeat)
    t_pd, (b_pd, f_pd) = best_of(lambda: pandas_views(data), args.repeat)
    hidden = int(b_pl["suppressed"].sum())
    print(f"breakdown rows {b_pl.height} ({hidden} withheld), factor rows {f_pl.height}")
    d1 = compare(b_pl, b_pd, group.breakdown_columns())
    d2 = compare(f_pl, f_pd, group.factor_columns())
    print(f"polars : {t_pl:.3f} s (best of {args.repeat})")
    print(f"pandas : {t_pd:.3f} s (best of {args.repeat})")
    print(f"ratio  : {t_pd / t_pl:.1f}x faster than pandas (target >= 3x)")
    print(f"figures: {'identical' if d1 == d2 == 0 else f'{d1 + d2} values differ'}")
    print(f"load average after: {os.getloadavg()}")
    if d1 or d2:
        sys.exit(1)


if __name__ == "__main__":
    main()
