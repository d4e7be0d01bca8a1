from shared.errors import NotFound


class RiskNotFound(NotFound):
    code = "risk_not_found"

    def __init__(self, service_id: int, risk_id: int) -> None:
        super().__init__(f"Service {service_id} has no risk {risk_id}.")
