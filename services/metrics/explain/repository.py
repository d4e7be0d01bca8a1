"""SQL of explanations: the accepted answers behind a metric value (ingest's tables,
read-only), with the submission each came from."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shared.db.tables.ingest import cycles as c
from shared.db.tables.ingest_submissions import submission_answers as a
from shared.db.tables.ingest_submissions import submissions as s


def accepted_inputs(
    session: Session, organisation_id: int, year: int, question_keys: Collection[str]
) -> list[dict[str, Any]]:
    rows = session.execute(
        select(
            a.c.question_key,
            a.c.value_number,
            a.c.value_text,
            a.c.value_boolean,
            a.c.updated_at,
            s.c.id.label("submission_id"),
            s.c.module,
            s.c.decided_at,
        )
        .select_from(a)
        .join(s, s.c.id == a.c.submission_id)
        .join(c, c.c.id == s.c.cycle_id)
        .where(
            s.c.organisation_id == organisation_id,
            s.c.state == "accepted",
            c.c.year == year,
            a.c.question_key.in_(list(question_keys)),
        )
        .order_by(a.c.question_key)
    ).mappings()
    return [dict(r) for r in rows]
