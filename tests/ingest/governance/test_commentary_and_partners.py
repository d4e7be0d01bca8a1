"""Commentary per section and measure for a period; a shared service's partners; who may
read and write a service's governance data."""

from __future__ import annotations

from tests.factories import assert_problem, make_org


def test_commentary_is_kept_per_period_section_and_measure(shared):
    path = shared.path("commentary/2024/3")
    entries = [
        {"section": "sla", "measure": "sla.P2", "body": "A storage fault delayed P2 fixes."},
        {"section": "kpi", "body": "Three of four SLAs met."},
        {"section": "sla", "body": "P1 and P3 on target."},
    ]
    r = shared.api.ingest.put(path, json={"entries": entries}, headers=shared.staff)
    assert r.status_code == 200, r.text
    assert [(c["section"], c["measure"], c["body"]) for c in r.json()["items"]] == [
        ("kpi", "", "Three of four SLAs met."),
        ("sla", "", "P1 and P3 on target."),
        ("sla", "sla.P2", "A storage fault delayed P2 fixes."),
    ]
    assert r.json()["items"][0]["author"] == "test-participant"
    replaced = [{"section": "kpi", "body": "All four SLAs met."}]
    shared.api.ingest.put(path, json={"entries": replaced}, headers=shared.staff)
    listed = shared.api.ingest.get(path, headers=shared.partner).json()["items"]
    assert [c["body"] for c in listed] == [
        "All four SLAs met.",
        "P1 and P3 on target.",
        "A storage fault delayed P2 fixes.",
    ]
    only = shared.api.ingest.get(f"{path}?section=sla", headers=shared.staff).json()["items"]
    assert [c["measure"] for c in only] == ["", "sla.P2"]
    assert (
        shared.api.ingest.get(shared.path("commentary/2024/2"), headers=shared.staff).json()[
            "items"
        ]
        == []
    )
    dup = [entries[0], {**entries[0], "body": "again"}]
    problem = assert_problem(
        shared.api.ingest.put(path, json={"entries": dup}, headers=shared.staff),
        422,
        "import_rejected",
    )
    assert [e["field"] for e in problem["errors"]] == ["entries.1.measure"]
    bad = [{"section": "budget", "body": "x"}]
    assert_problem(
        shared.api.ingest.put(path, json={"entries": bad}, headers=shared.staff),
        422,
        "validation_error",
    )
    r = shared.api.ingest.delete(f"{path}/sla?measure=sla.P2", headers=shared.staff)
    assert r.status_code == 204
    assert_problem(
        shared.api.ingest.delete(f"{path}/sla?measure=sla.P2", headers=shared.staff),
        404,
        "comment_not_found",
    )
    assert_problem(
        shared.api.ingest.put(path, json={"entries": replaced}, headers=shared.partner),
        403,
        "governance_read_only",
    )
    assert_problem(
        shared.api.ingest.get(path, headers=shared.outsider), 403, "organisation_forbidden"
    )


def test_partners_are_set_by_admins_in_order_and_read_by_the_service_and_partners(shared):
    path = shared.path("partners")
    listed = shared.api.ingest.get(path, headers=shared.partner).json()
    assert [p["id"] for p in listed["items"]] == shared.partners
    assert [p["name"] for p in listed["items"]] == [
        "London Borough of Brent",
        "London Borough of Lewisham",
        "London Borough of Southwark",
    ]
    assert [p["position"] for p in listed["items"]] == [0, 1, 2]
    assert shared.api.ingest.get(path, headers=shared.staff).status_code == 200
    assert_problem(
        shared.api.ingest.get(path, headers=shared.outsider), 403, "organisation_forbidden"
    )
    reordered = list(reversed(shared.partners))
    r = shared.api.ingest.put(path, json={"partner_ids": reordered}, headers=shared.admin)
    assert [p["id"] for p in r.json()["items"]] == reordered
    assert_problem(
        shared.api.ingest.put(path, json={"partner_ids": reordered}, headers=shared.staff),
        403,
        "role_forbidden",
    )
    problem = assert_problem(
        shared.api.ingest.put(
            path,
            json={"partner_ids": [shared.partners[0], shared.service, 999999, shared.partners[0]]},
            headers=shared.admin,
        ),
        422,
        "invalid_partners",
    )
    assert problem["errors"] == [
        {"field": "partner_ids.1", "message": "a service cannot be its own partner"},
        {"field": "partner_ids.2", "message": "there is no organisation 999999"},
        {"field": "partner_ids.3", "message": f"organisation {shared.partners[0]} is listed twice"},
    ]
    assert [
        p["id"] for p in shared.api.ingest.get(path, headers=shared.admin).json()["items"]
    ] == reordered
    assert_problem(
        shared.api.ingest.put(
            "/api/v1/organisations/999999/partners", json={"partner_ids": []}, headers=shared.admin
        ),
        404,
        "organisation_not_found",
    )
    # A partner removed from the service no longer reads its data.
    shared.api.ingest.put(path, json={"partner_ids": shared.partners[1:]}, headers=shared.admin)
    assert_problem(
        shared.api.ingest.get(shared.path("finance-groups"), headers=shared.partner),
        403,
        "organisation_forbidden",
    )


def test_a_partner_of_another_service_reads_nothing_here(shared):
    api = shared.api
    second = make_org(api, name="Second Shared Service", type="O")["id"]
    api.ingest.put(
        f"/api/v1/organisations/{second}/partners",
        json={"partner_ids": [shared.other]},
        headers=api.auth("admin"),
    )
    other_partner = api.auth("participant", [shared.other])
    assert (
        api.ingest.get(
            f"/api/v1/organisations/{second}/finance-groups", headers=other_partner
        ).status_code
        == 200
    )
    assert_problem(
        api.ingest.get(shared.path("finance-groups"), headers=other_partner),
        403,
        "organisation_forbidden",
    )
