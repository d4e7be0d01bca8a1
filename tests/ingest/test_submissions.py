"""Submissions through the API: drafts, validation, review, lock, reopen, audit trail."""

from __future__ import annotations

from sqlalchemy import text

from tests.factories import (
    accept,
    assert_problem,
    make_cycle,
    make_org,
    make_submission,
    submit,
)

ESTATE = {
    "users": 1000,
    "ict_fte": 20,
    "change_project_fte": 3,
    "devices": 1800,
    "workstations": 950,
    "monitors": 1700,
    "service_desk_fte": 4,
    "first_line_fte": 3,
    "first_line_technical_fte": 2,
}


def snapshot(engine) -> dict[str, object]:
    """Every row of the submission tables, to prove a refused request changed nothing."""
    tables = [
        "submissions",
        "submission_answers",
        "submission_audit",
        "submission_review_reasons",
        "submission_warning_comments",
        "import_batches",
        "ingest_outbox",
        "organisation_codes",
    ]
    with engine.connect() as conn:
        return {t: sorted(map(str, conn.execute(text(f"SELECT * FROM {t}")).all())) for t in tables}


def test_catalogue_is_readable_and_says_what_it_extends(api):
    listing = api.ingest.get("/api/v1/catalogue", headers=api.auth("participant", [1]))
    assert listing.status_code == 200
    by_cycle = {c["cycle"]: c for c in listing.json()["items"]}
    assert by_cycle[2020]["extends"] == "2019" and by_cycle[2020]["extends_cycle"] == 2019
    assert by_cycle[2016]["extends"] == "base" and by_cycle[2016]["extends_cycle"] is None
    cat = api.ingest.get("/api/v1/catalogue/2020", headers=api.auth()).json()
    assert cat["file"] == "2020.yaml" and cat["data_year"] == "2019/20"
    metric = next(m for m in cat["metrics"] if m["key"] == "users_per_ict_fte")
    assert metric["unit"] == "ratio" and metric["polarity"] == "higher_better"
    assert {"users", "ict_fte"} <= set(metric["inputs"])
    assert "ict_spend_within_revenue" in {r["key"] for r in cat["rules"]}  # added in 2020
    devices = next(
        m
        for m in api.ingest.get("/api/v1/catalogue/2017", headers=api.auth()).json()["metrics"]
        if m["key"] == "devices_per_user"
    )
    assert devices["changed_in"] == [2017]
    assert_problem(api.ingest.get("/api/v1/catalogue/2030", headers=api.auth()), 404)


def test_draft_submit_return_resubmit_accept_lock_reopen_with_full_audit(api, owner_engine):
    org = make_org(api)
    cycle = make_cycle(api, 2020)
    me = api.auth("participant", [org["id"]])
    sub = make_submission(api, org["id"], cycle["id"], "estate", {"users": 1000, "ict_fte": 20})
    assert sub["state"] == "draft" and sub["answers"] == {"users": 1000, "ict_fte": 20}
    # partial answers are kept; a later save merges, null removes
    later = api.ingest.patch(
        f"/api/v1/submissions/{sub['id']}/answers",
        json={"answers": {"ict_fte": None, "devices": 1800, "workstations": 2000}},
        headers=me,
    )
    assert later.json()["answers"] == {"users": 1000, "devices": 1800, "workstations": 2000}

    # errors block submission, naming every question involved
    refused = api.ingest.post(f"/api/v1/submissions/{sub['id']}/submit", json={}, headers=me)
    body = assert_problem(refused, 422, "submission_invalid")
    assert {e["field"] for e in body["errors"]} == {"answers.workstations", "answers.devices"}

    api.ingest.put(f"/api/v1/submissions/{sub['id']}/answers", json={"answers": ESTATE}, headers=me)
    # service desk FTE above ICT FTE is a warning: needs a comment
    api.ingest.patch(
        f"/api/v1/submissions/{sub['id']}/answers",
        json={"answers": {"service_desk_fte": 25}},
        headers=me,
    )
    refused = api.ingest.post(f"/api/v1/submissions/{sub['id']}/submit", json={}, headers=me)
    body = assert_problem(refused, 422, "warning_comment_required")
    assert [e["field"] for e in body["errors"]] == ["warning_comments.service_desk_within_ict"]
    submitted = submit(api, sub, service_desk_within_ict="Desk is outsourced to a partner")
    assert submitted["state"] == "submitted"
    assert submitted["warning_comments"][0]["comment"] == "Desk is outsourced to a partner"

    # submitting twice, editing while under review
    assert_problem(
        api.ingest.post(f"/api/v1/submissions/{sub['id']}/submit", json={}, headers=me), 409
    )
    assert_problem(
        api.ingest.patch(
            f"/api/v1/submissions/{sub['id']}/answers", json={"answers": {"users": 5}}, headers=me
        ),
        409,
    )
    # only reviewers return, and a reason per question is required
    assert_problem(
        api.ingest.post(
            f"/api/v1/submissions/{sub['id']}/return",
            json={"reasons": {"users": "x"}},
            headers=me,
        ),
        403,
    )
    before = snapshot(owner_engine)
    for reasons, field in (
        ({}, "reasons"),
        ({"users": "   "}, "reasons.users"),
        ({"nonsense": "why"}, "reasons.nonsense"),
    ):
        body = assert_problem(
            api.ingest.post(
                f"/api/v1/submissions/{sub['id']}/return",
                json={"reasons": reasons},
                headers=api.auth(),
            ),
            422,
            "reason_required",
        )
        assert body["errors"][0]["field"] == field
    assert snapshot(owner_engine) == before

    returned = api.ingest.post(
        f"/api/v1/submissions/{sub['id']}/return",
        json={"reasons": {"service_desk_fte": "Please count the outsourced desk in ICT FTE"}},
        headers=api.auth(),
    ).json()
    assert returned["state"] == "returned"
    assert returned["review_reasons"][0]["question_key"] == "service_desk_fte"
    api.ingest.patch(
        f"/api/v1/submissions/{sub['id']}/answers",
        json={"answers": {"service_desk_fte": 4}},
        headers=me,
    )
    submit(api, sub)
    accepted = accept(api, sub)
    assert accepted["state"] == "accepted"

    # accepted: locked for everyone until an admin reopens it with a reason
    for who in (me, api.auth()):
        assert_problem(
            api.ingest.patch(
                f"/api/v1/submissions/{sub['id']}/answers",
                json={"answers": {"users": 2}},
                headers=who,
            ),
            409,
            "submission_locked",
        )
    assert_problem(
        api.ingest.post(
            f"/api/v1/submissions/{sub['id']}/reopen", json={"reason": "x"}, headers=me
        ),
        403,
    )
    assert_problem(
        api.ingest.post(
            f"/api/v1/submissions/{sub['id']}/reopen", json={"reason": " "}, headers=api.auth()
        ),
        422,
        "reason_required",
    )
    reopened = api.ingest.post(
        f"/api/v1/submissions/{sub['id']}/reopen",
        json={"reason": "Auditor found a counting error"},
        headers=api.auth(),
    )
    assert reopened.json()["state"] == "draft"

    trail = api.ingest.get(f"/api/v1/submissions/{sub['id']}/audit?limit=500", headers=me).json()
    actions = [e["action"] for e in trail["items"]]
    assert actions[0] == "created"
    assert [a for a in actions if a not in ("answer_set", "answer_removed")] == [
        "created",
        "submitted",
        "returned",
        "return_reason",
        "submitted",
        "accepted",
        "reopened",
    ]
    removed = next(e for e in trail["items"] if e["action"] == "answer_removed")
    assert removed["question_key"] == "ict_fte" and removed["old_value"] == 20
    changed = [
        e
        for e in trail["items"]
        if e["action"] == "answer_set" and e["question_key"] == "service_desk_fte"
    ]
    assert [(e["old_value"], e["new_value"]) for e in changed] == [(None, 4), (4, 25), (25, 4)]
    assert next(e for e in trail["items"] if e["action"] == "reopened")["reason"] == (
        "Auditor found a counting error"
    )
    assert all(e["actor"] for e in trail["items"])

    # acceptance and reopening each told metrics, in the same transaction
    with owner_engine.connect() as conn:
        events = conn.execute(
            text("SELECT event_type, payload->>'reason' FROM ingest_outbox ORDER BY id")
        ).all()
    assert events == [
        ("benchmark.inputs_changed", "submission.accepted"),
        ("benchmark.inputs_changed", "submission.reopened"),
    ]


def test_bad_answers_are_refused_naming_the_question_and_nothing_changes(api, owner_engine):
    org = make_org(api)
    cycle = make_cycle(api, 2020)
    me = api.auth("participant", [org["id"]])
    sub = make_submission(api, org["id"], cycle["id"], "estate", {"users": 1000})
    before = snapshot(owner_engine)
    cases = [
        ({"no_such_question": 1}, "answers.no_such_question", "unknown_question"),
        ({"ict_spend": 10}, "answers.ict_spend", "wrong_module"),
        ({"users": "many"}, "answers.users", "wrong_type"),
        ({"users": 10.5}, "answers.users", "not_integer"),
        ({"users": 0}, "answers.users", "out_of_range"),
        ({"gov_itil": "maybe"}, "answers.gov_itil", "invalid_choice"),
        ({"ict_fte": 3, "users": -1}, "answers.users", "out_of_range"),
    ]
    for answers, field, code in cases:
        body = assert_problem(
            api.ingest.patch(
                f"/api/v1/submissions/{sub['id']}/answers", json={"answers": answers}, headers=me
            ),
            422,
            "invalid_answers",
        )
        assert [(e["field"], e["code"]) for e in body["errors"]] == [(field, code)], body
    assert snapshot(owner_engine) == before
    # money as a decimal string is accepted and kept exact
    saved = api.ingest.patch(
        f"/api/v1/submissions/{sub['id']}/answers",
        json={"answers": {"ict_fte": "20.25"}},
        headers=me,
    )
    assert saved.json()["answers"]["ict_fte"] == 20.25


def test_participants_see_and_change_only_their_own_organisation(api, owner_engine):
    mine, theirs = make_org(api), make_org(api)
    cycle = make_cycle(api, 2020)
    sub = make_submission(api, theirs["id"], cycle["id"], "estate", {"users": 77})
    me = api.auth("participant", [mine["id"]])
    before = snapshot(owner_engine)
    assert_problem(api.ingest.get(f"/api/v1/submissions/{sub['id']}", headers=me), 403)
    assert_problem(
        api.ingest.patch(
            f"/api/v1/submissions/{sub['id']}/answers", json={"answers": {"users": 1}}, headers=me
        ),
        403,
    )
    assert_problem(api.ingest.get(f"/api/v1/submissions/{sub['id']}/audit", headers=me), 403)
    assert_problem(
        api.ingest.post(
            "/api/v1/submissions",
            json={"organisation_id": theirs["id"], "cycle_id": cycle["id"], "module": "cost"},
            headers=me,
        ),
        403,
    )
    assert api.ingest.get("/api/v1/submissions", headers=me).json()["total"] == 0
    assert snapshot(owner_engine) == before


def test_creating_submissions_checks_module_duplicates_and_cycle_state(api, owner_engine):
    org = make_org(api)
    cycle = make_cycle(api, 2020)
    me = api.auth("participant", [org["id"]])
    make_submission(api, org["id"], cycle["id"], "estate", {"users": 10})
    before = snapshot(owner_engine)
    body = assert_problem(
        api.ingest.post(
            "/api/v1/submissions",
            json={"organisation_id": org["id"], "cycle_id": cycle["id"], "module": "weather"},
            headers=me,
        ),
        422,
    )
    assert body["errors"][0]["field"] == "module"
    assert_problem(
        api.ingest.post(
            "/api/v1/submissions",
            json={"organisation_id": org["id"], "cycle_id": cycle["id"], "module": "estate"},
            headers=me,
        ),
        409,
    )
    closed = make_cycle(api, 2019, status="closed")
    assert_problem(
        api.ingest.post(
            "/api/v1/submissions",
            json={"organisation_id": org["id"], "cycle_id": closed["id"], "module": "estate"},
            headers=me,
        ),
        409,
        "cycle_not_open",
    )
    assert snapshot(owner_engine) == before
