"""SQL for post-interaction feedback ratings."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from shared.db.tables.ingest import organisations
from shared.db.tables.ingest_tickets import feedback_ratings


def existing_organisations(session: Session, ids: set[int]) -> set[int]:
    return set(
        session.execute(select(organisations.c.id).where(organisations.c.id.in_(ids))).scalars()
    )


def insert_ratings(session: Session, rows: list[dict[str, Any]]) -> None:
    session.execute(insert(feedback_ratings), rows)
