from shared.errors import Conflict, NotFound, Unprocessable


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


class CalendarInUse(Conflict):
    code = "calendar_in_use"

    def __init__(self, calendar_id: int, policy_ids: list[int]) -> None:
        ids = ", ".join(str(i) for i in policy_ids)
        which = f"SLA policies {ids}" if len(policy_ids) > 1 else f"SLA policy {ids}"
        super().__init__(
            f"Calendar {calendar_id} is still used by {which}; delete "
            f"{'them' if len(policy_ids) > 1 else 'it'} or point "
            f"{'them' if len(policy_ids) > 1 else 'it'} at another calendar first.",
            calendar_id=calendar_id,
            sla_policy_ids=policy_ids,
        )
