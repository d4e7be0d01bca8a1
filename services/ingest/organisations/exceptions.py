from shared.errors import Forbidden, NotFound, Unprocessable


class OrganisationNotFound(NotFound):
    code = "organisation_not_found"

    def __init__(self, organisation_id: int) -> None:
        super().__init__(f"There is no organisation {organisation_id}.")


class NationMismatch(Unprocessable):
    code = "nation_mismatch"


class InvalidPartners(Unprocessable):
    code = "invalid_partners"


class GovernanceReadOnly(Forbidden):
    """The caller may read a shared service's governance data but not write it."""

    code = "governance_read_only"
