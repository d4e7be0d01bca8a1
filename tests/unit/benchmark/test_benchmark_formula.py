"""The formula language: parsing, the division rule, and Polars/scalar agreement."""

from __future__ import annotations

import polars as pl
import pytest

from shared.catalogue import formula as fx

RANGES = {
    "users": (1.0, None),  # declared min 1: never zero
    "ict_fte": (0.0, None),  # may be zero
    "a": (0.0, None),
    "b": (0.0, None),
    "neg": (None, -1.0),
    "free": (None, None),
}


def compile_ok(text: str) -> fx.Node:
    node = fx.parse_formula(text)
    fx.signs(node, RANGES, text)
    return node


def division_error(text: str) -> str:
    with pytest.raises(fx.FormulaError) as info:
        compile_ok(text)
    return info.value.message


def test_precedence_and_unary_minus() -> None:
    node = fx.parse_formula("1 + 2 * 3 - -4 / 2")
    assert fx.evaluate(node, {}) == 9.0


def test_parentheses_and_functions() -> None:
    node = fx.parse_formula("(a + b) * max(a, 2, b) - min(a, b) + sum(a, b, 1)")
    assert fx.evaluate(node, {"a": 3.0, "b": 5.0}) == 8 * 5 - 3 + 9


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("users /", "syntax error: expected a number, question key or '(', found end of formula"),
        ("users * (a + b", "syntax error: expected ')', found end of formula at column 15"),
        ("users a", "syntax error: unexpected token, found 'a' at column 7"),
        ("users $ 2", "unexpected character '$' at column 7"),
        ("log(users)", "unknown function 'log' at column 1"),
        ("nonzero(a, b)", "nonzero() takes exactly one argument"),
    ],
)
def test_syntax_errors_name_the_token_and_column(text: str, fragment: str) -> None:
    with pytest.raises(fx.FormulaError) as info:
        fx.parse_formula(text)
    assert fragment in info.value.message


def test_denominator_declared_positive_is_accepted() -> None:
    compile_ok("a / users")
    compile_ok("a / (users + b)")  # positive + non-negative is positive
    compile_ok("a / (2 * users)")
    compile_ok("a / neg")  # always negative: never zero
    compile_ok("a / max(users, ict_fte)")


def test_denominator_guarded_with_nonzero_is_accepted() -> None:
    compile_ok("users / nonzero(ict_fte)")
    compile_ok("(a + b) / nonzero(ict_fte + a)")


@pytest.mark.parametrize(
    ("text", "denominator"),
    [
        ("users / ict_fte", "ict_fte"),
        ("a / (ict_fte + b)", "ict_fte + b"),
        ("a / (users - b)", "users - b"),  # positive minus non-negative may be zero
        ("a / min(users, ict_fte)", "min(users, ict_fte)"),
        ("a / free", "free"),
        ("a / 0", "0"),
    ],
)
def test_denominator_that_may_be_zero_is_rejected(text: str, denominator: str) -> None:
    message = division_error(text)
    assert f"denominator {denominator!r}" in message
    assert "may be zero" in message
    assert "nonzero(...)" in message


def test_division_error_reports_column() -> None:
    assert "after '/' at column 7" in division_error("users / ict_fte")


def test_names_in_source_order() -> None:
    node = fx.parse_formula("(b + a) / nonzero(users)")
    assert [n.key for n in fx.names(node)] == ["b", "a", "users"]


def test_polars_and_scalar_evaluation_agree() -> None:
    text = "100 * max(a, b) / nonzero(ict_fte) - min(a, b) + sum(a, 1)"
    node = compile_ok(text)
    rows = {
        "a": [1.0, 4.0, None, 2.0],
        "b": [2.0, 3.0, 1.0, 2.0],
        "ict_fte": [2.0, 0.0, 1.0, 4.0],
    }
    got = pl.DataFrame(rows).select(fx.to_polars(node).alias("x")).get_column("x").to_list()
    expected = [
        fx.evaluate(node, {k: v[i] for k, v in rows.items()}) for i in range(len(rows["a"]))
    ]
    assert expected == [100 * 2 / 2 - 1 + 2, None, None, 100 * 2 / 4 - 2 + 3]
    assert got == expected


def test_checks_parse_and_evaluate() -> None:
    check = fx.parse_check("a + b <= 2 * users")
    assert fx.evaluate_check(check, {"a": 1, "b": 1, "users": 1}) is True
    assert fx.evaluate_check(check, {"a": 3, "b": 1, "users": 1}) is False
    assert fx.evaluate_check(check, {"a": 3, "users": 1}) is None  # b missing: not applicable
    with pytest.raises(fx.FormulaError, match="expected a comparison"):
        fx.parse_check("a + b")


def test_range_signs() -> None:
    assert fx.range_signs(1, None) == {1}
    assert fx.range_signs(0, 100) == {0, 1}
    assert fx.range_signs(None, None) == {-1, 0, 1}
    assert fx.range_signs(-5, -1) == {-1}
