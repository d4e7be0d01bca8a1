"""Results workshops in ingest: admins create and end them, each member organisation's own
staff consent or decline until the start, times entered and shown in Europe/London, and
bad input refused with a problem naming what to fix."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from tests.factories import assert_problem, make_cycle, make_org

W = "/api/v1/workshops"
START_UTC = datetime(2030, 6, 10, 9, 0, tzinfo=UTC)  # 10:00 in London (BST)


def _participants(api, n=4):
    """A cycle and ``n`` organisations with their anonymous codes drawn in it."""
    cycle = make_cycle(api, 2020)
    orgs = [make_org(api, name=f"Workshop Council {k}") for k in range(n)]
    drawn = api.ingest.post(f"/api/v1/cycles/{cycle['id']}/codes", headers=api.auth())
    assert drawn.status_code == 200, drawn.text
    return cycle, orgs


def _create(api, cycle, orgs, **overrides):
    body = {
        "title": "London boroughs results workshop",
        "cycle_id": cycle["id"],
        "starts_at": "2030-06-10T10:00",
        "ends_at": "2030-06-10T12:30",
        "organisation_ids": [o["id"] for o in orgs],
        **overrides,
    }
    return api.ingest.post(W, json=body, headers=api.auth())


def _consent(api, workshop_id, org_id, consent, who=None):
    return api.ingest.put(
        f"{W}/{workshop_id}/members/{org_id}/consent",
        json={"consent": consent},
        headers=who or api.auth("participant", [org_id], subject=f"staff-of-{org_id}"),
    )


def test_an_admin_creates_a_workshop_in_london_time_and_members_answer(api, clock):
    cycle, orgs = _participants(api)
    created = _create(api, cycle, orgs)
    assert created.status_code == 201, created.text
    workshop = created.json()
    assert created.headers["location"] == f"{W}/{workshop['id']}"
    # 10:00 London wall-clock time in June is 09:00 UTC, shown back in London time
    assert (workshop["starts_at"], workshop["ends_at"]) == (
        "2030-06-10T10:00:00+01:00",
        "2030-06-10T12:30:00+01:00",
    )
    assert workshop["status"] == "scheduled" and workshop["ended_early_at"] is None
    assert workshop["cycle_year"] == 2020
    assert sorted(m["organisation_id"] for m in workshop["members"]) == [o["id"] for o in orgs]
    assert {m["consent"] for m in workshop["members"]} == {"pending"}

    clock.set(datetime(2030, 6, 1, 13, 5, tzinfo=UTC))
    a, b = orgs[0]["id"], orgs[1]["id"]
    answered = _consent(api, workshop["id"], a, "consented")
    assert answered.status_code == 200, answered.text
    assert answered.json() == {
        "organisation_id": a,
        "organisation_name": "Workshop Council 0",
        "consent": "consented",
        "consent_by": f"staff-of-{a}",
        "consent_at": "2030-06-01T14:05:00+01:00",
    }
    assert _consent(api, workshop["id"], b, "declined").status_code == 200
    # withdrawn before the start: allowed, and recorded with who and when
    clock.set(START_UTC - timedelta(seconds=1))
    withdrawn = _consent(api, workshop["id"], a, "declined")
    assert withdrawn.status_code == 200, withdrawn.text
    assert withdrawn.json()["consent"] == "declined"
    assert withdrawn.json()["consent_at"] == "2030-06-10T09:59:59+01:00"

    # a member's staff see the group, but only their own organisation's answer
    seen = api.ingest.get(f"{W}/{workshop['id']}", headers=api.auth("participant", [b])).json()
    answers = {m["organisation_id"]: m["consent"] for m in seen["members"]}
    assert answers == {o["id"]: ("declined" if o["id"] == b else None) for o in orgs}
    # the admin sees every answer
    everything = api.ingest.get(f"{W}/{workshop['id']}", headers=api.auth()).json()
    assert {m["organisation_id"]: m["consent"] for m in everything["members"]} == {
        a: "declined",
        b: "declined",
        orgs[2]["id"]: "pending",
        orgs[3]["id"]: "pending",
    }
    # listing: admins all, members theirs, outsiders none (and a 404 for the workshop)
    outsider = make_org(api, name="Not Invited Council")
    assert api.ingest.get(W, headers=api.auth()).json()["total"] == 1
    assert api.ingest.get(W, headers=api.auth("participant", [b])).json()["total"] == 1
    assert api.ingest.get(W, headers=api.auth("participant", [outsider["id"]])).json() == {
        "items": [],
        "total": 0,
        "limit": 50,
        "offset": 0,
        "next": None,
    }
    assert_problem(
        api.ingest.get(f"{W}/{workshop['id']}", headers=api.auth("participant", [outsider["id"]])),
        404,
        "workshop_not_found",
    )
    clock.set(START_UTC)
    assert api.ingest.get(f"{W}/{workshop['id']}", headers=api.auth()).json()["status"] == (
        "in_progress"
    )


def test_winter_times_are_gmt_and_an_offset_is_taken_as_given(api, clock):
    cycle, orgs = _participants(api, 2)
    winter = _create(api, cycle, orgs, starts_at="2030-12-02T10:00", ends_at="2030-12-02T12:00")
    assert winter.status_code == 201, winter.text
    assert winter.json()["starts_at"] == "2030-12-02T10:00:00+00:00"
    offset = _create(
        api, cycle, orgs, starts_at="2030-06-10T09:00:00Z", ends_at="2030-06-10T10:00:00+01:00"
    )
    assert offset.status_code == 422  # 10:00+01:00 is 09:00Z: the window would be empty
    given = _create(
        api, cycle, orgs, starts_at="2030-06-10T09:00:00Z", ends_at="2030-06-10T11:00:00+01:00"
    )
    assert given.status_code == 201, given.text
    assert (given.json()["starts_at"], given.json()["ends_at"]) == (
        "2030-06-10T10:00:00+01:00",
        "2030-06-10T11:00:00+01:00",
    )


def test_a_window_ending_before_it_starts_is_refused(api, clock):
    cycle, orgs = _participants(api, 2)
    for ends in ("2030-06-10T09:59", "2030-06-10T10:00"):
        body = assert_problem(_create(api, cycle, orgs, ends_at=ends), 422, "invalid_window")
        assert body["errors"] == [{"field": "ends_at", "message": "must be after starts_at"}]
        assert "set ends_at after starts_at" in body["detail"]
    body = assert_problem(
        _create(api, cycle, orgs, starts_at="2030-06-10T08:30", ends_at="2030-06-10T12:00"),
        422,
        "invalid_window",
    )  # 08:30 London is 07:30 UTC: before the clock's 08:00 UTC
    assert body["errors"] == [{"field": "starts_at", "message": "must be in the future"}]


def test_times_the_clock_change_skips_or_repeats_need_an_offset(api, clock):
    cycle, orgs = _participants(api, 2)
    skipped = assert_problem(
        _create(api, cycle, orgs, starts_at="2031-03-30T01:30", ends_at="2031-03-30T04:00"),
        422,
        "invalid_window",
    )
    assert "does not exist in Europe/London" in skipped["detail"]
    assert skipped["errors"][0]["field"] == "starts_at"
    repeated = assert_problem(
        _create(api, cycle, orgs, starts_at="2030-10-27T00:00", ends_at="2030-10-27T01:30"),
        422,
        "invalid_window",
    )
    assert "happens twice" in repeated["detail"] and "+01:00" in repeated["detail"]
    assert repeated["errors"][0]["field"] == "ends_at"
    fixed = _create(
        api, cycle, orgs, starts_at="2030-10-27T00:00", ends_at="2030-10-27T01:30+00:00"
    )
    assert fixed.status_code == 201, fixed.text
    assert fixed.json()["ends_at"] == "2030-10-27T01:30:00+00:00"


def test_a_member_that_is_not_a_participant_of_the_cycle_is_refused(api, clock, owner_engine):
    cycle, orgs = _participants(api, 2)
    latecomer = make_org(api, name="Latecomer Council")  # no code in the cycle
    ids = [orgs[0]["id"], latecomer["id"], orgs[1]["id"], 999_999]
    body = assert_problem(_create(api, cycle, [], organisation_ids=ids), 422, "not_a_participant")
    assert body["errors"] == [
        {"field": "organisation_ids[3]", "message": "no such organisation"},
        {"field": "organisation_ids[1]", "message": "not a participant of cycle 2020"},
    ]
    assert f"organisation {latecomer['id']} does not take part in cycle 2020" in body["detail"]
    assert "there is no organisation 999999" in body["detail"]
    other_cycle = make_cycle(api, 2021)  # codes are per cycle: none drawn in 2021 yet
    assert_problem(_create(api, other_cycle, orgs), 422, "not_a_participant")
    assert_problem(_create(api, {"id": 999_999}, orgs), 422, "unknown_cycle")
    one = assert_problem(
        _create(api, cycle, [], organisation_ids=[orgs[0]["id"], orgs[0]["id"]]),
        422,
        "too_few_members",
    )
    assert one["errors"][0]["field"] == "organisation_ids"
    with owner_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM workshops")).scalar() == 0


def test_consent_by_someone_outside_the_organisation_is_refused(api, clock):
    cycle, orgs = _participants(api, 3)
    workshop = _create(api, cycle, orgs).json()
    a, b = orgs[0]["id"], orgs[1]["id"]
    for who in (
        api.auth("participant", [b]),  # another member's staff
        api.auth("admin"),  # an admin cannot consent on an organisation's behalf
        api.auth("reader", [a]),  # a read-only key of the organisation
    ):
        body = assert_problem(_consent(api, workshop["id"], a, "consented", who), 403)
        assert body["code"] == "consent_not_yours"
        assert f"Only staff of organisation {a}" in body["detail"]
    outsider = make_org(api, name="Outsider Council")
    assert_problem(_consent(api, workshop["id"], outsider["id"], "consented"), 404, "not_a_member")
    assert_problem(_consent(api, 999_999, a, "consented"), 404, "workshop_not_found")
    bad = api.ingest.put(
        f"{W}/{workshop['id']}/members/{a}/consent",
        json={"consent": "pending"},
        headers=api.auth("participant", [a]),
    )
    assert_problem(bad, 422)
    states = api.ingest.get(f"{W}/{workshop['id']}", headers=api.auth()).json()["members"]
    assert {m["consent"] for m in states} == {"pending"}


def test_consent_cannot_change_once_the_workshop_has_started(api, clock):
    cycle, orgs = _participants(api, 2)
    workshop = _create(api, cycle, orgs).json()
    a = orgs[0]["id"]
    assert _consent(api, workshop["id"], a, "consented").status_code == 200
    for moment in (START_UTC, START_UTC + timedelta(hours=5)):
        clock.set(moment)
        for choice in ("declined", "consented"):
            body = assert_problem(_consent(api, workshop["id"], a, choice), 409, "consent_closed")
            assert "only before it starts" in body["detail"]
            assert body["starts_at"] == "2030-06-10T10:00:00+01:00"
    me = api.ingest.get(f"{W}/{workshop['id']}", headers=api.auth("participant", [a])).json()
    assert next(m for m in me["members"] if m["organisation_id"] == a)["consent"] == "consented"


def test_admins_end_a_workshop_early_once(api, clock):
    cycle, orgs = _participants(api, 2)
    workshop = _create(api, cycle, orgs).json()
    path = f"{W}/{workshop['id']}/end"
    assert_problem(api.ingest.post(path, headers=api.auth("participant", [orgs[0]["id"]])), 403)
    clock.set(START_UTC + timedelta(minutes=30))
    ended = api.ingest.post(path, headers=api.auth())
    assert ended.status_code == 200, ended.text
    assert ended.json()["ended_early_at"] == "2030-06-10T10:30:00+01:00"
    assert ended.json()["status"] == "ended"
    body = assert_problem(api.ingest.post(path, headers=api.auth()), 409, "workshop_over")
    assert "already ended at 2030-06-10T10:30:00+01:00" in body["detail"]
    # ending one that has not started cancels it: consent is closed too
    clock.set(START_UTC - timedelta(days=2))
    later = _create(api, cycle, orgs).json()
    assert api.ingest.post(f"{W}/{later['id']}/end", headers=api.auth()).status_code == 200
    assert_problem(_consent(api, later["id"], orgs[0]["id"], "consented"), 409, "consent_closed")


def test_only_admins_create_workshops_and_a_retry_with_the_same_key_creates_one(api, clock):
    cycle, orgs = _participants(api, 2)
    body = {
        "title": "Retry",
        "cycle_id": cycle["id"],
        "starts_at": "2030-06-10T10:00",
        "ends_at": "2030-06-10T11:00",
        "organisation_ids": [o["id"] for o in orgs],
    }
    assert_problem(
        api.ingest.post(W, json=body, headers=api.auth("participant", [orgs[0]["id"]])), 403
    )
    headers = {**api.auth(), "Idempotency-Key": "workshop-retry-1"}
    first = api.ingest.post(W, json=body, headers=headers)
    again = api.ingest.post(W, json=body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert api.ingest.get(W, headers=api.auth()).json()["total"] == 1
