from shared.errors import NotFound, Unprocessable


class ImportNotFound(NotFound):
    code = "ticket_import_not_found"

    def __init__(self, import_id: int) -> None:
        super().__init__(f"There is no ticket import {import_id} visible to you.")


class MappingNotFound(NotFound):
    code = "ticket_mapping_not_found"

    def __init__(self, mapping_id: int) -> None:
        super().__init__(f"There is no ticket mapping {mapping_id} for this organisation.")


class OrganisationNotFound(NotFound):
    code = "organisation_not_found"

    def __init__(self, organisation_id: int) -> None:
        super().__init__(f"There is no organisation {organisation_id}.")


class UnknownProfile(Unprocessable):
    code = "unknown_profile"


class EmptyFile(Unprocessable):
    code = "empty_file"


class InvalidMapping(Unprocessable):
    code = "invalid_mapping"


class UnknownTickets(Unprocessable):
    code = "unknown_tickets"
