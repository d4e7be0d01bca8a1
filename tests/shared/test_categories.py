"""One rule for a table's category order, in ingest (stored, read back) and in the pack."""

from __future__ import annotations

from shared.categories import category_rank, first_seen


def test_first_seen_keeps_the_first_spelling_once():
    assert first_seen(["Mobile telephony", "Courier", "courier", "Equipment", "Courier"]) == [
        "Mobile telephony",
        "Courier",
        "Equipment",
    ]


def test_rank_follows_the_imported_order_then_the_alphabet():
    present = ["Courier", "Equipment", "Mobile telephony", "courier", "Agency"]
    rank = category_rank(present, ["Mobile telephony", "Courier", "Equipment"])
    assert sorted(present, key=rank.__getitem__) == [
        "Mobile telephony",
        "Courier",
        "courier",
        "Equipment",
        "Agency",  # not in the imported order: after it
    ]
    old = category_rank(present, None)
    assert sorted(present, key=old.__getitem__) == [
        "Agency",
        "Courier",
        "courier",
        "Equipment",
        "Mobile telephony",
    ]
