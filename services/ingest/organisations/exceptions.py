from shared.errors import NotFound, Unprocessable


class OrganisationNotFound(NotFound):
    code = "organisation_not_found"

    def __init__(self, organisation_id: int) -> None:
        super().__init__(f"There is no organisation {organisation_id}.")


class NationMismatch(Unprocessable):
    code = "nation_mismatch"
