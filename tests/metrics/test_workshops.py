"""Named views: during a results workshop, and only to the members that consented, the
results API shows the consenting members' names beside their codes; everyone else, and
everything outside the window, stays a code; the results cache never holds a named body;
every named view is in the audit trail."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.orm import Session

from tests.factories import accepted_submission, assert_problem, make_cycle, make_org, publish
from yardstick.demo.surveys import load_demo_surveys

R = "/api/v1/results"
SB = "/api/v1/survey-results/benchmark"
NV = "/api/v1/named-views"
METRIC = "users_per_ict_fte"
RECENT = (date.today() - timedelta(days=30)).isoformat()
START = datetime(2030, 6, 10, 9, 0, tzinfo=UTC)  # 10:00 London
END = datetime(2030, 6, 10, 11, 30, tzinfo=UTC)  # 12:30 London
DURING = START + timedelta(minutes=45)
ONE_SECOND_AFTER = END + timedelta(seconds=1)


@pytest.fixture
def workshop(api, clock, owner_engine):
    """Seven boroughs with values 1..7 and closed surveys in a published 2020 cycle; a
    workshop of the first five: A, B, C consented, D consented then withdrew, E never
    answered; F and G are not members. The clock stands before the start."""
    cycle = make_cycle(api, 2020)
    orgs = {}
    for k, letter in enumerate("ABCDEFG", start=1):
        org = make_org(api, name=f"{letter} Borough Council", type="L")
        accepted_submission(api, org["id"], cycle["id"], "estate", {"users": 50 * k, "ict_fte": 50})
        orgs[letter] = org["id"]
    assert api.deliver() == 7
    publish(api, cycle["id"], RECENT)
    with Session(owner_engine) as session, session.begin():
        load_demo_surveys(session, list(orgs.values()), cycle["id"])
    created = api.ingest.post(
        "/api/v1/workshops",
        json={
            "title": "London boroughs",
            "cycle_id": cycle["id"],
            "starts_at": "2030-06-10T10:00",
            "ends_at": "2030-06-10T12:30",
            "organisation_ids": [orgs[x] for x in "ABCDE"],
        },
        headers=api.auth(),
    )
    assert created.status_code == 201, created.text
    wid = created.json()["id"]
    answers = [("A", "consented"), ("B", "consented"), ("C", "consented")]
    answers += [("D", "consented"), ("D", "declined")]  # D withdraws before the start
    for letter, choice in answers:
        answered = api.ingest.put(
            f"/api/v1/workshops/{wid}/members/{orgs[letter]}/consent",
            json={"consent": choice},
            headers=_staff(api, orgs, letter),
        )
        assert answered.status_code == 200, answered.text
    codes = {
        r["organisation_id"]: r["code"]
        for r in api.ingest.get(
            f"/api/v1/cycles/{cycle['id']}/codes", headers=api.auth(), params={"limit": 500}
        ).json()["items"]
    }
    return {"id": wid, "orgs": orgs, "codes": codes}


def _staff(api, orgs, letter):
    return api.auth("participant", [orgs[letter]], subject=f"staff-{letter}")


def _name(letter):
    return f"{letter} Borough Council"


def _distribution(api, org_id, headers, **params):
    got = api.metrics.get(
        f"{R}/distribution",
        params={"organisation_id": org_id, "cycle": 2020, "metric": METRIC, **params},
        headers=headers,
    )
    assert got.status_code == 200, got.text
    return got


def _names_by_code(body):
    return {r["peer_code"]: r["peer_name"] for r in body["items"]}


def _survey_names(api, headers):
    got = api.metrics.get(SB, params={"cycle": 2020}, headers=headers)
    assert got.status_code == 200, got.text
    values = next(r for r in got.json()["items"] if r["metric"] == "overall")["values"]
    assert len(values) == 7  # not suppressed: every borough's figure
    return got.json()["workshop_ids"], {v["code"]: v["name"] for v in values}


def _all_names_absent(text_body):
    return all(_name(x) not in text_body for x in "ABCDEFG")


def test_a_consenting_member_sees_the_consenting_names_during_the_window_only(api, clock, workshop):
    orgs, codes = workshop["orgs"], workshop["codes"]
    a = _staff(api, orgs, "A")
    consenting = {codes[orgs[x]]: _name(x) for x in "ABC"}
    expected = {codes[orgs[x]]: consenting.get(codes[orgs[x]]) for x in "ABCDEFG"}

    clock.set(START - timedelta(seconds=1))  # not yet
    before = _distribution(api, orgs["A"], a).json()
    assert before["workshop_ids"] == [] and set(_names_by_code(before).values()) == {None}

    clock.set(DURING)
    during = _distribution(api, orgs["A"], a).json()
    assert during["workshop_ids"] == [workshop["id"]]
    assert _names_by_code(during) == expected  # D (withdrawn), E (no answer), F, G: codes
    assert during["organisation_name"] == _name("A")
    assert [r["value"] for r in during["items"]] == [1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]
    assert (during["median"], during["n"], during["suppressed"]) == (4.0, 7, False)
    csv_during = _distribution(api, orgs["A"], a, format="csv").text
    assert "peer_name" in csv_during.splitlines()[0]
    assert all(_name(x) in csv_during for x in "ABC")
    assert all(_name(x) not in csv_during for x in "DEFG")
    comparison = api.metrics.get(
        f"{R}/comparison", params={"organisation_id": orgs["A"], "cycle": 2020}, headers=a
    ).json()
    assert comparison["organisation_name"] == _name("A")
    assert {r["organisation_name"] for r in comparison["items"]} == {_name("A")}
    trends = api.metrics.get(
        f"{R}/trends",
        params={"organisation_id": orgs["A"], "cycle": 2020, "metric": METRIC},
        headers=a,
    ).json()
    assert [r["organisation_name"] for r in trends["items"]] == [_name("A")]
    assert trends["workshop_ids"] == [workshop["id"]]
    # the survey benchmark too: the consenting members named, the rest codes
    ids, names = _survey_names(api, _staff(api, orgs, "B"))
    assert ids == [workshop["id"]] and names == expected

    clock.set(END - timedelta(seconds=1))  # the last second still shows names
    assert _names_by_code(_distribution(api, orgs["C"], _staff(api, orgs, "C")).json()) == (
        expected
    )

    clock.set(ONE_SECOND_AFTER)
    after = _distribution(api, orgs["A"], a)
    assert after.json()["workshop_ids"] == [] and _all_names_absent(after.text)
    assert set(_names_by_code(after.json()).values()) == {None}
    ids, names = _survey_names(api, a)
    assert ids == [] and set(names.values()) == {None}
    for report, extra in (("comparison", {}), ("trends", {"metric": METRIC})):
        got = api.metrics.get(
            f"{R}/{report}",
            params={"organisation_id": orgs["A"], "cycle": 2020, **extra},
            headers=a,
        )
        assert got.status_code == 200 and _all_names_absent(got.text)


def test_a_member_that_declined_stays_a_code_and_a_non_member_never_sees_a_name(
    api, clock, workshop
):
    orgs = workshop["orgs"]
    clock.set(DURING)
    # D withdrew its consent, E never answered: their staff see codes only
    for letter in ("D", "E"):
        got = _distribution(api, orgs[letter], _staff(api, orgs, letter))
        assert got.json()["workshop_ids"] == [] and _all_names_absent(got.text)
        ids, names = _survey_names(api, _staff(api, orgs, letter))
        assert ids == [] and set(names.values()) == {None}
    # ... and to the consenting members D is a code
    named = _names_by_code(_distribution(api, orgs["A"], _staff(api, orgs, "A")).json())
    assert named[workshop["codes"][orgs["D"]]] is None
    # non-members, an admin, and a read-only key of a consenting member: never a name
    for who, org in (
        (_staff(api, orgs, "F"), orgs["F"]),
        (_staff(api, orgs, "G"), orgs["G"]),
        (api.auth(), orgs["A"]),
        (api.auth("reader", [orgs["A"]]), orgs["A"]),
    ):
        for fmt in ("json", "csv"):
            got = _distribution(api, org, who, format=fmt)
            assert _all_names_absent(got.text)
        ids, names = _survey_names(api, who)
        assert ids == [] and set(names.values()) == {None}
    # a principal scoped to a consenting member and a non-member, asking as the non-member
    both = api.auth("participant", [orgs["A"], orgs["F"]])
    assert _all_names_absent(_distribution(api, orgs["F"], both).text)


def test_an_admin_ending_the_workshop_early_brings_the_codes_back(api, clock, workshop):
    orgs = workshop["orgs"]
    a = _staff(api, orgs, "A")
    clock.set(DURING)
    assert _distribution(api, orgs["A"], a).json()["workshop_ids"] == [workshop["id"]]
    ended = api.ingest.post(f"/api/v1/workshops/{workshop['id']}/end", headers=api.auth())
    assert ended.status_code == 200, ended.text
    assert _all_names_absent(_distribution(api, orgs["A"], a).text)  # at the same moment
    clock.set(DURING + timedelta(minutes=10))
    assert _all_names_absent(_distribution(api, orgs["A"], a).text)


def test_the_cache_never_holds_or_serves_a_named_body(api, clock, workshop):
    orgs = workshop["orgs"]
    cache = api.apps["metrics"].state.results_cache
    a, reader_a = _staff(api, orgs, "A"), api.auth("reader", [orgs["A"]])

    def cached_bodies():
        return [body.content.decode() for _version, body in cache._entries.values()]

    clock.set(START - timedelta(minutes=5))
    _distribution(api, orgs["A"], a)  # codes, filed in the cache
    clock.set(DURING)
    hits, misses = cache.hits, cache.misses
    named = _distribution(api, orgs["A"], a)
    assert _name("B") in named.text
    assert (cache.hits, cache.misses) == (hits, misses)  # not looked up, not filed
    assert cached_bodies() and all(_all_names_absent(b) for b in cached_bodies())
    # the same key, asked by a principal who may not see names: the codes body
    same_key = _distribution(api, orgs["A"], reader_a)
    assert cache.hits == hits + 1 and _all_names_absent(same_key.text)
    # the named body asked again: built again (recorded again), never from the cache
    again = _distribution(api, orgs["A"], a)
    assert again.json() == named.json() and cache.hits == hits + 1
    for fmt in ("csv", "json"):
        _distribution(api, orgs["B"], _staff(api, orgs, "B"), format=fmt)
    assert all(_all_names_absent(b) for b in cached_bodies())
    # one second after the window: the codes body, from the cache
    clock.set(ONE_SECOND_AFTER)
    after = _distribution(api, orgs["A"], a)
    assert cache.hits == hits + 2 and _all_names_absent(after.text)


def test_the_audit_trail_lists_each_named_view(api, clock, workshop, owner_engine):
    orgs, wid = workshop["orgs"], workshop["id"]
    consenting = sorted(orgs[x] for x in "ABC")
    clock.set(DURING)
    _distribution(api, orgs["A"], _staff(api, orgs, "A"))
    _distribution(api, orgs["A"], api.auth("reader", [orgs["A"]]))  # codes: not a named view
    _distribution(api, orgs["F"], _staff(api, orgs, "F"))  # codes
    clock.set(DURING + timedelta(minutes=1))
    _distribution(api, orgs["A"], _staff(api, orgs, "A"), format="csv")
    clock.set(DURING + timedelta(minutes=2))
    _survey_names(api, _staff(api, orgs, "B"))
    clock.set(ONE_SECOND_AFTER)
    _distribution(api, orgs["B"], _staff(api, orgs, "B"))  # codes again

    got = api.metrics.get(NV, params={"workshop_id": wid}, headers=api.auth())
    assert got.status_code == 200, got.text
    trail = got.json()
    assert trail["total"] == 3
    assert [
        (
            r["subject"],
            r["organisation_id"],
            r["resource"],
            r["named_organisations"],
            r["viewed_at"],
        )
        for r in trail["items"]
    ] == [
        (
            "staff-A",
            orgs["A"],
            f"{R}/distribution?organisation_id={orgs['A']}&cycle=2020&metric={METRIC}",
            consenting,
            "2030-06-10T09:45:00Z",
        ),
        (
            "staff-A",
            orgs["A"],
            f"{R}/distribution?organisation_id={orgs['A']}&cycle=2020&metric={METRIC}&format=csv",
            consenting,
            "2030-06-10T09:46:00Z",
        ),
        ("staff-B", orgs["B"], f"{SB}?cycle=2020", consenting, "2030-06-10T09:47:00Z"),
    ]
    assert {r["workshop_id"] for r in trail["items"]} == {wid}
    everything = api.metrics.get(NV, headers=api.auth()).json()  # every workshop's
    assert everything["items"] == trail["items"]
    csv_trail = api.metrics.get(
        NV, params={"workshop_id": wid, "format": "csv"}, headers=api.auth()
    )
    assert csv_trail.status_code == 200
    lines = csv_trail.text.splitlines()
    assert (
        lines[0] == "id,workshop_id,subject,organisation_id,resource,named_organisations,viewed_at"
    )
    assert len(lines) == 4 and lines[3].endswith("2030-06-10T09:47:00Z")
    # admins only; an unknown workshop is a 404
    assert_problem(
        api.metrics.get(NV, params={"workshop_id": wid}, headers=_staff(api, orgs, "A")),
        403,
    )
    assert_problem(
        api.metrics.get(NV, params={"workshop_id": 999_999}, headers=api.auth()),
        404,
        "workshop_not_found",
    )
    # the trail is append-only, even for the database owner
    for statement in (
        "UPDATE workshop_named_views SET subject = 'someone else'",
        "DELETE FROM workshop_named_views",
    ):
        with pytest.raises(ProgrammingError) as err, owner_engine.begin() as conn:
            conn.execute(text(statement))
        assert err.value.orig.sqlstate == "42501"


def test_suppression_is_unchanged_by_a_workshop(api, clock, workshop):
    """A peer group of fewer than five is suppressed during a workshop as at any time: no
    statistics, no peer listing, so no names either."""
    orgs = workshop["orgs"]
    clock.set(DURING)
    small = _distribution(
        api, orgs["A"], _staff(api, orgs, "A"), type="L", partnership="true"
    ).json()
    assert small["suppressed"] is True and small["items"] == []
    assert small["workshop_ids"] == [workshop["id"]]
