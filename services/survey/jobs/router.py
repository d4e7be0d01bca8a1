from __future__ import annotations

from typing import Literal

from fastapi import APIRouter
from pydantic import AwareDatetime, BaseModel

from services.survey import clock
from services.survey.jobs import service
from shared.auth import ServicePrincipal
from shared.deps import DbSession
from shared.serialization import UtcDateTime

router = APIRouter(prefix="/internal/jobs", tags=["internal"], include_in_schema=False)


class JobRun(BaseModel):
    # Tests inject the time; the worker leaves it out.
    now: AwareDatetime | None = None


class JobResult(BaseModel):
    job: str
    count: int
    now: UtcDateTime


@router.post("/{job}", response_model=list[JobResult])
def run_job(
    job: Literal["close", "reminders", "erasure", "all"],
    session: DbSession,
    _principal: ServicePrincipal,
    body: JobRun | None = None,
) -> list[JobResult]:
    now = (body.now if body and body.now else None) or clock.now_utc()
    results = []
    if job in ("close", "all"):
        results.append(JobResult(job="close", count=service.close_due(session, now), now=now))
    if job in ("reminders", "all"):
        results.append(
            JobResult(job="reminders", count=service.send_reminders(session, now), now=now)
        )
    if job in ("erasure", "all"):
        results.append(
            JobResult(job="erasure", count=service.erase_addresses(session, now), now=now)
        )
    return results
