"""Import a finance system's outturn export (CSV or XLSX, multipart field ``file``) for the
year to a period. It replaces the report of that service, year and period whole.

**Columns** (header names matched case- and punctuation-blind, so `Budget (£)` is
`budget`; title rows above the header are skipped; other columns are ignored):

- `group` (required): a group's key or label: `expenditure`, `staffing`, `contingency`,
  or one of the service's own (`PUT …/finance-groups/{key}`);
- `category` (optional); `line` (required): the budget line's name;
- `budget`, `forecast`, `actuals` (required); the printed `variance` and `remaining`
  (optional: kept as printed and checked by the pack, never replaced);
- `recharge` (optional): yes/no, y/n, true/false, 1/0 or blank (no); a recharge is
  excluded from actuals;
- `P1` … `P12` (or `Apr` … `Mar`; optional): actuals by period; the report keeps P1 … Pn
  for its period n. An amount in a later period is refused, as is a column `P0` or `P13`;
- `row_type` (optional): `line`, `total` (a group total) or `grand total`.

**Money** as finance staff write it: `£ 1,234`, `£1,234.56`, `-£ 30,000`, `£ -` (zero),
`(1,234)` (negative), blank (zero); at most two decimal places; a workbook's number cells
as the workbook holds them. Stored as integer pence, exactly.

**Printed totals**: a row is a total when its `row_type` says so or, without one, when its
line reads as a total (`Total`, `Staffing total`, `Total staffing`, `Grand total`, `Total
service charge`). A total row with a group is that group's printed total; one with no
group, a group cell of `Total`, or a line naming a grand total (`grand`, `service charge`,
`overall`) is the grand total. Mark a budget line whose name reads like a total with
`row_type` = `line`.

**Refusals** (nothing stored changes; the previous report stays): any bad row gives 422
`import_rejected` whose `errors` list every problem as `{row, column, code, message}`
(codes: `unknown_group`, `not_an_amount`, `duplicate_line`, `duplicate_total`,
`period_after_report`, `period_out_of_range`, `missing_value`, `missing_column`); a file
that is not the CSV or XLSX it claims to be gives 422 `file_unreadable`.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Path, Request, UploadFile
from fastapi.responses import Response

from services.ingest.finance import service
from services.ingest.finance.schemas import (
    FinanceGroup,
    FinanceGroupIn,
    FinanceLine,
    FinanceReport,
    FinanceReportIn,
    FinanceReportSummary,
)
from shared.auth import CurrentPrincipal
from shared.bodies import MiB
from shared.deps import DbSession, IdPath
from shared.pagination import Page
from shared.periods import FinancialYearPath, PeriodPath
from shared.tabular import OutputQuery, table_response, table_responses

router = APIRouter(prefix="/api/v1/organisations/{organisation_id}", tags=["finance"])

UPLOAD_LIMIT = 16 * MiB
FILE_FORMAT = str(__doc__)
GroupKeyPath = Annotated[
    str, Path(pattern=r"^[a-z][a-z0-9_]{0,49}$", description="The group's key", max_length=50)
]
ACCESS = (
    " Readable by administrators, the service's own principals and its partners' "
    "principals; written by administrators and the service's participants."
)


@router.get(
    "/finance-groups",
    response_model=Page[FinanceGroup],
    responses=table_responses(Page[FinanceGroup]),
    summary="The service's finance groups: the standard ones, then its own",
    description="Groups an outturn line may name (by key or label)." + ACCESS,
)
def list_finance_groups(
    request: Request,
    organisation_id: IdPath,
    session: DbSession,
    principal: CurrentPrincipal,
    out: OutputQuery,
) -> Response:
    rows = service.groups(session, principal, organisation_id)
    return table_response(
        request, out, Page[FinanceGroup], list(FinanceGroup.model_fields), rows, "finance-groups"
    )


@router.put(
    "/finance-groups/{key}",
    response_model=FinanceGroup,
    summary="Add or rename one of the service's own finance groups",
    description="A key of a standard group (expenditure, staffing, contingency) is refused, "
    "as is a label another group already has." + ACCESS,
)
def put_finance_group(
    organisation_id: IdPath,
    key: GroupKeyPath,
    body: FinanceGroupIn,
    session: DbSession,
    principal: CurrentPrincipal,
) -> FinanceGroup:
    return FinanceGroup(**service.put_group(session, principal, organisation_id, key, body))


@router.delete(
    "/finance-groups/{key}",
    status_code=204,
    summary="Remove one of the service's own finance groups (409 while a report uses it)",
)
def delete_finance_group(
    organisation_id: IdPath, key: GroupKeyPath, session: DbSession, principal: CurrentPrincipal
) -> Response:
    service.delete_group(session, principal, organisation_id, key)
    return Response(status_code=204)


@router.get(
    "/finance-reports",
    response_model=Page[FinanceReportSummary],
    responses=table_responses(Page[FinanceReportSummary]),
    summary="The service's outturn reports, newest period first",
    description="One per financial year and period." + ACCESS,
)
def list_finance_reports(
    request: Request,
    organisation_id: IdPath,
    session: DbSession,
    principal: CurrentPrincipal,
    out: OutputQuery,
) -> Response:
    rows = service.list_reports(session, principal, organisation_id)
    columns = list(FinanceReportSummary.model_fields)
    return table_response(
        request, out, Page[FinanceReportSummary], columns, rows, "finance-reports"
    )


@router.get(
    "/finance-reports/{financial_year}/{period}",
    response_model=FinanceReport,
    summary="The outturn for the year to a period, as stored (pence, printed totals)",
    description="Lines in the report's order with their amounts in pence as imported, and "
    "the totals the source printed. Figures computed from them (variance, remaining, group "
    "and grand totals) and the checks are the committee pack's (metrics)." + ACCESS,
)
def get_finance_report(
    organisation_id: IdPath,
    financial_year: FinancialYearPath,
    period: PeriodPath,
    session: DbSession,
    principal: CurrentPrincipal,
) -> FinanceReport:
    return FinanceReport(
        **service.get_report(session, principal, organisation_id, financial_year, period)
    )


@router.get(
    "/finance-reports/{financial_year}/{period}/lines",
    response_model=Page[FinanceLine],
    responses=table_responses(Page[FinanceLine]),
    summary="The outturn's budget lines as a table (JSON page or CSV)",
)
def list_finance_lines(
    request: Request,
    organisation_id: IdPath,
    financial_year: FinancialYearPath,
    period: PeriodPath,
    session: DbSession,
    principal: CurrentPrincipal,
    out: OutputQuery,
) -> Response:
    report = service.get_report(session, principal, organisation_id, financial_year, period)
    return table_response(
        request,
        out,
        Page[FinanceLine],
        list(FinanceLine.model_fields),
        report["lines"],
        f"outturn-{financial_year}-p{period}",
    )


@router.put(
    "/finance-reports/{financial_year}/{period}",
    response_model=FinanceReport,
    summary="Replace the outturn for the year to a period (JSON, amounts in pence)",
    max_body_size=UPLOAD_LIMIT,
    description="The same rules as the file import (groups, duplicate lines, periods), "
    "with amounts already in pence; `period_actuals_pence`, when given, has exactly one "
    "entry per period P1 … Pn. Any problem: 422 `import_rejected` naming each "
    "`lines.N.field`; the stored report is unchanged." + ACCESS,
)
def put_finance_report(
    organisation_id: IdPath,
    financial_year: FinancialYearPath,
    period: PeriodPath,
    body: FinanceReportIn,
    session: DbSession,
    principal: CurrentPrincipal,
) -> FinanceReport:
    return FinanceReport(
        **service.put_report(session, principal, organisation_id, financial_year, period, body)
    )


@router.put(
    "/finance-reports/{financial_year}/{period}/file",
    response_model=FinanceReport,
    summary="Replace the outturn for the year to a period from a CSV or XLSX export",
    description=FILE_FORMAT + ACCESS,
    max_body_size=UPLOAD_LIMIT,
)
def upload_finance_report(
    organisation_id: IdPath,
    financial_year: FinancialYearPath,
    period: PeriodPath,
    file: Annotated[UploadFile, File(description="The export: .csv or .xlsx")],
    session: DbSession,
    principal: CurrentPrincipal,
) -> FinanceReport:
    report = service.import_file(
        session,
        principal,
        organisation_id,
        financial_year,
        period,
        file.file.read(),
        file.filename,
        file.content_type,
    )
    return FinanceReport(**report)


@router.delete(
    "/finance-reports/{financial_year}/{period}",
    status_code=204,
    summary="Delete the outturn for the year to a period",
)
def delete_finance_report(
    organisation_id: IdPath,
    financial_year: FinancialYearPath,
    period: PeriodPath,
    session: DbSession,
    principal: CurrentPrincipal,
) -> Response:
    service.delete_report(session, principal, organisation_id, financial_year, period)
    return Response(status_code=204)
