"""The benchmarking catalogue: per-cycle modules, questions, metrics and rules as data.

See ``loader`` for the file layout and inheritance, ``formula`` for the formula language
and the division rule, and ``model`` for units (percentages are percentage points).
"""

from shared.catalogue.formula import FormulaError
from shared.catalogue.loader import (
    CatalogueError,
    available_cycles,
    build_catalogue,
    load_catalogue,
    load_catalogue_from,
)
from shared.catalogue.model import (
    Catalogue,
    Choice,
    Issue,
    Metric,
    MetricUnit,
    Module,
    Polarity,
    Question,
    QuestionType,
    Rule,
    Severity,
)

__all__ = [
    "Catalogue",
    "CatalogueError",
    "Choice",
    "FormulaError",
    "Issue",
    "Metric",
    "MetricUnit",
    "Module",
    "Polarity",
    "Question",
    "QuestionType",
    "Rule",
    "Severity",
    "available_cycles",
    "build_catalogue",
    "load_catalogue",
    "load_catalogue_from",
]
