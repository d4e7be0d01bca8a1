"""Load instruments from the YAML files beside this module, checking them as they load.

The YAML is data written by people; a mistake in it (a duplicate key, a scale without
labels, a factor range that does not exist) fails loudly here, naming the place, rather than
producing a form that silently collects the wrong thing.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from importlib import resources
from typing import Any, Literal, cast

import yaml

from .model import (
    ATTRIBUTE_PREFIX,
    Group,
    Instrument,
    Item,
    Option,
    Page,
    Question,
    QuestionType,
    ScalePoint,
    Section,
)

InstrumentKind = Literal["user_satisfaction", "user_skills", "sdma"]
KINDS: tuple[InstrumentKind, ...] = ("user_satisfaction", "user_skills", "sdma")
_TYPES: tuple[QuestionType, ...] = ("rating", "choice", "text", "nps")


class InstrumentDefinitionError(ValueError):
    """The YAML definition of an instrument is wrong; the message names where."""


@functools.cache
def load_instrument(kind: str) -> Instrument:
    """The instrument of this kind (``user_satisfaction``, ``user_skills`` or ``sdma``)."""
    if kind not in KINDS:
        raise KeyError(f"unknown instrument kind '{kind}'; expected one of {', '.join(KINDS)}")
    text = resources.files(__package__).joinpath(f"{kind}.yaml").read_text(encoding="utf-8")
    return parse_instrument(yaml.safe_load(text), source=f"{kind}.yaml")


def parse_instrument(data: Any, *, source: str = "<instrument>") -> Instrument:
    return _Parser(source).instrument(data)


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.scales: dict[str, tuple[int, int, tuple[ScalePoint, ...]]] = {}
        self.factors: list[Option] = []
        self.factor_ratings: list[Mapping[str, Any]] = []
        self.attributes: dict[str, Mapping[str, Any]] = {}
        self.seen: set[str] = set()

    def fail(self, where: str, message: str) -> InstrumentDefinitionError:
        return InstrumentDefinitionError(f"{self.source}: {where}: {message}")

    def mapping(self, value: Any, where: str) -> Mapping[str, Any]:
        if not isinstance(value, Mapping):
            raise self.fail(where, "expected a mapping")
        return cast(Mapping[str, Any], value)

    def text(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.fail(where, "expected non-empty text")
        return value.strip()

    def instrument(self, data: Any) -> Instrument:
        root = self.mapping(data, "top level")
        for name, spec in self.mapping(root.get("scales", {}), "scales").items():
            self.scales[name] = self.scale(spec, f"scales.{name}")
        for i, f in enumerate(root.get("factors", []) or []):
            f = self.mapping(f, f"factors[{i}]")
            self.factors.append(
                Option(self.text(f.get("key"), f"factors[{i}].key"), self.text(f.get("name"), ""))
            )
        if len({f.value for f in self.factors}) != len(self.factors):
            raise self.fail("factors", "duplicate factor key")
        self.factor_ratings = [
            self.mapping(r, f"factor_ratings[{i}]")
            for i, r in enumerate(root.get("factor_ratings", []) or [])
        ]
        if self.factors and not self.factor_ratings:
            raise self.fail("factor_ratings", "factors need at least one rating")
        self.attributes = {
            name: self.mapping(spec, f"attributes.{name}")
            for name, spec in self.mapping(root.get("attributes", {}) or {}, "attributes").items()
        }
        pages_data = root.get("pages")
        if not isinstance(pages_data, list) or not pages_data:
            raise self.fail("pages", "expected a non-empty list")
        pages = tuple(self.page(p, n) for n, p in enumerate(pages_data, start=1))
        unused = set(self.attributes) - {
            q.attribute for p in pages for q in p.questions if q.attribute
        }
        if unused:
            raise self.fail("attributes", f"defined but not asked: {', '.join(sorted(unused))}")
        return Instrument(
            kind=self.text(root.get("kind"), "kind"),
            version=str(root.get("version", "1")),
            title=self.text(root.get("title"), "title"),
            description=root.get("description"),
            pages=pages,
            factors=tuple(self.factors),
        )

    def scale(self, spec: Any, where: str) -> tuple[int, int, tuple[ScalePoint, ...]]:
        spec = self.mapping(spec, where)
        low, high = spec.get("min"), spec.get("max")
        if not isinstance(low, int) or not isinstance(high, int) or low >= high:
            raise self.fail(where, "min and max must be integers with min < max")
        labels = cast(Mapping[int, Any], self.mapping(spec.get("labels", {}), f"{where}.labels"))
        if any(not isinstance(k, int) or not low <= k <= high for k in labels):
            raise self.fail(where, f"label keys must be integers from {low} to {high}")
        if low not in labels or high not in labels:
            raise self.fail(where, "both ends of a scale need a label")
        points = tuple(ScalePoint(v, str(labels.get(v, ""))) for v in range(low, high + 1))
        return low, high, points

    def page(self, data: Any, number: int) -> Page:
        where = f"pages[{number - 1}]"
        spec = self.mapping(data, where)
        sections = tuple(
            self.section(s, f"{where}.sections[{i}]")
            for i, s in enumerate(spec.get("sections") or [])
        )
        if not sections:
            raise self.fail(where, "a page needs at least one section")
        return Page(
            number=number,
            title=self.text(spec.get("title"), f"{where}.title"),
            intro=spec.get("intro"),
            sections=sections,
        )

    def section(self, data: Any, where: str) -> Section:
        spec = self.mapping(data, where)
        items: list[Item] = []
        for i, raw in enumerate(spec.get("items") or []):
            item_where = f"{where}.items[{i}]"
            entry = self.mapping(raw, item_where)
            if "question" in entry:
                items.append(self.question(entry["question"], item_where))
            elif "factors" in entry:
                items.extend(self.factor_groups(entry["factors"], item_where))
            elif "attribute" in entry:
                items.append(self.attribute(entry["attribute"], item_where))
            else:
                raise self.fail(item_where, "expected 'question', 'factors' or 'attribute'")
        if not items:
            raise self.fail(where, "a section needs at least one item")
        return Section(
            title=self.text(spec.get("title"), f"{where}.title"),
            intro=spec.get("intro"),
            items=tuple(items),
        )

    def register(self, key: str, where: str) -> None:
        if key in self.seen:
            raise self.fail(where, f"duplicate question key '{key}'")
        self.seen.add(key)

    def question(self, data: Any, where: str, **extra: Any) -> Question:
        spec = self.mapping(data, where)
        key = self.text(spec.get("key"), f"{where}.key")
        qtype = spec.get("type")
        if qtype not in _TYPES:
            raise self.fail(where, f"type must be one of {', '.join(_TYPES)}")
        kwargs: dict[str, Any] = {
            "key": key,
            "type": qtype,
            "label": self.text(spec.get("label"), f"{where}.label"),
            "error_name": self.text(spec.get("error_name"), f"{where}.error_name"),
            "required": bool(spec.get("required", False)),
            "hint": spec.get("hint"),
        }
        if qtype in ("rating", "nps"):
            scale = spec.get("scale")
            if scale not in self.scales:
                raise self.fail(where, f"unknown scale '{scale}'")
            kwargs["min"], kwargs["max"], kwargs["points"] = self.scales[scale]
            if qtype == "nps" and (kwargs["min"], kwargs["max"]) != (0, 10):
                raise self.fail(where, "an nps question needs a 0–10 scale")
        elif qtype == "text":
            max_length = spec.get("max_length")
            if not isinstance(max_length, int) or max_length < 1:
                raise self.fail(where, "a text question needs a positive max_length")
            kwargs["max_length"] = max_length
        else:
            options = spec.get("options") or []
            kwargs["options"] = tuple(Option(str(o), str(o)) for o in options)
            if not kwargs["options"]:
                raise self.fail(where, "a choice question needs options")
        kwargs.update(extra)
        self.register(key, where)
        return Question(**kwargs)

    def attribute(self, name: Any, where: str) -> Question:
        if name not in self.attributes:
            raise self.fail(where, f"unknown attribute '{name}'")
        spec = self.attributes[name]
        return self.question(
            {
                "key": f"{ATTRIBUTE_PREFIX}{name}",
                "type": "choice",
                "label": spec.get("label"),
                "error_name": spec.get("error_name"),
                "hint": spec.get("hint"),
                "options": spec.get("options"),
                "required": False,
            },
            where,
            attribute=name,
        )

    def factor_groups(self, data: Any, where: str) -> list[Group]:
        spec = self.mapping(data, where)
        keys = [f.value for f in self.factors]
        start, end = spec.get("from"), spec.get("to")
        if start not in keys or end not in keys or keys.index(start) > keys.index(end):
            raise self.fail(where, "factors need 'from' and 'to' naming defined factors in order")
        groups: list[Group] = []
        for factor in self.factors[keys.index(start) : keys.index(end) + 1]:
            questions = tuple(
                self.question(
                    {
                        "key": f"{factor.value}.{rating['measure']}",
                        "type": "rating",
                        "scale": rating.get("scale"),
                        "label": rating.get("label"),
                        "error_name": str(rating.get("error_name", "")).format(factor=factor.label),
                        "required": False,
                    },
                    f"{where} ({factor.value})",
                    group=factor.value,
                    measure=rating["measure"],
                )
                for rating in self.factor_ratings
            )
            groups.append(Group(key=factor.value, label=factor.label, questions=questions))
        return groups
