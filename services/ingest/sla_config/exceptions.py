from shared.errors import NotFound, Unprocessable


class CalendarNotFound(NotFound):
    code = "calendar_not_found"

    def __init__(self, calendar_id: int) -> None:
        super().__init__(f"There is no business calendar {calendar_id} for this organisation.")


class PolicyNotFound(NotFound):
    code = "sla_policy_not_found"

    def __init__(self, policy_id: int) -> None:
        super().__init__(f"There is no SLA policy {policy_id} for this organisation.")


class InvalidCalendar(Unprocessable):
    code = "invalid_calendar"


class InvalidPolicy(Unprocessable):
    code = "invalid_sla_policy"
