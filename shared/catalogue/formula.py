"""A small, safe formula language for metric definitions and validation rules.

Grammar (no ``eval``; a hand-written recursive-descent parser)::

    check   := expr (("<=" | "<" | ">=" | ">" | "==" | "!=") expr)?   # rules only
    expr    := term (("+" | "-") term)*
    term    := unary (("*" | "/") unary)*
    unary   := ("+" | "-") unary | atom
    atom    := NUMBER | NAME | NAME "(" expr ("," expr)* ")" | "(" expr ")"

``NAME`` is a question key (``[A-Za-z_][A-Za-z0-9_]*``). Functions:

- ``min(a, b, ...)`` / ``max(a, b, ...)``: element-wise, null if any argument is null.
- ``sum(a, b, ...)``: same as ``a + b + ...``.
- ``nonzero(x)``: ``x``, or null (no value) where ``x`` is 0. The explicit guard for a
  denominator that may legitimately be zero.

Division rule (checked when a catalogue is loaded): every denominator must be *provably
non-zero* for all answers inside the questions' declared ranges. Each sub-expression is
given the set of signs {-, 0, +} it can take: a question from its ``min``/``max`` (no
``min`` means unbounded below), a literal from its value, ``nonzero(x)`` removes 0, and
``+ - * / min max`` combine the sign sets exactly as the operators combine signs (a sum of
a positive and a non-negative term is positive; a positive plus a negative may be
anything). A division whose denominator's set contains 0 is an error. So ``a / users``
is fine when ``users`` declares ``min: 1``; ``a / ict_fte`` with ``min: 0`` is rejected,
and ``a / nonzero(ict_fte)`` is accepted (an organisation with no ICT FTE gets no value).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeAlias

import polars as pl

FUNCTIONS: frozenset[str] = frozenset({"min", "max", "sum", "nonzero"})
COMPARISONS: frozenset[str] = frozenset({"<=", "<", ">=", ">", "==", "!="})

Sign: TypeAlias = frozenset[int]
ANY_SIGN: Sign = frozenset({-1, 0, 1})


class FormulaError(ValueError):
    """A formula that cannot be compiled. ``position`` is the 0-based column of the token."""

    def __init__(self, message: str, *, token: str = "", position: int = -1) -> None:
        super().__init__(message)
        self.message = message
        self.token = token
        self.position = position


# ---------------------------------------------------------------- AST


@dataclass(frozen=True)
class Num:
    value: float
    pos: int


@dataclass(frozen=True)
class Name:
    key: str
    pos: int


@dataclass(frozen=True)
class Neg:
    operand: Node
    pos: int


@dataclass(frozen=True)
class BinOp:
    op: str
    left: Node
    right: Node
    pos: int


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple[Node, ...]
    pos: int


@dataclass(frozen=True)
class Compare:
    op: str
    left: Node
    right: Node
    pos: int


Node: TypeAlias = Num | Name | Neg | BinOp | Call


# ---------------------------------------------------------------- tokenizer

_TOKEN = re.compile(
    r"\s*(?:(?P<num>\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<op><=|>=|==|!=|[-+*/(),<>]))"
)


@dataclass(frozen=True)
class _Tok:
    kind: str  # num | name | op | end
    text: str
    pos: int


def _tokenize(text: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    i = 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        m = _TOKEN.match(text, i)
        if m is None or m.lastgroup is None:
            raise FormulaError(
                f"unexpected character {text[i]!r} at column {i + 1}", token=text[i], position=i
            )
        kind = m.lastgroup
        tokens.append(_Tok(kind, m.group(kind), m.start(kind)))
        i = m.end()
    tokens.append(_Tok("end", "", len(text)))
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.toks = _tokenize(text)
        self.i = 0

    def peek(self) -> _Tok:
        return self.toks[self.i]

    def take(self) -> _Tok:
        tok = self.toks[self.i]
        self.i += 1
        return tok

    def expect(self, text: str) -> _Tok:
        tok = self.take()
        if tok.text != text or tok.kind != "op":
            raise self.error(tok, f"expected {text!r}")
        return tok

    def error(self, tok: _Tok, what: str) -> FormulaError:
        shown = repr(tok.text) if tok.kind != "end" else "end of formula"
        return FormulaError(
            f"syntax error: {what}, found {shown} at column {tok.pos + 1}",
            token=tok.text,
            position=tok.pos,
        )

    def parse_check(self) -> Compare:
        left = self.parse_expr()
        tok = self.take()
        if tok.kind != "op" or tok.text not in COMPARISONS:
            raise self.error(tok, "expected a comparison (<=, <, >=, >, ==, !=)")
        right = self.parse_expr()
        self.finish()
        return Compare(tok.text, left, right, tok.pos)

    def parse_formula(self) -> Node:
        node = self.parse_expr()
        self.finish()
        return node

    def finish(self) -> None:
        tok = self.peek()
        if tok.kind != "end":
            raise self.error(tok, "unexpected token")

    def parse_expr(self) -> Node:
        node = self.parse_term()
        while self.peek().kind == "op" and self.peek().text in "+-":
            tok = self.take()
            node = BinOp(tok.text, node, self.parse_term(), tok.pos)
        return node

    def parse_term(self) -> Node:
        node = self.parse_unary()
        while self.peek().kind == "op" and self.peek().text in ("*", "/"):
            tok = self.take()
            node = BinOp(tok.text, node, self.parse_unary(), tok.pos)
        return node

    def parse_unary(self) -> Node:
        tok = self.peek()
        if tok.kind == "op" and tok.text in ("+", "-"):
            self.take()
            operand = self.parse_unary()
            return operand if tok.text == "+" else Neg(operand, tok.pos)
        return self.parse_atom()

    def parse_atom(self) -> Node:
        tok = self.take()
        if tok.kind == "num":
            return Num(float(tok.text), tok.pos)
        if tok.kind == "name":
            if self.peek().kind == "op" and self.peek().text == "(":
                if tok.text not in FUNCTIONS:
                    raise FormulaError(
                        f"unknown function {tok.text!r} at column {tok.pos + 1} "
                        f"(known: {', '.join(sorted(FUNCTIONS))})",
                        token=tok.text,
                        position=tok.pos,
                    )
                self.take()
                args = [self.parse_expr()]
                while self.peek().kind == "op" and self.peek().text == ",":
                    self.take()
                    args.append(self.parse_expr())
                self.expect(")")
                if tok.text == "nonzero" and len(args) != 1:
                    raise FormulaError(
                        f"nonzero() takes exactly one argument (column {tok.pos + 1})",
                        token=tok.text,
                        position=tok.pos,
                    )
                return Call(tok.text, tuple(args), tok.pos)
            if tok.text in FUNCTIONS:
                raise self.error(self.peek(), f"expected '(' after {tok.text}")
            return Name(tok.text, tok.pos)
        if tok.kind == "op" and tok.text == "(":
            node = self.parse_expr()
            self.expect(")")
            return node
        raise self.error(tok, "expected a number, question key or '('")


def parse_formula(text: str) -> Node:
    """Parse an arithmetic formula; raises FormulaError on a syntax error."""
    return _Parser(text).parse_formula()


def parse_check(text: str) -> Compare:
    """Parse a rule check ``expr <op> expr``; raises FormulaError on a syntax error."""
    return _Parser(text).parse_check()


# ---------------------------------------------------------------- analysis


def names(node: Node | Compare) -> list[Name]:
    """Every question reference in the tree, in source order."""
    match node:
        case Num():
            return []
        case Name():
            return [node]
        case Neg():
            return names(node.operand)
        case BinOp() | Compare():
            return names(node.left) + names(node.right)
        case Call():
            return [n for a in node.args for n in names(a)]


def range_signs(lo: float | None, hi: float | None) -> Sign:
    """The signs a value in [lo, hi] can take (None = unbounded)."""
    low = -math.inf if lo is None else lo
    high = math.inf if hi is None else hi
    signs = set()
    if low < 0:
        signs.add(-1)
    if low <= 0 <= high:
        signs.add(0)
    if high > 0:
        signs.add(1)
    return frozenset(signs)


def _combine(a: Sign, b: Sign, f: Callable[[int, int], Sign]) -> Sign:
    out: set[int] = set()
    for x in a:
        for y in b:
            out |= f(x, y)
    return frozenset(out)


def _add(x: int, y: int) -> Sign:
    if x == 0:
        return frozenset({y})
    if y == 0 or x == y:
        return frozenset({x})
    return ANY_SIGN


def _mul(x: int, y: int) -> Sign:
    return frozenset({x * y})


def _render(node: Node, text: str) -> str:
    """Best-effort source text of a sub-expression, for messages."""
    match node:
        case Num():
            return f"{node.value:g}"
        case Name():
            return node.key
        case Neg():
            return f"-{_render(node.operand, text)}"
        case BinOp():
            return f"({_render(node.left, text)} {node.op} {_render(node.right, text)})"
        case Call():
            return f"{node.func}({', '.join(_render(a, text) for a in node.args)})"


def signs(
    node: Node, ranges: Mapping[str, tuple[float | None, float | None]], text: str = ""
) -> Sign:
    """Possible signs of ``node``; raises FormulaError on a possibly-zero denominator."""
    match node:
        case Num():
            return frozenset({(node.value > 0) - (node.value < 0)})
        case Name():
            lo, hi = ranges[node.key]
            return range_signs(lo, hi)
        case Neg():
            return frozenset(-s for s in signs(node.operand, ranges, text))
        case BinOp():
            left = signs(node.left, ranges, text)
            right = signs(node.right, ranges, text)
            if node.op == "+":
                return _combine(left, right, _add)
            if node.op == "-":
                return _combine(left, frozenset(-s for s in right), _add)
            if node.op == "*":
                return _combine(left, right, _mul)
            if 0 in right:
                denom = _render(node.right, text)
                if denom.startswith("(") and denom.endswith(")"):
                    denom = denom[1:-1]
                raise FormulaError(
                    f"denominator {denom!r} (after '/' at column {node.pos + 1}) may be zero "
                    f"within the declared ranges of "
                    f"{', '.join(sorted({n.key for n in names(node.right)})) or 'its terms'}; "
                    f"declare min > 0 on the question or guard it with nonzero(...)",
                    token=denom,
                    position=node.pos,
                )
            return _combine(left, right, _mul)
        case Call():
            arg_signs = [signs(a, ranges, text) for a in node.args]
            if node.func == "nonzero":
                return arg_signs[0] - {0} or frozenset({-1, 1})
            if node.func == "sum":
                out = arg_signs[0]
                for s in arg_signs[1:]:
                    out = _combine(out, s, _add)
                return out
            pick = min if node.func == "min" else max
            out = arg_signs[0]
            for s in arg_signs[1:]:
                out = _combine(out, s, lambda x, y: frozenset({pick(x, y)}))
            return out


# ---------------------------------------------------------------- evaluation


def to_polars(node: Node) -> pl.Expr:
    """Compile to a Polars expression over columns named by question keys (Float64)."""
    match node:
        case Num():
            return pl.lit(node.value, dtype=pl.Float64)
        case Name():
            return pl.col(node.key).cast(pl.Float64)
        case Neg():
            return -to_polars(node.operand)
        case BinOp():
            left, right = to_polars(node.left), to_polars(node.right)
            if node.op == "+":
                return left + right
            if node.op == "-":
                return left - right
            if node.op == "*":
                return left * right
            return left / right
        case Call():
            args = [to_polars(a) for a in node.args]
            if node.func == "nonzero":
                return pl.when(args[0] != 0).then(args[0]).otherwise(None)
            if node.func == "sum":
                return pl.sum_horizontal(args, ignore_nulls=False)
            if node.func == "min":
                # min_horizontal skips nulls; a missing input must give no value instead.
                return (
                    pl.when(pl.any_horizontal([a.is_null() for a in args]))
                    .then(None)
                    .otherwise(pl.min_horizontal(args))
                )
            return (
                pl.when(pl.any_horizontal([a.is_null() for a in args]))
                .then(None)
                .otherwise(pl.max_horizontal(args))
            )


def evaluate(node: Node, env: Mapping[str, float | None]) -> float | None:
    """Evaluate on scalars; None (missing input, zero guard, x/0) propagates as None."""
    match node:
        case Num():
            return node.value
        case Name():
            return env.get(node.key)
        case Neg():
            v = evaluate(node.operand, env)
            return None if v is None else -v
        case BinOp():
            a, b = evaluate(node.left, env), evaluate(node.right, env)
            if a is None or b is None:
                return None
            if node.op == "+":
                return a + b
            if node.op == "-":
                return a - b
            if node.op == "*":
                return a * b
            return None if b == 0 else a / b
        case Call():
            vals = [evaluate(a, env) for a in node.args]
            if any(v is None for v in vals):
                return None
            nums: Sequence[float] = [v for v in vals if v is not None]
            if node.func == "nonzero":
                return None if nums[0] == 0 else nums[0]
            if node.func == "sum":
                return math.fsum(nums)
            return min(nums) if node.func == "min" else max(nums)


_COMPARE_SCALAR: dict[str, Callable[[float, float], bool]] = {
    "<=": lambda a, b: a <= b,
    "<": lambda a, b: a < b,
    ">=": lambda a, b: a >= b,
    ">": lambda a, b: a > b,
    "==": lambda a, b: math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9),
    "!=": lambda a, b: not math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9),
}


def evaluate_check(check: Compare, env: Mapping[str, float | None]) -> bool | None:
    """True/False for a rule check; None when an input is missing (rule not applicable)."""
    a, b = evaluate(check.left, env), evaluate(check.right, env)
    if a is None or b is None:
        return None
    return _COMPARE_SCALAR[check.op](a, b)


def check_to_polars(check: Compare) -> pl.Expr:
    """The rule as a boolean expression (null where an input is missing)."""
    a, b = to_polars(check.left), to_polars(check.right)
    match check.op:
        case "<=":
            return a <= b
        case "<":
            return a < b
        case ">=":
            return a >= b
        case ">":
            return a > b
        case "==":
            return a == b
        case _:
            return a != b
