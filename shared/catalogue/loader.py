"""Loading cycle catalogues from YAML.

Files live in ``shared/catalogue/data/``: ``base.yaml`` (no cycle) and one ``YYYY.yaml`` per
cycle, named by collection year. A cycle file has ``cycle: YYYY`` and usually
``extends: YYYY-1`` (or ``extends: base``); it starts from the resolved catalogue it
extends and then:

1. ``remove: {section: [key, ...]}`` deletes inherited items;
2. ``section: {key: {field: value}}`` adds an item (all required fields) or overrides
   fields of an inherited one (only the fields given change).

Sections: ``modules``, ``questions``, ``metrics``, ``rules``, and the reviewer checks'
settings: ``outliers`` (per metric key, or ``default`` for every metric: ``modified_z``,
``iqr_fence``, ``history_sd``, ``year_on_year_pct``; each a number >= 0) and
``neighbours`` (the nearest-neighbours model's contextual variables: ``question`` (a
numeric question) or ``attribute`` (``users``, ``population``; or ``type``, ``nation``,
``partnership`` with ``compare: same``), a ``weight`` >= 0, a ``label`` and optionally
``where_loaded: true`` for a value not every organisation has).

A metric's ``introduced_in`` is the first cycle it appears in (unless set explicitly) and
its ``changed_in`` lists every cycle whose formula or unit differs from the previous
cycle's, plus any cycles listed explicitly (for a change in meaning the formula does not
show, e.g. a question's definition was reworded).

Every problem found while loading is collected and raised together as one
``CatalogueError``, each line naming the cycle, the file that defined the item, the item
and the offending token.
"""

from __future__ import annotations

import difflib
import functools
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, cast

import yaml

from shared.catalogue import formula as fx
from shared.catalogue.model import (
    CATEGORICAL_ATTRIBUTES,
    METRIC_UNITS,
    NUMERIC_ATTRIBUTES,
    NUMERIC_QUESTION_TYPES,
    POLARITIES,
    QUESTION_TYPES,
    SEVERITIES,
    Catalogue,
    Choice,
    Metric,
    MetricUnit,
    Module,
    NeighbourVariable,
    OutlierThresholds,
    Polarity,
    Question,
    Rule,
    Severity,
)

DATA_DIR = Path(__file__).parent / "data"
SECTIONS = ("modules", "questions", "metrics", "rules", "outliers", "neighbours")
_CYCLE_FILE = re.compile(r"^(\d{4})\.yaml$")
_KEY = re.compile(r"^[a-z][a-z0-9_]*$")
_RESERVED = frozenset({"cycle_year", "organisation_id", "question_key", "value"})
_TOP_LEVEL = {"cycle", "extends", "description", "remove", *SECTIONS}
_FIELDS: dict[str, frozenset[str]] = {
    "modules": frozenset({"name", "description", "peer_comparison"}),
    "questions": frozenset(
        {"module", "type", "label", "unit", "help", "min", "max", "choices", "required"}
    ),
    "metrics": frozenset(
        {
            "name",
            "module",
            "formula",
            "unit",
            "polarity",
            "introduced_in",
            "changed_in",
            "description",
        }
    ),
    "rules": frozenset({"check", "severity", "message"}),
    "outliers": frozenset({"modified_z", "iqr_fence", "history_sd", "year_on_year_pct"}),
    "neighbours": frozenset(
        {"question", "attribute", "compare", "weight", "label", "where_loaded"}
    ),
}
_DEFAULT_UNIT: dict[str, str] = {
    "count": "count",
    "amount_gbp": "GBP",
    "percentage": "percent",
    "number": "",
    "choice": "points",
    "boolean": "",
}


class CatalogueError(ValueError):
    """One or more problems in catalogue files; ``errors`` has one line per problem."""

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors
        super().__init__("\n".join(errors))


@dataclass
class _Item:
    fields: dict[str, Any]
    sources: dict[str, str]  # field -> file that last set it

    def source(self, name: str | None = None) -> str:
        if name is not None and name in self.sources:
            return self.sources[name]
        return sorted(set(self.sources.values()))[-1] if self.sources else "?"


@dataclass
class _History:
    introduced_in: int
    signature: tuple[str, str]
    changed_in: set[int] = field(default_factory=set)


_State = dict[str, dict[str, _Item]]


# ---------------------------------------------------------------- public API


def available_cycles(directory: Path = DATA_DIR) -> tuple[int, ...]:
    """Cycle years (collection years) that have a catalogue file, ascending."""
    years = []
    for path in directory.iterdir():
        m = _CYCLE_FILE.match(path.name)
        if m:
            years.append(int(m.group(1)))
    return tuple(sorted(years))


@functools.cache
def load_catalogue(year: int) -> Catalogue:
    """The catalogue for collection year ``year`` from the packaged data (cached)."""
    return load_catalogue_from(DATA_DIR, year)


def load_catalogue_from(directory: Path, year: int) -> Catalogue:
    """Load and check one cycle's catalogue from ``directory`` (not cached)."""
    if year not in available_cycles(directory):
        raise CatalogueError([f"no catalogue for cycle {year} in {directory}"])
    errors: list[str] = []
    state: _State = {s: {} for s in SECTIONS}
    history: dict[str, _History] = {}
    for name, doc in _chain(directory, year, errors):
        _apply(state, doc, f"{name}.yaml", errors)
        cycle = doc.get("cycle")
        if isinstance(cycle, int):
            _record_history(state, history, cycle)
    if errors:
        raise CatalogueError(errors)
    return _build(year, state, history)


def build_catalogue(cycle: int, spec: Mapping[str, Any], source: str = "<memory>") -> Catalogue:
    """Build a catalogue from one in-memory spec (same shape as a cycle file, no
    ``extends``). Used by benchmarks and tests; runs every load-time check."""
    errors: list[str] = []
    state: _State = {s: {} for s in SECTIONS}
    _apply(state, dict(spec), source, errors)
    if errors:
        raise CatalogueError(errors)
    history: dict[str, _History] = {}
    _record_history(state, history, cycle)
    return _build(cycle, state, history)


# ---------------------------------------------------------------- layering


def _read(path: Path, errors: list[str]) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        errors.append(f"{path.name}: file not found (named by 'extends')")
        return {}
    except yaml.YAMLError as exc:
        errors.append(f"{path.name}: invalid YAML: {exc}")
        return {}
    if doc is None:
        return {}
    if not isinstance(doc, dict):
        errors.append(f"{path.name}: top level must be a mapping")
        return {}
    unknown = set(doc) - _TOP_LEVEL
    if unknown:
        errors.append(f"{path.name}: unknown top-level keys {sorted(unknown)}")
    return cast(dict[str, Any], doc)


def _chain(directory: Path, year: int, errors: list[str]) -> list[tuple[str, dict[str, Any]]]:
    """Files from the root ancestor to ``year``, each with its parsed document."""
    chain: list[tuple[str, dict[str, Any]]] = []
    name: str | None = str(year)
    seen: set[str] = set()
    while name is not None:
        if name in seen:
            errors.append(f"{name}.yaml: 'extends' forms a loop ({' -> '.join(seen)})")
            break
        seen.add(name)
        doc = _read(directory / f"{name}.yaml", errors)
        if name.isdigit():
            if doc.get("cycle") != int(name):
                errors.append(f"{name}.yaml: 'cycle' must be {name}, found {doc.get('cycle')!r}")
        elif "cycle" in doc:
            errors.append(f"{name}.yaml: only YYYY.yaml cycle files may set 'cycle'")
        chain.append((name, doc))
        parent = doc.get("extends")
        if (
            parent is not None
            and str(parent).isdigit()
            and name.isdigit()
            and int(parent) >= int(name)
        ):
            errors.append(f"{name}.yaml: must extend an earlier cycle, not {parent}")
            break
        name = None if parent is None else str(parent)
    chain.reverse()
    return chain


def _apply(state: _State, doc: Mapping[str, Any], source: str, errors: list[str]) -> None:
    remove = doc.get("remove") or {}
    if not isinstance(remove, dict):
        errors.append(f"{source}: 'remove' must map a section to a list of keys")
        remove = {}
    for section, keys in remove.items():
        if section not in SECTIONS or not isinstance(keys, list):
            errors.append(f"{source}: remove.{section}: expected one of {SECTIONS} with a list")
            continue
        for key in keys:
            if key not in state[section]:
                errors.append(f"{source}: remove.{section}: {key!r} is not inherited")
            else:
                del state[section][key]
    for section in SECTIONS:
        items = doc.get(section) or {}
        if not isinstance(items, dict):
            errors.append(f"{source}: '{section}' must be a mapping of key to fields")
            continue
        for key, fields in items.items():
            where = f"{source}: {section[:-1]} {key!r}"
            if not isinstance(key, str) or not _KEY.match(key):
                errors.append(f"{where}: keys are lower_snake_case")
                continue
            if section == "questions" and key in _RESERVED:
                errors.append(f"{where}: {key!r} is reserved (a column of the answers frame)")
                continue
            if not isinstance(fields, dict):
                errors.append(f"{where}: expected a mapping of fields (use 'remove' to delete)")
                continue
            unknown = set(fields) - _FIELDS[section]
            if unknown:
                errors.append(f"{where}: unknown fields {sorted(unknown)}")
            item = state[section].get(key)
            if item is None:
                item = state[section][key] = _Item({}, {})
            item.fields.update(fields)
            item.sources.update(dict.fromkeys(fields, source))


def _signature(fields: Mapping[str, Any]) -> tuple[str, str]:
    return ("".join(str(fields.get("formula", "")).split()), str(fields.get("unit", "")))


def _record_history(state: _State, history: dict[str, _History], cycle: int) -> None:
    for key, item in state["metrics"].items():
        sig = _signature(item.fields)
        h = history.get(key)
        if h is None:
            history[key] = _History(cycle, sig)
        elif h.signature != sig:
            h.changed_in.add(cycle)
            h.signature = sig


# ---------------------------------------------------------------- building


def _num(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("expected a number")
    return float(value)


def _build(cycle: int, state: _State, history: Mapping[str, _History]) -> Catalogue:
    errors: list[str] = []
    prefix = f"catalogue {cycle}"

    modules: dict[str, Module] = {}
    for key, item in state["modules"].items():
        f = item.fields
        if not isinstance(f.get("name"), str):
            errors.append(f"{prefix}, {item.source()}: module {key!r}: 'name' is required")
            continue
        modules[key] = Module(
            key, f["name"], str(f.get("description", "")), bool(f.get("peer_comparison", True))
        )

    questions: dict[str, Question] = {}
    for key, item in state["questions"].items():
        where = f"{prefix}, {item.source()}: question {key!r}"
        q = _question(key, item, where, modules, errors)
        if q is not None:
            questions[key] = q

    ranges = {k: (q.min, q.max) for k, q in questions.items()}

    metrics: dict[str, Metric] = {}
    for key, item in state["metrics"].items():
        f = item.fields
        where = f"{prefix}, {item.source('formula')}: metric {key!r}"
        missing = [n for n in ("name", "module", "formula", "unit", "polarity") if n not in f]
        if missing:
            errors.append(f"{where}: missing fields {missing}")
            continue
        if f["module"] not in modules:
            errors.append(f"{where}: unknown module {f['module']!r}")
        if f["unit"] not in METRIC_UNITS:
            errors.append(f"{where}: unit {f['unit']!r} is not one of {METRIC_UNITS}")
        if f["polarity"] not in POLARITIES:
            errors.append(f"{where}: polarity {f['polarity']!r} is not one of {POLARITIES}")
        text = str(f["formula"])
        ast = _compile(text, where, questions, ranges, errors, fx.parse_formula)
        if ast is None or isinstance(ast, fx.Compare):
            continue
        h = history[key]
        explicit = f.get("changed_in") or []
        if not isinstance(explicit, list) or not all(isinstance(y, int) for y in explicit):
            errors.append(f"{where}: 'changed_in' must be a list of cycle years")
            explicit = []
        introduced = f.get("introduced_in", h.introduced_in)
        if not isinstance(introduced, int):
            errors.append(f"{where}: 'introduced_in' must be a cycle year")
            introduced = h.introduced_in
        changed = tuple(sorted({*h.changed_in, *(y for y in explicit if y <= cycle)}))
        metrics[key] = Metric(
            key=key,
            name=str(f["name"]),
            module=str(f["module"]),
            formula=text,
            unit=cast(MetricUnit, f["unit"]),
            polarity=cast(Polarity, f["polarity"]),
            introduced_in=introduced,
            changed_in=changed,
            description=str(f.get("description", "")),
            inputs=tuple(dict.fromkeys(n.key for n in fx.names(ast))),
            source=item.source("formula"),
            ast=ast,
        )

    rules: dict[str, Rule] = {}
    for key, item in state["rules"].items():
        f = item.fields
        where = f"{prefix}, {item.source('check')}: rule {key!r}"
        if not isinstance(f.get("check"), str) or not isinstance(f.get("message"), str):
            errors.append(f"{where}: 'check' and 'message' are required")
            continue
        severity = f.get("severity", "error")
        if severity not in SEVERITIES:
            errors.append(f"{where}: severity {severity!r} is not one of {SEVERITIES}")
            continue
        check = _compile(f["check"], where, questions, ranges, errors, fx.parse_check)
        if not isinstance(check, fx.Compare):
            continue
        rules[key] = Rule(
            key=key,
            check=f["check"],
            severity=cast(Severity, severity),
            message=f["message"],
            questions=tuple(dict.fromkeys(n.key for n in fx.names(check))),
            source=item.source("check"),
            ast=check,
        )

    outliers = _outliers(state["outliers"], prefix, metrics, errors)
    neighbours = _neighbours(state["neighbours"], prefix, questions, errors)

    if errors:
        raise CatalogueError(errors)
    # Read-only views: cached catalogues are shared by every caller.
    return Catalogue(
        cycle,
        MappingProxyType(modules),
        MappingProxyType(questions),
        MappingProxyType(metrics),
        MappingProxyType(rules),
        MappingProxyType(outliers),
        MappingProxyType(neighbours),
    )


def _outliers(
    items: Mapping[str, _Item], prefix: str, metrics: Mapping[str, Metric], errors: list[str]
) -> dict[str, OutlierThresholds]:
    """Every metric's thresholds: its own entry's fields over ``default``'s over the
    built-in values. A threshold must be a number >= 0 (``year_on_year_pct`` may be null:
    no year-on-year check); each error names the file and the field."""
    checked: dict[str, tuple[dict[str, float | None], dict[str, str]]] = {}
    for key, item in items.items():
        if key != "default" and key not in metrics:
            errors.append(
                f"{prefix}, {item.source()}: outliers {key!r}: not a metric of this cycle "
                "(use a metric key or 'default')"
            )
            continue
        values: dict[str, float | None] = {}
        for name, raw in item.fields.items():
            where = f"{prefix}, {item.source(name)}: outliers {key!r}, field {name!r}"
            if raw is None and name == "year_on_year_pct":
                values[name] = None
            elif isinstance(raw, bool) or not isinstance(raw, int | float):
                errors.append(f"{where}: must be a number, got {raw!r}")
            elif not math.isfinite(raw) or raw < 0:
                errors.append(f"{where}: a threshold cannot be below zero, got {raw!r}")
            else:
                values[name] = float(raw)
        checked[key] = (values, {n: item.source(n) for n in item.fields})
    default_values, default_sources = checked.get("default", ({}, {}))
    out: dict[str, OutlierThresholds] = {}
    for key in metrics:
        own_values, own_sources = checked.get(key, ({}, {}))
        merged = {**default_values, **own_values}
        out[key] = OutlierThresholds(
            **cast(dict[str, Any], merged), sources={**default_sources, **own_sources}
        )
    return out


def _neighbours(
    items: Mapping[str, _Item],
    prefix: str,
    questions: Mapping[str, Question],
    errors: list[str],
) -> dict[str, NeighbourVariable]:
    """The nearest-neighbours variables. Each must be a number for every organisation: a
    numeric question, a numeric attribute, or a category compared as same-or-not."""
    out: dict[str, NeighbourVariable] = {}
    for key, item in items.items():
        f = item.fields

        def bad(name: str, message: str, key: str = key, item: _Item = item) -> None:
            errors.append(
                f"{prefix}, {item.source(name)}: neighbours {key!r}, field {name!r}: {message}"
            )

        has_q, has_a = "question" in f, "attribute" in f
        if has_q == has_a:
            bad("question", "give exactly one of 'question' or 'attribute'")
            continue
        weight = f.get("weight", 1)
        if isinstance(weight, bool) or not isinstance(weight, int | float):
            bad("weight", f"must be a number, got {weight!r}")
            continue
        if not math.isfinite(weight) or weight < 0:
            bad("weight", f"a weight cannot be below zero, got {weight!r}")
            continue
        compare = f.get("compare", "value")
        if compare not in ("value", "same"):
            bad("compare", f"must be 'value' or 'same', got {compare!r}")
            continue
        where_loaded = f.get("where_loaded", False)
        if not isinstance(where_loaded, bool):
            bad("where_loaded", f"must be true or false, got {where_loaded!r}")
            continue
        if has_q:
            name = str(f["question"])
            q = questions.get(name)
            if q is None:
                bad("question", f"{name!r} is not a question of this cycle")
                continue
            if q.type not in NUMERIC_QUESTION_TYPES or compare == "same":
                bad(
                    "question",
                    f"{name!r} is a {q.type} question, not numeric; use one of type "
                    f"{', '.join(NUMERIC_QUESTION_TYPES)}",
                )
                continue
            source = "question"
        else:
            name = str(f["attribute"])
            if name in CATEGORICAL_ATTRIBUTES and compare != "same":
                bad(
                    "attribute",
                    f"{name!r} is not numeric; add 'compare: same' to use it as "
                    "same-as-the-organisation (1) or not (0)",
                )
                continue
            if name not in (*NUMERIC_ATTRIBUTES, *CATEGORICAL_ATTRIBUTES):
                bad(
                    "attribute",
                    f"{name!r} is not an organisation attribute; use one of "
                    f"{', '.join((*NUMERIC_ATTRIBUTES, *CATEGORICAL_ATTRIBUTES))}",
                )
                continue
            if name in NUMERIC_ATTRIBUTES and compare == "same":
                bad("compare", f"{name!r} is numeric: compare it by value")
                continue
            source = "attribute"
        out[key] = NeighbourVariable(
            key=key,
            label=str(f.get("label", key)),
            source=cast(Any, source),
            name=name,
            weight=float(weight),
            compare_same=compare == "same",
            file=item.source(),
            where_loaded=where_loaded,
        )
    return out


def _question(
    key: str, item: _Item, where: str, modules: Mapping[str, Module], errors: list[str]
) -> Question | None:
    f = item.fields
    qtype = f.get("type")
    if qtype not in QUESTION_TYPES:
        errors.append(f"{where}: type {qtype!r} is not one of {QUESTION_TYPES}")
        return None
    if f.get("module") not in modules:
        errors.append(f"{where}: unknown module {f.get('module')!r}")
        return None
    if not isinstance(f.get("label"), str):
        errors.append(f"{where}: 'label' is required")
        return None
    choices: list[Choice] = []
    try:
        lo, hi = _num(f.get("min")), _num(f.get("max"))
        if qtype == "choice":
            raw = f.get("choices")
            if not isinstance(raw, list) or not raw:
                errors.append(f"{where}: a choice question needs a list of choices")
                return None
            for c in raw:
                points = _num(c.get("points")) if isinstance(c, dict) else None
                if points is None or not isinstance(c.get("key"), str):
                    errors.append(f"{where}: each choice needs 'key', 'label' and 'points'")
                    return None
                choices.append(Choice(c["key"], str(c.get("label", c["key"])), points))
            if len({c.key for c in choices}) != len(choices):
                errors.append(f"{where}: duplicate choice keys")
            lo, hi = min(c.points for c in choices), max(c.points for c in choices)
        elif "choices" in f:
            errors.append(f"{where}: only choice questions have 'choices'")
        elif qtype == "boolean":
            lo, hi = 0.0, 1.0
        elif qtype == "percentage":
            lo = 0.0 if lo is None else lo
            hi = 100.0 if hi is None else hi
            if lo < 0 or hi > 100:
                errors.append(f"{where}: a percentage's range must lie within 0-100")
        elif qtype in ("count", "amount_gbp"):
            lo = 0.0 if lo is None else lo
    except TypeError:
        errors.append(f"{where}: 'min', 'max' and choice 'points' must be numbers")
        return None
    if lo is not None and hi is not None and (lo > hi or not math.isfinite(lo + hi)):
        errors.append(f"{where}: min {lo:g} is above max {hi:g}")
    return Question(
        key=key,
        module=str(f["module"]),
        type=qtype,
        label=str(f["label"]),
        unit=str(f.get("unit", _DEFAULT_UNIT[qtype])),
        help=str(f.get("help", "")).strip(),
        min=lo,
        max=hi,
        choices=tuple(choices),
        required=bool(f.get("required", False)),
        source=item.source(),
    )


def _compile(
    text: str,
    where: str,
    questions: Mapping[str, Question],
    ranges: Mapping[str, tuple[float | None, float | None]],
    errors: list[str],
    parse: Callable[[str], fx.Node | fx.Compare],
) -> fx.Node | fx.Compare | None:
    try:
        tree = parse(text)
    except fx.FormulaError as exc:
        errors.append(f"{where}: formula {text!r}: {exc.message}")
        return None
    unknown = [n for n in fx.names(tree) if n.key not in questions]
    for n in unknown:
        hint = difflib.get_close_matches(n.key, list(questions), n=1)
        also = f" (did you mean {hint[0]!r}?)" if hint else ""
        errors.append(
            f"{where}: formula {text!r}: unknown question {n.key!r} at column {n.pos + 1}{also}"
        )
    if unknown:
        return None
    try:
        if isinstance(tree, fx.Compare):
            fx.signs(tree.left, ranges, text)
            fx.signs(tree.right, ranges, text)
        else:
            fx.signs(tree, ranges, text)
    except fx.FormulaError as exc:
        errors.append(f"{where}: formula {text!r}: {exc.message}")
        return None
    return tree
