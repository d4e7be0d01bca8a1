#!/usr/bin/env python3
"""Mutation testing of Yardstick's rule modules: does the suite notice when a rule changes?

    .venv/bin/python tools/mutation.py                 # every target; prints the kill rate
    .venv/bin/python tools/mutation.py --target access --target csv_escaping
    .venv/bin/python tools/mutation.py --list          # the mutants, without running tests

Each mutant is one small change to one rule function (a comparison's boundary, an
arithmetic or boolean operator, a constant off by one, min for max, a clip or a sort
tie-break dropped), written into a scratch copy of the project; the target's tests run
against that copy (``pytest -x``). A mutant is *killed* when a test fails (or the run times
out), *survived* when every test passes: a survivor is a rule no test guards. The working
tree is never modified.

Why a script and not ``mutmut``: mutmut 3 rewrites the whole package into ``mutants/``
with trampolines and runs tests in forked workers, which does not fit the session plugin
(``-p shared.testing.plugin``, a database per pytest process) and xdist; a curated list
of operators over named functions keeps a full run to minutes on two cores.
"""

from __future__ import annotations

import argparse
import ast
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[1]
COPIED = ("shared", "services", "tests", "yardstick", "migrations")
COPIED_FILES = ("pyproject.toml", "alembic.ini")


@dataclass(frozen=True)
class Target:
    """Functions (``name`` or ``Class.method``) of one module, and the tests that guard them."""

    module: str
    functions: tuple[str, ...]
    tests: tuple[str, ...]


# The rule modules of issue #9 item 12; tests ordered fastest first (pytest -x stops early).
TARGETS: dict[str, list[Target]] = {
    "statistics": [
        Target(
            "services/metrics/benchmark/engine.py",
            ("_stats", "quartile_band", "quartile_band_expr", "rank_of_n", "rank_expr"),
            ("tests/unit/benchmark/test_benchmark_engine.py",),
        ),
        Target(
            "services/metrics/figures.py",
            ("half_up", "half_up_pct", "half_up_float", "nps"),
            ("tests/unit/test_figures.py", "tests/unit/survey/test_survey_engine.py"),
        ),
        Target(
            "services/metrics/surveys/engine.py",
            ("response_rate",),
            ("tests/unit/survey/test_survey_engine.py",),
        ),
        Target(
            "services/metrics/benchmark/service.py",
            ("distribution",),
            ("tests/metrics/test_results.py::test_distribution_orders_tied_values_by_code",),
        ),
    ],
    "sla_clock": [
        Target(
            "services/metrics/sla/engine.py",
            (
                "_interval_parts",
                "_status_parts",
                "_apply_priority_history",
                "_merge",
                "evaluate_tickets",
                "evaluate_olas",
            ),
            ("tests/unit/sla",),
        ),
        Target(
            "services/metrics/sla/calendar.py",
            ("business_seconds", "instant_at", "_minutes", "_local_instant", "_subtract"),
            ("tests/unit/sla",),
        ),
    ],
    "suppression": [
        Target(
            "services/metrics/benchmark/engine.py",
            ("_check_min_n", "_suppress"),
            ("tests/unit/benchmark/test_benchmark_engine.py",),
        ),
        Target(
            "services/metrics/surveys/engine.py",
            ("check_threshold", "suppression_flags"),
            ("tests/unit/survey/test_survey_engine.py",),
        ),
    ],
    "access": [
        Target(
            "services/metrics/benchmark/service.py",
            ("add_months", "check_caller", "check_access"),
            (
                "tests/metrics/test_results.py::test_check_access_boundaries",
                "tests/metrics/test_results.py::test_access_ends_twelve_months_after_release_with_the_reason",
                "tests/metrics/test_results.py::test_access_is_refused_on_the_day_it_ends_and_given_the_day_before",
                "tests/metrics/test_results_cache.py",
            ),
        ),
        Target(
            "shared/auth.py",
            ("Principal.is_admin", "Principal.has_any_role", "Principal.can_see_organisation"),
            (
                "tests/metrics/test_results.py::test_check_access_boundaries",
                "tests/shared/test_auth.py",
            ),
        ),
    ],
    "csv_escaping": [
        Target(
            "shared/tabular.py",
            ("FORMULA_START", "csv_cell", "csv_text"),
            (
                "tests/shared/test_tabular.py",
                "tests/metrics/test_sla_reports.py::test_csv_escapes_formula_cells_and_participants_see_only_their_own",
                "tests/metrics/test_survey_results.py::test_csv_cells_that_could_be_formulas_are_escaped",
            ),
        ),
    ],
}

# ------------------------------------------------------------------ operators

_COMPARE: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
_BINARY: dict[type[ast.operator], type[ast.operator]] = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.Div,
    ast.Div: ast.Mult,
    ast.FloorDiv: ast.Mult,
    ast.Mod: ast.FloorDiv,
}
_BOOL: dict[type[ast.boolop], type[ast.boolop]] = {ast.And: ast.Or, ast.Or: ast.And}
# method or function names swapped for their opposite (Polars and builtins)
_NAMES = {
    "min": "max",
    "max": "min",
    "min_horizontal": "max_horizontal",
    "max_horizontal": "min_horizontal",
    "first": "last",
    "last": "first",
    "floor": "ceil",
    "ceil": "floor",
    "any": "all",
    "all": "any",
}
# calls replaced by their first argument: a clip or bound dropped
_DROP_CALL = {"max_horizontal", "min_horizontal", "max", "min", "round", "abs"}


@dataclass(frozen=True)
class Mutant:
    target: str
    module: str
    index: int  # the index-th mutation site in the module's chosen functions
    line: int
    description: str


def _name_of(func: ast.expr) -> str | None:
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return None


class _Sites(ast.NodeTransformer):
    """Walks the chosen functions in a fixed order, numbering every mutation site; with
    ``apply`` set it performs the site of that number and leaves the rest alone."""

    def __init__(self, functions: Sequence[str], apply: int | None = None) -> None:
        self.functions = set(functions)
        self.apply = apply
        self.found: list[tuple[int, str]] = []
        self._scope: list[str] = []
        self._active = 0

    # scope -------------------------------------------------------------
    def _visit_scope(self, node: ast.AST, name: str) -> ast.AST:
        self._scope.append(name)
        qualname = ".".join(self._scope)
        chosen = qualname in self.functions or name in self.functions
        chosen = chosen and not isinstance(node, ast.ClassDef)
        if chosen:
            self._active += 1
        try:
            # decorators, defaults and annotations belong to a function but are not its rule
            if (chosen or self._active) and isinstance(node, ast.FunctionDef):
                node.body = [self.visit(stmt) for stmt in node.body]
                return node
            return self.generic_visit(node)
        finally:
            if chosen:
                self._active -= 1
            self._scope.pop()

    def visit_ClassDef(self, node: ast.ClassDef) -> ast.AST:
        return self._visit_scope(node, node.name)

    def visit_FunctionDef(self, node: ast.FunctionDef) -> ast.AST:
        return self._visit_scope(node, node.name)

    # sites -------------------------------------------------------------
    def _site(self, node: ast.AST, description: str) -> bool:
        """Record a site; True when it is the one to apply now."""
        number = len(self.found)
        self.found.append((getattr(node, "lineno", 0), description))
        return number == self.apply

    def visit_Assign(self, node: ast.Assign) -> ast.AST:
        # a module-level constant named in ``functions`` (e.g. FORMULA_START) is a rule too
        names = {t.id for t in node.targets if isinstance(t, ast.Name)}
        chosen = not self._scope and bool(names & self.functions)
        self._active += chosen
        try:
            self.generic_visit(node)
            if chosen and isinstance(node.value, ast.Tuple | ast.List | ast.Set):
                for i, element in enumerate(list(node.value.elts)):
                    if self._site(node, f"{ast.unparse(element)} dropped from {min(names)}"):
                        del node.value.elts[i]
            return node
        finally:
            self._active -= chosen

    def visit_Expr(self, node: ast.Expr) -> ast.AST:
        # docstrings and bare constants are not rules
        if isinstance(node.value, ast.Constant):
            return node
        self.generic_visit(node)
        # a call made for its effect (a check that raises): removed
        if (
            self._active
            and isinstance(node.value, ast.Call)
            and self._site(node, f"{ast.unparse(node.value.func)}(…) call removed")
        ):
            return ast.copy_location(ast.Pass(), node)
        return node

    def visit_Raise(self, node: ast.Raise) -> ast.AST:
        self.generic_visit(node)
        unreachable = node.exc is not None and "AssertionError" in ast.unparse(node.exc)
        if self._active and not unreachable and self._site(node, "raise removed"):
            return ast.copy_location(ast.Pass(), node)
        return node

    def visit_IfExp(self, node: ast.IfExp) -> ast.AST:
        self.generic_visit(node)
        if not self._active:
            return node
        if self._site(node, "a if c else b -> b"):
            return node.orelse
        if self._site(node, "a if c else b -> a"):
            return node.body
        return node

    def visit_Compare(self, node: ast.Compare) -> ast.AST:
        self.generic_visit(node)
        if not self._active:
            return node
        for i, op in enumerate(node.ops):
            swap = _COMPARE.get(type(op))
            if swap and self._site(node, f"{type(op).__name__} -> {swap.__name__}"):
                node.ops[i] = swap()
        return node

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        self.generic_visit(node)
        swap = _BINARY.get(type(node.op))
        if (
            self._active
            and swap
            and not (isinstance(node.left, ast.Constant) and isinstance(node.left.value, str))
            and self._site(node, f"{type(node.op).__name__} -> {swap.__name__}")
        ):
            node.op = swap()
        return node

    def visit_BoolOp(self, node: ast.BoolOp) -> ast.AST:
        self.generic_visit(node)
        swap = _BOOL[type(node.op)]
        if self._active and self._site(node, f"{type(node.op).__name__} -> {swap.__name__}"):
            node.op = swap()
        return node

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        self.generic_visit(node)
        if not self._active:
            return node
        if isinstance(node.op, ast.Not) and self._site(node, "not x -> x"):
            return node.operand
        if (
            isinstance(node.op, ast.USub | ast.Invert)
            and not isinstance(node.operand, ast.Constant)
            and self._site(node, f"{type(node.op).__name__} x -> x")
        ):
            return node.operand
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if not self._active:
            return node
        value = node.value
        if isinstance(value, bool):
            if self._site(node, f"{value} -> {not value}"):
                return ast.copy_location(ast.Constant(not value), node)
        elif isinstance(value, int) and self._site(node, f"{value} -> {value + 1}"):
            return ast.copy_location(ast.Constant(value + 1), node)
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        self.generic_visit(node)
        if not self._active:
            return node
        name = _name_of(node.func)
        if name in _NAMES and self._site(node, f"{name}() -> {_NAMES[name]}()"):
            if isinstance(node.func, ast.Attribute):
                node.func.attr = _NAMES[name]
            elif isinstance(node.func, ast.Name):
                node.func.id = _NAMES[name]
            return node
        if (
            name in _DROP_CALL
            and len(node.args) >= 2 - (name in ("round", "abs"))
            and not node.keywords
            and self._site(node, f"{name}(a, …) -> a")
        ):
            return node.args[0]
        return node

    def visit_Lambda(self, node: ast.Lambda) -> ast.AST:
        self.generic_visit(node)
        # a sort key's tie-breaks: lambda r: (a, b) -> lambda r: a
        if (
            self._active
            and isinstance(node.body, ast.Tuple)
            and len(node.body.elts) >= 2
            and self._site(node, "key (a, b, …) -> a: tie-break dropped")
        ):
            node.body = node.body.elts[0]
        return node


def mutants(name: str, target: Target) -> list[Mutant]:
    tree = ast.parse((ROOT / target.module).read_text(encoding="utf-8"))
    sites = _Sites(target.functions)
    sites.visit(tree)
    missing = set(target.functions) - _defined(tree)
    if missing:
        raise SystemExit(f"{target.module}: no function {sorted(missing)} (update TARGETS)")
    return [
        Mutant(name, target.module, i, line, description)
        for i, (line, description) in enumerate(sites.found)
    ]


def _defined(tree: ast.Module) -> set[str]:
    names: set[str] = set()

    def walk(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names.add(prefix + child.name)
                walk(child, prefix + child.name + ".")

    walk(tree, "")
    for node in tree.body:
        if isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
    return names


def mutated_source(target: Target, index: int | None) -> str:
    """The module's source with mutation ``index`` applied (None: none, same unparse)."""
    tree = ast.parse((ROOT / target.module).read_text(encoding="utf-8"))
    _Sites(target.functions, apply=index).visit(tree)
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


# ------------------------------------------------------------------ running


@dataclass
class Outcome:
    mutant: Mutant
    status: str  # killed | survived | timeout
    seconds: float


@dataclass
class Summary:
    outcomes: list[Outcome] = field(default_factory=list)

    def by_target(self) -> dict[str, tuple[int, int]]:
        out: dict[str, tuple[int, int]] = {}
        for o in self.outcomes:
            killed, total = out.get(o.mutant.target, (0, 0))
            out[o.mutant.target] = (killed + (o.status != "survived"), total + 1)
        return out


def scratch_copy() -> Path:
    """A copy of the project (sources, tests, migrations) that mutants are written into."""
    where = Path(tempfile.mkdtemp(prefix="yardstick-mutation-"))
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")
    for name in COPIED:
        shutil.copytree(ROOT / name, where / name, ignore=ignore)
    for name in COPIED_FILES:
        shutil.copy2(ROOT / name, where / name)
    return where


def run_tests(where: Path, tests: Sequence[str], timeout: float) -> tuple[str, float]:
    """``passed`` / ``failed`` / ``timeout`` of the tests against the copy at ``where``."""
    cmd = [sys.executable, "-m", "pytest", "-x", "-q", "-n", "0", "-p", "no:cacheprovider"]
    # python -m puts the working directory first on sys.path, so the copy's packages shadow
    # the editable install of the real tree
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    started = time.monotonic()
    try:
        code = subprocess.run(
            [*cmd, *tests],
            cwd=where,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
        ).returncode
    except subprocess.TimeoutExpired:
        return "timeout", time.monotonic() - started
    elapsed = time.monotonic() - started
    if code == 0:
        return "passed", elapsed
    if code == 1:
        return "failed", elapsed
    return f"error {code}", elapsed


def run(names: Sequence[str], *, limit: int | None = None, out: IO[str] = sys.stdout) -> Summary:
    summary = Summary()
    where = scratch_copy()
    try:
        for name in names:
            for target in TARGETS[name]:
                found = mutants(name, target)[:limit]
                path = where / target.module
                original = path.read_text(encoding="utf-8")
                # baseline: the unmutated (unparsed) module must pass, or nothing is measured
                path.write_text(mutated_source(target, None), encoding="utf-8")
                status, base = run_tests(where, target.tests, timeout=900)
                if status != "passed":
                    raise SystemExit(
                        f"{target.module}: the tests {status} without any mutation: "
                        f"{' '.join(target.tests)}"
                    )
                print(
                    f"# {name}: {target.module}: {len(found)} mutants, baseline {base:.1f} s",
                    file=out,
                    flush=True,
                )
                for m in found:
                    path.write_text(mutated_source(target, m.index), encoding="utf-8")
                    status, seconds = run_tests(where, target.tests, timeout=base * 3 + 30)
                    result = {"failed": "killed", "passed": "survived"}.get(status, status)
                    if result.startswith("error"):
                        result = "killed"  # collection or import broke: noticed too
                    summary.outcomes.append(Outcome(m, result, seconds))
                    print(
                        f"{result:8} {m.module}:{m.line} {m.description} ({seconds:.1f} s)",
                        file=out,
                        flush=True,
                    )
                path.write_text(original, encoding="utf-8")
    finally:
        shutil.rmtree(where, ignore_errors=True)
    return summary


def report(summary: Summary, out: IO[str] = sys.stdout) -> None:
    total_killed = total = 0
    print("\ntarget          killed / mutants   kill rate", file=out)
    for name, (killed, count) in summary.by_target().items():
        total_killed, total = total_killed + killed, total + count
        print(f"{name:15} {killed:6} / {count:<8} {100 * killed / count:8.1f} %", file=out)
    if total:
        print(
            f"{'all':15} {total_killed:6} / {total:<8} {100 * total_killed / total:8.1f} %",
            file=out,
        )
    survivors = [o for o in summary.outcomes if o.status == "survived"]
    if survivors:
        print("\nsurvived (no test noticed):", file=out)
        for o in survivors:
            print(f"  {o.mutant.module}:{o.mutant.line} {o.mutant.description}", file=out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--target", action="append", choices=sorted(TARGETS), help="repeat; default: all"
    )
    parser.add_argument("--limit", type=int, help="at most this many mutants per module")
    parser.add_argument("--list", action="store_true", help="list the mutants and stop")
    args = parser.parse_args(argv)
    # stopped with SIGTERM: still kill the running pytest and remove the scratch copy
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    names = args.target or list(TARGETS)
    if args.list:
        for name in names:
            for target in TARGETS[name]:
                for m in mutants(name, target)[: args.limit]:
                    print(f"{name:13} {m.module}:{m.line} {m.description}")
        return 0
    summary = run(names, limit=args.limit)
    report(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
