"""The financial outturn: DOMAIN.md's worked example imported as CSV, as XLSX and as JSON
reads back to the penny, printed totals included; bad files are refused naming the row
and column, and the stored report is left as it was."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl

from tests.factories import assert_problem

HERE = Path(__file__).parent
WORKED = (HERE / "outturn_2024_p3.csv").read_bytes()

# DOMAIN.md, "Worked outturn": (group, line, budget, forecast, printed variance, actuals,
# printed remaining), whole pounds.
DOMAIN_LINES = [
    ("expenditure", "SOFTWARE LICENCES", 410_000, 425_500, 15_500, 118_204, 291_796),
    ("expenditure", "NETWORK AND INTERNET", 180_250, 180_250, 0, 47_310, 132_940),
    ("expenditure", "TELEPHONY", 96_000, 92_000, -4_000, 21_880, 74_120),
    ("expenditure", "INCOME FROM PARTNERS", -120_000, -120_000, 0, -30_000, -90_000),
    ("staffing", "SALARIES", 1_200_000, 1_236_000, 36_000, 301_422, 898_578),
    ("staffing", "AGENCY STAFF", 0, 60_000, 60_000, 48_900, -48_900),
    ("staffing", "STATUTORY SICK PAY", 8_000, 8_000, 0, 250, 8_250),
    ("staffing", "TRAINING", 20_000, 20_000, 0, 4_120, 15_880),
]
DOMAIN_TOTALS = [
    ("expenditure", 566_250, 577_750, 11_500, 157_395, 408_856),
    ("staffing", 1_228_000, 1_324_040, 96_040, 354_192, 873_808),
]


def _upload(shared, content: bytes, name: str, year: int = 2024, period: int = 3, who=None):
    return shared.api.ingest.put(
        shared.path(f"finance-reports/{year}/{period}/file"),
        files={"file": (name, content, "application/octet-stream")},
        headers=who or shared.staff,
    )


def _lines(report) -> list[tuple]:
    return [
        (
            line["group"],
            line["line"],
            line["budget_pence"],
            line["forecast_pence"],
            line["printed_variance_pence"],
            line["actuals_pence"],
            line["printed_remaining_pence"],
        )
        for line in report["lines"]
    ]


def _totals(report) -> list[tuple]:
    return [
        (
            t["group"],
            t["budget_pence"],
            t["forecast_pence"],
            t["variance_pence"],
            t["actuals_pence"],
            t["remaining_pence"],
        )
        for t in report["printed_totals"]
    ]


def _pence(rows):
    return [(*r[:2], *(v * 100 for v in r[2:])) for r in rows]


def _pence_totals(rows):
    return [(r[0], *(v * 100 for v in r[1:])) for r in rows]


def test_the_worked_outturn_as_csv_is_stored_to_the_penny(shared):
    r = _upload(shared, WORKED, "outturn-2024-25-p3.csv")
    assert r.status_code == 200, r.text
    report = r.json()
    assert (report["financial_year"], report["period"], report["source"]) == (2024, 3, "csv")
    assert report["file_name"] == "outturn-2024-25-p3.csv"
    assert _lines(report) == _pence(DOMAIN_LINES)
    assert [line["source_row"] for line in report["lines"]] == [3, 4, 5, 6, 8, 9, 10, 11]
    assert [line["category"] for line in report["lines"]][:4] == [
        "Supplies and services",
        "Supplies and services",
        "Supplies and services",
        "Income",
    ]
    assert _totals(report) == _pence_totals(DOMAIN_TOTALS)
    assert [t["source_row"] for t in report["printed_totals"]] == [7, 12]
    # Read back through GET: the same report.
    again = shared.api.ingest.get(shared.path("finance-reports/2024/3"), headers=shared.partner)
    assert again.status_code == 200, again.text
    assert again.json() == report


def _worked_workbook() -> bytes:
    """DOMAIN's example as a finance system's workbook: numbers as number cells (some
    float), zero as the accounting dash text, a title row and a grand total."""
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Revenue outturn 2024/25 P3"])
    sheet.append([])
    sheet.append(
        [
            "Group",
            "Category",
            "Line",
            "Budget (£)",
            "Forecast (£)",
            "Variance (£)",
            "Actuals (£)",
            "Remaining (£)",
        ]
    )
    for group, line, *amounts in DOMAIN_LINES:
        cells = [float(a) if i % 2 else a for i, a in enumerate(amounts)]
        cells = ["£ -" if a == 0 else a for a in cells]
        sheet.append([group.capitalize(), None, line, *cells])
        if line == "INCOME FROM PARTNERS":
            sheet.append(["Expenditure", None, "Total", *DOMAIN_TOTALS[0][1:]])
    sheet.append(["Staffing", None, "Staffing total", *DOMAIN_TOTALS[1][1:]])
    sheet.append(
        [None, None, "TOTAL SERVICE CHARGE", 1_794_250, 1_901_790, 107_540, 511_587.0, 1_282_664]
    )
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_the_worked_outturn_as_xlsx_is_stored_to_the_penny(shared):
    r = _upload(shared, _worked_workbook(), "outturn.xlsx")
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["source"] == "xlsx"
    assert _lines(report) == _pence(DOMAIN_LINES)
    assert [line["source_row"] for line in report["lines"]] == [4, 5, 6, 7, 9, 10, 11, 12]
    assert _totals(report) == _pence_totals(
        [*DOMAIN_TOTALS, (None, 1_794_250, 1_901_790, 107_540, 511_587, 1_282_664)]
    )


def test_pence_and_period_columns_and_recharges(shared):
    csv = (
        "group,line,budget,forecast,actuals,recharge,P1,P2,P3,P4\n"
        'contingency,CONTINGENCY,£1234.56,"£ 1,234.56",£0.01,no,£ -,0.01,,\n'
        'expenditure,RECHARGED PRINTING,"£2,000","£2,000",£ 600.50,yes,200,200.25,200.25,\n'
    ).encode()
    r = _upload(shared, csv, "p.csv")
    assert r.status_code == 200, r.text
    lines = r.json()["lines"]
    assert [(x["budget_pence"], x["forecast_pence"], x["actuals_pence"]) for x in lines] == [
        (123456, 123456, 1),
        (200000, 200000, 60050),
    ]
    assert [x["is_recharge"] for x in lines] == [False, True]
    assert [x["period_actuals_pence"] for x in lines] == [[0, 1, 0], [20000, 20025, 20025]]
    assert [x["printed_variance_pence"] for x in lines] == [None, None]
    assert r.json()["printed_totals"] == []


def _stored(shared):
    return shared.api.ingest.get(shared.path("finance-reports/2024/3"), headers=shared.staff)


def _refused(shared, csv_text: str, status: int, code: str, name: str = "bad.csv"):
    """Import ``csv_text`` over the worked report; the problem; the worked report intact."""
    before = _stored(shared).json()
    r = _upload(shared, csv_text.encode(), name)
    body = assert_problem(r, status, code)
    after = _stored(shared).json()
    assert after == before
    return body


HEADER = "Group,Line,Budget,Forecast,Actuals\n"


def test_bad_files_are_refused_naming_row_and_column_and_change_nothing(shared):
    assert _upload(shared, WORKED, "worked.csv").status_code == 200

    body = _refused(
        shared, HEADER + "expenditure,A,1,1,1\nestates,B,1,1,1\n", 422, "import_rejected"
    )
    assert [(e["row"], e["column"], e["code"]) for e in body["errors"]] == [
        (3, "Group", "unknown_group")
    ]
    assert "'estates'" in body["errors"][0]["message"]
    assert "expenditure, staffing, contingency" in body["errors"][0]["message"]

    body = _refused(shared, HEADER + "expenditure,A,1,12x,1\n", 422, "import_rejected")
    assert [(e["row"], e["column"], e["code"]) for e in body["errors"]] == [
        (2, "Forecast", "not_an_amount")
    ]

    body = _refused(
        shared,
        HEADER + "staffing,SALARIES,1,1,1\nstaffing,TRAINING,1,1,1\nStaffing,salaries,2,2,2\n",
        422,
        "import_rejected",
    )
    assert [(e["row"], e["column"], e["code"]) for e in body["errors"]] == [
        (4, "Line", "duplicate_line")
    ]
    assert "also on row 2" in body["errors"][0]["message"]

    body = _refused(
        shared,
        "Group,Line,Budget,Forecast,Actuals,P3,P4,P13\nstaffing,A,1,1,1,1,5,\n",
        422,
        "import_rejected",
    )
    assert [(e["row"], e["column"], e["code"]) for e in body["errors"]] == [
        (1, "P13", "period_out_of_range"),
        (2, "P4", "period_after_report"),
    ]

    body = _refused(shared, HEADER + "expenditure,A,1.234,1,1\n", 422, "import_rejected")
    assert body["errors"][0]["message"] == "'1.234' has more than two decimal places (pence)"

    # Every problem of a file at once, sorted by row.
    body = _refused(
        shared, HEADER + "estates,A,1,1,1\nexpenditure,,x,1,1\n", 422, "import_rejected"
    )
    assert [(e["row"], e["column"], e["code"]) for e in body["errors"]] == [
        (2, "Group", "unknown_group"),
        (3, "Line", "missing_value"),
        (3, "Budget", "not_an_amount"),
    ]


def test_a_period_or_year_outside_the_range_is_refused(shared):
    assert _upload(shared, WORKED, "worked.csv").status_code == 200
    before = _stored(shared).json()
    for year, period, field in (
        (2024, 13, "path.period"),
        (2024, 0, "path.period"),
        (1999, 3, "path.financial_year"),
    ):
        r = _upload(shared, WORKED, "worked.csv", year=year, period=period)
        body = assert_problem(r, 422, "validation_error")
        assert [e["field"] for e in body["errors"]] == [field]
    assert _stored(shared).json() == before


def test_a_file_that_is_not_an_xlsx_is_refused(shared):
    assert _upload(shared, WORKED, "worked.csv").status_code == 200
    body = _refused(shared, WORKED.decode(), 422, "file_unreadable", name="outturn.xlsx")
    assert body["errors"] == [
        {
            "field": "file",
            "message": "not a readable XLSX workbook: it is not a ZIP container, as every .xlsx is",
        }
    ]
    broken = b"PK\x03\x04" + b"\x00" * 200
    r = _upload(shared, broken, "outturn.xlsx")
    body = assert_problem(r, 422, "file_unreadable")
    assert body["errors"][0]["field"] == "file"
    assert _stored(shared).status_code == 200


def test_a_new_import_replaces_the_report_whole(shared):
    first = _upload(shared, WORKED, "worked.csv").json()
    r = _upload(shared, (HEADER + 'contingency,RESERVE,"£ 50,000",£ -,£ -\n').encode(), "b.csv")
    assert r.status_code == 200, r.text
    second = r.json()
    assert second["id"] == first["id"]
    assert _lines(second) == [("contingency", "RESERVE", 5_000_000, 0, None, 0, None)]
    assert second["printed_totals"] == []
    listed = shared.api.ingest.get(shared.path("finance-reports"), headers=shared.staff).json()
    assert [(x["financial_year"], x["period"], x["lines"]) for x in listed["items"]] == [
        (2024, 3, 1)
    ]


def test_json_reports_follow_the_same_rules(shared):
    body = {
        "lines": [
            {
                "group": "staffing",
                "line": "SALARIES",
                "budget_pence": 120000000,
                "forecast_pence": 123600000,
                "actuals_pence": 30142200,
                "period_actuals_pence": [10000000, 10000000, 10142200],
            },
            {
                "group": "Expenditure",
                "category": "Income",
                "line": "INCOME",
                "budget_pence": -12000000,
                "forecast_pence": -12000000,
                "actuals_pence": -3000000,
                "printed_variance_pence": 0,
                "printed_remaining_pence": -9000000,
            },
        ],
        "printed_totals": [
            {"group": "staffing", "budget_pence": 120000000},
            {"group": None, "actuals_pence": 27142200},
        ],
    }
    path = shared.path("finance-reports/2024/3")
    r = shared.api.ingest.put(path, json=body, headers=shared.staff)
    assert r.status_code == 200, r.text
    report = r.json()
    assert report["source"] == "api"
    assert _lines(report) == [
        ("staffing", "SALARIES", 120000000, 123600000, None, 30142200, None),
        ("expenditure", "INCOME", -12000000, -12000000, 0, -3000000, -9000000),
    ]
    assert _totals(report) == [
        ("staffing", 120000000, None, None, None, None),
        (None, None, None, None, 27142200, None),
    ]
    bad = {
        "lines": [
            body["lines"][0],
            {**body["lines"][0], "group": "estates"},
            {**body["lines"][0], "line": "salaries", "period_actuals_pence": [1, 2, 3, 4]},
        ]
    }
    problem = assert_problem(
        shared.api.ingest.put(path, json=bad, headers=shared.staff), 422, "import_rejected"
    )
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [
        ("lines.1.group", "unknown_group"),
        ("lines.2.line", "duplicate_line"),
        ("lines.2.period_actuals_pence", "period_after_report"),
    ]
    nonnumeric = {"lines": [{**body["lines"][0], "budget_pence": "12x"}]}
    problem = assert_problem(
        shared.api.ingest.put(path, json=nonnumeric, headers=shared.staff),
        422,
        "validation_error",
    )
    assert [e["field"] for e in problem["errors"]] == ["lines.0.budget_pence"]
    assert shared.api.ingest.get(path, headers=shared.staff).json() == report


def test_the_service_own_groups(shared):
    path = shared.path("finance-groups/capital_projects")
    r = shared.api.ingest.put(
        path, json={"label": "Capital projects", "position": 10}, headers=shared.staff
    )
    assert r.status_code == 200, r.text
    assert r.json() == {
        "key": "capital_projects",
        "label": "Capital projects",
        "position": 10,
        "standard": False,
    }
    listed = shared.api.ingest.get(shared.path("finance-groups"), headers=shared.partner)
    assert [g["key"] for g in listed.json()["items"]] == [
        "expenditure",
        "staffing",
        "contingency",
        "capital_projects",
    ]
    csv = HEADER + 'Capital projects,NEW DATA CENTRE,"£ 1,000","£ 1,000",£ -\n'
    report = _upload(shared, csv.encode(), "c.csv").json()
    assert report["lines"][0]["group"] == "capital_projects"
    assert_problem(
        shared.api.ingest.delete(path, headers=shared.staff), 409, "finance_group_in_use"
    )
    assert_problem(
        shared.api.ingest.put(
            shared.path("finance-groups/staffing"), json={"label": "S"}, headers=shared.staff
        ),
        422,
        "standard_finance_group",
    )
    as_csv = shared.api.ingest.get(shared.path("finance-groups?format=csv"), headers=shared.staff)
    assert as_csv.text.splitlines()[0] == "key,label,position,standard"


def test_access_partners_read_outsiders_do_not_partners_cannot_write(shared):
    assert _upload(shared, WORKED, "worked.csv").status_code == 200
    path = shared.path("finance-reports/2024/3")
    assert shared.api.ingest.get(path, headers=shared.partner).status_code == 200
    assert shared.api.ingest.get(path, headers=shared.admin).status_code == 200
    assert_problem(
        shared.api.ingest.get(path, headers=shared.outsider), 403, "organisation_forbidden"
    )
    assert_problem(
        _upload(shared, WORKED, "w.csv", who=shared.partner), 403, "governance_read_only"
    )
    reader = shared.api.auth("reader", [shared.service])
    assert shared.api.ingest.get(path, headers=reader).status_code == 200
    assert_problem(_upload(shared, WORKED, "w.csv", who=reader), 403, "governance_read_only")
    assert_problem(
        _upload(shared, WORKED, "w.csv", who=shared.outsider), 403, "organisation_forbidden"
    )
    assert_problem(
        shared.api.ingest.get(
            "/api/v1/organisations/999999/finance-reports/2024/3", headers=shared.admin
        ),
        404,
        "organisation_not_found",
    )


def test_excel_plain_csv_in_windows_1252_reads_the_pound_sign(shared):
    """Excel's "CSV (Comma delimited)" on a UK machine writes £ as the byte A3."""
    content = WORKED.decode("utf-8").encode("cp1252")
    assert b"\xa3" in content
    r = _upload(shared, content, "outturn.csv")
    assert r.status_code == 200, r.text
    assert _lines(r.json()) == _pence(DOMAIN_LINES)
