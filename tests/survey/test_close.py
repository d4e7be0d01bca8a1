"""Closing a campaign by hand: staff of its organisation or an admin, idempotent, and the
same ``survey.campaign_closed`` event as the close job, which the metrics service acts on."""

from __future__ import annotations

from sqlalchemy import text

from tests.factories import assert_problem, make_org
from tests.survey.conftest import full_answers, make_campaign, staff, upload


def closed_events(owner_engine) -> list[dict]:
    with owner_engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT payload, target, path FROM survey_outbox"
                " WHERE event_type = 'survey.campaign_closed' ORDER BY id"
            )
        )
        return [dict(r._mapping) for r in rows]


def test_staff_close_a_campaign_once_and_links_stop_working(api, smtp, owner_engine):
    campaign = make_campaign(api)
    cid = campaign["id"]
    upload(api, campaign, ["a@example.gov.uk", "b@example.gov.uk"])
    api.survey.post(f"/api/v1/campaigns/{cid}/send", headers=staff(api, campaign))
    api.deliver()
    first, second = (m.token for m in smtp.messages)
    r = api.survey.post(f"/api/v1/respond/{first}/submission", json={"answers": full_answers()})
    assert r.status_code == 201

    r = api.survey.post(f"/api/v1/campaigns/{cid}/close", headers=staff(api, campaign))
    assert r.status_code == 200, r.text
    closed = r.json()
    assert closed["status"] == "closed" and closed["closed_at"] is not None
    assert closed_events(owner_engine) == [
        {"payload": {"campaign_id": cid}, "target": "metrics", "path": "/internal/events"}
    ]

    # Again: same answer, no second event, closed_at kept.
    again = api.survey.post(f"/api/v1/campaigns/{cid}/close", headers=staff(api, campaign))
    assert again.status_code == 200
    assert again.json()["closed_at"] == closed["closed_at"]
    assert len(closed_events(owner_engine)) == 1

    # The event reaches the metrics service, which computes the results.
    assert api.deliver() >= 1
    results = api.metrics.get(
        f"/api/v1/survey-results/campaigns/{cid}", headers=staff(api, campaign)
    )
    assert results.status_code == 200, results.text

    # Nothing more is accepted, by API or form, and no more invitations go out.
    assert_problem(
        api.survey.post(f"/api/v1/respond/{second}/submission", json={"answers": full_answers()}),
        410,
        "survey_closed",
    )
    assert api.survey.get(f"/s/{second}").status_code == 410
    assert (
        api.survey.post(f"/api/v1/campaigns/{cid}/send", headers=staff(api, campaign)).status_code
        == 409
    )
    with owner_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM survey_responses")).scalar() == 1


def test_only_its_own_staff_or_an_admin_can_close_it(api, owner_engine):
    campaign = make_campaign(api)
    cid = campaign["id"]
    other = make_org(api)
    assert_problem(
        api.survey.post(
            f"/api/v1/campaigns/{cid}/close", headers=api.auth("participant", [other["id"]])
        ),
        404,
    )
    r = api.survey.post(f"/api/v1/campaigns/{cid}/close", headers=api.auth("viewer", []))
    assert_problem(r, 403)
    assert_problem(api.survey.post(f"/api/v1/campaigns/{cid}/close"), 401)
    assert_problem(
        api.survey.post("/api/v1/campaigns/999999/close", headers=api.auth("admin")), 404
    )
    assert closed_events(owner_engine) == []
    r = api.survey.post(f"/api/v1/campaigns/{cid}/close", headers=api.auth("admin"))
    assert r.status_code == 200 and r.json()["status"] == "closed"
    assert len(closed_events(owner_engine)) == 1
