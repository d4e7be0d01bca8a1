"""Benchmark statistics: exact numbers, suppression, peer groups, positions."""

from __future__ import annotations

import polars as pl
import pytest

from services.metrics.benchmark import (
    BENCHMARK_SCHEMA,
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
)
from shared.catalogue import build_catalogue, load_catalogue


def values_frame(rows: list[tuple[int, int, str, float]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=VALUES_SCHEMA, orient="row")


def orgs_frame(rows: list[tuple[int, int, str, str, bool, int | None]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "cycle_year": pl.Int32,
            "organisation_id": pl.Int64,
            "type": pl.String,
            "nation": pl.String,
            "partnership": pl.Boolean,
            "users": pl.Int64,
        },
        orient="row",
    )


def answers_frame(rows: list[tuple[int, int, str, float]]) -> pl.DataFrame:
    return pl.DataFrame(
        rows,
        schema={
            "cycle_year": pl.Int32,
            "organisation_id": pl.Int64,
            "question_key": pl.String,
            "value": pl.Float64,
        },
        orient="row",
    )


def row(bench: pl.DataFrame, cycle: int, group: str, metric: str = "m") -> dict[str, object]:
    found = bench.filter(
        pl.col("cycle_year") == cycle,
        pl.col("peer_group_key") == group,
        pl.col("metric_key") == metric,
    )
    assert found.height == 1, (cycle, group, metric)
    return found.row(0, named=True)


def ten_orgs(cycle: int = 2020) -> pl.DataFrame:
    return orgs_frame([(cycle, i, "L", "England", False, 3000) for i in range(1, 11)])


# ---------------------------------------------------------------- statistics


def test_quartiles_of_1_to_10_are_type_7() -> None:
    values = values_frame([(2020, i, "m", float(i)) for i in range(1, 11)])
    r = row(compute_benchmarks(values, ten_orgs(), min_n=5), 2020, "all")
    assert (r["q1"], r["median"], r["q3"]) == (3.25, 5.5, 7.75)
    assert (r["n"], r["min"], r["max"], r["suppressed"]) == (10, 1.0, 10.0, False)
    assert r["suppression_reason"] is None


def test_input_order_does_not_matter() -> None:
    values = values_frame([(2020, i, "m", float(11 - i)) for i in range(1, 11)])
    r = row(compute_benchmarks(values, ten_orgs(), min_n=5), 2020, "all")
    assert (r["q1"], r["median"], r["q3"]) == (3.25, 5.5, 7.75)


def test_output_schema() -> None:
    values = values_frame([(2020, i, "m", float(i)) for i in range(1, 11)])
    assert compute_benchmarks(values, ten_orgs(), min_n=5).schema == BENCHMARK_SCHEMA


def test_median_is_of_organisation_ratios_not_ratio_of_totals() -> None:
    cat = load_catalogue(2020)
    answers = answers_frame(
        [
            (2020, 1, "users", 100.0),
            (2020, 1, "ict_fte", 1.0),  # 100 users per FTE
            (2020, 2, "users", 200.0),
            (2020, 2, "ict_fte", 4.0),  # 50
            (2020, 3, "users", 9000.0),
            (2020, 3, "ict_fte", 300.0),  # 30
        ]
    )
    values = compute_metric_values(answers, {2020: cat})
    orgs = orgs_frame([(2020, i, "E", "England", False, 100) for i in (1, 2, 3)])
    r = row(compute_benchmarks(values, orgs, min_n=3), 2020, "all", "users_per_ict_fte")
    ratio_of_totals = (100 + 200 + 9000) / (1 + 4 + 300)
    assert r["median"] == 50.0
    assert ratio_of_totals == pytest.approx(30.4918, abs=1e-4)
    assert r["median"] != pytest.approx(ratio_of_totals)


def test_group_of_four_is_suppressed_and_group_of_five_is_not() -> None:
    orgs = orgs_frame(
        [(2020, i, "L", "England", False, 3000) for i in range(1, 5)]
        + [(2020, i, "D", "England", True, 600) for i in range(5, 10)]
    )
    values = values_frame([(2020, i, "m", float(i)) for i in range(1, 10)])
    bench = compute_benchmarks(values, orgs, min_n=5)
    london = row(bench, 2020, "type:L")
    assert london["n"] == 4 and london["suppressed"] is True
    assert [london[c] for c in ("median", "q1", "q3", "min", "max")] == [None] * 5
    assert london["suppression_reason"] == (
        "fewer than 5 organisations in the group (4): statistics withheld"
    )
    district = row(bench, 2020, "type:D")
    assert district["n"] == 5 and district["suppressed"] is False
    assert (district["median"], district["min"], district["max"]) == (7.0, 5.0, 9.0)
    assert row(bench, 2020, "partnership:true")["suppressed"] is False
    assert row(bench, 2020, "partnership:false")["suppressed"] is True
    assert row(bench, 2020, "size:2500-4999")["n"] == 4
    assert row(bench, 2020, "size:under-1000")["median"] == 7.0
    assert row(bench, 2020, "nation:England")["n"] == 9


def test_threshold_is_never_below_3() -> None:
    values = values_frame([(2020, i, "m", float(i)) for i in range(1, 11)])
    with pytest.raises(ValueError, match="min_n must be at least 3"):
        compute_benchmarks(values, ten_orgs(), min_n=2)
    with pytest.raises(ValueError, match="min_n must be at least 3"):
        compute_custom_group(values, ten_orgs(), {}, 2020, min_n=1)


def test_past_responses_pool_all_earlier_cycles() -> None:
    rows = [(2018, i, "m", float(i)) for i in (1, 2, 3)]
    rows += [(2019, i, "m", float(i + 3)) for i in (1, 2, 3)]
    rows += [(2020, i, "m", 100.0 * i) for i in (1, 2, 3)]
    orgs = orgs_frame(
        [(y, i, "S", "Scotland", False, 2000) for y in (2018, 2019, 2020) for i in (1, 2, 3)]
    )
    bench = compute_benchmarks(values_frame(rows), orgs, min_n=3)
    past_2020 = row(bench, 2020, "past")
    assert (past_2020["n"], past_2020["n_organisations"]) == (6, 3)
    assert (past_2020["median"], past_2020["q1"], past_2020["q3"]) == (3.5, 2.25, 4.75)
    assert (past_2020["min"], past_2020["max"]) == (1.0, 6.0)  # 2020's own values excluded
    past_2019 = row(bench, 2019, "past")
    assert (past_2019["n"], past_2019["median"]) == (3, 2.0)
    assert bench.filter(pl.col("cycle_year") == 2018, pl.col("peer_group_key") == "past").is_empty()


def test_past_suppression_counts_organisations_not_responses() -> None:
    rows = [(y, i, "m", float(y - 2000 + i)) for y in (2017, 2018, 2019) for i in (1, 2)]
    rows += [(2020, i, "m", 1.0) for i in (1, 2, 3)]
    orgs = orgs_frame([(y, i, "E", "England", False, 5000) for y, i, *_ in rows])
    past = row(compute_benchmarks(values_frame(rows), orgs, min_n=3), 2020, "past")
    assert (past["n"], past["n_organisations"], past["suppressed"]) == (6, 2, True)
    assert past["median"] is None


def test_values_without_an_organisation_row_count_only_in_all() -> None:
    values = values_frame([(2020, i, "m", float(i)) for i in range(1, 11)])
    orgs = ten_orgs().filter(pl.col("organisation_id") <= 5)
    bench = compute_benchmarks(values, orgs, min_n=5)
    assert row(bench, 2020, "all")["n"] == 10
    assert row(bench, 2020, "type:L")["n"] == 5


# ---------------------------------------------------------------- metric values


def test_division_by_zero_nan_and_inf_give_no_value() -> None:
    cat = build_catalogue(
        2020,
        {
            "modules": {"m": {"name": "M"}},
            "questions": {
                "x": {"module": "m", "type": "number", "label": "X"},
                "d": {"module": "m", "type": "number", "label": "D", "min": 0},
            },
            "metrics": {
                "ratio": {"name": "R", "module": "m", "formula": "x / nonzero(d)",
                          "unit": "ratio", "polarity": "neutral"},
                "big": {"name": "B", "module": "m", "formula": "x * 1e308",
                        "unit": "ratio", "polarity": "neutral"},
            },
        },
    )  # fmt: skip
    answers = answers_frame(
        [
            (2020, 1, "x", 10.0),
            (2020, 1, "d", 2.0),
            (2020, 2, "x", 10.0),
            (2020, 2, "d", 0.0),  # guarded zero: no ratio
            (2020, 3, "x", float("nan")),
            (2020, 3, "d", 1.0),
            (2020, 4, "d", 1.0),  # x missing
        ]
    )
    values = compute_metric_values(answers, {2020: cat})
    assert values.schema == VALUES_SCHEMA
    got = {(r["organisation_id"], r["metric_key"]): r["value"] for r in values.to_dicts()}
    assert got == {(1, "ratio"): 5.0}  # 10 * 1e308 overflows to inf: dropped too


def test_each_cycle_uses_its_own_definition() -> None:
    answers = answers_frame(
        [
            (year, 1, key, value)
            for year in (2017, 2018)
            for key, value in (("users", 100.0), ("sd_incidents", 500.0), ("sd_requests", 300.0))
        ]
    )
    values = compute_metric_values(answers).filter(pl.col("metric_key") == "contacts_per_user")
    assert dict(zip(values["cycle_year"], values["value"], strict=True)) == {2017: 5.0, 2018: 8.0}


def test_answers_to_unknown_questions_are_ignored_and_duplicates_rejected() -> None:
    cat = load_catalogue(2020)
    answers = answers_frame([(2020, 1, "users", 10.0), (2020, 1, "not_a_question", 1.0)])
    values = compute_metric_values(answers, {2020: cat})
    assert values.filter(pl.col("metric_key") == "devices_per_user").is_empty()
    duplicated = answers_frame([(2020, 1, "users", 10.0), (2020, 1, "users", 11.0)])
    with pytest.raises(ValueError, match="more than one value"):
        compute_metric_values(duplicated, {2020: cat})
    with pytest.raises(KeyError, match="no catalogue given for cycle 2020"):
        compute_metric_values(answers, {2019: cat})


# ---------------------------------------------------------------- custom groups


def mixed_orgs() -> pl.DataFrame:
    rows = []
    for i in range(1, 13):
        org_type = "D" if i <= 6 else "L"
        rows.append((2020, i, org_type, "England", i % 3 == 0, 800 if i <= 6 else 3000))
        rows.append((2019, i, org_type, "England", i % 3 == 0, 800 if i <= 6 else 3000))
    return orgs_frame(rows)


def test_custom_group_combines_filters() -> None:
    values = values_frame(
        [(2020, i, "m", float(i)) for i in range(1, 13)]
        + [(2019, i, "m", float(10 * i)) for i in range(1, 13)]
    )
    result = compute_custom_group(
        values, mixed_orgs(), {"type": ["D", "L"], "partnership": False}, 2020, min_n=5
    )
    r = result.row(0, named=True)
    assert r["peer_group_key"] == "custom:type=D,L;partnership=false"
    assert (r["n"], r["median"]) == (8, 6.0)  # 1,2,4,5 | 7,8,10,11
    other_cycle = compute_custom_group(
        values, mixed_orgs(), {"cycle": 2019, "size": ["under-1000"]}, 2020, min_n=5
    ).row(0, named=True)
    assert other_cycle["peer_group_key"] == "custom:cycle=2019;size=under-1000"
    assert (other_cycle["cycle_year"], other_cycle["n"], other_cycle["median"]) == (2020, 6, 35.0)
    small = compute_custom_group(values, mixed_orgs(), {"type": "L", "partnership": True}, 2020, 5)
    assert small.row(0, named=True)["suppressed"] is True


def test_custom_group_key_is_canonical() -> None:
    a = custom_group_key({"nation": ["Wales", "England"], "type": ["W", "C"], "partnership": True})
    b = custom_group_key({"partnership": True, "type": ["C", "W", "C"], "nation": "England"})
    assert a == "custom:type=C,W;nation=England,Wales;partnership=true"
    assert b == "custom:type=C,W;nation=England;partnership=true"
    assert custom_group_key({}) == "all"
    with pytest.raises(ValueError, match="unknown peer-group filters"):
        custom_group_key({"colour": ["red"]})
    with pytest.raises(ValueError, match="not in"):
        custom_group_key({"type": ["X"]})
    with pytest.raises(ValueError, match="one or more values"):
        custom_group_key({"nation": []})


# ---------------------------------------------------------------- positions


def test_size_bands() -> None:
    assert [size_band(u) for u in (None, 999, 1000, 2499, 2500, 9999, 10000)] == [
        None,
        "under-1000",
        "1000-2499",
        "1000-2499",
        "2500-4999",
        "5000-9999",
        "10000-and-over",
    ]


@pytest.mark.parametrize(
    ("value", "polarity", "band"),
    [
        (9.0, "higher_better", 1),
        (7.75, "higher_better", 1),
        (6.0, "higher_better", 2),
        (4.0, "higher_better", 3),
        (1.0, "higher_better", 4),
        (1.0, "lower_better", 1),
        (3.25, "lower_better", 1),
        (5.0, "lower_better", 2),
        (7.0, "lower_better", 3),
        (9.0, "lower_better", 4),
        (1.0, "neutral", 1),
        (9.0, "neutral", 4),
        # A value exactly on a boundary goes to the better band, on every boundary.
        (5.5, "higher_better", 2),
        (3.25, "higher_better", 3),
        (5.5, "lower_better", 2),
        (7.75, "lower_better", 3),
        (3.25, "neutral", 1),
        (5.5, "neutral", 2),
        (7.75, "neutral", 3),
    ],
)
def test_quartile_band(value: float, polarity: str, band: int) -> None:
    assert quartile_band(value, 3.25, 5.5, 7.75, polarity) == band  # type: ignore[arg-type]
    frame = pl.DataFrame({"v": [value]})
    expr = quartile_band_expr(pl.col("v"), pl.lit(3.25), pl.lit(5.5), pl.lit(7.75), polarity)  # type: ignore[arg-type]
    assert frame.select(expr).item() == band


def test_rank_of_n() -> None:
    peers = [3.0, 1.0, 2.0, 2.0, 5.0]
    assert rank_of_n(5.0, peers, "higher_better") == (1, 5)
    assert rank_of_n(2.0, peers, "higher_better") == (3, 5)  # ties share the better rank
    assert rank_of_n(1.0, peers, "lower_better") == (1, 5)
    assert rank_of_n(2.0, peers, "lower_better") == (2, 5)
    assert rank_of_n(5.0, peers, "neutral") == (5, 5)
    frame = values_frame([(2020, i, "m", v) for i, v in enumerate(peers, start=1)])
    ranks = frame.select(rank_expr("higher_better")).to_series().to_list()
    assert ranks == [2, 5, 3, 3, 1]
