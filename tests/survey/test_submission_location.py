"""A respondent's submission is created at the address it was sent to: the 201 says so."""

from __future__ import annotations

from tests.survey.conftest import full_answers, make_campaign, staff, upload


def test_submission_201_carries_location(api, smtp):
    campaign = make_campaign(api)
    upload(api, campaign, ["x@example.gov.uk"])
    api.survey.post(f"/api/v1/campaigns/{campaign['id']}/send", headers=staff(api, campaign))
    api.deliver()
    token = smtp.to("x@example.gov.uk")[-1].token
    url = f"/api/v1/respond/{token}/submission"
    sent = api.survey.post(url, json={"answers": full_answers()})
    assert sent.status_code == 201, sent.text
    assert sent.headers["location"] == url
