"""The risk register: a period's import upserts each risk by reference and its assessment
for the period, so history builds up across periods; impact or probability 0 or 6 is
refused naming the row and column, and nothing changes."""

from __future__ import annotations

import io

import openpyxl

from tests.factories import assert_problem

REGISTER = (
    "Ref,Section,Title,Cause,Event,Consequence,Owner,Recent developments,Impact,Likelihood,"
    "Priority,Actions\n"
    "SR01,Financial,Partner budget cuts,Council savings,Contribution cut,Service reduced,"
    "Head of Finance,Budget set,4,3,12,Agree three-year funding\n"
    "SR02,Loss of service,Data centre power failure,Single feed,Power loss,Outage,"
    "Head of Infrastructure,,5,2,12,Install generator\n"
    "SR03,Cyber,Ransomware,Phishing,Encryption of servers,Outage and data loss,CISO,,5,4,,"
    "Immutable backups\n"
)


def _upload(shared, text: str | bytes, year=2024, period=3, name="risks.csv", who=None):
    content = text.encode() if isinstance(text, str) else text
    return shared.api.ingest.put(
        shared.path(f"risk-register/{year}/{period}/file"),
        files={"file": (name, content, "text/csv")},
        headers=who or shared.staff,
    )


def _register(shared, year=2024, period=3):
    r = shared.api.ingest.get(shared.path(f"risk-register/{year}/{period}"), headers=shared.staff)
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_a_register_import_stores_risks_and_their_assessment(shared):
    r = _upload(shared, REGISTER)
    assert r.status_code == 200, r.text
    assert r.json() == {
        "financial_year": 2024,
        "period": 3,
        "rows": 3,
        "risks_created": 3,
        "risks_updated": 0,
    }
    rows = _register(shared)
    assert [
        (x["reference"], x["section"], x["impact"], x["probability"], x["imported_priority"])
        for x in rows
    ] == [
        ("SR01", "financial", 4, 3, 12),
        ("SR02", "loss_of_service", 5, 2, 12),
        ("SR03", "Cyber", 5, 4, None),
    ]
    assert rows[0]["cause"] == "Council savings"
    assert rows[0]["developments"] == "Budget set"
    assert rows[1]["developments"] is None
    assert rows[2]["actions"] == "Immutable backups"


def test_history_builds_up_across_periods(shared):
    assert _upload(shared, REGISTER, year=2023, period=12).status_code == 200
    later = REGISTER.replace(",4,3,12,", ",4,4,16,").replace("SR03", "SR04")
    r = _upload(shared, later)
    assert r.json()["risks_created"] == 1 and r.json()["risks_updated"] == 2
    risks = shared.api.ingest.get(shared.path("risks"), headers=shared.partner).json()["items"]
    assert [x["reference"] for x in risks] == ["SR01", "SR02", "SR03", "SR04"]
    detail = shared.api.ingest.get(
        shared.path(f"risks/{risks[0]['id']}"), headers=shared.partner
    ).json()
    assert [
        (a["financial_year"], a["period"], a["impact"], a["probability"], a["imported_priority"])
        for a in detail["assessments"]
    ] == [(2023, 12, 4, 3, 12), (2024, 3, 4, 4, 16)]
    assert [x["reference"] for x in _register(shared, 2023, 12)] == ["SR01", "SR02", "SR03"]
    assert [x["reference"] for x in _register(shared)] == ["SR01", "SR02", "SR04"]


def test_impact_or_probability_0_or_6_is_refused_naming_row_and_column(shared):
    assert _upload(shared, REGISTER).status_code == 200
    before = _register(shared)
    bad = (
        REGISTER.replace(",4,3,12,", ",0,3,12,")
        .replace(",5,2,12,", ",6,2,12,")
        .replace(",5,4,,", ",5,6,,")
    )
    body = assert_problem(_upload(shared, bad), 422, "import_rejected")
    assert [(e["row"], e["column"], e["code"]) for e in body["errors"]] == [
        (2, "Impact", "out_of_range"),
        (3, "Impact", "out_of_range"),
        (4, "Likelihood", "out_of_range"),
    ]
    assert body["errors"][0]["message"] == "Input should be greater than or equal to 1"
    body = assert_problem(
        _upload(shared, REGISTER.replace(",5,2,12,", ",high,2,12,").replace(",5,4,,", ",,4,,")),
        422,
        "import_rejected",
    )
    assert [(e["row"], e["column"], e["code"]) for e in body["errors"]] == [
        (3, "Impact", "not_a_number"),
        (4, "Impact", "missing_value"),
    ]
    body = assert_problem(_upload(shared, REGISTER.replace("SR02", "SR01")), 422, "import_rejected")
    assert [(e["row"], e["column"], e["code"]) for e in body["errors"]] == [
        (3, "Reference", "duplicate_reference")
    ]
    assert _register(shared) == before
    # JSON: the same ranges, from the same model.
    item = {
        "reference": "SR09",
        "section": "financial",
        "title": "T",
        "impact": 6,
        "probability": 0,
    }
    problem = assert_problem(
        shared.api.ingest.put(
            shared.path("risk-register/2024/3"), json={"risks": [item]}, headers=shared.staff
        ),
        422,
        "validation_error",
    )
    assert sorted(e["field"] for e in problem["errors"]) == [
        "risks.0.impact",
        "risks.0.probability",
    ]
    assert _register(shared) == before


def test_a_register_from_xlsx_and_json(shared):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Risk register P12 2023/24"])
    sheet.append(["Reference", "Section", "Title", "Impact", "Probability", "Priority", "Status"])
    sheet.append(["SR05", "supportability", "Legacy finance system", 3.0, 4, 12, "open"])
    sheet.append(["SR06", "Resourcing", "Recruitment", 2, 2, 4, "closed"])
    out = io.BytesIO()
    book.save(out)
    r = _upload(shared, out.getvalue(), year=2023, period=12, name="risks.xlsx")
    assert r.status_code == 200, r.text
    rows = _register(shared, 2023, 12)
    assert [(x["reference"], x["section"], x["impact"], x["closed"]) for x in rows] == [
        ("SR06", "resourcing", 2, True),
        ("SR05", "supportability", 3, False),
    ]
    body = {
        "risks": [
            {
                "reference": "SR05",
                "section": "Supportability",
                "title": "Legacy",
                "impact": 3,
                "probability": 3,
                "priority": 9,
            }
        ]
    }
    r = shared.api.ingest.put(shared.path("risk-register/2024/3"), json=body, headers=shared.staff)
    assert r.status_code == 200, r.text
    assert r.json()["risks_updated"] == 1
    assert [(x["reference"], x["title"], x["probability"]) for x in _register(shared)] == [
        ("SR05", "Legacy", 3)
    ]
    as_csv = shared.api.ingest.get(
        shared.path("risk-register/2024/3?format=csv"), headers=shared.staff
    )
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert as_csv.text.splitlines()[0].startswith("risk_id,reference,section,title")


def test_risk_access(shared):
    assert _upload(shared, REGISTER).status_code == 200
    assert_problem(_upload(shared, REGISTER, who=shared.partner), 403, "governance_read_only")
    r = shared.api.ingest.get(shared.path("risk-register/2024/3"), headers=shared.outsider)
    assert_problem(r, 403, "organisation_forbidden")
