"""Recompute every benchmark: the Polars engine against a plain pandas baseline.

200 generated metrics x 400 organisations x 10 cycles, all standard peer groups (all,
type, nation, partnership, size band, past responses). Prints both timings (best of
several runs, after one warm-up), their ratio, and checks both give the same numbers.

    .venv/bin/python bench/bench_recompute.py
"""

from __future__ import annotations

import math
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from services.metrics.benchmark import engine
from shared.catalogue import Catalogue, build_catalogue
from shared.catalogue import formula as fx

N_METRICS = 200
N_QUESTIONS = 100
N_ORGS = 400
CYCLES = list(range(2011, 2021))
MIN_N = 5
RUNS = 5
SEED = 20200401


# ---------------------------------------------------------------- synthetic inputs


def synth_catalogue(rng: random.Random) -> Catalogue:
    questions: dict[str, Any] = {}
    positive, anyq = [], []
    for i in range(N_QUESTIONS):
        key = f"q{i:03d}"
        if i % 2 == 0:
            questions[key] = {"module": "m", "type": "number", "label": key, "min": 1}
            positive.append(key)
        else:
            questions[key] = {"module": "m", "type": "number", "label": key, "min": 0}
            anyq.append(key)
    templates = [
        "{a} / {p}",
        "100 * {a} / nonzero({b})",
        "({a} + {b}) / {p}",
        "min({a}, {b}) / {p}",
        "{a} - {b} * 0.5",
        "({a} + {b} + {c}) / nonzero({d} + {p})",
        "max({a}, {b}) / nonzero({c})",
    ]
    allq = positive + anyq
    metrics = {}
    for i in range(N_METRICS):
        text = rng.choice(templates).format(
            a=rng.choice(allq),
            b=rng.choice(allq),
            c=rng.choice(allq),
            d=rng.choice(anyq),
            p=rng.choice(positive),
        )
        metrics[f"metric_{i:03d}"] = {
            "name": f"Metric {i}",
            "module": "m",
            "formula": text,
            "unit": "ratio",
            "polarity": "neutral",
        }
    spec = {"modules": {"m": {"name": "Bench"}}, "questions": questions, "metrics": metrics}
    return build_catalogue(CYCLES[-1], spec, source="bench")


def synth_frames(rng: random.Random) -> tuple[pl.DataFrame, pl.DataFrame]:
    nprng = np.random.default_rng(SEED)
    nations = {"E": "England", "C": "England", "D": "England", "L": "England", "M": "England"}
    nations |= {"S": "Scotland", "W": "Wales", "O": "Northern Ireland"}
    types = [rng.choice(engine.ORG_TYPES) for _ in range(N_ORGS)]
    base_users = nprng.lognormal(math.log(3000), 1.0, N_ORGS).astype(np.int64) + 50
    org_rows: dict[str, list[Any]] = {k: [] for k in engine.ORGS_SCHEMA}
    ans_frames = []
    qkeys = np.array([f"q{i:03d}" for i in range(N_QUESTIONS)])
    for year in CYCLES:
        org_rows["cycle_year"] += [year] * N_ORGS
        org_rows["organisation_id"] += list(range(1, N_ORGS + 1))
        org_rows["type"] += types
        org_rows["nation"] += [nations[t] for t in types]
        org_rows["partnership"] += [rng.random() < 0.1 for _ in range(N_ORGS)]
        org_rows["users"] += [int(u * (1 + (year - 2015) * 0.01)) for u in base_users]
        vals = nprng.lognormal(3.0, 1.0, (N_ORGS, N_QUESTIONS))
        vals[:, 1::2][nprng.random((N_ORGS, N_QUESTIONS // 2)) < 0.03] = 0.0  # some zeros
        keep = nprng.random((N_ORGS, N_QUESTIONS)) > 0.02  # some questions unanswered
        org_idx, q_idx = np.nonzero(keep)
        ans_frames.append(
            pl.DataFrame(
                {
                    "cycle_year": np.full(len(org_idx), year, dtype=np.int32),
                    "organisation_id": (org_idx + 1).astype(np.int64),
                    "question_key": qkeys[q_idx],
                    "value": vals[org_idx, q_idx],
                }
            )
        )
    answers = pl.concat(ans_frames)
    orgs = pl.DataFrame(org_rows, schema=engine.ORGS_SCHEMA)
    return answers, orgs


# ---------------------------------------------------------------- pandas baseline


def pandas_eval(node: fx.Node, wide: pd.DataFrame) -> Any:
    match node:
        case fx.Num():
            return node.value
        case fx.Name():
            return wide[node.key] if node.key in wide else pd.Series(np.nan, index=wide.index)
        case fx.Neg():
            return -pandas_eval(node.operand, wide)
        case fx.BinOp():
            a, b = pandas_eval(node.left, wide), pandas_eval(node.right, wide)
            return {"+": a + b, "-": a - b, "*": a * b}.get(node.op) if node.op != "/" else a / b
        case fx.Call():
            args = [pandas_eval(a, wide) for a in node.args]
            if node.func == "nonzero":
                return args[0].where(args[0] != 0)
            frame = pd.concat(args, axis=1)
            if node.func == "sum":
                return frame.sum(axis=1, skipna=False)
            return (
                frame.min(axis=1, skipna=False)
                if node.func == "min"
                else frame.max(axis=1, skipna=False)
            )


def pandas_recompute(
    answers: pd.DataFrame, orgs: pd.DataFrame, catalogue: Catalogue, min_n: int
) -> pd.DataFrame:
    value_frames = []
    for year, part in answers.groupby("cycle_year"):
        wide = part.pivot(index="organisation_id", columns="question_key", values="value")
        metrics = pd.DataFrame(
            {k: pandas_eval(m.ast, wide) for k, m in catalogue.metrics.items()}, index=wide.index
        )
        long = metrics.reset_index().melt(
            id_vars="organisation_id", var_name="metric_key", value_name="value"
        )
        long["cycle_year"] = year
        value_frames.append(long)
    values = pd.concat(value_frames, ignore_index=True)
    values = values[np.isfinite(values["value"])]
    joined = values.merge(orgs, on=["cycle_year", "organisation_id"], how="left")
    bands = [b[0] for b in engine.SIZE_BANDS]
    edges = [b[1] for b in engine.SIZE_BANDS] + [np.inf]
    joined["size"] = pd.cut(joined["users"], bins=edges, labels=bands, right=False).astype(str)
    joined["partnership"] = joined["partnership"].map({True: "true", False: "false"})

    def stats(frame: pd.DataFrame, by: list[str]) -> pd.DataFrame:
        g = frame.groupby(by, sort=False)["value"]
        out = pd.DataFrame(
            {
                "n": g.size(),
                "median": g.quantile(0.5, interpolation="linear"),
                "q1": g.quantile(0.25, interpolation="linear"),
                "q3": g.quantile(0.75, interpolation="linear"),
                "min": g.min(),
                "max": g.max(),
            }
        )
        return out.reset_index()

    parts = []
    all_ = stats(joined, ["cycle_year", "metric_key"])
    all_["peer_group_key"] = "all"
    all_["n_organisations"] = all_["n"]
    parts.append(all_)
    for dim in ("type", "nation", "partnership", "size"):
        s = stats(joined, ["cycle_year", "metric_key", dim])
        s["peer_group_key"] = dim + ":" + s.pop(dim).astype(str)
        s["n_organisations"] = s["n"]
        parts.append(s)
    years = sorted(values["cycle_year"].unique())
    for year in years[1:]:
        earlier = values[values["cycle_year"] < year]
        s = stats(earlier, ["metric_key"])
        s["n_organisations"] = earlier.groupby("metric_key")["organisation_id"].nunique().values
        s["cycle_year"] = year
        s["peer_group_key"] = "past"
        parts.append(s)
    out = pd.concat(parts, ignore_index=True)
    hidden = out["n_organisations"] < min_n
    out.loc[hidden, ["median", "q1", "q3", "min", "max"]] = np.nan
    out["suppressed"] = hidden
    return out.sort_values(["cycle_year", "peer_group_key", "metric_key"]).reset_index(drop=True)


# ---------------------------------------------------------------- run


def to_pandas(df: pl.DataFrame) -> pd.DataFrame:
    """Column by column through NumPy (pyarrow is not a dependency)."""
    return pd.DataFrame({c: df.get_column(c).to_numpy() for c in df.columns})


def best_of(fn: Any, runs: int) -> tuple[float, float, Any]:
    """Best wall-clock and best CPU time (all threads) over ``runs`` runs."""
    fn()  # warm-up
    best, best_cpu, result = math.inf, math.inf, None
    for _ in range(runs):
        t0, c0 = time.perf_counter(), time.process_time()
        result = fn()
        best = min(best, time.perf_counter() - t0)
        best_cpu = min(best_cpu, time.process_time() - c0)
    return best, best_cpu, result


def main() -> int:
    rng = random.Random(SEED)
    catalogue = synth_catalogue(rng)
    catalogues = dict.fromkeys(CYCLES, catalogue)
    answers, orgs = synth_frames(rng)
    answers_pd, orgs_pd = to_pandas(answers), to_pandas(orgs)
    print(
        f"{N_METRICS} metrics x {N_ORGS} organisations x {len(CYCLES)} cycles; "
        f"{answers.height:,} answers; min_n={MIN_N}; best of {RUNS} after a warm-up"
    )

    def run_polars() -> tuple[pl.DataFrame, pl.DataFrame]:
        values = engine.compute_metric_values(answers, catalogues)
        return values, engine.compute_benchmarks(values, orgs, MIN_N)

    t_pl, cpu_pl, (values, bench_pl) = best_of(run_polars, RUNS)
    t_pd, cpu_pd, bench_pd = best_of(
        lambda: pandas_recompute(answers_pd, orgs_pd, catalogue, MIN_N), RUNS
    )
    load = os.getloadavg()[0]
    print(
        f"machine       : {os.cpu_count()} CPUs, polars threads {pl.thread_pool_size()}, "
        f"load average {load:.2f}"
    )
    print(f"metric values: {values.height:,}; benchmark rows: {bench_pl.height:,}")
    print(f"polars engine : {t_pl * 1000:8.1f} ms wall  {cpu_pl * 1000:8.1f} ms CPU")
    print(f"pandas        : {t_pd * 1000:8.1f} ms wall  {cpu_pd * 1000:8.1f} ms CPU")
    print(f"ratio         : pandas / polars = {t_pd / t_pl:.2f}x wall, {cpu_pd / cpu_pl:.2f}x CPU")

    left = to_pandas(bench_pl)
    merged = left.merge(
        bench_pd,
        on=["cycle_year", "peer_group_key", "metric_key"],
        how="outer",
        suffixes=("_pl", "_pd"),
        indicator=True,
    )
    problems = []
    unmatched = int((merged["_merge"] != "both").sum())
    if unmatched:
        problems.append(f"{unmatched} rows only on one side")
    for col in ("n", "n_organisations", "suppressed"):
        if not (merged[f"{col}_pl"] == merged[f"{col}_pd"]).all():
            problems.append(f"column {col} differs")
    for col in ("median", "q1", "q3", "min", "max"):
        a = merged[f"{col}_pl"].to_numpy(dtype=float)
        b = merged[f"{col}_pd"].to_numpy(dtype=float)
        if not np.allclose(a, b, rtol=1e-12, atol=0.0, equal_nan=True):
            problems.append(f"column {col} differs (max abs diff {np.nanmax(np.abs(a - b))})")
    if problems:
        print("MISMATCH: " + "; ".join(problems))
        return 1
    print(f"check         : identical on {len(merged):,} rows (n, suppression, 5 statistics)")
    within = t_pl < 0.5 and t_pl < t_pd
    print(f"target        : < 500 ms and faster than pandas: {'met' if within else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
