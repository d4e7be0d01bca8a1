from shared.errors import NotFound


class JobNotFound(NotFound):
    code = "computation_job_not_found"

    def __init__(self, job_id: int) -> None:
        super().__init__(f"There is no computation job {job_id}.")
