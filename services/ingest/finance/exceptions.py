from shared.errors import Conflict, NotFound, Unprocessable


class FinanceReportNotFound(NotFound):
    code = "finance_report_not_found"

    def __init__(self, service_id: int, financial_year: int, period: int) -> None:
        super().__init__(
            f"Service {service_id} has no financial outturn for {financial_year} P{period}; "
            "import one with PUT on this path."
        )


class FinanceGroupNotFound(NotFound):
    code = "finance_group_not_found"


class StandardFinanceGroup(Unprocessable):
    code = "standard_finance_group"


class FinanceGroupInUse(Conflict):
    code = "finance_group_in_use"
