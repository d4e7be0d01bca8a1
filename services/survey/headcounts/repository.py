from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from shared.db.tables.survey_campaigns import survey_headcount_cells as cells
from shared.db.tables.survey_campaigns import survey_headcounts as headcounts
from shared.db.tables.survey_campaigns import survey_responses as r


def get(session: Session, campaign_id: int) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
    head = (
        session.execute(select(headcounts).where(headcounts.c.campaign_id == campaign_id))
        .mappings()
        .first()
    )
    if head is None:
        return None
    rows = session.execute(
        select(cells.c.cell, cells.c.headcount)
        .where(cells.c.campaign_id == campaign_id)
        .order_by(cells.c.position)
    ).mappings()
    return dict(head), [dict(x) for x in rows]


def replace(
    session: Session, campaign_id: int, head: dict[str, Any], rows: Sequence[dict[str, Any]]
) -> None:
    session.execute(delete(headcounts).where(headcounts.c.campaign_id == campaign_id))
    session.execute(insert(headcounts).values(campaign_id=campaign_id, **head))
    session.execute(
        insert(cells),
        [
            {"campaign_id": campaign_id, "position": i, "cell": row["cell"], "headcount": n}
            for i, row in enumerate(rows)
            for n in [row["headcount"]]
        ],
    )


def remove(session: Session, campaign_id: int) -> int:
    removed = session.execute(
        delete(headcounts)
        .where(headcounts.c.campaign_id == campaign_id)
        .returning(headcounts.c.campaign_id)
    ).all()
    return len(removed)


def response_counts(
    session: Session, campaign_id: int, attributes: Sequence[str]
) -> dict[tuple[str | None, ...], int]:
    """Responses received so far, per combination of the stated ``attributes`` values
    (None: not stated)."""
    keys = [r.c.answers[f"attr.{a}"].astext for a in attributes]
    rows = session.execute(
        select(*keys, func.count()).where(r.c.campaign_id == campaign_id).group_by(*keys)
    ).all()
    return {tuple(row[:-1]): int(row[-1]) for row in rows}
