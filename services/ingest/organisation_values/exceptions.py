from shared.errors import NotFound, Unprocessable


class InvalidValueMapping(Unprocessable):
    code = "invalid_value_mapping"


class ValueMappingNotFound(NotFound):
    code = "value_mapping_not_found"

    def __init__(self, organisation_id: int, source_system: str) -> None:
        super().__init__(
            f"Organisation {organisation_id} has no organisation value mapping for source "
            f"system {source_system!r}."
        )
