"""Bulk CSV import of past cycles: all or nothing, every bad row named."""

from __future__ import annotations

from sqlalchemy import text

from tests.factories import assert_problem, make_cycle, make_org
from tests.ingest.test_submissions import snapshot


def _post(api, body: str):
    return api.ingest.post(
        "/api/v1/imports",
        content=body.encode(),
        headers={**api.auth(), "Content-Type": "text/csv"},
        params={"filename": "history.csv"},
    )


def test_good_file_creates_accepted_imported_submissions_with_audit_and_codes(api, owner_engine):
    org = make_org(api, name="Import Borough")
    make_cycle(api, 2019, status="closed")
    body = (
        "organisation,cycle,module,question,value,comment\n"
        "Import Borough,2019,estate,users,1200,\n"
        f"{org['id']},2019,estate,ict_fte,30.5,from the 2019 report\n"
        f"{org['id']},2019,estate,gov_itil,certified,\n"
        f"{org['id']},2019,cost,ict_spend,3100000.25,\n"
        f"{org['id']},2019,cost,revenue_spend,150000000,\n"
    )
    got = _post(api, body)
    assert got.status_code == 201, got.text
    assert got.json()["rows"] == 5 and got.json()["submissions"] == 2
    subs = api.ingest.get("/api/v1/submissions", headers=api.auth()).json()["items"]
    assert {(s["module"], s["state"], s["imported"]) for s in subs} == {
        ("estate", "accepted", True),
        ("cost", "accepted", True),
    }
    estate = next(s for s in subs if s["module"] == "estate")
    detail = api.ingest.get(f"/api/v1/submissions/{estate['id']}", headers=api.auth()).json()
    assert detail["answers"] == {"users": 1200, "ict_fte": 30.5, "gov_itil": "certified"}
    assert detail["answer_comments"] == {"ict_fte": "from the 2019 report"}
    trail = api.ingest.get(f"/api/v1/submissions/{estate['id']}/audit", headers=api.auth()).json()
    assert [e["action"] for e in trail["items"]] == ["imported"]
    assert trail["items"][0]["new_value"]["answers"]["users"] == 1200
    with owner_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM organisation_codes")).scalar() == 1
        money = conn.execute(
            text("SELECT value_number::text FROM submission_answers WHERE question_key='ict_spend'")
        ).scalar()
    assert money == "3100000.25"  # exact, never a float
    assert api.deliver() == 1


def test_a_bad_row_rejects_the_whole_file_naming_row_and_column(api, owner_engine):
    org = make_org(api, name="Import Borough")
    make_cycle(api, 2019)
    before = snapshot(owner_engine)
    good = f"{org['id']},2019,estate,users,1200\n"
    cases = [
        ("Nowhere Council,2019,estate,users,5\n", 3, "organisation"),
        (f"{org['id']},1999,estate,users,5\n", 3, "cycle"),
        (f"{org['id']},2019,weather,users,5\n", 3, "module"),
        (f"{org['id']},2019,estate,ict_spend,5\n", 3, "question"),
        (f"{org['id']},2019,estate,ict_fte,lots\n", 3, "value"),
        (f"{org['id']},2019,estate,ict_fte,-4\n", 3, "value"),
        (f"{org['id']},2019,estate,users,1300\n", 3, "question"),  # duplicate of row 2
        (f"{org['id']},2019,estate,equipped_users,5000\n", 3, "value"),  # > users: rule
    ]
    for bad, line, column in cases:
        got = _post(api, "organisation,cycle,module,question,value\n" + good + bad)
        body = assert_problem(got, 422, "import_rejected")
        assert [(e["row"], e["column"]) for e in body["errors"]] == [(line, column)], body
        assert f"row {line}, column {column}" in body["detail"]
    body = assert_problem(_post(api, "organisation,cycle,question\n1,2019,users\n"), 422)
    assert {e["column"] for e in body["errors"]} == {"module", "value"}
    assert snapshot(owner_engine) == before
    # a second import of the same data: already has a submission
    assert _post(api, "organisation,cycle,module,question,value\n" + good).status_code == 201
    again = _post(api, "organisation,cycle,module,question,value\n" + good)
    body = assert_problem(again, 422, "import_rejected")
    assert body["errors"][0]["column"] == "module" and "already has" in body["errors"][0]["message"]


def test_only_admins_import(api):
    got = api.ingest.post(
        "/api/v1/imports",
        content=b"organisation,cycle,module,question,value\n",
        headers={**api.auth("participant", [1]), "Content-Type": "text/csv"},
    )
    assert_problem(got, 403)


def test_line_ends_and_damaged_files_are_read_or_refused_by_name(api):
    """Issue 9, item 4, for the past-cycles import: CR line ends read; UTF-16, NUL, a
    non-ASCII digit and a cell beyond the csv module's limit are 422s, not 500s."""
    org = make_org(api, name="Line Ends Borough")
    make_cycle(api, 2019, status="closed")
    header = "organisation,cycle,module,question,value,comment\n"
    row = f"{org['id']},2019,estate,users,1200,\n"
    for body, expected in [
        ((header + row).encode("utf-16"), "UTF-16"),
        ((header + row.replace("1200,", "1200,a\x00b")).encode(), "NUL character (line 2)"),
        ((header + row.replace(f"{org['id']},", "²,")).encode(), "no organisation '²'"),
        ((header + row.rstrip("\n") + '"' + "x" * 200_000 + '"\n').encode(), "field limit"),
    ]:
        r = api.ingest.post(
            "/api/v1/imports", content=body, headers={**api.auth(), "Content-Type": "text/csv"}
        )
        assert expected in assert_problem(r, 422, "import_rejected")["detail"] or any(
            expected in e["message"] for e in r.json().get("errors", [])
        ), r.text
    got = _post(api, (header + row).replace("\n", "\r"))
    assert got.status_code == 201, got.text
    assert got.json()["rows"] == 1
