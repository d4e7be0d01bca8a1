from shared.errors import Conflict, Forbidden, NotFound


class PackNotFound(NotFound):
    code = "committee_pack_not_found"

    def __init__(self, pack_id: int) -> None:
        super().__init__(
            f"There is no committee pack {pack_id}; list them with GET /api/v1/committee-packs."
        )


class ServiceNotFound(NotFound):
    code = "organisation_not_found"

    def __init__(self, service_id: int) -> None:
        super().__init__(
            f"There is no organisation {service_id}; list them with GET /api/v1/organisations "
            "on the ingest service."
        )


class NotInReview(Conflict):
    code = "committee_pack_not_in_review"

    def __init__(self, pack_id: int, status: str) -> None:
        super().__init__(
            f"Committee pack {pack_id} is {status.replace('_', ' ')}; only a version in review "
            "can be issued. Freeze the draft for review with POST /api/v1/committee-packs."
        )


class ServiceForbidden(Forbidden):
    code = "organisation_forbidden"

    def __init__(self, service_id: int) -> None:
        super().__init__(
            f"Your credentials are not scoped to shared service {service_id} or one of its "
            "partner organisations; ask an administrator to add it to your account or API key."
        )


class WriteForbidden(Forbidden):
    code = "committee_pack_write_forbidden"

    def __init__(self, service_id: int) -> None:
        super().__init__(
            f"Only the staff of shared service {service_id} (role participant) or an "
            "administrator can freeze and issue its committee packs; partner organisations "
            "read them."
        )
