"""tools/mutation.py: the mutants it makes, and (on demand, -m mutation) a tiny real run."""

from __future__ import annotations

import ast
import io

import pytest

from tools import mutation
from tools.mutation import TARGETS, Target, _Sites

SOURCE = '''
LIMIT = ("=", "+")


def rule(a, b, items):
    """Docstring: not a rule."""
    check(a)
    if a >= b and not items:
        raise ValueError("no")
    items.sort(key=lambda r: (r[0], r[1]))
    return max(a, b) + 1 if a else -b


def other(a, b):
    return a < b
'''


def _sites(functions):
    sites = _Sites(functions)
    sites.visit(ast.parse(SOURCE))
    return [d for _, d in sites.found]


def test_sites_cover_each_operator_in_the_named_functions_only():
    assert _sites(("rule",)) == [
        "check(…) call removed",
        "GtE -> Gt",
        "not x -> x",
        "And -> Or",
        "raise removed",
        "0 -> 1",
        "1 -> 2",
        "key (a, b, …) -> a: tie-break dropped",
        "items.sort(…) call removed",
        "max() -> min()",
        "max(a, …) -> a",
        "1 -> 2",
        "Add -> Sub",
        "USub x -> x",
        "a if c else b -> b",
        "a if c else b -> a",
    ]
    assert _sites(("other",)) == ["Lt -> LtE"]
    assert _sites(("LIMIT",)) == ["'=' dropped from LIMIT", "'+' dropped from LIMIT"]


@pytest.mark.parametrize("index", range(16))
def test_each_mutant_changes_exactly_its_site(index):
    tree = ast.parse(SOURCE)
    _Sites(("rule",), apply=index).visit(tree)
    mutated = ast.unparse(tree)
    assert mutated != ast.unparse(ast.parse(SOURCE))
    # the other function is never touched
    assert "def other(a, b):\n    return a < b" in mutated


def test_every_target_names_functions_that_exist():
    for name, targets in TARGETS.items():
        for target in targets:
            assert mutation.mutants(name, target), (name, target.module)


@pytest.mark.mutation
def test_a_tiny_run_kills_csv_escaping_mutants(monkeypatch):
    tiny = Target("shared/tabular.py", ("FORMULA_START",), ("tests/shared/test_tabular.py",))
    monkeypatch.setitem(TARGETS, "csv_escaping", [tiny])
    out = io.StringIO()
    summary = mutation.run(["csv_escaping"], limit=2, out=out)
    assert [o.status for o in summary.outcomes] == ["killed", "killed"], out.getvalue()
    assert summary.by_target() == {"csv_escaping": (2, 2)}
