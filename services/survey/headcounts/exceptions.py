from shared.errors import NotFound, Unprocessable


class InvalidHeadcount(Unprocessable):
    code = "invalid_headcount"


class HeadcountNotFound(NotFound):
    code = "headcount_not_found"

    def __init__(self, campaign_id: int) -> None:
        super().__init__(
            f"Campaign {campaign_id} has no headcount; upload one with "
            f"PUT /api/v1/campaigns/{campaign_id}/headcount."
        )
