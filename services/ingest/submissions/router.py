from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import JSONResponse

from services.ingest.submissions import service
from services.ingest.submissions.schemas import (
    AcceptBody,
    AnswersUpdate,
    AuditEntry,
    ReopenBody,
    ReturnBody,
    Submission,
    SubmissionCreate,
    SubmissionState,
    SubmissionSummary,
    SubmitBody,
)
from shared.auth import AdminPrincipal, CurrentPrincipal
from shared.db.tables.ingest import ingest_idempotency
from shared.deps import MAX_INT32, DbSession, IdPath
from shared.idempotency import idempotent_create
from shared.pagination import Page, PageParams, make_page, page_params

router = APIRouter(prefix="/api/v1/submissions", tags=["submissions"])


@router.post(
    "",
    status_code=201,
    response_model=Submission,
    summary="Start a draft submission for an organisation, cycle and module",
)
def create_submission(
    request: Request,
    body: SubmissionCreate,
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
        lambda: Submission(
            **service.create(session, principal, body.organisation_id, body.cycle_id, body.module)
        ),
        location=lambda created: f"{router.prefix}/{created['id']}",
    )


@router.get(
    "",
    response_model=Page[SubmissionSummary],
    summary="Submissions: all for admins, your organisations' otherwise",
)
def list_submissions(
    request: Request,
    session: DbSession,
    principal: CurrentPrincipal,
    params: Annotated[PageParams, Depends(page_params)],
    organisation_id: Annotated[int | None, Query(ge=1, le=MAX_INT32)] = None,
    cycle_id: Annotated[int | None, Query(ge=1, le=MAX_INT32)] = None,
    module: Annotated[str | None, Query(max_length=100)] = None,
    state: SubmissionState | None = None,
) -> Page[SubmissionSummary]:
    filters = {
        "organisation_id": organisation_id,
        "cycle_id": cycle_id,
        "module": module,
        "state": state,
    }
    rows, total = service.listing(session, principal, filters, params.limit, params.offset)
    return make_page(request, [SubmissionSummary(**r) for r in rows], total, params)


@router.get("/{submission_id}", response_model=Submission, summary="One submission")
def get_submission(
    submission_id: IdPath, session: DbSession, principal: CurrentPrincipal
) -> Submission:
    return Submission(**service.detail(session, principal, submission_id))


@router.patch(
    "/{submission_id}/answers",
    response_model=Submission,
    summary="Save some answers (merged into the draft; null removes one)",
)
def patch_answers(
    submission_id: IdPath, body: AnswersUpdate, session: DbSession, principal: CurrentPrincipal
) -> Submission:
    return Submission(
        **service.save_answers(
            session, principal, submission_id, dict(body.answers), body.comments, replace=False
        )
    )


@router.put(
    "/{submission_id}/answers",
    response_model=Submission,
    summary="Replace all answers of a draft",
)
def put_answers(
    submission_id: IdPath, body: AnswersUpdate, session: DbSession, principal: CurrentPrincipal
) -> Submission:
    return Submission(
        **service.save_answers(
            session, principal, submission_id, dict(body.answers), body.comments, replace=True
        )
    )


@router.post(
    "/{submission_id}/submit",
    response_model=Submission,
    summary="Submit for review (validation runs; warnings need comments)",
)
def submit(
    submission_id: IdPath, body: SubmitBody, session: DbSession, principal: CurrentPrincipal
) -> Submission:
    return Submission(**service.submit(session, principal, submission_id, body.warning_comments))


@router.post(
    "/{submission_id}/return",
    response_model=Submission,
    summary="Return to the participant with a reason per question (reviewers)",
)
def return_submission(
    submission_id: IdPath, body: ReturnBody, session: DbSession, principal: AdminPrincipal
) -> Submission:
    return Submission(
        **service.return_to_participant(session, principal, submission_id, body.reasons)
    )


@router.post(
    "/{submission_id}/accept",
    response_model=Submission,
    summary="Accept and lock (reviewers); the cycle's benchmarks are recomputed",
)
def accept(
    submission_id: IdPath, body: AcceptBody, session: DbSession, principal: AdminPrincipal
) -> Submission:
    return Submission(**service.accept(session, principal, submission_id, body.note))


@router.post(
    "/{submission_id}/reopen",
    response_model=Submission,
    summary="Reopen an accepted submission as a draft, with a reason (admins)",
)
def reopen(
    submission_id: IdPath, body: ReopenBody, session: DbSession, principal: AdminPrincipal
) -> Submission:
    return Submission(**service.reopen(session, principal, submission_id, body.reason))


@router.get(
    "/{submission_id}/audit",
    response_model=Page[AuditEntry],
    summary="The submission's audit trail, oldest first",
)
def audit(
    request: Request,
    submission_id: IdPath,
    session: DbSession,
    principal: CurrentPrincipal,
    params: Annotated[PageParams, Depends(page_params)],
) -> Page[AuditEntry]:
    rows, total = service.audit_trail(
        session, principal, submission_id, params.limit, params.offset
    )
    return make_page(request, [AuditEntry(**r) for r in rows], total, params)
