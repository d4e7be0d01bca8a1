"""Benchmark computation core (pure Polars, no database or HTTP)."""

from services.metrics.benchmark.engine import (
    BENCHMARK_SCHEMA,
    ORG_TYPES,
    SIZE_BANDS,
    VALUES_SCHEMA,
    compute_benchmarks,
    compute_custom_group,
    compute_metric_values,
    custom_group_key,
    quartile_band,
    quartile_band_expr,
    rank_expr,
    rank_of_n,
    size_band,
    size_band_expr,
)

__all__ = [
    "BENCHMARK_SCHEMA",
    "ORG_TYPES",
    "SIZE_BANDS",
    "VALUES_SCHEMA",
    "compute_benchmarks",
    "compute_custom_group",
    "compute_metric_values",
    "custom_group_key",
    "quartile_band",
    "quartile_band_expr",
    "rank_expr",
    "rank_of_n",
    "size_band",
    "size_band_expr",
]
