"""Survey instruments (questionnaires) as data, with answer validation."""

from .loader import KINDS, InstrumentDefinitionError, InstrumentKind, load_instrument
from .model import (
    ATTRIBUTE_PREFIX,
    AnswerValue,
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

__all__ = [
    "ATTRIBUTE_PREFIX",
    "KINDS",
    "AnswerValue",
    "Group",
    "Instrument",
    "InstrumentDefinitionError",
    "InstrumentKind",
    "Item",
    "Option",
    "Page",
    "Question",
    "QuestionType",
    "ScalePoint",
    "Section",
    "load_instrument",
]
