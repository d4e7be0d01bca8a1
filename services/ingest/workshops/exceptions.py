from shared.errors import Conflict, Forbidden, NotFound, Unprocessable


class WorkshopNotFound(NotFound):
    code = "workshop_not_found"

    def __init__(self, workshop_id: int) -> None:
        super().__init__(f"There is no workshop {workshop_id} that you can see.")


class NotAMember(NotFound):
    code = "not_a_member"

    def __init__(self, workshop_id: int, organisation_id: int) -> None:
        super().__init__(
            f"Organisation {organisation_id} is not a member of workshop {workshop_id}; "
            "an administrator sets the members when creating the workshop."
        )


class InvalidWindow(Unprocessable):
    code = "invalid_window"


class NotAParticipant(Unprocessable):
    code = "not_a_participant"


class ConsentNotYours(Forbidden):
    code = "consent_not_yours"


class ConsentClosed(Conflict):
    code = "consent_closed"


class WorkshopOver(Conflict):
    code = "workshop_over"
