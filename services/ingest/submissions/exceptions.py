from shared.errors import Conflict, NotFound, Unprocessable


class SubmissionNotFound(NotFound):
    code = "submission_not_found"

    def __init__(self, submission_id: int) -> None:
        super().__init__(f"There is no submission {submission_id}.")


class SubmissionLocked(Conflict):
    code = "submission_locked"


class WrongState(Conflict):
    code = "submission_state"


class CycleNotOpen(Conflict):
    code = "cycle_not_open"


class InvalidAnswers(Unprocessable):
    code = "invalid_answers"


class SubmissionInvalid(Unprocessable):
    code = "submission_invalid"


class WarningCommentRequired(Unprocessable):
    code = "warning_comment_required"


class ReasonRequired(Unprocessable):
    code = "reason_required"
