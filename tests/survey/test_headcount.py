"""A campaign's headcount by breakdown attribute (issue 15): stored only when usable, every
problem named; the metrics service weights with it."""

from __future__ import annotations

import json
import uuid
from datetime import date

from sqlalchemy import text

from tests.factories import assert_problem
from tests.survey.conftest import make_campaign, staff


def add_responses(owner_engine, campaign, answers_list) -> None:
    """Responses stored as the survey service stores a submitted form."""
    with owner_engine.begin() as conn:
        for answers in answers_list:
            conn.execute(
                text(
                    "INSERT INTO survey_responses (organisation_id, id, campaign_id,"
                    " response_date, answers) VALUES (:o, :id, :c, :d, CAST(:a AS jsonb))"
                ),
                {
                    "o": campaign["organisation_id"],
                    "id": uuid.uuid4(),
                    "c": campaign["id"],
                    "d": date(2024, 6, 10),
                    "a": json.dumps(answers),
                },
            )


ROLE_M, ROLE_F = "Manager or team leader", "Frontline or operational"
OFFICE, HOME = "Main office", "Home"


def _responses():
    # 3 managers at the office, 2 managers at home, 4 frontline at the office, 1 not stated
    rows = (
        [{"attr.role": ROLE_M, "attr.location": OFFICE}] * 3
        + [{"attr.role": ROLE_M, "attr.location": HOME}] * 2
        + [{"attr.role": ROLE_F, "attr.location": OFFICE}] * 4
        + [{"overall": 5}]
    )
    return [r | {"overall": 5} for r in rows]


def test_cells_upload_round_trip_and_csv(api, owner_engine):
    campaign = make_campaign(api, users_in_scope=100)
    add_responses(owner_engine, campaign, _responses())
    url = f"/api/v1/campaigns/{campaign['id']}/headcount"
    assert_problem(api.survey.get(url, headers=staff(api, campaign)), 404, "headcount_not_found")
    body = {
        "cells": [
            {"attributes": {"role": ROLE_M, "location": OFFICE}, "headcount": 30},
            {"attributes": {"role": ROLE_M, "location": HOME}, "headcount": 10},
            {"attributes": {"role": ROLE_F, "location": OFFICE}, "headcount": 50},
            {"attributes": {"role": ROLE_F, "location": HOME}, "headcount": 10},
        ]
    }
    r = api.survey.put(url, json=body, headers=staff(api, campaign))
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["kind"], got["attributes"], got["total"], got["responses"]) == (
        "cells",
        ["role", "location"],
        100,
        10,
    )
    assert [(x["headcount"], x["responses"]) for x in got["rows"]] == [
        (30, 3),
        (10, 2),
        (50, 4),
        (10, 0),
    ]
    assert got["weighting"].startswith("cell weighting")
    # The same as a CSV file, as HR holds it (values matched ignoring case); replaces it.
    csv_text = (
        "Role,location,headcount\n"
        f"{ROLE_M.lower()},{OFFICE},31\n{ROLE_M},{HOME},10\n{ROLE_F},{OFFICE},50\n"
        f"{ROLE_F},{HOME},10\n"
    )
    r = api.survey.put(
        url,
        content=csv_text.encode(),
        headers={**staff(api, campaign), "Content-Type": "text/csv"},
    )
    assert r.status_code == 200, r.text
    assert r.json()["total"] == 101
    assert r.json()["rows"][0]["attributes"] == {"role": ROLE_M, "location": OFFICE}
    # Margins only (raking), from CSV
    margins = (
        "attribute,value,headcount\n"
        f"role,{ROLE_M},40\nrole,{ROLE_F},60\nlocation,{OFFICE},80\nlocation,{HOME},20\n"
    )
    r = api.survey.put(
        url, content=margins.encode(), headers={**staff(api, campaign), "Content-Type": "text/csv"}
    )
    assert r.status_code == 200, r.text
    assert (r.json()["kind"], r.json()["total"]) == ("margins", 100)
    assert [(x["attributes"], x["responses"]) for x in r.json()["rows"]] == [
        ({"role": ROLE_M}, 5),
        ({"role": ROLE_F}, 4),
        ({"location": OFFICE}, 7),
        ({"location": HOME}, 2),
    ]
    assert api.survey.delete(url, headers=staff(api, campaign)).status_code == 204
    assert_problem(api.survey.get(url, headers=staff(api, campaign)), 404, "headcount_not_found")
    # Another organisation's staff cannot see or set it.
    other = api.auth("participant", [campaign["organisation_id"] + 1000])
    assert_problem(api.survey.put(url, json=body, headers=other), 404)


def _errors(response) -> list[str]:
    problem = assert_problem(response, 422, "invalid_headcount")
    return [e["message"] for e in problem["errors"]]


def test_bad_headcounts_are_refused_naming_what_to_fix(api, owner_engine):
    campaign = make_campaign(api, users_in_scope=100)
    add_responses(owner_engine, campaign, _responses())
    url = f"/api/v1/campaigns/{campaign['id']}/headcount"
    who = staff(api, campaign)

    unknown = {"cells": [{"attributes": {"grade": "B", "location": OFFICE}, "headcount": 5}]}
    assert _errors(api.survey.put(url, json=unknown, headers=who)) == [
        "unknown attribute 'grade': this campaign asks about location, device_type, "
        "mode_of_working, role"
    ]
    bad_value = {"margins": [{"attribute": "location", "value": "Moon base", "headcount": 5}]}
    (message,) = _errors(api.survey.put(url, json=bad_value, headers=who))
    assert message.startswith("'Moon base' is not an option of location: use one of Main office")

    negative = {
        "cells": [
            {"attributes": {"role": ROLE_M, "location": OFFICE}, "headcount": -3},
            {"attributes": {"role": ROLE_M, "location": HOME}, "headcount": 10},
        ]
    }
    assert _errors(api.survey.put(url, json=negative, headers=who)) == [
        f"the headcount of role = {ROLE_M}, location = {OFFICE} is -3; a headcount cannot be "
        "negative"
    ]
    below = {
        "cells": [
            {"attributes": {"role": ROLE_M, "location": OFFICE}, "headcount": 2},
            {"attributes": {"role": ROLE_M, "location": HOME}, "headcount": 2},
            {"attributes": {"role": ROLE_F, "location": OFFICE}, "headcount": 4},
        ]
    }
    assert _errors(api.survey.put(url, json=below, headers=who)) == [
        "the headcount totals 8 but 10 responses have been received: upload the whole "
        "headcount of the people in scope",
        f"the headcount of role = {ROLE_M}, location = {OFFICE} is 2 but 3 responses stated it",
    ]
    missing_cell = {
        "cells": [
            {"attributes": {"role": ROLE_M, "location": OFFICE}, "headcount": 50},
            {"attributes": {"role": ROLE_M, "location": HOME}, "headcount": 50},
        ]
    }
    assert _errors(api.survey.put(url, json=missing_cell, headers=who)) == [
        f"4 responses stated role = {ROLE_F}, location = {OFFICE}, which the headcount does "
        "not list: add that cell"
    ]
    disagree = {
        "margins": [
            {"attribute": "role", "value": ROLE_M, "headcount": 40},
            {"attribute": "role", "value": ROLE_F, "headcount": 60},
            {"attribute": "location", "value": OFFICE, "headcount": 70},
        ]
    }
    assert _errors(api.survey.put(url, json=disagree, headers=who)) == [
        "the attributes' totals disagree (role totals 100, location totals 70): each "
        "attribute's margins must add up to the same headcount"
    ]
    both = {"cells": unknown["cells"], "margins": bad_value["margins"]}
    assert "not both" in _errors(api.survey.put(url, json=both, headers=who))[0]
    r = api.survey.put(
        url, content=b"role,location\nx,y\n", headers={**who, "Content-Type": "text/csv"}
    )
    assert _errors(r) == ["no headcount column"]
    r = api.survey.put(
        url, content=b"role,headcount\nx,many\n", headers={**who, "Content-Type": "text/csv"}
    )
    assert _errors(r) == ["headcount 'many' is not a whole number"]
    # nothing was stored by any of them
    assert_problem(api.survey.get(url, headers=who), 404, "headcount_not_found")
