"""The catalogue of one cycle: modules, questions, metrics and cross-field rules.

Units, stated once so every consumer agrees:

- A ``percentage`` question is answered in percentage points (75.1 means 75.1 %), range
  0–100 unless narrowed.
- A metric with unit ``percent`` is also in percentage points (its formula multiplies by
  100), so 15.6 means 15.6 %. Never a fraction.
- ``gbp`` metrics and ``amount_gbp`` questions are in pounds (floats inside the engine;
  the HTTP layer renders money as decimal strings).
- ``ratio`` is a plain quotient, ``index`` a 0–100 score, ``rating`` a mean on the stated
  scale (1–7 or 1–5), ``count`` a number of things.
- ``choice`` answers are choice keys; each choice carries ``points``, which is the number a
  formula sees. ``boolean`` answers are 1 (true) or 0 (false) in formulas.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Literal, get_args

import polars as pl

from shared.catalogue import formula as fx

QuestionType = Literal["count", "amount_gbp", "percentage", "number", "choice", "boolean"]
MetricUnit = Literal["ratio", "percent", "gbp", "index", "rating", "count"]
Polarity = Literal["higher_better", "lower_better", "neutral"]
Severity = Literal["error", "warning"]

QUESTION_TYPES: tuple[str, ...] = get_args(QuestionType)
# Question types whose answers are plain numbers (a choice's points or a yes/no are not a
# quantity a distance can be measured on).
NUMERIC_QUESTION_TYPES: tuple[str, ...] = ("count", "amount_gbp", "percentage", "number")
METRIC_UNITS: tuple[str, ...] = get_args(MetricUnit)
POLARITIES: tuple[str, ...] = get_args(Polarity)
SEVERITIES: tuple[str, ...] = get_args(Severity)


@dataclass(frozen=True)
class Module:
    key: str
    name: str
    description: str = ""
    # SDMA is tracked across cycles but never compared with peers (DOMAIN.md "Surveys").
    peer_comparison: bool = True


@dataclass(frozen=True)
class Choice:
    key: str
    label: str
    points: float


@dataclass(frozen=True)
class Question:
    key: str
    module: str
    type: QuestionType
    label: str
    unit: str
    help: str
    min: float | None
    max: float | None
    choices: tuple[Choice, ...] = ()
    required: bool = False
    source: str = ""

    def choice_points(self) -> dict[str, float]:
        return {c.key: c.points for c in self.choices}

    def numeric(self, raw: object) -> float | None:
        """The number a formula sees for a raw answer (already validated), or None."""
        if raw is None:
            return None
        if self.type == "boolean":
            return 1.0 if raw is True else 0.0
        if self.type == "choice":
            return self.choice_points().get(str(raw))
        if isinstance(raw, int | float | Decimal) and not isinstance(raw, bool):
            return float(raw)
        return None


@dataclass(frozen=True)
class Metric:
    key: str
    name: str
    module: str
    formula: str
    unit: MetricUnit
    polarity: Polarity
    introduced_in: int
    changed_in: tuple[int, ...]
    description: str
    inputs: tuple[str, ...]
    source: str
    ast: fx.Node = field(compare=False, repr=False)

    def expr(self) -> pl.Expr:
        return fx.to_polars(self.ast).alias(self.key)

    def evaluate(self, values: Mapping[str, float | None]) -> float | None:
        return fx.evaluate(self.ast, values)


@dataclass(frozen=True)
class Rule:
    key: str
    check: str
    severity: Severity
    message: str
    questions: tuple[str, ...]
    source: str
    ast: fx.Compare = field(compare=False, repr=False)


@dataclass(frozen=True)
class OutlierThresholds:
    """A metric's reviewer-check thresholds (DOMAIN.md "Reviewer checks and peers"):
    |modified z| above ``modified_z``; outside Q1 − k·IQR .. Q3 + k·IQR with
    k = ``iqr_fence``; outside the organisation's own mean ± ``history_sd`` SD; a change
    from the previous cycle of more than ``year_on_year_pct`` per cent (None: not checked).
    ``sources`` names the file that set each field."""

    modified_z: float = 3.5
    iqr_fence: float = 3.0
    history_sd: float = 2.0
    year_on_year_pct: float | None = None
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict[str, float | None]:
        return {
            "modified_z": self.modified_z,
            "iqr_fence": self.iqr_fence,
            "history_sd": self.history_sd,
            "year_on_year_pct": self.year_on_year_pct,
        }


NeighbourSource = Literal["question", "attribute"]
# Organisation attributes a neighbour variable may name: numbers as they are, categories
# only as "the same as the organisation's own" (1) or not (0), with ``compare: same``.
NUMERIC_ATTRIBUTES: tuple[str, ...] = ("users", "population")
CATEGORICAL_ATTRIBUTES: tuple[str, ...] = ("type", "nation", "partnership")


@dataclass(frozen=True)
class NeighbourVariable:
    """One contextual variable of the nearest-neighbours model: a numeric question's
    accepted answer in the cycle, or an organisation attribute, with its weight."""

    key: str
    label: str
    source: NeighbourSource
    name: str  # the question key or the attribute
    weight: float
    compare_same: bool = False
    file: str = ""
    # "Where loaded": a value not every organisation has (population). When some of the
    # organisations compared lack it, the variable is left out of that suggestion (every
    # organisation is compared on the same variables), and the suggestion says so.
    where_loaded: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "label": self.label,
            "source": self.source,
            "name": self.name,
            "weight": self.weight,
            "compare": "same" if self.compare_same else "value",
            "where_loaded": self.where_loaded,
        }


@dataclass(frozen=True)
class Issue:
    """One problem with a set of answers. ``code`` is stable; ``message`` is for people."""

    question_keys: tuple[str, ...]
    severity: Severity
    code: str
    message: str
    rule_key: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "question_keys": list(self.question_keys),
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "rule_key": self.rule_key,
        }


_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _fmt(value: float | None) -> str:
    if value is None:
        return "?"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.4g}"


def _is_number(raw: object) -> bool:
    return isinstance(raw, int | float | Decimal) and not isinstance(raw, bool)


@dataclass(frozen=True)
class Catalogue:
    """One cycle's catalogue. ``cycle`` is the collection year (2020 holds 2019/20 data)."""

    cycle: int
    modules: Mapping[str, Module]
    questions: Mapping[str, Question]
    metrics: Mapping[str, Metric]
    rules: Mapping[str, Rule]
    # Every metric's thresholds (the ``default`` entry where it has no own entry).
    outliers: Mapping[str, OutlierThresholds] = field(default_factory=dict)
    neighbours: Mapping[str, NeighbourVariable] = field(default_factory=dict)

    def thresholds(self, metric_key: str) -> OutlierThresholds:
        return self.outliers.get(metric_key) or OutlierThresholds()

    @property
    def data_year(self) -> str:
        """The financial year the cost/estate/performance data describe, e.g. '2019/20'."""
        return f"{self.cycle - 1}/{self.cycle % 100:02d}"

    @property
    def data_year_code(self) -> str:
        """Two-digit code used in anonymous organisation codes, e.g. '19'."""
        return f"{(self.cycle - 1) % 100:02d}"

    def questions_for(self, module: str) -> dict[str, Question]:
        return {k: q for k, q in self.questions.items() if q.module == module}

    def metrics_for(self, module: str) -> dict[str, Metric]:
        return {k: m for k, m in self.metrics.items() if m.module == module}

    def metric_exprs(self) -> dict[str, pl.Expr]:
        """Polars expressions, one per metric, over a wide frame of question columns."""
        return {k: m.expr() for k, m in self.metrics.items()}

    def numeric_answers(self, answers: Mapping[str, object]) -> dict[str, float]:
        """Raw answers (choice keys, booleans, numbers) as formula inputs; unknown keys,
        None and invalid values are left out."""
        out: dict[str, float] = {}
        for key, raw in answers.items():
            q = self.questions.get(key)
            if q is None:
                continue
            v = q.numeric(raw)
            if v is not None and math.isfinite(v):
                out[key] = v
        return out

    # ------------------------------------------------------------ validation

    def validate_answers(
        self,
        module: str,
        answers: Mapping[str, object],
        context: Mapping[str, object] | None = None,
    ) -> list[Issue]:
        """Check one module's answers: unknown questions, types, ranges, required questions
        and cross-field rules. ``context`` holds the organisation's answers to other
        modules (e.g. ``users`` from estate for cost rules); it is read, not validated.
        None means "not answered". A rule is checked only when all its inputs are present
        and at least one belongs to ``module``."""
        if module not in self.modules:
            raise KeyError(f"unknown module {module!r} in catalogue {self.cycle}")
        issues: list[Issue] = []
        valid: dict[str, object] = {}
        for key, raw in answers.items():
            q = self.questions.get(key)
            if q is None:
                issues.append(
                    Issue(
                        (key,),
                        "error",
                        "unknown_question",
                        f"{key!r} is not a question in the {self.cycle} catalogue",
                    )
                )
                continue
            if q.module != module:
                issues.append(
                    Issue(
                        (key,),
                        "error",
                        "wrong_module",
                        f"{key!r} belongs to the {q.module} module, not {module}",
                    )
                )
                continue
            if raw is None:
                continue
            issue = self._check_value(q, raw)
            if issue is not None:
                issues.append(issue)
            else:
                valid[key] = raw
        for q in self.questions_for(module).values():
            if q.required and answers.get(q.key) is None:
                issues.append(
                    Issue((q.key,), "error", "required", f"{q.label} ({q.key}) is required")
                )
        env: dict[str, float | None] = dict(self.numeric_answers(context or {}))
        env.update(self.numeric_answers(valid))
        for rule in self.rules.values():
            if not any(self.questions[k].module == module for k in rule.questions):
                continue
            ok = fx.evaluate_check(rule.ast, env)
            if ok is None or ok:
                continue
            message = _PLACEHOLDER.sub(lambda m: _fmt(env.get(m.group(1))), rule.message)
            issues.append(Issue(rule.questions, rule.severity, "rule_violated", message, rule.key))
        return issues

    def _check_value(self, q: Question, raw: object) -> Issue | None:
        def bad(code: str, message: str) -> Issue:
            return Issue((q.key,), "error", code, f"{q.label} ({q.key}): {message}")

        if q.type == "boolean":
            return None if isinstance(raw, bool) else bad("wrong_type", "expected true or false")
        if q.type == "choice":
            if not isinstance(raw, str):
                return bad("wrong_type", "expected one of the choices as text")
            if raw not in q.choice_points():
                allowed = ", ".join(c.key for c in q.choices)
                return bad("invalid_choice", f"{raw!r} is not one of: {allowed}")
            return None
        if not _is_number(raw):
            return bad("wrong_type", f"expected a number, got {type(raw).__name__}")
        value = float(raw)  # type: ignore[arg-type]
        if not math.isfinite(value):
            return bad("not_finite", "must be a finite number")
        if q.type == "count" and not value.is_integer():
            return bad("not_integer", f"expected a whole number, got {_fmt(value)}")
        if q.min is not None and value < q.min:
            return bad("out_of_range", f"{_fmt(value)} is below the minimum {_fmt(q.min)}")
        if q.max is not None and value > q.max:
            return bad("out_of_range", f"{_fmt(value)} is above the maximum {_fmt(q.max)}")
        return None

    # ------------------------------------------------------------ serialisation

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable description of the catalogue (for the HTTP layer)."""
        return {
            "cycle": self.cycle,
            "data_year": self.data_year,
            "modules": [
                {
                    "key": m.key,
                    "name": m.name,
                    "description": m.description,
                    "peer_comparison": m.peer_comparison,
                }
                for m in self.modules.values()
            ],
            "questions": [
                {
                    "key": q.key,
                    "module": q.module,
                    "type": q.type,
                    "label": q.label,
                    "unit": q.unit,
                    "help": q.help,
                    "min": q.min,
                    "max": q.max,
                    "required": q.required,
                    "choices": [
                        {"key": c.key, "label": c.label, "points": c.points} for c in q.choices
                    ],
                }
                for q in self.questions.values()
            ],
            "metrics": [
                {
                    "key": m.key,
                    "name": m.name,
                    "module": m.module,
                    "formula": m.formula,
                    "inputs": list(m.inputs),
                    "unit": m.unit,
                    "polarity": m.polarity,
                    "introduced_in": m.introduced_in,
                    "changed_in": list(m.changed_in),
                    "description": m.description,
                    "outliers": self.thresholds(m.key).to_dict(),
                }
                for m in self.metrics.values()
            ],
            "rules": [
                {
                    "key": r.key,
                    "check": r.check,
                    "severity": r.severity,
                    "message": r.message,
                    "questions": list(r.questions),
                }
                for r in self.rules.values()
            ],
            "neighbours": [v.to_dict() for v in self.neighbours.values()],
        }
