"""Import a cost table (such as the Covid-19 cost table) from CSV or XLSX (multipart field
``file``, with the table's ``title`` as a form field) for a financial year and period. It
replaces the service's table of the same title, year and period whole.

**Columns**: `organisation` and `category` (required; header names matched case- and
punctuation-blind, title rows above the header skipped), then one column per period in
the order the table shows them (any labels: `P1`, `Apr-24`, `Q1`…), and optionally a
`Total` column. Categories keep the order in which they first appear in the file; the
table is read back, and printed in the committee pack, in that order.

**Organisations**: the service itself or one of its partners, by id, full name, or a
distinctive part of the name (`Brent` for `London Borough of Brent`). Any other is
refused (`unknown_organisation`).

**Money** as finance staff write it (`£ 1,234`, `£1,234.56`, `-£ 30,000`, `£ -`,
`(1,234)`, blank = 0), stored as integer pence.

**Printed totals** (optional, kept as printed for the pack's checks): a row whose
category reads as a total (`Total`, `Brent total`) gives that organisation's totals per
column; a row whose organisation is `Total` (or `Grand total`, `All`) gives the totals
across organisations per column; the `Total` column on those rows gives the row's total
across columns (on an organisation × category row it is not kept: the pack computes it).
A total of one category across organisations cannot be kept and is refused
(`unsupported_total`).

**Refusals** (nothing stored changes): 422 `import_rejected` whose `errors` list every
problem as `{row, column, code, message}` (`unknown_organisation`, `not_an_amount`,
`duplicate_row`, `duplicate_total`, `missing_value`, `missing_column`); a file that is
not the CSV or XLSX it claims to be: 422 `file_unreadable`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import Response

from services.ingest.costs import service
from services.ingest.costs.schemas import CostTable, CostTableIn, CostTableSummary
from shared.auth import CurrentPrincipal
from shared.bodies import MiB
from shared.deps import DbSession, IdPath
from shared.pagination import Page
from shared.periods import FinancialYearPath, PeriodPath
from shared.tabular import OutputQuery, table_response, table_responses

router = APIRouter(prefix="/api/v1/organisations/{organisation_id}", tags=["cost tables"])

UPLOAD_LIMIT = 16 * MiB
ACCESS = (
    " Readable by administrators, the service's own principals and its partners' "
    "principals; written by administrators and the service's participants."
)


@router.get(
    "/cost-tables",
    response_model=Page[CostTableSummary],
    responses=table_responses(Page[CostTableSummary]),
    summary="The service's cost tables, newest period first",
    description="One per title, financial year and period." + ACCESS,
)
def list_cost_tables(
    request: Request,
    organisation_id: IdPath,
    session: DbSession,
    principal: CurrentPrincipal,
    out: OutputQuery,
) -> Response:
    rows = service.list_tables(session, principal, organisation_id)
    columns = list(CostTableSummary.model_fields)
    return table_response(request, out, Page[CostTableSummary], columns, rows, "cost-tables")


@router.get(
    "/cost-tables/{table_id}",
    response_model=CostTable,
    summary="One cost table as stored: amounts in pence, printed totals",
    description="Rows by organisation (the service, then its partners in order), then "
    "category in the order the source gave them. Totals computed from them are the "
    "committee pack's." + ACCESS,
)
def get_cost_table(
    organisation_id: IdPath, table_id: IdPath, session: DbSession, principal: CurrentPrincipal
) -> CostTable:
    return CostTable(**service.get_table(session, principal, organisation_id, table_id))


@router.put(
    "/cost-tables/{financial_year}/{period}",
    response_model=CostTable,
    summary="Replace the cost table of this title, year and period (JSON, pence)",
    max_body_size=UPLOAD_LIMIT,
    description="The same rules as the file import; each row has one amount per column; "
    "a printed total names its organisation (null: across organisations) and column "
    "(null: across columns). Any problem: 422 `import_rejected` naming each field; "
    "nothing changes." + ACCESS,
)
def put_cost_table(
    organisation_id: IdPath,
    financial_year: FinancialYearPath,
    period: PeriodPath,
    body: CostTableIn,
    session: DbSession,
    principal: CurrentPrincipal,
) -> CostTable:
    return CostTable(
        **service.put_table(session, principal, organisation_id, financial_year, period, body)
    )


@router.put(
    "/cost-tables/{financial_year}/{period}/file",
    response_model=CostTable,
    summary="Replace the cost table of this title, year and period from CSV or XLSX",
    description=str(__doc__) + ACCESS,
    max_body_size=UPLOAD_LIMIT,
)
def upload_cost_table(
    organisation_id: IdPath,
    financial_year: FinancialYearPath,
    period: PeriodPath,
    file: Annotated[UploadFile, File(description="The table: .csv or .xlsx")],
    title: Annotated[str, Form(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]*$")],
    session: DbSession,
    principal: CurrentPrincipal,
) -> CostTable:
    table = service.import_file(
        session,
        principal,
        organisation_id,
        financial_year,
        period,
        title.strip(),
        file.file.read(),
        file.filename,
        file.content_type,
    )
    return CostTable(**table)


@router.delete("/cost-tables/{table_id}", status_code=204, summary="Delete a cost table")
def delete_cost_table(
    organisation_id: IdPath, table_id: IdPath, session: DbSession, principal: CurrentPrincipal
) -> Response:
    service.delete_table(session, principal, organisation_id, table_id)
    return Response(status_code=204)
