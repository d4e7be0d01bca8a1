"""The demo data generator: deterministic, valid, and close to the published medians."""

from __future__ import annotations

from collections import Counter

import polars as pl
import pytest

from services.metrics.benchmark import compute_benchmarks, compute_metric_values
from shared.catalogue import load_catalogue
from yardstick.demo.benchmark_data import (
    DOMAIN_MEDIANS_2020,
    DemoDataset,
    generate_benchmark_data,
)


@pytest.fixture(scope="module")
def demo() -> DemoDataset:
    return generate_benchmark_data()


def test_same_seed_same_data(demo: DemoDataset) -> None:
    again = generate_benchmark_data()
    assert again.organisations == demo.organisations
    assert again.submissions == demo.submissions
    assert generate_benchmark_data(seed=7).submissions != demo.submissions


def test_shape(demo: DemoDataset) -> None:
    assert len(demo.organisations) == 70
    assert [c.year for c in demo.cycles] == [2016, 2017, 2018, 2019, 2020]
    assert demo.cycles[-1].data_year == "2019/20" and demo.cycles[-1].code == "19"
    assert len(demo.participants(2020)) == 44
    latest = {o.type for o in demo.organisations if o.id in demo.participants(2020)}
    assert latest == set("ESWCDLMO")
    assert 3 <= sum(o.partnership for o in demo.organisations) <= 10
    assert {o.nation for o in demo.organisations} >= {"England", "Scotland", "Wales"}
    assert len({o.name for o in demo.organisations}) == 70
    states = Counter(s.state for s in demo.submissions)
    assert set(states) == {"accepted", "submitted", "returned", "draft"}
    assert states["accepted"] > 0.95 * sum(states.values())


def test_accepted_submissions_pass_validation(demo: DemoDataset) -> None:
    estate = {
        (s.organisation_id, s.cycle_year): s.answers
        for s in demo.submissions
        if s.module == "estate"
    }
    for s in demo.submissions:
        catalogue = load_catalogue(s.cycle_year)
        context = estate.get((s.organisation_id, s.cycle_year)) if s.module != "estate" else None
        issues = catalogue.validate_answers(s.module, s.answers, context)
        errors = [i for i in issues if i.severity == "error"]
        if s.state == "accepted":
            assert errors == [], (s.organisation_id, s.cycle_year, s.module, errors)
        else:
            # Drafts may be incomplete, but what they hold is well formed.
            assert all(i.code == "required" for i in errors)


def test_medians_match_the_published_2019_20_benchmarks(demo: DemoDataset) -> None:
    answers = pl.DataFrame(demo.answer_rows())
    values = compute_metric_values(answers)
    bench = compute_benchmarks(values, pl.DataFrame(demo.organisation_rows()), min_n=5)
    latest = bench.filter(pl.col("cycle_year") == 2020, pl.col("peer_group_key") == "all")
    medians = dict(zip(latest["metric_key"], latest["median"], strict=True))
    for key, published in DOMAIN_MEDIANS_2020.items():
        assert medians[key] == pytest.approx(published, rel=0.10), key
    assert latest.filter(pl.col("metric_key") == "users_per_ict_fte")["n"].item() == 44


def test_only_accepted_answers_are_used(demo: DemoDataset) -> None:
    accepted = demo.answer_rows()
    everything = demo.answer_rows(states=("accepted", "submitted", "returned", "draft"))
    assert len(everything) > len(accepted)
    not_accepted = {
        (s.organisation_id, s.cycle_year) for s in demo.submissions if s.state != "accepted"
    }
    assert not_accepted
