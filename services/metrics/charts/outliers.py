"""Far outliers a chart may leave out to keep its scale readable, and the note that says
so on the chart: never silently (issue 12: "1 high value not shown").

The rule (Tukey's far-out fence): a value above ``Q3 + 3 × IQR`` or below ``Q1 − 3 × IQR``
(IQR = Q3 − Q1, the quartiles the statistics table shows) is not drawn. A group whose
quartiles are equal (IQR 0) leaves nothing out: every value different from the middle
would be "far". The reader's own value is never left out. Exact Decimal arithmetic: which
values are left out is a decision about figures, not pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

FENCE = Decimal(3)  # IQRs beyond the quartiles


@dataclass(frozen=True)
class Clip:
    """Which values are drawn: ``shown`` (their indices, in order) and how many below the
    low fence and above the high fence are left out."""

    shown: tuple[int, ...]
    hidden_low: int
    hidden_high: int
    low_fence: Decimal
    high_fence: Decimal

    @property
    def hidden(self) -> int:
        return self.hidden_low + self.hidden_high

    def note(self) -> str | None:
        """What the chart says about values it leaves out ("1 high value not shown"), or
        None when every value is drawn."""
        parts = []
        if self.hidden_low:
            parts.append(f"{self.hidden_low} low value{'s' if self.hidden_low > 1 else ''}")
        if self.hidden_high:
            parts.append(f"{self.hidden_high} high value{'s' if self.hidden_high > 1 else ''}")
        if not parts:
            return None
        return " and ".join(parts) + " not shown"

    def rule(self) -> str:
        """The rule in words, for the chart's description."""
        return (
            f"values beyond 3 interquartile ranges from the quartiles (below "
            f"{_plain(self.low_fence)} or above {_plain(self.high_fence)}) are not drawn "
            "to keep the scale readable"
        )


def _plain(value: Decimal) -> str:
    if value == value.to_integral_value():
        return str(int(value))
    return f"{value.normalize():f}"


def clip(values: Sequence[Decimal], q1: Decimal, q3: Decimal, keep: Sequence[int] = ()) -> Clip:
    """The far outliers among ``values`` by the quartiles ``q1`` and ``q3``; indices in
    ``keep`` (the reader's own value) are always shown."""
    iqr = q3 - q1
    low, high = q1 - FENCE * iqr, q3 + FENCE * iqr
    shown: list[int] = []
    below = above = 0
    for i, v in enumerate(values):
        if iqr > 0 and i not in keep and v < low:
            below += 1
        elif iqr > 0 and i not in keep and v > high:
            above += 1
        else:
            shown.append(i)
    return Clip(tuple(shown), below, above, low, high)
