"""Bad input gets a clear 4xx and loses nothing; anonymity settings only tighten."""

from __future__ import annotations

from sqlalchemy import text

from tests.factories import assert_problem
from tests.survey.conftest import full_answers, make_campaign, run_jobs, staff, upload


def _one_link(api, smtp, campaign, address="x@example.gov.uk"):
    upload(api, campaign, [address])
    api.survey.post(f"/api/v1/campaigns/{campaign['id']}/send", headers=staff(api, campaign))
    api.deliver()
    return smtp.to(address)[-1].token


def test_invalid_answers_are_rejected_naming_the_field_and_the_link_still_works(
    api, smtp, owner_engine
):
    campaign = make_campaign(api)
    token = _one_link(api, smtp, campaign)
    url = f"/api/v1/respond/{token}/submission"
    body = assert_problem(
        api.survey.post(url, json={"answers": full_answers() | {"S1.satisfaction": 8}}), 422
    )
    assert body["errors"][0]["field"] == "answers.S1.satisfaction"
    body = assert_problem(
        api.survey.post(url, json={"answers": full_answers() | {"S21.satisfaction": 3}}), 422
    )
    assert "no factor S21" in body["detail"]
    body = assert_problem(
        api.survey.post(url, json={"answers": full_answers() | {"comment": "x" * 5001}}), 422
    )
    assert body["errors"][0]["field"] == "answers.comment"
    with owner_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM survey_responses")).scalar() == 0
    r = api.survey.put(f"/api/v1/respond/{token}/draft", json={"answers": {"overall": 3}})
    assert r.status_code == 200 and r.json()["answers"] == {"overall": 3}
    with owner_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM survey_drafts")).scalar() == 1
    assert api.survey.post(url, json={"answers": full_answers()}).status_code == 201
    with owner_engine.connect() as conn:  # the draft goes in the same statement
        assert conn.execute(text("SELECT count(*) FROM survey_drafts")).scalar() == 0
        assert conn.execute(text("SELECT count(*) FROM survey_responses")).scalar() == 1


def test_html_form_errors_are_inline_and_unknown_links_get_a_friendly_page(api, smtp):
    campaign = make_campaign(api)
    token = _one_link(api, smtp, campaign)
    r = api.survey.post(
        f"/s/{token}", data={"page": "1", "action": "continue", "S1.satisfaction": "9"}
    )
    assert r.status_code == 422 and "must be a whole number" in r.text and "<html" in r.text
    r = api.survey.get("/s/" + "A" * 43)
    assert r.status_code == 404 and "does not work" in r.text and "Traceback" not in r.text
    assert api.survey.get("/s/short").status_code == 404
    assert_problem(api.survey.get("/api/v1/respond/" + "A" * 43), 404, "link_unknown")


def test_closed_campaign_refuses_answers(api, smtp, owner_engine):
    campaign = make_campaign(api)
    token = _one_link(api, smtp, campaign)
    with owner_engine.begin() as conn:
        conn.execute(
            text("UPDATE survey_campaigns SET closes_on = opens_on, opens_on = opens_on - 3")
        )
    from datetime import UTC, datetime, timedelta

    run_jobs(api, "close", datetime.now(UTC) + timedelta(days=2))
    assert_problem(
        api.survey.post(f"/api/v1/respond/{token}/submission", json={"answers": full_answers()}),
        410,
        "survey_closed",
    )
    assert api.survey.get(f"/s/{token}").status_code == 410


def test_upload_with_a_broken_row_stores_nothing_and_names_the_row(api, owner_engine):
    campaign = make_campaign(api)
    assert upload(api, campaign, ["good@example.gov.uk"]).status_code == 200
    r = upload(api, campaign, ["ok@example.gov.uk", "not-an-address", "fine@example.gov.uk"])
    body = assert_problem(r, 422, "invalid_recipients")
    assert body["errors"][0]["row"] == 3 and "no @" in body["errors"][0]["message"]
    assert "not-an-address" not in r.text
    with owner_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM survey_invitations")).scalar() == 1


def test_anonymity_settings_cannot_be_loosened_after_first_send(api, smtp):
    campaign = make_campaign(api, breakdown_attributes=["location"], comments_enabled=False)
    _one_link(api, smtp, campaign)
    url, headers = f"/api/v1/campaigns/{campaign['id']}", staff(api, campaign)
    assert_problem(
        api.survey.patch(url, json={"comments_enabled": True}, headers=headers),
        409,
        "anonymity_locked",
    )
    assert_problem(
        api.survey.patch(url, json={"breakdown_attributes": ["location", "role"]}, headers=headers),
        409,
        "anonymity_locked",
    )
    assert_problem(api.survey.patch(url, json={"suppression_threshold": 5}, headers=headers), 422)
    r = api.survey.patch(
        url, json={"breakdown_attributes": [], "suppression_threshold": 20}, headers=headers
    )
    assert r.status_code == 200 and r.json()["breakdown_attributes"] == []
    assert_problem(
        api.survey.patch(url, json={"suppression_threshold": 12}, headers=headers),
        409,
        "anonymity_locked",
    )


def test_other_organisations_cannot_see_campaigns_or_comments(api, smtp):
    campaign = make_campaign(api)
    other = api.auth("participant", [campaign["organisation_id"] + 100])
    assert_problem(api.survey.get(f"/api/v1/campaigns/{campaign['id']}", headers=other), 404)
    path = f"/api/v1/survey-results/campaigns/{campaign['id']}/comments"
    assert_problem(api.metrics.get(path, headers=other), 404)
    assert_problem(api.metrics.get(path, headers=api.auth("admin")), 403, "comments_forbidden")
    assert api.metrics.get(path, headers=staff(api, campaign)).status_code == 200


def test_bounced_address_gets_no_reminder(api, smtp):
    from datetime import UTC, datetime, timedelta

    campaign = make_campaign(api, reminder_count=1, reminder_interval_days=1)
    upload(api, campaign, ["a@example.gov.uk", "b@example.gov.uk"])
    api.survey.post(f"/api/v1/campaigns/{campaign['id']}/send", headers=staff(api, campaign))
    api.deliver()
    r = api.survey.post(
        f"/api/v1/campaigns/{campaign['id']}/bounces",
        json={"addresses": ["A@example.gov.uk"]},
        headers=staff(api, campaign),
    )
    assert r.json() == {"matched": 1, "unmatched": 0, "invalid": 0}
    assert run_jobs(api, "reminders", datetime.now(UTC) + timedelta(days=2))["reminders"] == 1
    api.deliver()
    assert len(smtp.to("a@example.gov.uk")) == 1 and len(smtp.to("b@example.gov.uk")) == 2


def test_submission_stores_canonical_answers_and_drops_nulls(api, smtp, owner_engine):
    # The one-statement submission stores what was sent, then replaces it with the cleaned
    # answers in the same transaction when they differ ("5" -> 5, CRLF -> LF, null dropped).
    campaign = make_campaign(api)
    token = _one_link(api, smtp, campaign)
    answers = full_answers() | {"S1.satisfaction": " 5", "comment": "a\r\nb", "nps": None}
    r = api.survey.post(f"/api/v1/respond/{token}/submission", json={"answers": answers})
    assert r.status_code == 201, r.text
    with owner_engine.connect() as conn:
        stored = conn.execute(text("SELECT answers FROM survey_responses")).scalar_one()
    expected = full_answers() | {"S1.satisfaction": 5, "comment": "a\nb"}
    del expected["nps"]
    assert stored == expected


def test_upload_problems_carry_codes_and_only_warnings_let_it_through(api, owner_engine):
    campaign = make_campaign(api, attribute_options={"location": ["North office", "South office"]})
    cid = campaign["id"]
    url = f"/api/v1/campaigns/{cid}/recipients"
    # An unknown column is a warning: dropped, reported with its code, the rest stored.
    r = api.survey.post(
        url,
        content=b"email,name,location\na@example.gov.uk,Ann,north office\n",
        headers={**staff(api, campaign), "Content-Type": "text/csv"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["warnings"] == [
        {"row": 1, "code": "unknown_columns", "message": r.json()["warnings"][0]["message"]}
    ]
    assert r.json()["new"] == 1
    # A value that merely reads like a warning is still an error: nothing stored.
    r = api.survey.post(
        url,
        json=[{"email": "b@example.gov.uk", "location": "x ignored; y"}],
        headers=staff(api, campaign),
    )
    body = assert_problem(r, 422)
    assert [(e["row"], e["code"]) for e in body["errors"]] == [(1, "attribute_not_in_list")]
    with owner_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM survey_invitations")).scalar() == 1
