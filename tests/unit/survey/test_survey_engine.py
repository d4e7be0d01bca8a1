import datetime as dt
from decimal import Decimal
from fractions import Fraction

import polars as pl
import pytest

from services.metrics.surveys.engine import (
    ATTRIBUTES,
    FACTOR_KEYS,
    breakdown,
    breakdowns,
    factor_summary,
    nps_score,
    nps_summary,
    overall_summary,
    response_rate,
    sdma_summary,
    skills_summary,
    suppression_flags,
)
from services.survey.instruments import load_instrument

N = None


def test_engine_keys_match_the_instrument():
    us = load_instrument("user_satisfaction")
    assert tuple(f.value for f in us.factors) == FACTOR_KEYS
    assert set(ATTRIBUTES) == {f"attr.{a}" for a in us.attributes}


# -------------------------------------------------------------------- response rate


@pytest.mark.parametrize(
    ("responses", "in_scope", "text"),
    [
        (20, 313, "6.4% (20 out of 313)"),
        (1, 16, "6.3% (1 out of 16)"),  # 6.25 → 6.3: half up, not half to even
        (1234, 5180, "23.8% (1,234 out of 5,180)"),
        (0, 10, "0.0% (0 out of 10)"),
    ],
)
def test_response_rate(responses, in_scope, text):
    assert response_rate(responses, in_scope).text == text


def test_response_rate_edge_cases():
    assert response_rate(20, 313).percent == Decimal("6.4")
    none = response_rate(3, 0)
    assert none.percent is None and none.text == "no users in scope (3 responses)"
    with pytest.raises(ValueError):
        response_rate(-1, 10)


# -------------------------------------------------------------------------- factors


@pytest.fixture
def gap_frame():
    # S1: sat 5,6,7,4 (mean 5.5), imp 7,6,6,5 (mean 6): gap -0.5, weight gap -3/7
    # S2: sat 3,4,2 + blank (mean 3), imp 6,7,7,6 (mean 6.5): gap -3.5, weight gap -3.25
    # S3: sat 7,7,6,6 (6.5), imp 4,4,5,5 (4.5): gap 2, weight gap 9/7
    # S4: sat 2×7 + 3 (17/8 = 2.125), imp 2,2,2,2,2,3,3,2 (2.25): gap -0.125
    return pl.DataFrame(
        {
            "S1.satisfaction": [5, 6, 7, 4, N, N, N, N],
            "S1.importance": [7, 6, 6, 5, N, N, N, N],
            "S2.satisfaction": [3, 4, 2, N, N, N, N, N],
            "S2.importance": [6, 7, 7, 6, N, N, N, N],
            "S3.satisfaction": [7, 7, 6, 6, N, N, N, N],
            "S3.importance": [4, 4, 5, 5, N, N, N, N],
            "S4.satisfaction": [2, 2, 2, 2, 2, 2, 2, 3],
            "S4.importance": [2, 2, 2, 2, 2, 3, 3, 2],
        },
        schema_overrides={c: pl.Int8 for c in ["S1.satisfaction"]},
    )


def test_gap_and_weight_gap_exact(gap_frame):
    out = factor_summary(gap_frame)
    assert out["factor"].to_list() == list(FACTOR_KEYS)  # S5..S20 absent → unanswered
    rows = {r["factor"]: r for r in out.iter_rows(named=True)}
    s1, s2, s3, s4 = rows["S1"], rows["S2"], rows["S3"], rows["S4"]
    assert (s1["n_satisfaction"], s1["mean_satisfaction"], s1["mean_importance"]) == (4, 5.5, 6.0)
    assert s1["gap"] == -0.5
    assert s1["weight_gap"] == -0.5 * 6.0 / 7
    assert Fraction(s1["weight_gap"]).limit_denominator(1000) == Fraction(-3, 7)
    assert (s2["n_satisfaction"], s2["mean_satisfaction"]) == (3, 3.0)  # blank is not a zero
    assert (s2["gap"], s2["weight_gap"]) == (-3.5, -3.25)
    assert (s3["gap"], Fraction(s3["weight_gap"]).limit_denominator(1000)) == (2.0, Fraction(9, 7))
    assert s4["mean_satisfaction"] == 2.125 and s4["gap"] == -0.125
    # Presentation: 2 dp, half away from zero, from exact sums.
    shown = {
        f: (r["mean_satisfaction_2dp"], r["mean_importance_2dp"], r["gap_2dp"], r["weight_gap_2dp"])
        for f, r in rows.items()
        if f in ("S1", "S2", "S3", "S4")
    }
    assert shown == {
        "S1": (5.5, 6.0, -0.5, -0.43),
        "S2": (3.0, 6.5, -3.5, -3.25),
        "S3": (6.5, 4.5, 2.0, 1.29),
        "S4": (2.13, 2.25, -0.13, -0.04),  # 2.125 → 2.13 and -0.125 → -0.13
    }
    s20 = rows["S20"]
    assert (s20["n_satisfaction"], s20["mean_satisfaction"], s20["gap"]) == (0, None, None)


def test_factor_summary_by_organisation():
    frame = pl.DataFrame(
        {
            "organisation_id": ["a", "a", "b"],
            "S1.satisfaction": [7, 5, 1],
            "S1.importance": [7, 7, 7],
        }
    )
    out = factor_summary(frame, by=["organisation_id"], factors=["S1"])
    assert out.select("organisation_id", "mean_satisfaction", "gap", "weight_gap").rows() == [
        ("a", 6.0, -1.0, -1.0),
        ("b", 1.0, -6.0, -6.0),
    ]


def test_overall_and_improvement():
    frame = pl.DataFrame({"overall": [5, 6, N, 7], "improvement": [3, 4, 5, 6]})
    row = overall_summary(frame).row(0, named=True)
    assert (row["responses"], row["n_overall"], row["mean_overall"]) == (4, 3, 6.0)
    assert (row["mean_improvement"], row["n_worse"]) == (4.5, 1)


# ---------------------------------------------------------------------- suppression


def flags(sizes, threshold=10):
    cells = pl.LazyFrame({"value": [f"c{i}" for i in range(len(sizes))], "n": sizes})
    out = suppression_flags(cells, threshold=threshold).collect()
    return {n: s for n, s in zip(out["n"], out["suppressed"], strict=True)}


def suppressed(sizes, threshold=10):
    return sorted(n for n, s in flags(sizes, threshold).items() if s)


def test_two_small_cells_are_both_suppressed():
    assert suppressed([12, 3, 8, 20]) == [3, 8]


def test_one_small_cell_takes_the_next_smallest_with_it():
    assert suppressed([12, 30, 9, 15]) == [9, 12]


def test_small_cells_together_under_threshold_take_more():
    # 3 + 4 = 7 could be recovered as total − 50 and is still under 10: all must go.
    assert suppressed([3, 4, 50]) == [3, 4, 50]
    assert suppressed([3, 4, 5, 40]) == [3, 4, 5]
    assert suppressed([3, 4, 11, 40]) == [3, 4, 11]


def test_every_primary_cell_is_suppressed_even_once_two_reach_the_threshold():
    # 5 + 6 = 11 already reaches 10, but 7 is under the threshold itself: it goes too.
    assert suppressed([5, 6, 7, 50]) == [5, 6, 7]


def test_suppressed_cells_exactly_at_the_threshold_together_are_enough():
    # 4 + 6 = 10: as safe as one cell of 10, so 20 stays visible.
    assert suppressed([4, 6, 20]) == [4, 6]


def test_a_breakdown_without_small_cells_is_untouched_by_another_breakdowns_cells():
    cells = pl.LazyFrame(
        {
            "org": ["a", "a", "b", "b", "b"],
            "value": ["x", "y", "x", "y", "z"],
            "n": [30, 40, 3, 8, 20],
        }
    )
    out = suppression_flags(cells, threshold=10, by=["org"]).collect()
    assert out.select("org", "n", "suppressed").rows() == [
        ("a", 30, False),
        ("a", 40, False),
        ("b", 3, True),
        ("b", 8, True),
        ("b", 20, False),
    ]


def test_nothing_suppressed_when_all_cells_are_big_enough():
    assert suppressed([10, 10, 25]) == []


def test_threshold_is_a_setting_never_below_five():
    assert suppressed([5, 6, 30], threshold=5) == []
    assert suppressed([4, 6, 30], threshold=5) == [4, 6]
    with pytest.raises(ValueError, match="never be below 5"):
        suppressed([1, 2], threshold=4)


def test_suppression_is_per_breakdown_partition():
    cells = pl.LazyFrame(
        {
            "org": ["a", "a", "a", "b", "b"],
            "value": ["x", "y", "z", "x", "y"],
            "n": [12, 30, 9, 11, 20],
        }
    )
    out = suppression_flags(cells, threshold=10, by=["org"]).collect()
    assert out.select("org", "n", "suppressed", "suppression").rows() == [
        ("a", 9, True, "primary"),
        ("a", 12, True, "complementary"),
        ("a", 30, False, None),
        ("b", 11, False, None),
        ("b", 20, False, None),
    ]


def test_breakdown_hides_figures_and_counts_not_stated():
    locations = ["Depot"] * 12 + ["Hall"] * 30 + ["School"] * 9 + [None] * 15
    overall = [7] * 12 + [5] * 30 + [1] * 9 + [4] * 15
    frame = pl.DataFrame(
        {"attr.location": locations, "overall": overall, "improvement": [4] * len(overall)}
    )
    out = breakdown(frame, "attr.location")
    assert out.select("value", "n", "mean_overall", "suppressed", "suppression").rows() == [
        ("Hall", 30, 5.0, False, None),
        ("Not stated", 15, 4.0, False, None),
        ("Depot", None, None, True, "complementary"),
        ("School", None, None, True, "primary"),
    ]
    reasons = dict(zip(out["value"], out["reason"], strict=True))
    assert reasons["School"] == "fewer than 10 responses"
    assert reasons["Depot"].startswith("hidden so that a smaller group")
    everything = breakdowns(frame)
    assert set(everything["attribute"]) == set(ATTRIBUTES)
    # An attribute nobody answered is one "Not stated" cell of 66: shown.
    role = everything.filter(pl.col("attribute") == "attr.role")
    assert role.select("value", "n").rows() == [("Not stated", 66)]


# ------------------------------------------------------------------------------ NPS


def test_nps_values():
    assert nps_score([10, 9, 8, 0, 6, 3]) == -16.7  # 2 promoters, 3 detractors of 6
    assert nps_score([7, 8, 7, 8]) == 0.0  # all passive: a score of 0
    assert nps_score([]) is None  # no ratings: no score
    assert nps_score([10] * 10) == 100.0
    assert nps_score([0, 6]) == -100.0
    assert nps_score([10] + [8] * 15) == 6.3  # 6.25 → 6.3 half up
    assert nps_score([0] + [8] * 15) == -6.3


def test_nps_by_month_and_organisation():
    frame = pl.DataFrame(
        {
            "organisation_id": ["a", "a", "a", "b", "b"],
            "response_date": [
                dt.date(2025, 1, 3),
                dt.date(2025, 1, 31),
                dt.date(2025, 2, 1),
                dt.date(2025, 1, 9),
                dt.date(2025, 1, 10),
            ],
            "nps": [10, 6, 8, N, N],
        }
    )
    out = nps_summary(frame, by=["organisation_id"], monthly=True)
    assert out.select("organisation_id", "month", "ratings", "nps").rows() == [
        ("a", dt.date(2025, 1, 1), 2, 0.0),
        ("a", dt.date(2025, 2, 1), 1, 0.0),
        ("b", dt.date(2025, 1, 1), 0, None),
    ]
    by_org = nps_summary(frame, by=["organisation_id"])
    assert by_org.select(
        "organisation_id", "promoters", "passives", "detractors", "nps"
    ).rows() == [
        ("a", 1, 1, 1, 0.0),
        ("b", 0, 0, 0, None),
    ]
    assert nps_summary(frame)["nps"].to_list() == [0.0]


# ------------------------------------------------------------------- skills and SDMA


def test_skills_summary():
    frame = pl.DataFrame({"L1": [4, 5], "L2": [2, N], "P1": [1, 2], "P10": [5, 5], "P2": [3, 3]})
    per_question, per_area = skills_summary(frame)
    assert per_question.select("key", "n", "mean", "area").rows() == [
        ("L1", 2, 4.5, "it_literacy"),
        ("L2", 1, 2.0, "it_literacy"),
        ("P1", 2, 1.5, "it_policies"),
        ("P2", 2, 3.0, "it_policies"),
        ("P10", 2, 5.0, "it_policies"),
    ]
    assert per_area.select("area", "n", "mean", "mean_2dp").rows() == [
        ("it_literacy", 3, 11 / 3, 3.67),
        ("it_policies", 6, 19 / 6, 3.17),
    ]


def test_sdma_summary_across_cycles():
    frame = pl.DataFrame(
        {
            "organisation_id": ["a", "a", "a"],
            "cycle": [24, 24, 25],
            **{f"M{i}": [1, 2, 3] for i in range(1, 10)},
        }
    ).with_columns(pl.Series("M9", [1, N, 4]))
    per_area, overall = sdma_summary(frame, by=("organisation_id", "cycle"))
    m9 = per_area.filter(pl.col("area") == "M9")
    assert m9.select("cycle", "n", "mean").rows() == [(24, 1, 1.0), (25, 1, 4.0)]
    assert overall.select("cycle", "areas_rated", "mean_maturity_2dp").rows() == [
        (24, 9, 1.44),  # (8 × 1.5 + 1) / 9 = 1.444…
        (25, 9, 3.11),  # (8 × 3 + 4) / 9 = 3.111…
    ]
