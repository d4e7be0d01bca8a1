"""Nearest neighbours on a hand-computed six-organisation example (issue #14 item 6).

Variables: ICT users (weight 1), revenue spend (weight 2), same type as the subject
(weight 0.5). Subject: organisation 1 (2,000 users, £100m, type L).

    org  users  revenue  type   z(users)  z(revenue)  z(same type)
    1    2000   100m     L      -1        -1          +1     (the subject)
    2    2000   300m     L      -1        +1          +1
    3    2000   100m     M      -1        -1          -1
    4    4000   300m     M      +1        +1          -1
    5    4000   100m     L      +1        -1          +1
    6    4000   300m     M      +1        +1          -1

(users: mean 3000, SD 1000; revenue: mean 200m, SD 100m; same type 1,1,0,0,1,0: mean ½,
SD ½.) Weighted squared differences from the subject, w(z − z′)²:

    org 2: revenue 2 × 2² = 8                    Σ 8    √8
    org 3: type ½ × 2² = 2                       Σ 2    √2
    org 4: users 4, revenue 8, type 2            Σ 14   √14   (the farthest)
    org 5: users 1 × 2² = 4                      Σ 4    2
    org 6: as org 4                              Σ 14   √14

Rebased by √14: org 3 √(2/14), org 5 2/√14, org 2 √(8/14), orgs 4 and 6 1. Org 4's
contributions: users 4/14, revenue 8/14, type 2/14 (× its distance 1), summing to 1.
"""

from __future__ import annotations

import math

import polars as pl
import pytest

from services.metrics.neighbours import engine
from shared.catalogue.model import NeighbourVariable

VARIABLES = {
    "users": NeighbourVariable("users", "ICT users", "attribute", "users", 1.0),
    "revenue_spend": NeighbourVariable(
        "revenue_spend", "Revenue spend", "question", "revenue_spend", 2.0
    ),
    "type": NeighbourVariable("type", "Same type", "attribute", "type", 0.5, compare_same=True),
}
FRAME = pl.DataFrame(
    {
        "organisation_id": [1, 2, 3, 4, 5, 6],
        "code": ["L2011", "L2022", "M2033", "M2044", "L2055", "M2066"],
        "users": [2000, 2000, 2000, 4000, 4000, 4000],
        "revenue_spend": [100e6, 300e6, 100e6, 300e6, 100e6, 300e6],
        "type": ["L", "L", "M", "M", "L", "M"],
    }
)


def test_six_organisations_by_hand():
    result = engine.nearest(FRAME, VARIABLES, subject_id=1)
    rows = result.neighbours.to_dicts()
    assert [r["code"] for r in rows] == ["M2033", "L2055", "L2022", "M2044", "M2066"]
    assert [r["position"] for r in rows] == [1, 2, 3, 4, 5]
    expected = {
        "M2033": (math.sqrt(2 / 14), {"users": 0.0, "revenue_spend": 0.0, "type": 1.0}),
        "L2055": (2 / math.sqrt(14), {"users": 1.0, "revenue_spend": 0.0, "type": 0.0}),
        "L2022": (math.sqrt(8 / 14), {"users": 0.0, "revenue_spend": 1.0, "type": 0.0}),
        "M2044": (1.0, {"users": 4 / 14, "revenue_spend": 8 / 14, "type": 2 / 14}),
        "M2066": (1.0, {"users": 4 / 14, "revenue_spend": 8 / 14, "type": 2 / 14}),
    }
    for r in rows:
        distance, shares = expected[r["code"]]
        assert r["distance"] == pytest.approx(distance, abs=1e-12)
        for key, share in shares.items():
            assert r[f"c_{key}"] == pytest.approx(distance * share, abs=1e-12), (r["code"], key)
        # the contributions add up to the distance
        total = sum(r[f"c_{k}"] for k in VARIABLES)
        assert total == pytest.approx(r["distance"], abs=1e-12)
    assert (result.candidates, result.excluded) == (5, 0)


def test_count_and_a_missing_value():
    frame = FRAME.with_columns(
        pl.when(pl.col("organisation_id") == 2)
        .then(None)
        .otherwise(pl.col("revenue_spend"))
        .alias("revenue_spend")
    )
    result = engine.nearest(frame, VARIABLES, subject_id=1, count=2)
    assert result.excluded == 1 and result.candidates == 4
    assert result.neighbours.get_column("code").to_list() == ["M2033", "L2055"]
    with pytest.raises(engine.SubjectMissing) as info:
        engine.nearest(frame, VARIABLES, subject_id=2)
    assert info.value.variables == ["revenue_spend"]


def test_a_variable_everyone_shares_contributes_nothing():
    same = {
        **VARIABLES,
        "nation": NeighbourVariable(
            "nation", "Same nation", "attribute", "nation", 3.0, compare_same=True
        ),
    }
    frame = FRAME.with_columns(pl.lit("England").alias("nation"))
    rows = engine.nearest(frame, same, subject_id=1).neighbours.to_dicts()
    assert [r["c_nation"] for r in rows] == [0.0] * 5
    assert rows[0]["distance"] == pytest.approx(math.sqrt(2 / 14), abs=1e-12)
