from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from services.metrics.runs import repository
from services.metrics.runs.schemas import ComputationRun
from shared.auth import AdminPrincipal
from shared.deps import DbSession
from shared.pagination import Page, PageParams, make_page, page_params

router = APIRouter(prefix="/api/v1/computation-runs", tags=["operations"])


@router.get("", response_model=Page[ComputationRun], summary="Recent computations, newest first")
def list_runs(
    request: Request,
    session: DbSession,
    _principal: AdminPrincipal,
    params: Annotated[PageParams, Depends(page_params)],
) -> Page[ComputationRun]:
    rows, total = repository.list_runs(session, params.limit, params.offset)
    return make_page(request, [ComputationRun(**r) for r in rows], total, params)
