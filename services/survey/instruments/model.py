"""Survey instruments: immutable descriptions of a questionnaire and the rules for its answers.

Canonical flat answer keys (the same strings are the HTML form field names, the keys of a
stored answers dict and the column names the metrics engine reads):

- ``S1.satisfaction`` … ``S20.satisfaction``, ``S1.importance`` … ``S20.importance``
  (user satisfaction factors, integers 1–7)
- ``overall`` (1–7), ``improvement`` (1–7, below 4 = worse), ``nps`` (0–10, optional)
- ``attr.location``, ``attr.device_type``, ``attr.mode_of_working``, ``attr.role``
  (breakdown attributes, one option value each)
- ``comment`` (free text)
- user skills: ``L1`` … (IT literacy), ``P1`` … (IT policies), 1–5
- SDMA: ``M1`` … ``M9`` (maturity level 1–5)

An answers dict maps keys to ``int`` (rating, nps) or ``str`` (choice, text). A key that is
absent means "not answered".
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

QuestionType = Literal["rating", "choice", "text", "nps"]
AnswerValue = int | str

ATTRIBUTE_PREFIX = "attr."
_FACTOR_KEY = re.compile(r"^(S\d+)(?:\.(.*))?$")


@dataclass(frozen=True, slots=True)
class Option:
    value: str
    label: str


@dataclass(frozen=True, slots=True)
class ScalePoint:
    value: int
    label: str  # "" when the point is shown by its number only (e.g. 1–9 on a 0–10 scale)

    @property
    def text(self) -> str:
        return f"{self.value} {self.label}" if self.label else str(self.value)


@dataclass(frozen=True, slots=True)
class Question:
    key: str
    label: str
    type: QuestionType
    error_name: str  # noun phrase used in error messages, e.g. "satisfaction with Downtime"
    required: bool = False
    min: int | None = None
    max: int | None = None
    points: tuple[ScalePoint, ...] = ()
    options: tuple[Option, ...] = ()
    max_length: int | None = None
    hint: str | None = None
    attribute: str | None = None  # breakdown attribute name for attr.* questions
    group: str | None = None  # factor key (S1) for factor ratings
    measure: str | None = None  # "satisfaction" / "importance" for factor ratings

    def point_label(self, value: int) -> str:
        for point in self.points:
            if point.value == value:
                return point.label
        return ""


@dataclass(frozen=True, slots=True)
class Group:
    """A set of questions about one subject (a factor): rendered as one fieldset."""

    key: str
    label: str
    questions: tuple[Question, ...]
    hint: str | None = None


Item = Question | Group


@dataclass(frozen=True, slots=True)
class Section:
    title: str
    items: tuple[Item, ...]
    intro: str | None = None

    @property
    def questions(self) -> tuple[Question, ...]:
        out: list[Question] = []
        for item in self.items:
            out.extend(item.questions if isinstance(item, Group) else (item,))
        return tuple(out)


@dataclass(frozen=True, slots=True)
class Page:
    number: int  # 1-based
    title: str
    sections: tuple[Section, ...]
    intro: str | None = None

    @property
    def questions(self) -> tuple[Question, ...]:
        return tuple(q for s in self.sections for q in s.questions)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(q.key for q in self.questions)


@dataclass(frozen=True, slots=True)
class Instrument:
    kind: str
    version: str
    title: str
    pages: tuple[Page, ...]
    description: str | None = None
    factors: tuple[Option, ...] = ()  # value = factor key (S1), label = factor name
    _by_key: Mapping[str, Question] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_key = {q.key: q for p in self.pages for q in p.questions}
        object.__setattr__(self, "_by_key", by_key)

    # -- navigation -------------------------------------------------------------------

    @property
    def questions(self) -> tuple[Question, ...]:
        return tuple(self._by_key.values())

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(self._by_key)

    @property
    def question_page_count(self) -> int:
        return len(self.pages)

    @property
    def page_count(self) -> int:
        """Pages shown to a respondent: the question pages plus the final check-and-send page."""
        return len(self.pages) + 1

    def question(self, key: str) -> Question | None:
        return self._by_key.get(key)

    def page(self, number: int) -> Page:
        if not 1 <= number <= len(self.pages):
            raise ValueError(f"page {number} is not a question page (1..{len(self.pages)})")
        return self.pages[number - 1]

    def page_of(self, key: str) -> int | None:
        for page in self.pages:
            if key in page.keys:
                return page.number
        return None

    @property
    def attributes(self) -> dict[str, tuple[Option, ...]]:
        return {q.attribute: q.options for q in self.questions if q.attribute is not None}

    # -- organisation overrides ---------------------------------------------------------

    def with_attribute_options(
        self, attribute_options: Mapping[str, Sequence[str]] | None
    ) -> Instrument:
        """A copy in which each named attribute offers the organisation's own list.

        Keys are attribute names (``location``) or answer keys (``attr.location``).
        An attribute not named keeps its default list.
        """
        if not attribute_options:
            return self
        overrides: dict[str, tuple[Option, ...]] = {}
        for name, values in attribute_options.items():
            attr = name.removeprefix(ATTRIBUTE_PREFIX)
            if attr not in self.attributes:
                raise ValueError(f"'{name}' is not a breakdown attribute of {self.kind}")
            cleaned = [v.strip() for v in values if v.strip()]
            if not cleaned:
                raise ValueError(f"the option list for '{attr}' is empty")
            if len({v.casefold() for v in cleaned}) != len(cleaned):
                raise ValueError(f"the option list for '{attr}' has duplicates")
            overrides[attr] = tuple(Option(v, v) for v in cleaned)

        def fix(q: Question) -> Question:
            if q.attribute in overrides:
                return replace(q, options=overrides[q.attribute])
            return q

        def fix_item(item: Item) -> Item:
            if isinstance(item, Group):
                return replace(item, questions=tuple(fix(q) for q in item.questions))
            return fix(item)

        pages = tuple(
            replace(
                p,
                sections=tuple(
                    replace(s, items=tuple(fix_item(i) for i in s.items)) for s in p.sections
                ),
            )
            for p in self.pages
        )
        return replace(self, pages=pages)

    # -- answers ------------------------------------------------------------------------

    def validate(
        self,
        answers: Mapping[str, object],
        *,
        partial: bool,
        attribute_options: Mapping[str, Sequence[str]] | None = None,
    ) -> dict[str, str]:
        """Check answers; return ``{field key: message}``, empty when all is well.

        ``partial=True`` (saving a page or "save and come back later") checks only the
        values given; ``partial=False`` (final submission) also requires required questions
        and that each factor is rated for both satisfaction and importance or for neither.
        Messages are written for the respondent (GOV.UK error-message style).
        """
        instrument = self.with_attribute_options(attribute_options)
        errors: dict[str, str] = {}
        for key, value in answers.items():
            question = instrument.question(key)
            if question is None:
                errors[key] = instrument._unknown_key_message(key)
                continue
            if _is_blank(value):
                continue
            message = _check_value(question, value)
            if message:
                errors[key] = message
        if partial:
            return errors
        for question in instrument.questions:
            if question.required and _is_blank(answers.get(question.key)):
                errors.setdefault(question.key, _missing_message(question))
        for factor in instrument.factors:
            sat, imp = f"{factor.value}.satisfaction", f"{factor.value}.importance"
            has_sat, has_imp = not _is_blank(answers.get(sat)), not _is_blank(answers.get(imp))
            if has_sat and not has_imp:
                errors.setdefault(
                    imp, f"Select how important {factor.label} is to you, or answer neither"
                )
            elif has_imp and not has_sat:
                errors.setdefault(
                    sat, f"Select how satisfied you are with {factor.label}, or answer neither"
                )
        if not errors:
            return errors
        # Report in form order so the error summary follows the page.
        order = {k: i for i, k in enumerate(instrument.keys)}
        return dict(sorted(errors.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))

    def clean(self, answers: Mapping[str, object]) -> dict[str, AnswerValue]:
        """Canonical types for answers that passed :meth:`validate` (blanks dropped)."""
        out: dict[str, AnswerValue] = {}
        for key, value in answers.items():
            question = self.question(key)
            if question is None or _is_blank(value):
                continue
            if question.type in ("rating", "nps"):
                out[key] = int(str(value).strip())
            else:
                text = _normalise_text(str(value))
                out[key] = text if question.type == "text" else text.strip()
        return out

    def merge_page(
        self,
        stored: Mapping[str, AnswerValue],
        submitted: Mapping[str, AnswerValue],
        page: int,
    ) -> dict[str, AnswerValue]:
        """Stored answers with one page's answers replaced by what was just submitted.

        A key of that page missing from ``submitted`` is cleared (the respondent emptied it).
        """
        keys = set(self.page(page).keys)
        merged = {k: v for k, v in stored.items() if k not in keys}
        merged.update({k: v for k, v in submitted.items() if k in keys})
        return merged

    def _unknown_key_message(self, key: str) -> str:
        match = _FACTOR_KEY.match(key)
        if match and self.factors:
            factor, measure = match.group(1), match.group(2)
            known = {f.value for f in self.factors}
            if factor not in known:
                return (
                    f"There is no factor {factor} in this survey: factors are "
                    f"{self.factors[0].value} to {self.factors[-1].value}"
                )
            return (
                f"'{measure}' is not a rating of {factor}: use {factor}.satisfaction "
                f"or {factor}.importance"
            )
        return f"'{key}' is not a question in this survey"


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _normalise_text(text: str) -> str:
    # Browsers send CRLF for textarea line breaks; count and store each break as one character.
    return text.replace("\r\n", "\n").replace("\r", "\n")


def _missing_message(question: Question) -> str:
    if question.type == "text":
        return f"Enter {question.error_name}"
    if question.type in ("rating", "nps"):
        return f"Select a rating for {question.error_name}"
    return f"Select {question.error_name}"


def _rating_message(question: Question) -> str:
    assert question.min is not None and question.max is not None
    low, high = question.min, question.max
    low_label, high_label = question.point_label(low), question.point_label(high)
    span = (
        f"from {low} ({low_label.lower()}) to {high} ({high_label.lower()})"
        if low_label and high_label
        else f"from {low} to {high}"
    )
    return f"The rating for {question.error_name} must be a whole number {span}"


_RATING_TEXT = re.compile(r"[+-]?\d{1,3}")


def _check_value(question: Question, value: object) -> str | None:
    # On the submission hot path: messages are only built when there is an error.
    if question.type in ("rating", "nps"):
        assert question.min is not None and question.max is not None
        number: int | None = None
        if type(value) is int:
            number = value
        elif isinstance(value, str) and _RATING_TEXT.fullmatch(value.strip()):
            number = int(value.strip())
        if isinstance(value, list | tuple):
            return f"Select only one answer for {question.error_name}"
        if number is None or not question.min <= number <= question.max:
            return _rating_message(question)
        return None
    if isinstance(value, list | tuple):
        return f"Select only one answer for {question.error_name}"
    if not isinstance(value, str):
        return f"Enter {question.error_name} as text"
    if question.type == "text":
        length = len(_normalise_text(value))
        if question.max_length is not None and length > question.max_length:
            return (
                f"{question.error_name[:1].upper()}{question.error_name[1:]} must be "
                f"{question.max_length:,} characters or fewer (it has {length:,})"
            )
        return None
    # choice
    if value.strip() not in {o.value for o in question.options}:
        return f"Select {question.error_name} from the list"
    return None
