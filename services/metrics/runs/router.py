from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from services.metrics.runs import repository
from services.metrics.runs.exceptions import JobNotFound
from services.metrics.runs.schemas import ComputationJob, ComputationRun, JobStatus
from shared.auth import AdminPrincipal
from shared.deps import DbSession, IdPath
from shared.pagination import Page, PageParams, make_page, page_params

router = APIRouter(prefix="/api/v1/computation-runs", tags=["operations"])
jobs_router = APIRouter(prefix="/api/v1/computation-jobs", tags=["operations"])


@router.get("", response_model=Page[ComputationRun], summary="Recent computations, newest first")
def list_runs(
    request: Request,
    session: DbSession,
    _principal: AdminPrincipal,
    params: Annotated[PageParams, Depends(page_params)],
) -> Page[ComputationRun]:
    rows, total = repository.list_runs(session, params.limit, params.offset)
    return make_page(request, [ComputationRun(**r) for r in rows], total, params)


@jobs_router.get(
    "", response_model=Page[ComputationJob], summary="Background computations, newest first"
)
def list_jobs(
    request: Request,
    session: DbSession,
    _principal: AdminPrincipal,
    params: Annotated[PageParams, Depends(page_params)],
    status: Annotated[JobStatus | None, Query(description="Only jobs in this status")] = None,
) -> Page[ComputationJob]:
    rows, total = repository.list_jobs(session, status, params.limit, params.offset)
    return make_page(request, [ComputationJob(**r) for r in rows], total, params)


@jobs_router.get("/{job_id}", response_model=ComputationJob, summary="One background computation")
def get_job(job_id: IdPath, session: DbSession, _principal: AdminPrincipal) -> ComputationJob:
    row = repository.get_job(session, job_id)
    if row is None:
        raise JobNotFound(job_id)
    return ComputationJob(**row)
