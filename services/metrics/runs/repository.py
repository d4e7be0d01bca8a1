from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session

from shared.db.tables.metrics import computation_runs as r
from shared.db.tables.metrics import metrics_jobs as j
from shared.observability import current_request_id
from shared.observability_tracing import current_traceparent


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


# ---------------------------------------------------------------------------- jobs


def insert_job(session: Session, event_key: str, event_type: str, payload: dict[str, Any]) -> int:
    job_id: int = session.execute(
        insert(j)
        .values(
            event_key=event_key,
            event_type=event_type,
            payload=payload,
            # The delivery's request id and trace: the job's log lines carry them.
            request_id=current_request_id(),
            traceparent=current_traceparent(),
        )
        .returning(j.c.id)
    ).scalar_one()
    return job_id


def _lockable(*where: ColumnElement[bool]) -> Any:
    # Rows a live runner is working on stay locked by its transaction: never wait for them.
    return select(j.c.id).where(*where).with_for_update(skip_locked=True).scalar_subquery()


def claim_jobs(
    session: Session, *, limit: int, lease: timedelta, max_attempts: int
) -> tuple[uuid.UUID, list[dict[str, Any]]]:
    """Mark up to ``limit`` due jobs running under a new claim token with a lease.

    Due: pending and past ``run_after``, or running with a lease that has passed (its
    process died; a live runner holds the row lock, so its job is skipped here)."""
    now = func.now()
    expired = and_(j.c.status == "running", j.c.leased_until < now)
    session.execute(
        update(j)
        .where(j.c.id.in_(_lockable(expired, j.c.attempts >= max_attempts)))
        .values(
            status="failed",
            claim_token=None,
            leased_until=None,
            finished_at=now,
            last_error=func.coalesce(j.c.last_error + " / ", "")
            + "lease expired during the last attempt (process stopped)",
        )
    )
    token = uuid.uuid4()
    due = (
        select(j.c.id)
        .where(or_(and_(j.c.status == "pending", j.c.run_after <= now), expired))
        .order_by(j.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
        .scalar_subquery()
    )
    rows = session.execute(
        update(j)
        .where(j.c.id.in_(due))
        .values(
            status="running",
            claim_token=token,
            leased_until=now + literal(lease),
            attempts=j.c.attempts + 1,
            started_at=now,
        )
        .returning(*j.c)
    ).mappings()
    return token, sorted((dict(r) for r in rows), key=lambda r: int(r["id"]))


def lock_claimed_job(session: Session, job_id: int, token: uuid.UUID) -> bool:
    """Lock the job row for the length of the work's transaction, if the claim still holds."""
    found = session.execute(
        select(j.c.id)
        .where(j.c.id == job_id, j.c.claim_token == token, j.c.status == "running")
        .with_for_update(skip_locked=True)
    ).first()
    return found is not None


def finish_job(session: Session, job_id: int, token: uuid.UUID, run_id: int | None) -> bool:
    written = session.execute(
        update(j)
        .where(j.c.id == job_id, j.c.claim_token == token, j.c.status == "running")
        .values(
            status="done",
            run_id=run_id,
            last_error=None,
            claim_token=None,
            leased_until=None,
            finished_at=func.now(),
        )
        .returning(j.c.id)
    ).first()
    return written is not None


def fail_job(
    session: Session, job_id: int, token: uuid.UUID, error: str, retry_in: timedelta | None
) -> bool:
    """Back to pending after ``retry_in``, or failed for good when it is None."""
    values: dict[str, Any] = {"last_error": error[:2000], "claim_token": None, "leased_until": None}
    if retry_in is None:
        values |= {"status": "failed", "finished_at": func.now()}
    else:
        values |= {"status": "pending", "run_after": func.now() + literal(retry_in)}
    written = session.execute(
        update(j)
        .where(j.c.id == job_id, j.c.claim_token == token, j.c.status == "running")
        .values(**values)
        .returning(j.c.id)
    ).first()
    return written is not None


def list_jobs(
    session: Session, status: str | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    where = [j.c.status == status] if status is not None else []
    total = session.execute(select(func.count()).select_from(j).where(*where)).scalar_one()
    rows = session.execute(
        select(j).where(*where).order_by(j.c.id.desc()).limit(limit).offset(offset)
    )
    return [dict(x) for x in rows.mappings()], total


def get_job(session: Session, job_id: int) -> dict[str, Any] | None:
    row = session.execute(select(j).where(j.c.id == job_id)).mappings().first()
    return dict(row) if row is not None else None
