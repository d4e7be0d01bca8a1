from shared.errors import Conflict, NotFound, Unprocessable


class CycleNotFound(NotFound):
    code = "cycle_not_found"

    def __init__(self, cycle_id: int) -> None:
        super().__init__(f"There is no cycle {cycle_id}.")


class ReleaseDateRequired(Unprocessable):
    code = "release_date_required"


class CodesExhausted(Conflict):
    code = "codes_exhausted"
