"""Catalogue files: loading, inheritance between cycles, load-time errors, validation."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import polars as pl
import pytest

from shared.catalogue import (
    CatalogueError,
    available_cycles,
    build_catalogue,
    load_catalogue,
    load_catalogue_from,
)

# ---------------------------------------------------------------- packaged data


def test_cycles_2016_to_2021_load() -> None:
    assert available_cycles() == (2016, 2017, 2018, 2019, 2020, 2021)
    for year in available_cycles():
        cat = load_catalogue(year)
        assert cat.cycle == year
        assert set(cat.modules) == {
            "estate",
            "cost",
            "performance",
            "user_satisfaction",
            "user_skills",
            "sdma",
        }


def test_load_is_cached() -> None:
    assert load_catalogue(2020) is load_catalogue(2020)


def test_data_year_labels() -> None:
    cat = load_catalogue(2020)
    assert (cat.data_year, cat.data_year_code) == ("2019/20", "19")


def test_every_domain_metric_is_defined_with_its_module_and_unit() -> None:
    cat = load_catalogue(2020)
    expected = {
        "users_per_ict_fte": ("estate", "ratio"),
        "change_project_staff_pct": ("estate", "percent"),
        "devices_per_user": ("estate", "ratio"),
        "workstations_per_user": ("estate", "ratio"),
        "monitors_per_workstation": ("estate", "ratio"),
        "flexible_equipped_pct": ("estate", "percent"),
        "flexible_daily_pct": ("estate", "percent"),
        "flexible_annual_pct": ("estate", "percent"),
        "governance_index": ("estate", "index"),
        "users_per_service_desk_fte": ("estate", "ratio"),
        "first_line_technical_pct": ("estate", "percent"),
        "contacts_per_user": ("performance", "ratio"),
        "first_contact_resolution_pct": ("performance", "percent"),
        "contacts_per_service_desk_fte": ("performance", "ratio"),
        "resolved_15min_pct": ("performance", "percent"),
        "resolved_4h_pct": ("performance", "percent"),
        "over_16h_pct": ("performance", "percent"),
        "availability_index": ("performance", "index"),
        "post_interaction_satisfaction": ("performance", "rating"),
        "project_best_practice_index": ("performance", "index"),
        "project_quality_index": ("performance", "index"),
        "ict_spend_pct_of_revenue": ("cost", "percent"),
        "ict_spend_per_user": ("cost", "gbp"),
        "cost_per_workstation": ("cost", "gbp"),
        "support_cost_per_user": ("cost", "gbp"),
        "network_cost_per_user": ("cost", "gbp"),
        "network_cost_per_device": ("cost", "gbp"),
        "us_response_rate": ("user_satisfaction", "percent"),
        "us_overall_satisfaction": ("user_satisfaction", "rating"),
        "us_improvement": ("user_satisfaction", "rating"),
    }
    for key, (module, unit) in expected.items():
        assert (cat.metrics[key].module, cat.metrics[key].unit) == (module, unit), key
    for k in range(1, 21):
        assert cat.metrics[f"us_s{k}_satisfaction"].module == "user_satisfaction"
        assert cat.metrics[f"us_s{k}_gap"].inputs == (
            f"us_s{k}_satisfaction_mean",
            f"us_s{k}_importance_mean",
        )
    assert cat.modules["sdma"].peer_comparison is False


def test_percent_metrics_are_percentage_points() -> None:
    cat = load_catalogue(2020)
    metric = cat.metrics["change_project_staff_pct"]
    assert metric.evaluate({"change_project_fte": 15.6, "ict_fte": 100.0}) == pytest.approx(15.6)


def test_governance_index_scales_points_to_0_100() -> None:
    cat = load_catalogue(2020)
    keys = ["gov_itil", "gov_iso27001", "gov_iso22301", "gov_iso14001", "gov_iso20000"]
    answers = dict.fromkeys(keys, "certified") | {"gov_prince2": "not_adopted"}
    values = cat.numeric_answers(answers)
    assert cat.metrics["governance_index"].evaluate(values) == pytest.approx(100 * 15 / 18)


def test_definition_changes_are_recorded_per_cycle() -> None:
    contacts_2017 = load_catalogue(2017).metrics["contacts_per_user"]
    contacts_2018 = load_catalogue(2018).metrics["contacts_per_user"]
    assert contacts_2017.formula == "sd_incidents / users"
    assert contacts_2017.changed_in == ()
    assert contacts_2018.formula == "(sd_incidents + sd_requests) / users"
    assert contacts_2018.changed_in == (2018,)
    assert load_catalogue(2021).metrics["contacts_per_user"].changed_in == (2018,)
    # Explicit flag: same formula, changed meaning of an input.
    assert load_catalogue(2016).metrics["devices_per_user"].changed_in == ()
    assert load_catalogue(2017).metrics["devices_per_user"].changed_in == (2017,)
    # Added in a later cycle.
    assert "network_cost_per_device" not in load_catalogue(2018).metrics
    assert load_catalogue(2019).metrics["network_cost_per_device"].introduced_in == 2019
    # Removed question, formula changed.
    assert "gov_iso14001" not in load_catalogue(2021).questions
    assert load_catalogue(2021).metrics["governance_index"].changed_in == (2021,)


def test_overridden_field_keeps_the_rest_of_the_item() -> None:
    devices_2016 = load_catalogue(2016).questions["devices"]
    devices_2017 = load_catalogue(2017).questions["devices"]
    assert "smartphones" in devices_2017.help and "smartphones" not in devices_2016.help
    assert (devices_2017.type, devices_2017.module, devices_2017.label) == (
        devices_2016.type,
        devices_2016.module,
        devices_2016.label,
    )


def test_to_dict_is_json_serialisable() -> None:
    data = load_catalogue(2020).to_dict()
    text = json.dumps(data)
    assert data["cycle"] == 2020
    metric = next(m for m in data["metrics"] if m["key"] == "contacts_per_user")
    assert metric["changed_in"] == [2018]
    assert metric["inputs"] == ["sd_incidents", "sd_requests", "users"]
    assert "gov_itil" in text


def test_metric_exprs_compute_over_a_wide_frame() -> None:
    cat = load_catalogue(2020)
    exprs = cat.metric_exprs()
    wide = pl.DataFrame(
        {"users": [1000.0, 500.0], "ict_fte": [20.0, 0.0]},
        schema={"users": pl.Float64, "ict_fte": pl.Float64},
    )
    got = wide.select(exprs["users_per_ict_fte"]).to_series().to_list()
    assert got == [50.0, None]  # zero ICT FTE: no value


# ---------------------------------------------------------------- load-time errors


BASE = """\
modules:
  estate: {name: Estate}
questions:
  users: {module: estate, type: count, label: Users, min: 1}
  ict_fte: {module: estate, type: number, label: ICT FTE, min: 0}
metrics:
  ok_metric: {name: OK, module: estate, formula: ict_fte / users, unit: ratio, polarity: neutral}
"""


def write_cycle(tmp_path: Path, body: str, year: int = 2020) -> Path:
    (tmp_path / "base.yaml").write_text(BASE)
    (tmp_path / f"{year}.yaml").write_text(
        f"cycle: {year}\nextends: base\n" + textwrap.dedent(body)
    )
    return tmp_path


def load_error(tmp_path: Path, body: str) -> str:
    with pytest.raises(CatalogueError) as info:
        load_catalogue_from(write_cycle(tmp_path, body), 2020)
    return str(info.value)


def test_unknown_question_in_formula(tmp_path: Path) -> None:
    message = load_error(
        tmp_path,
        """
        metrics:
          bad:
            {name: Bad, module: estate, formula: user / nonzero(ict_fte), unit: ratio,
             polarity: neutral}
        """,
    )
    assert message == (
        "catalogue 2020, 2020.yaml: metric 'bad': formula 'user / nonzero(ict_fte)': "
        "unknown question 'user' at column 1 (did you mean 'users'?)"
    )


def test_division_by_possibly_zero_question(tmp_path: Path) -> None:
    message = load_error(
        tmp_path,
        """
        metrics:
          per_fte:
            {name: Per FTE, module: estate, formula: users / ict_fte, unit: ratio,
             polarity: neutral}
        """,
    )
    assert message == (
        "catalogue 2020, 2020.yaml: metric 'per_fte': formula 'users / ict_fte': "
        "denominator 'ict_fte' (after '/' at column 7) may be zero within the declared "
        "ranges of ict_fte; declare min > 0 on the question or guard it with nonzero(...)"
    )


def test_division_becomes_invalid_when_a_later_cycle_widens_a_range(tmp_path: Path) -> None:
    # ok_metric is inherited from base.yaml; 2020 allows users = 0, breaking it.
    message = load_error(tmp_path, "questions:\n  users: {min: 0}\n")
    assert message.startswith(
        "catalogue 2020, base.yaml: metric 'ok_metric': formula 'ict_fte / users': "
        "denominator 'users'"
    )


def test_syntax_error(tmp_path: Path) -> None:
    message = load_error(
        tmp_path,
        """
        metrics:
          broken:
            {name: Broken, module: estate, formula: "users * (ict_fte + 1", unit: ratio,
             polarity: neutral}
        """,
    )
    assert message == (
        "catalogue 2020, 2020.yaml: metric 'broken': formula 'users * (ict_fte + 1': "
        "syntax error: expected ')', found end of formula at column 21"
    )


def test_all_problems_are_reported_together(tmp_path: Path) -> None:
    with pytest.raises(CatalogueError) as info:
        load_catalogue_from(
            write_cycle(
                tmp_path,
                """
                metrics:
                  a: {name: A, module: estate, formula: nope, unit: ratio, polarity: neutral}
                  b: {name: B, module: nowhere, formula: users, unit: furlongs, polarity: up}
                rules:
                  r: {check: users <= nothing, message: x}
                """,
            ),
            2020,
        )
    errors = info.value.errors
    assert len(errors) == 5
    assert any("unknown module 'nowhere'" in e for e in errors)
    assert any("unit 'furlongs'" in e for e in errors)
    assert any("polarity 'up'" in e for e in errors)
    assert any("rule 'r'" in e and "unknown question 'nothing'" in e for e in errors)


def test_removing_a_question_still_used_is_an_error(tmp_path: Path) -> None:
    message = load_error(tmp_path, "remove:\n  questions: [ict_fte]\n")
    assert "metric 'ok_metric'" in message and "unknown question 'ict_fte'" in message


def test_cycle_field_must_match_file_name(tmp_path: Path) -> None:
    (tmp_path / "base.yaml").write_text(BASE)
    (tmp_path / "2020.yaml").write_text("cycle: 2019\nextends: base\n")
    with pytest.raises(CatalogueError, match=r"2020\.yaml: 'cycle' must be 2020, found 2019"):
        load_catalogue_from(tmp_path, 2020)


def test_unknown_fields_are_rejected(tmp_path: Path) -> None:
    message = load_error(tmp_path, "questions:\n  users: {maximum: 3}\n")
    assert "question 'users': unknown fields ['maximum']" in message


def test_extends_chain_applies_in_order(tmp_path: Path) -> None:
    write_cycle(tmp_path, "", 2019)
    (tmp_path / "2020.yaml").write_text(
        "cycle: 2020\nextends: 2019\n"
        "metrics:\n  ok_metric: {formula: 2 * ict_fte / users}\n"
        "  extra: {name: X, module: estate, formula: users, unit: count, polarity: neutral}\n"
    )
    cat = load_catalogue_from(tmp_path, 2020)
    assert cat.metrics["ok_metric"].changed_in == (2020,)
    assert cat.metrics["ok_metric"].introduced_in == 2019
    assert cat.metrics["extra"].introduced_in == 2020


def test_build_catalogue_from_memory_runs_the_same_checks() -> None:
    spec = {
        "modules": {"m": {"name": "M"}},
        "questions": {"x": {"module": "m", "type": "number", "label": "X"}},
        "metrics": {
            "inv": {"name": "1/x", "module": "m", "formula": "1 / x", "unit": "ratio",
                    "polarity": "neutral"},
        },
    }  # fmt: skip
    with pytest.raises(CatalogueError, match="denominator 'x'"):
        build_catalogue(2020, spec)


# ---------------------------------------------------------------- answer validation


def codes(issues: list) -> list[tuple[tuple[str, ...], str, str]]:  # type: ignore[type-arg]
    return [(i.question_keys, i.severity, i.code) for i in issues]


def test_valid_answers_have_no_issues() -> None:
    cat = load_catalogue(2020)
    answers = {
        "users": 1200,
        "ict_fte": 25.5,
        "devices": 2500,
        "workstations": 1100,
        "gov_itil": "adopted",
        "first_line_fte": 3.0,
        "first_line_technical_fte": 2.0,
    }
    assert cat.validate_answers("estate", answers) == []


def test_out_of_range_answers() -> None:
    cat = load_catalogue(2020)
    issues = cat.validate_answers(
        "performance", {"availability_network_pct": 100.5, "pi_satisfaction_mean": 0.5}
    )
    assert codes(issues) == [
        (("availability_network_pct",), "error", "out_of_range"),
        (("pi_satisfaction_mean",), "error", "out_of_range"),
    ]
    assert (
        issues[0].message
        == "Network availability (availability_network_pct): 100.5 is above the maximum 100"
    )
    assert issues[1].message == (
        "Post-interaction satisfaction (mean rating) (pi_satisfaction_mean): "
        "0.5 is below the minimum 1"
    )


def test_negative_count_and_percentage_below_zero() -> None:
    cat = load_catalogue(2020)
    issues = cat.validate_answers("performance", {"sd_incidents": -1, "pq_on_time_pct": -3})
    assert [i.code for i in issues] == ["out_of_range", "out_of_range"]


def test_wrong_types() -> None:
    cat = load_catalogue(2020)
    issues = cat.validate_answers(
        "estate",
        {
            "users": "1200",
            "devices": 10.5,
            "ict_fte": True,
            "gov_itil": "mostly",
            "gov_prince2": 2,
            "monitors": float("nan"),
        },
    )
    assert codes(issues) == [
        (("users",), "error", "wrong_type"),
        (("devices",), "error", "not_integer"),
        (("ict_fte",), "error", "wrong_type"),
        (("gov_itil",), "error", "invalid_choice"),
        (("gov_prince2",), "error", "wrong_type"),
        (("monitors",), "error", "not_finite"),
    ]
    assert issues[0].message == "ICT users (users): expected a number, got str"
    assert "'mostly' is not one of: certified, adopted, partially_adopted, not_adopted" in (
        issues[3].message
    )


def test_required_question_missing() -> None:
    cat = load_catalogue(2020)
    issues = cat.validate_answers("estate", {"ict_fte": 3.0, "users": None})
    assert codes(issues) == [(("users",), "error", "required")]
    assert issues[0].message == "ICT users (users) is required"


def test_unknown_question_and_wrong_module() -> None:
    cat = load_catalogue(2020)
    issues = cat.validate_answers(
        "cost", {"ict_spend": 10.0, "revenue_spend": 1e6, "cost_of_tea": 3, "users": 10}
    )
    assert codes(issues) == [
        (("cost_of_tea",), "error", "unknown_question"),
        (("users",), "error", "wrong_module"),
    ]
    assert issues[0].message == "'cost_of_tea' is not a question in the 2020 catalogue"


def test_cross_field_rule_error_names_both_questions() -> None:
    cat = load_catalogue(2020)
    issues = cat.validate_answers(
        "estate", {"users": 100, "first_line_fte": 2.0, "first_line_technical_fte": 2.5}
    )
    assert codes(issues) == [
        (("first_line_technical_fte", "first_line_fte"), "error", "rule_violated")
    ]
    assert issues[0].rule_key == "technical_within_first_line"
    assert issues[0].message == "Technical first-line FTE (2.5) cannot exceed first-line FTE (2)."


def test_cross_field_rules_errors_and_warnings() -> None:
    cat = load_catalogue(2020)
    issues = cat.validate_answers(
        "estate",
        {"users": 100, "workstations": 300, "devices": 200, "equipped_users": 101},
    )
    assert {(i.rule_key, i.severity) for i in issues} == {
        ("workstations_within_devices", "error"),
        ("equipped_within_users", "error"),
    }
    warning = cat.validate_answers("estate", {"users": 100, "devices": 1001})
    assert [(i.rule_key, i.severity) for i in warning] == [("devices_plausible", "warning")]


def test_rule_across_modules_uses_context() -> None:
    cat = load_catalogue(2020)
    answers = {"us_users_surveyed": 500, "us_responses": 50}
    assert cat.validate_answers("user_satisfaction", answers) == []  # no users: not checked
    issues = cat.validate_answers("user_satisfaction", answers, context={"users": 300})
    assert [(i.rule_key, i.severity) for i in issues] == [("surveyed_within_users", "warning")]


def test_missing_answers_are_not_rule_violations() -> None:
    cat = load_catalogue(2020)
    assert cat.validate_answers("estate", {"users": 100, "first_line_technical_fte": 3.0}) == []


def test_percentage_range_is_0_to_100() -> None:
    cat = load_catalogue(2020)
    q = cat.questions["pq_on_time_pct"]
    assert (q.min, q.max, q.unit) == (0.0, 100.0, "percent")
