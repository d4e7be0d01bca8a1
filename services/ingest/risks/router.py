"""Import a risk register for one period from CSV or XLSX (multipart field ``file``): one
row per risk, creating or updating the risk by its reference and creating or replacing
its assessment for the financial year and period. Risks the file does not name are left
as they are.

**Columns** (header names matched case- and punctuation-blind; title rows above the header
skipped; other columns ignored): `reference`, `section`, `title`, `impact`, `probability`
(required); `cause`, `event`, `consequence`, `owner`, `developments`, `priority` (the
source's own priority, 1-25, kept as printed for the pack's check against impact ×
probability), `actions`, `closed` (yes/no, or `open`/`closed`) (optional).

**Sections**: `financial`, `resourcing`, `loss_of_service`, `supportability` (key or label:
`Loss of service`), or the service's own section as written.

**Refusals** (nothing stored changes): 422 `import_rejected` whose `errors` list every
problem as `{row, column, code, message}`: `out_of_range` (impact or probability not 1-5,
priority not 1-25), `not_a_number`, `missing_value`, `duplicate_reference`,
`missing_column`; a file that is not the CSV or XLSX it claims to be: 422
`file_unreadable`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Request, UploadFile
from fastapi.responses import Response

from services.ingest.risks import service
from services.ingest.risks.schemas import (
    RegisterImport,
    RegisterRow,
    Risk,
    RiskDetail,
    RiskRegisterIn,
)
from shared.auth import CurrentPrincipal
from shared.bodies import MiB
from shared.deps import DbSession, IdPath
from shared.pagination import Page
from shared.periods import FinancialYearPath, PeriodPath
from shared.tabular import OutputQuery, table_response, table_responses

router = APIRouter(prefix="/api/v1/organisations/{organisation_id}", tags=["risks"])

UPLOAD_LIMIT = 16 * MiB
ACCESS = (
    " Readable by administrators, the service's own principals and its partners' "
    "principals; written by administrators and the service's participants."
)


@router.get(
    "/risks",
    response_model=Page[Risk],
    responses=table_responses(Page[Risk]),
    summary="The service's risks, by section (standard sections first) and reference",
    description=ACCESS.strip(),
)
def list_risks(
    request: Request,
    organisation_id: IdPath,
    session: DbSession,
    principal: CurrentPrincipal,
    out: OutputQuery,
) -> Response:
    rows = service.list_risks(session, principal, organisation_id)
    return table_response(request, out, Page[Risk], list(Risk.model_fields), rows, "risks")


@router.get(
    "/risks/{risk_id}",
    response_model=RiskDetail,
    summary="One risk with its assessments across periods",
    description=ACCESS.strip(),
)
def get_risk(
    organisation_id: IdPath, risk_id: IdPath, session: DbSession, principal: CurrentPrincipal
) -> RiskDetail:
    return RiskDetail(**service.get_risk(session, principal, organisation_id, risk_id))


@router.get(
    "/risk-register/{financial_year}/{period}",
    response_model=Page[RegisterRow],
    responses=table_responses(Page[RegisterRow]),
    summary="The register as assessed for a period: each risk and its assessment",
    description="Priorities, bands and trends computed from these are the committee "
    "pack's (metrics)." + ACCESS,
)
def get_risk_register(
    request: Request,
    organisation_id: IdPath,
    financial_year: FinancialYearPath,
    period: PeriodPath,
    session: DbSession,
    principal: CurrentPrincipal,
    out: OutputQuery,
) -> Response:
    rows = service.register(session, principal, organisation_id, financial_year, period)
    return table_response(
        request,
        out,
        Page[RegisterRow],
        list(RegisterRow.model_fields),
        rows,
        f"risk-register-{financial_year}-p{period}",
    )


@router.put(
    "/risk-register/{financial_year}/{period}",
    response_model=RegisterImport,
    summary="Create or update risks and their assessments for a period (JSON)",
    max_body_size=2 * UPLOAD_LIMIT,  # 200 risks of six 2,000-character texts
    description="The same rules as the file import; impact and probability 1-5, priority "
    "1-25 (a 422 `validation_error` names `risks.N.impact`); a reference twice is a 422 "
    "`import_rejected`. Nothing changes on any problem." + ACCESS,
)
def put_risk_register(
    organisation_id: IdPath,
    financial_year: FinancialYearPath,
    period: PeriodPath,
    body: RiskRegisterIn,
    session: DbSession,
    principal: CurrentPrincipal,
) -> RegisterImport:
    return RegisterImport(
        **service.put_register(session, principal, organisation_id, financial_year, period, body)
    )


@router.put(
    "/risk-register/{financial_year}/{period}/file",
    response_model=RegisterImport,
    summary="Create or update risks and their assessments for a period from CSV or XLSX",
    description=str(__doc__) + ACCESS,
    max_body_size=UPLOAD_LIMIT,
)
def upload_risk_register(
    organisation_id: IdPath,
    financial_year: FinancialYearPath,
    period: PeriodPath,
    file: Annotated[UploadFile, File(description="The register: .csv or .xlsx")],
    session: DbSession,
    principal: CurrentPrincipal,
) -> RegisterImport:
    result = service.import_file(
        session,
        principal,
        organisation_id,
        financial_year,
        period,
        file.file.read(),
        file.filename,
        file.content_type,
    )
    return RegisterImport(**result)
