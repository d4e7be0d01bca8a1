from shared.errors import NotFound


class CostTableNotFound(NotFound):
    code = "cost_table_not_found"

    def __init__(self, service_id: int, table_id: int) -> None:
        super().__init__(f"Service {service_id} has no cost table {table_id}.")
