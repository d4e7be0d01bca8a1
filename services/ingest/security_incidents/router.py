"""A shared service's security incidents log.

**File import** (CSV or XLSX, multipart field ``file``): one row per incident, created or
replaced by its reference. Columns (header names matched case- and punctuation-blind):
`reference`, `title`, `opened` (a date: `2024-05-14`, `14/05/2024` or a workbook date),
`severity` (low, medium, high, critical) required; `closed` (a date on or after opened),
`os`, `assets_affected`, `status` (default: closed when a closed date is given, else open)
optional. Any bad row gives 422 `import_rejected` whose `errors` list every problem as
`{row, column, code, message}` (`missing_value` for a row with no opened date,
`not_a_date`, `invalid_value` for an unknown severity, `closed_before_opened`,
`duplicate_reference`), and nothing changes.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Header, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response

from services.ingest.security_incidents import service
from services.ingest.security_incidents.schemas import (
    Incident,
    IncidentImport,
    IncidentIn,
    IncidentUpdate,
    Severity,
)
from shared.auth import CurrentPrincipal
from shared.bodies import MiB
from shared.db.tables.ingest import ingest_idempotency
from shared.deps import DbSession, IdPath
from shared.idempotency import idempotent_create, location_responses
from shared.pagination import Page
from shared.tabular import OutputQuery, table_response, table_responses
from shared.types import IsoDate

router = APIRouter(prefix="/api/v1/organisations/{organisation_id}", tags=["security incidents"])

UPLOAD_LIMIT = 16 * MiB
ACCESS = (
    " Readable by administrators, the service's own principals and its partners' "
    "principals; written by administrators and the service's participants."
)


@router.post(
    "/security-incidents",
    status_code=201,
    response_model=Incident,
    summary="Log a security incident",
    description="A reference the service already has is a 409; closed_on before opened_on "
    "a 422." + ACCESS,
    responses=location_responses(),
)
def create_security_incident(
    request: Request,
    organisation_id: IdPath,
    body: IncidentIn,
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
        lambda: Incident(**service.create(session, principal, organisation_id, body)),
        location=lambda made: (
            f"/api/v1/organisations/{organisation_id}/security-incidents/{made['id']}"
        ),
    )


@router.get(
    "/security-incidents",
    response_model=Page[Incident],
    responses=table_responses(Page[Incident]),
    summary="The service's security incidents, newest first",
    description=ACCESS.strip(),
)
def list_security_incidents(
    request: Request,
    organisation_id: IdPath,
    session: DbSession,
    principal: CurrentPrincipal,
    out: OutputQuery,
    opened_from: Annotated[IsoDate | None, Query(description="Opened on or after")] = None,
    opened_to: Annotated[IsoDate | None, Query(description="Opened on or before")] = None,
    severity: Annotated[
        list[Severity] | None, Query(description="Only these severities (repeat)")
    ] = None,
) -> Response:
    rows = service.listing(session, principal, organisation_id, opened_from, opened_to, severity)
    return table_response(
        request, out, Page[Incident], list(Incident.model_fields), rows, "security-incidents"
    )


@router.post(
    "/security-incident-imports",
    response_model=IncidentImport,
    summary="Create or replace security incidents from a CSV or XLSX log",
    description=str(__doc__) + ACCESS,
    max_body_size=UPLOAD_LIMIT,
)
def import_security_incidents(
    organisation_id: IdPath,
    file: Annotated[UploadFile, File(description="The log: .csv or .xlsx")],
    session: DbSession,
    principal: CurrentPrincipal,
) -> IncidentImport:
    result = service.import_file(
        session, principal, organisation_id, file.file.read(), file.filename, file.content_type
    )
    return IncidentImport(**result)


@router.get(
    "/security-incidents/{incident_id}",
    response_model=Incident,
    summary="One security incident",
    description=ACCESS.strip(),
)
def get_security_incident(
    organisation_id: IdPath, incident_id: IdPath, session: DbSession, principal: CurrentPrincipal
) -> Incident:
    return Incident(**service.get(session, principal, organisation_id, incident_id))


@router.patch(
    "/security-incidents/{incident_id}",
    response_model=Incident,
    summary="Change a security incident (close it, re-grade it…)",
    description=ACCESS.strip(),
)
def update_security_incident(
    organisation_id: IdPath,
    incident_id: IdPath,
    body: IncidentUpdate,
    session: DbSession,
    principal: CurrentPrincipal,
) -> Incident:
    return Incident(**service.update(session, principal, organisation_id, incident_id, body))


@router.delete(
    "/security-incidents/{incident_id}", status_code=204, summary="Delete a security incident"
)
def delete_security_incident(
    organisation_id: IdPath, incident_id: IdPath, session: DbSession, principal: CurrentPrincipal
) -> Response:
    service.delete(session, principal, organisation_id, incident_id)
    return Response(status_code=204)
