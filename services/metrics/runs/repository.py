from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from shared.db.tables.metrics import computation_runs as r


def record(
    session: Session,
    *,
    kind: str,
    scope: dict[str, Any],
    trigger: str,
    detail: dict[str, Any] | None = None,
) -> int:
    run_id: int = session.execute(
        insert(r)
        .values(
            kind=kind, scope=scope, trigger=trigger, detail=detail or {}, finished_at=func.now()
        )
        .returning(r.c.id)
    ).scalar_one()
    return run_id


def list_runs(session: Session, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    total = session.execute(select(func.count()).select_from(r)).scalar_one()
    rows = session.execute(select(r).order_by(r.c.id.desc()).limit(limit).offset(offset))
    return [dict(x) for x in rows.mappings()], total
