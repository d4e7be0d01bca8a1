"""One half-up rounding and one NPS for every figure family (services/metrics/figures.py)."""

from __future__ import annotations

import random
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from services.metrics import figures
from services.metrics.sla.engine import nps_by_month
from services.metrics.surveys.engine import nps_score, nps_summary, round_half_up

ROOT = Path(__file__).resolve().parents[2]


def _half_up(num: int, den: int, decimals: int) -> Decimal | None:
    return figures.half_up_value(num, den, decimals)


@pytest.mark.parametrize(
    ("num", "den", "decimals", "expected"),
    [
        (1, 8, 2, "0.13"),  # 0.125
        (2675, 1000, 2, "2.68"),  # 2.675: a float would give 2.67
        (-1, 8, 2, "-0.13"),  # half away from zero, as DOMAIN's half-up
        (-2675, 1000, 2, "-2.68"),
        (1, 3, 2, "0.33"),
        (2, 3, 2, "0.67"),
        (125, 1000, 1, "0.1"),
        (15, 100, 1, "0.2"),
        (0, 7, 2, "0.00"),
    ],
)
def test_half_up_is_exact_on_decimal_values(num, den, decimals, expected):
    assert _half_up(num, den, decimals) == Decimal(expected)


def test_half_up_of_nothing_is_null_and_of_a_share_is_a_percentage():
    assert _half_up(5, 0, 2) is None
    frame = pl.DataFrame({"n": [1585, 1, None], "d": [2702, 8, 4]})
    pct = frame.select(figures.half_up_pct(pl.col("n"), pl.col("d")).alias("p"))["p"]
    assert pct.to_list() == [Decimal("58.66"), Decimal("12.50"), None]


def test_a_float_figure_is_rounded_as_it_prints():
    values = pl.DataFrame({"v": [0.125, 2.675, -0.125, 1.005, 2.5, None]})
    out = values.select(figures.half_up_float(pl.col("v"), 2))["v"].to_list()
    assert out == [Decimal(s) for s in ("0.13", "2.68", "-0.13", "1.01", "2.50")] + [None]


def test_the_float_form_is_the_nearest_float_to_the_rounded_decimal():
    # Polars turns "/ 10" into "* 0.1"; the Float64 form must still be -48.9, not …006.
    frame = pl.DataFrame({"n": [-489, 2675, 1]}, schema={"n": pl.Int64})
    out = frame.select(round_half_up(pl.col("n"), pl.lit(1), 0))
    assert out["n"].to_list() == [-489.0, 2675.0, 1.0]
    tenths = frame.select(round_half_up(pl.col("n"), pl.lit(10), 1))["n"].to_list()
    assert tenths == [-48.9, 267.5, 0.1]
    hundredths = frame.select(round_half_up(pl.col("n"), pl.lit(1000), 2))["n"].to_list()
    assert hundredths == [-0.49, 2.68, 0.0]


@pytest.mark.parametrize(
    ("ratings", "score"),
    [
        ([10, 9, 8, 0, 6, 3], "-16.7"),
        ([7, 8, 7, 8], "0.0"),
        ([10] + [8] * 15, "6.3"),  # 6.25 → 6.3
        ([0] + [8] * 15, "-6.3"),  # -6.25 → -6.3
        ([10] * 10, "100.0"),
        ([], None),  # no ratings: no score, not 0
        ([11, -1], None),  # not ratings at all
    ],
)
def test_nps_rule(ratings, score):
    frame = pl.DataFrame({"r": ratings}, schema={"r": pl.Int64})
    out = frame.select(figures.nps(pl.col("r"))).row(0, named=True)
    assert out["nps"] == (None if score is None else Decimal(score))
    valid = [r for r in ratings if 0 <= r <= 10]
    assert out["ratings"] == len(valid)
    assert out["promoters"] + out["passives"] + out["detractors"] == len(valid)


def test_sla_and_survey_families_give_the_same_nps_for_the_same_ratings():
    rng = random.Random(10)
    rows = [
        (org, date(2021, month, rng.randint(1, 28)), rng.choice([None, *range(11)]))
        for org in (1, 2, 3)
        for month in range(1, 13)
        for _ in range(rng.randint(0, 40))
    ]
    rows += [(4, date(2021, 5, 3), None)]  # a month with responses but no ratings
    orgs, days, ratings = zip(*rows, strict=True)
    # SLA: ticket outcomes, rated, resolved at noon UTC on the day (same local date).
    tickets = pl.DataFrame(
        {
            "organisation_id": orgs,
            "resolution_at": [datetime(d.year, d.month, d.day, 12, tzinfo=UTC) for d in days],
            "logged_date": days,
            "nps_rating": ratings,
        },
        schema={
            "organisation_id": pl.Int64,
            "resolution_at": pl.Datetime("us", "UTC"),
            "logged_date": pl.Date,
            "nps_rating": pl.Int8,
        },
    )
    responses = pl.DataFrame(
        {"organisation_id": orgs, "response_date": days, "nps": ratings},
        schema={"organisation_id": pl.Int64, "response_date": pl.Date, "nps": pl.Int64},
    )
    sla = nps_by_month(tickets).rename({"responses": "ratings"})
    survey = nps_summary(responses, by=["organisation_id"], monthly=True)
    keys = ["organisation_id", "month"]
    cols = ["ratings", "promoters", "passives", "detractors"]
    joined = sla.join(survey, on=keys, how="full", suffix="_survey", coalesce=True)
    assert joined.height == sla.height == survey.height > 30
    for row in joined.iter_rows(named=True):
        for c in cols:
            assert row[c] == row[f"{c}_survey"], (row, c)
        sla_nps, survey_nps = row["nps"], row["nps_survey"]
        assert (sla_nps is None) == (survey_nps is None), row
        if sla_nps is not None:
            assert float(sla_nps) == survey_nps, row
    assert joined.filter(pl.col("organisation_id") == 4)["nps"].to_list() == [None]
    assert nps_score([r for r in ratings if r is not None]) is not None


_ROUNDING = re.compile(r"\bround\(|\.round\(|quantize\(|ROUND_HALF|half_away_from_zero")
# Roundings that are not of a figure: a duration in a run's log, and a policy's target in
# seconds computed from working days (an input to the SLA clock).
_NOT_FIGURES = {
    (
        "services/metrics/benchmark/service.py",
        '"seconds": round(time.perf_counter() - started, 3),',
    ),
    ("services/metrics/sla/engine.py", ".round(0)"),
}


def test_no_figure_is_rounded_outside_figures_py():
    found = set()
    for path in (ROOT / "services" / "metrics").rglob("*.py"):
        if path.name == "figures.py":
            continue
        for line in path.read_text().splitlines():
            if _ROUNDING.search(line):
                found.add((str(path.relative_to(ROOT)), line.strip()))
    assert found == _NOT_FIGURES
