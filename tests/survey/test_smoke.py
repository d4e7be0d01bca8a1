from tests.survey.conftest import full_answers, make_campaign, staff, upload


def test_smoke(api, smtp):
    campaign = make_campaign(api)
    r = upload(api, campaign, ["a@example.gov.uk", "B@example.gov.uk", "a@example.gov.uk"])
    assert r.status_code == 200, r.text
    assert r.json()["new"] == 2
    r = api.survey.post(f"/api/v1/campaigns/{campaign['id']}/send", headers=staff(api, campaign))
    assert r.status_code == 202, r.text
    assert api.deliver() == 2
    assert len(smtp.messages) == 2
    token = smtp.messages[0].token
    r = api.survey.get(f"/s/{token}")
    assert r.status_code == 200, r.text
    r = api.survey.post(f"/api/v1/respond/{token}/submission", json={"answers": full_answers()})
    assert r.status_code == 201, r.text
    r = api.survey.post(f"/api/v1/respond/{token}/submission", json={"answers": full_answers()})
    assert r.status_code == 409, r.text
