from shared.errors import NotFound, Unprocessable


class IncidentNotFound(NotFound):
    code = "security_incident_not_found"

    def __init__(self, service_id: int, incident_id: int) -> None:
        super().__init__(f"Service {service_id} has no security incident {incident_id}.")


class ClosedBeforeOpened(Unprocessable):
    code = "closed_before_opened"
