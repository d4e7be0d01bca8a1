from shared.errors import Conflict, NotFound, Unprocessable


class CalendarNotFound(NotFound):
    code = "calendar_not_found"

    def __init__(self, calendar_id: int) -> None:
        super().__init__(f"There is no business calendar {calendar_id} for this organisation.")


class PolicyNotFound(NotFound):
    code = "sla_policy_not_found"

    def __init__(self, policy_id: int) -> None:
        super().__init__(f"There is no SLA policy {policy_id} for this organisation.")


class OlaPolicyNotFound(NotFound):
    code = "ola_policy_not_found"

    def __init__(self, policy_id: int) -> None:
        super().__init__(f"There is no OLA policy {policy_id} for this organisation.")


class InvalidOlaPolicy(Unprocessable):
    code = "invalid_ola_policy"


class InvalidCalendar(Unprocessable):
    code = "invalid_calendar"


class InvalidPolicy(Unprocessable):
    code = "invalid_sla_policy"


class CalendarInUse(Conflict):
    code = "calendar_in_use"

    def __init__(
        self, calendar_id: int, policy_ids: list[int], ola_policy_ids: list[int] | None = None
    ) -> None:
        ola = ola_policy_ids or []
        names = []
        if policy_ids:
            ids = ", ".join(str(i) for i in policy_ids)
            names.append(f"SLA policies {ids}" if len(policy_ids) > 1 else f"SLA policy {ids}")
        if ola:
            ids = ", ".join(str(i) for i in ola)
            names.append(f"OLA policies {ids}" if len(ola) > 1 else f"OLA policy {ids}")
        many = len(policy_ids) + len(ola) > 1
        super().__init__(
            f"Calendar {calendar_id} is still used by {' and '.join(names)}; delete "
            f"{'them' if many else 'it'} or point "
            f"{'them' if many else 'it'} at another calendar first.",
            calendar_id=calendar_id,
            sla_policy_ids=policy_ids,
            ola_policy_ids=ola,
        )
