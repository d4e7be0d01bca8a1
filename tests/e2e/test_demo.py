"""`yardstick demo` loads a realistic data set once; a second run adds nothing."""

import pytest
from sqlalchemy import text

from shared.db.engine import make_engine
from shared.testing.plugin import scratch_database
from yardstick.demo import load_demo


@pytest.fixture
def demo_url(database_url):
    with scratch_database(database_url, "ys_demo", "head") as url:
        yield url


def _counts(url):
    engine = make_engine(url, pool_size=1)
    try:
        with engine.connect() as conn:
            return (
                {
                    t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar()
                    for t in (
                        "organisations",
                        "cycles",
                        "submissions",
                        "submission_audit",
                        "organisation_codes",
                        "survey_responses",
                        "survey_invitations",
                        "survey_results",
                        "tickets",
                        "sla_outcomes",
                        "sla_policies",
                        "organisation_partners",
                        "finance_reports",
                        "finance_lines",
                        "cost_table_cells",
                        "risks",
                        "risk_assessments",
                        "security_incidents",
                        "pack_commentary",
                    )
                },
                dict(
                    conn.execute(
                        text(
                            "SELECT metric_key, median FROM benchmark_statistics "
                            "WHERE cycle_year = 2020 AND peer_group_key = 'all'"
                        )
                    ).all()
                ),
                dict(
                    conn.execute(
                        text(
                            "SELECT state, count(*) FROM submissions s JOIN cycles c "
                            "ON c.id = s.cycle_id WHERE c.year = 2020 "
                            "GROUP BY state"
                        )
                    ).all()
                ),
            )
    finally:
        engine.dispose()


@pytest.mark.xdist_group("e2e")
def test_demo_loads_realistic_data_once(demo_url):
    first = load_demo(demo_url)
    counts, medians, states_2020 = _counts(demo_url)
    assert "70 organisations" in first and "44 in 2020" in first
    # The benchmark's 70, and the shared service with its three partner councils.
    assert counts["organisations"] == 74 and counts["cycles"] == 5
    assert counts["submissions"] == 910
    assert counts["survey_responses"] > 0 and counts["survey_results"] == 3
    assert counts["survey_invitations"] == 0, "demo responses never come with addresses"
    # 5,250 for three benchmark participants; 2,717 for the shared service's partners.
    assert counts["tickets"] == 7967 and counts["sla_outcomes"] == 7967
    assert "shared service demo: Shared ICT Service" in first
    assert {k: counts[k] for k in list(counts)[-8:]} == {
        "organisation_partners": 3,
        "finance_reports": 1,
        "finance_lines": 10,
        "cost_table_cells": 36,
        "risks": 8,
        "risk_assessments": 16,
        "security_incidents": 5,
        "pack_commentary": 8,
    }
    assert counts["sla_policies"] > 0
    assert set(states_2020) == {"accepted", "submitted", "returned", "draft"}
    # medians sit near the published 2019/20 figures (DOMAIN.md)
    for key, expected in {
        "users_per_ict_fte": 44.5,
        "devices_per_user": 2.04,
        "ict_spend_per_user": 2612,
    }.items():
        assert abs(medians[key] - expected) / expected < 0.05, (key, medians[key])

    second = load_demo(demo_url)
    assert "0 new submissions" in second and "0 new survey responses" in second
    assert _counts(demo_url) == (counts, medians, states_2020)
