from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse, Response

from services.ingest.monitoring import service
from services.ingest.monitoring.schemas import (
    FollowUp,
    FollowUpCreate,
    FollowUpState,
    FollowUpTable,
    FollowUpUpdate,
    MonitoringJob,
    MonitoringResult,
    ValidationRun,
    ViolationRow,
    ViolationTable,
)
from shared.auth import CurrentPrincipal, ServicePrincipal
from shared.clock import Now
from shared.db.tables.ingest import ingest_idempotency
from shared.deps import MAX_INT32, AppSettings, DbSession, IdPath
from shared.idempotency import idempotent_create, location_responses
from shared.pagination import Page, PageParams, make_page, page_params
from shared.tabular import OutputQuery, table_response, table_responses

router = APIRouter(tags=["checks"])
internal = APIRouter(prefix="/internal", tags=["internal"], include_in_schema=False)

CycleFilter = Annotated[
    int | None, Query(ge=2000, le=2100, description="Only this cycle (its year, e.g. 2021)")
]


@internal.post("/jobs/validation-monitoring", response_model=list[MonitoringResult])
def run_monitoring(
    session: DbSession,
    _principal: ServicePrincipal,
    now: Now,
    body: MonitoringJob | None = None,
) -> list[MonitoringResult]:
    """Called by the worker's periodic jobs; re-runs only the cycles whose fingerprint
    changed (``force`` re-runs them all)."""
    at = (body.now if body and body.now else None) or now
    force = bool(body and body.force)
    return [MonitoringResult(**r) for r in service.run(session, "worker", at, force=force)]


@internal.post("/validation-runs/{run_id}/notify")
def notify(
    run_id: IdPath,
    session: DbSession,
    settings: AppSettings,
    _principal: ServicePrincipal,
    now: Now,
) -> dict[str, object]:
    """The outbox delivers a run's notice here; sending twice is refused by the run's
    ``notified_at``."""
    return service.notify(session, settings, run_id, now)


@router.get(
    "/api/v1/validation-violations",
    response_model=ViolationTable,
    responses=table_responses(ViolationTable),
    summary="What validation monitoring found on submitted and accepted data (reviewers)",
)
def list_violations(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    out: OutputQuery,
    cycle: CycleFilter = None,
    open: Annotated[bool, Query(description="Only findings still found by the last run")] = True,
) -> Response:
    rows = service.violations(session, principal, cycle, open)
    return table_response(
        request,
        out,
        ViolationTable,
        list(ViolationRow.model_fields),
        rows,
        "validation-violations",
        cycle_year=cycle,
    )


@router.get(
    "/api/v1/validation-runs",
    response_model=Page[ValidationRun],
    summary="Validation monitoring runs, newest first (reviewers)",
)
def list_runs(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    params: Annotated[PageParams, Depends(page_params)],
) -> Page[ValidationRun]:
    rows, total = service.runs(session, principal, params.limit, params.offset)
    return make_page(request, [ValidationRun(**r) for r in rows], total, params)


@router.post(
    "/api/v1/follow-ups",
    status_code=201,
    responses=location_responses(),
    response_model=FollowUp,
    summary="Mark a submission's value for follow-up (reviewers)",
)
def create_follow_up(
    request: Request,
    body: FollowUpCreate,
    session: DbSession,
    principal: CurrentPrincipal,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key")] = None,
) -> JSONResponse:
    return idempotent_create(
        request,
        session,
        ingest_idempotency,
        principal,
        idempotency_key,
        body,
        lambda: FollowUp(**service.create_follow_up(session, principal, body.model_dump())),
        location=lambda created: f"/api/v1/follow-ups/{created['id']}",
    )


@router.get(
    "/api/v1/follow-ups",
    response_model=FollowUpTable,
    responses=table_responses(FollowUpTable),
    summary="The follow-up list with its states (reviewers)",
)
def list_follow_ups(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    out: OutputQuery,
    state: FollowUpState | None = None,
    cycle: CycleFilter = None,
    organisation_id: Annotated[int | None, Query(ge=1, le=MAX_INT32)] = None,
    submission_id: Annotated[int | None, Query(ge=1, le=MAX_INT32)] = None,
) -> Response:
    filters = {
        "state": state,
        "cycle": cycle,
        "organisation_id": organisation_id,
        "submission_id": submission_id,
    }
    rows = service.follow_ups(session, principal, filters)
    return table_response(
        request, out, FollowUpTable, list(FollowUp.model_fields), rows, "follow-ups"
    )


@router.get("/api/v1/follow-ups/{follow_up_id}", response_model=FollowUp, summary="One follow-up")
def get_follow_up(
    follow_up_id: IdPath, session: DbSession, principal: CurrentPrincipal
) -> FollowUp:
    return FollowUp(**service.get_follow_up(session, principal, follow_up_id))


@router.patch(
    "/api/v1/follow-ups/{follow_up_id}",
    response_model=FollowUp,
    summary="Move a follow-up on (contacted, resolved, dismissed) or change its note",
)
def update_follow_up(
    follow_up_id: IdPath, body: FollowUpUpdate, session: DbSession, principal: CurrentPrincipal
) -> FollowUp:
    changes = body.model_dump(exclude_unset=True)
    return FollowUp(**service.update_follow_up(session, principal, follow_up_id, changes))
