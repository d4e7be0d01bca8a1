from shared.errors import Conflict, NotFound, Unprocessable


class CampaignNotFound(NotFound):
    code = "campaign_not_found"

    def __init__(self, campaign_id: int) -> None:
        super().__init__(f"There is no campaign {campaign_id} that you can see.")


class CampaignClosed(Conflict):
    code = "campaign_closed"


class CampaignNotOpen(Conflict):
    code = "campaign_not_open"


class AnonymityLocked(Conflict):
    code = "anonymity_locked"


class InvalidRecipients(Unprocessable):
    code = "invalid_recipients"


class InvalidCampaign(Unprocessable):
    code = "invalid_campaign"
