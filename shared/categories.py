"""The order of a table's category rows (a cost table's "Courier", "Equipment" …): as the
source gave them, which is how its readers know the table; tables stored before the order
was kept are read alphabetically. One rule for the owner that stores the table (ingest) and
the reader that prints it (metrics' committee pack)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence


def first_seen(categories: Iterable[str]) -> list[str]:
    """The categories in the order they first appear, each once (compared case-blind, as
    an import compares them; the first spelling is kept)."""
    seen: set[str] = set()
    out: list[str] = []
    for category in categories:
        key = category.casefold()
        if key not in seen:
            seen.add(key)
            out.append(category)
    return out


def category_rank(present: Iterable[str], imported: Sequence[str] | None) -> dict[str, int]:
    """Each category present → its position: the imported order where it is known (a
    category it does not name, and every category when it is None, after it,
    alphabetically, case-blind)."""
    position: dict[str, int] = {}
    for i, category in enumerate(imported or ()):
        position.setdefault(category.casefold(), i)
    ranked = sorted(
        set(present),
        key=lambda c: (position.get(c.casefold(), len(position)), c.casefold(), c),
    )
    return {c: i for i, c in enumerate(ranked)}
