"""Reviewer-check settings as catalogue data (issue #14): outlier thresholds per metric
and the nearest-neighbours variables, refused at load with the file and field named."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from shared.catalogue import CatalogueError, load_catalogue, load_catalogue_from

BASE = """\
modules:
  estate: {name: Estate}
  cost: {name: Cost}
questions:
  users: {module: estate, type: count, label: Users, min: 1}
  ict_fte: {module: estate, type: number, label: ICT FTE, min: 0}
  cloud: {module: estate, type: boolean, label: Cloud first}
  revenue_spend: {module: cost, type: amount_gbp, label: Revenue spend}
metrics:
  ok_metric: {name: OK, module: estate, formula: ict_fte / users, unit: ratio, polarity: neutral}
outliers:
  default: {modified_z: 3.5, iqr_fence: 3, history_sd: 2, year_on_year_pct: 50}
neighbours:
  users: {attribute: users, weight: 1}
"""


def load(tmp_path: Path, body: str):
    (tmp_path / "base.yaml").write_text(BASE)
    (tmp_path / "2020.yaml").write_text("cycle: 2020\nextends: base\n" + textwrap.dedent(body))
    return load_catalogue_from(tmp_path, 2020)


def error(tmp_path: Path, body: str) -> str:
    with pytest.raises(CatalogueError) as info:
        load(tmp_path, body)
    return str(info.value)


def test_thresholds_layer_default_and_per_metric(tmp_path):
    cat = load(tmp_path, "outliers:\n  ok_metric: {year_on_year_pct: 20}\n")
    t = cat.thresholds("ok_metric")
    assert (t.modified_z, t.iqr_fence, t.history_sd, t.year_on_year_pct) == (3.5, 3.0, 2.0, 20.0)
    assert t.sources == {
        "modified_z": "base.yaml",
        "iqr_fence": "base.yaml",
        "history_sd": "base.yaml",
        "year_on_year_pct": "2020.yaml",
    }
    assert (
        load(tmp_path, "outliers:\n  ok_metric: {year_on_year_pct: null}\n")
        .thresholds("ok_metric")
        .year_on_year_pct
        is None
    )


def test_a_threshold_below_zero_is_refused_naming_file_and_field(tmp_path):
    assert error(tmp_path, "outliers:\n  ok_metric: {modified_z: -1}\n") == (
        "catalogue 2020, 2020.yaml: outliers 'ok_metric', field 'modified_z': "
        "a threshold cannot be below zero, got -1"
    )
    assert error(tmp_path, "outliers:\n  default: {iqr_fence: '3'}\n") == (
        "catalogue 2020, 2020.yaml: outliers 'default', field 'iqr_fence': "
        "must be a number, got '3'"
    )
    assert "not a metric of this cycle" in error(tmp_path, "outliers:\n  nope: {history_sd: 1}\n")
    assert "unknown fields ['z']" in error(tmp_path, "outliers:\n  ok_metric: {z: 1}\n")


def test_a_variable_that_is_not_numeric_is_refused_naming_file_and_field(tmp_path):
    assert error(tmp_path, "neighbours:\n  cloud: {question: cloud, weight: 1}\n") == (
        "catalogue 2020, 2020.yaml: neighbours 'cloud', field 'question': 'cloud' is a "
        "boolean question, not numeric; use one of type count, amount_gbp, percentage, number"
    )
    assert error(tmp_path, "neighbours:\n  type: {attribute: type}\n") == (
        "catalogue 2020, 2020.yaml: neighbours 'type', field 'attribute': 'type' is not "
        "numeric; add 'compare: same' to use it as same-as-the-organisation (1) or not (0)"
    )
    assert error(tmp_path, "neighbours:\n  users: {weight: -0.5}\n") == (
        "catalogue 2020, 2020.yaml: neighbours 'users', field 'weight': a weight cannot be "
        "below zero, got -0.5"
    )
    assert "not an organisation attribute" in error(
        tmp_path, "neighbours:\n  area: {attribute: area_km2}\n"
    )
    assert error(tmp_path, "neighbours:\n  pop: {attribute: population, where_loaded: 1}\n") == (
        "catalogue 2020, 2020.yaml: neighbours 'pop', field 'where_loaded': must be true or "
        "false, got 1"
    )
    cat = load(
        tmp_path,
        "neighbours:\n  spend: {question: revenue_spend, weight: 2}\n"
        "  type: {attribute: type, compare: same, weight: 0.5}\n"
        "  pop: {attribute: population, where_loaded: true}\n",
    )
    assert [
        (v.key, v.source, v.weight, v.compare_same, v.where_loaded) for v in cat.neighbours.values()
    ] == [
        ("users", "attribute", 1.0, False, False),
        ("spend", "question", 2.0, False, False),
        ("type", "attribute", 0.5, True, False),
        ("pop", "attribute", 1.0, False, True),
    ]


def test_the_packaged_catalogues_carry_the_settings():
    for year in (2016, 2021):
        cat = load_catalogue(year)
        assert cat.thresholds("users_per_ict_fte").modified_z == 3.5
        assert cat.thresholds("governance_index").year_on_year_pct is None
        assert list(cat.neighbours) == ["users", "revenue_spend", "type", "nation", "population"]
        assert cat.neighbours["population"].where_loaded
