"""Cost tables: the Covid-19 table of a shared service's three partners, by name or id,
with printed organisation and grand totals; an organisation that is neither the service
nor a partner is refused naming the row and column, and the stored table stays."""

from __future__ import annotations

import io
from pathlib import Path

import openpyxl
from sqlalchemy import text

from tests.factories import assert_problem

COVID = (Path(__file__).parent / "covid_costs.csv").read_bytes()


def _upload(shared, content: bytes, name: str = "covid.csv", title="Covid-19 costs", who=None):
    return shared.api.ingest.put(
        shared.path("cost-tables/2024/3/file"),
        files={"file": (name, content, "text/csv")},
        data={"title": title},
        headers=who or shared.staff,
    )


def test_the_covid_table_is_stored_by_organisation_category_and_period(shared):
    r = _upload(shared, COVID)
    assert r.status_code == 200, r.text
    table = r.json()
    brent, lewisham, southwark = shared.partners
    assert (table["title"], table["columns"]) == ("Covid-19 costs", ["P1", "P2", "P3"])
    assert [(x["organisation_id"], x["category"], x["amounts_pence"]) for x in table["rows"]] == [
        (brent, "Courier", [125000, 98050, 0]),
        (brent, "Equipment", [1200000, 0, 340000]),
        (brent, "Mobile telephony", [80000, 80000, 80000]),
        (lewisham, "Courier", [60000, 60000, 0]),
        (lewisham, "Equipment", [950000, -50000, 0]),
        (southwark, "Courier", [45000, 45000, 45000]),
        (southwark, "Mobile telephony", [120000, 120000, 120000]),
    ]
    assert table["rows"][0]["organisation"] == "London Borough of Brent"
    totals = [
        (x["organisation_id"], x["column"], x["amount_pence"]) for x in table["printed_totals"]
    ]
    assert totals == [
        (brent, "P1", 1405000),
        (brent, "P2", 178050),
        (brent, "P3", 420000),
        (brent, None, 2003050),
        (lewisham, "P1", 1010000),
        (lewisham, "P2", 10000),
        (lewisham, "P3", 0),
        (lewisham, None, 1020000),
        (None, "P1", 2780000),
        (None, "P2", 353050),
        (None, "P3", 605000),
        (None, None, 3738050),
    ]
    got = shared.api.ingest.get(shared.path(f"cost-tables/{table['id']}"), headers=shared.partner)
    assert got.status_code == 200 and got.json() == table
    listed = shared.api.ingest.get(shared.path("cost-tables"), headers=shared.staff).json()
    assert [(x["title"], x["rows"]) for x in listed["items"]] == [("Covid-19 costs", 7)]


def test_an_organisation_not_the_service_or_a_partner_is_refused(shared):
    first = _upload(shared, COVID).json()
    bad = (
        "Organisation,Category,P1\n"
        f"{shared.partners[0]},Courier,£ 5\n"
        "Camden,Courier,£ 5\n"
        f"{shared.other},Courier,£ 5\n"
        "London Borough,Courier,£ 5\n"
    )
    body = assert_problem(_upload(shared, bad.encode()), 422, "import_rejected")
    assert [(e["row"], e["column"], e["code"]) for e in body["errors"]] == [
        (3, "Organisation", "unknown_organisation"),
        (4, "Organisation", "unknown_organisation"),
        (5, "Organisation", "unknown_organisation"),
    ]
    assert body["errors"][0]["message"].startswith("'Camden' is not the service or one of")
    assert body["errors"][1]["message"] == (
        f"organisation {shared.other} is not the service or one of its partners"
    )
    assert body["errors"][2]["message"].startswith("'London Borough' could be any of")
    again = shared.api.ingest.get(shared.path(f"cost-tables/{first['id']}"), headers=shared.staff)
    assert again.json() == first


def test_a_cost_table_from_xlsx_and_from_json(shared):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["Council", "Category", "Apr-24", "May-24"])
    sheet.append(["Lewisham", "Courier", 600, 600.5])
    sheet.append(["Shared ICT Service", "Licences", "£ 1,000", None])
    out = io.BytesIO()
    book.save(out)
    r = _upload(shared, out.getvalue(), name="costs.xlsx", title="Remote working")
    assert r.status_code == 200, r.text
    table = r.json()
    assert table["columns"] == ["Apr-24", "May-24"]
    assert [(x["organisation_id"], x["amounts_pence"]) for x in table["rows"]] == [
        (shared.service, [100000, 0]),
        (shared.partners[1], [60000, 60050]),
    ]
    body = {
        "title": "Remote working",
        "columns": ["P1"],
        "rows": [{"organisation": shared.partners[2], "category": "Courier", "amounts_pence": [7]}],
        "printed_totals": [{"organisation": "Southwark", "column": "P1", "amount_pence": 7}],
    }
    r = shared.api.ingest.put(shared.path("cost-tables/2024/3"), json=body, headers=shared.staff)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == table["id"]  # the same title, year and period: replaced
    assert [x["amounts_pence"] for x in r.json()["rows"]] == [[7]]
    bad = {**body, "rows": [{**body["rows"][0], "organisation": "Camden"}]}
    problem = assert_problem(
        shared.api.ingest.put(shared.path("cost-tables/2024/3"), json=bad, headers=shared.staff),
        422,
        "import_rejected",
    )
    assert [(e["field"], e["code"]) for e in problem["errors"]] == [
        ("rows.0.organisation", "unknown_organisation")
    ]


def test_cost_table_access(shared):
    table = _upload(shared, COVID).json()
    path = shared.path(f"cost-tables/{table['id']}")
    assert_problem(
        shared.api.ingest.get(path, headers=shared.outsider), 403, "organisation_forbidden"
    )
    assert_problem(_upload(shared, COVID, who=shared.partner), 403, "governance_read_only")
    assert_problem(
        shared.api.ingest.delete(path, headers=shared.partner), 403, "governance_read_only"
    )
    assert shared.api.ingest.delete(path, headers=shared.staff).status_code == 204
    assert_problem(shared.api.ingest.get(path, headers=shared.staff), 404, "cost_table_not_found")


UNSORTED = (
    "Organisation,Category,P1,P2\n"
    "Lewisham,Mobile telephony,£ 10,£ 20\n"
    "Brent,Courier,£ 1,£ 2\n"
    "Brent,Mobile telephony,£ 3,£ 4\n"
    "Lewisham,Equipment,£ 30,£ 40\n"
    "Brent,Equipment,£ 5,£ 6\n"
    "Lewisham,courier,£ 50,£ 60\n"
)


def test_categories_are_read_back_in_the_order_the_source_gave_them(shared, owner_engine):
    brent, lewisham, _ = shared.partners
    first = ["Mobile telephony", "Courier", "Equipment"]  # as they first appear
    expected_rows = [
        (brent, "Mobile telephony", [300, 400]),
        (brent, "Courier", [100, 200]),
        (brent, "Equipment", [500, 600]),
        (lewisham, "Mobile telephony", [1000, 2000]),
        (lewisham, "courier", [5000, 6000]),  # the same category, as this row spells it
        (lewisham, "Equipment", [3000, 4000]),
    ]

    def rows(table: dict) -> list[tuple]:
        return [(x["organisation_id"], x["category"], x["amounts_pence"]) for x in table["rows"]]

    csv_table = _upload(shared, UNSORTED.encode()).json()
    assert (csv_table["categories"], rows(csv_table)) == (first, expected_rows)
    got = shared.api.ingest.get(shared.path(f"cost-tables/{csv_table['id']}"), headers=shared.staff)
    assert (got.json()["categories"], rows(got.json())) == (first, expected_rows)

    book = openpyxl.Workbook()
    for line in UNSORTED.splitlines():
        book.active.append(line.split(","))
    out = io.BytesIO()
    book.save(out)
    xlsx = _upload(shared, out.getvalue(), name="costs.xlsx", title="From Excel").json()
    assert (xlsx["categories"], rows(xlsx)) == (first, expected_rows)

    body = {
        "title": "From JSON",
        "columns": ["P1"],
        "rows": [
            {"organisation": "Brent", "category": "Equipment", "amounts_pence": [1]},
            {"organisation": "Lewisham", "category": "Mobile telephony", "amounts_pence": [2]},
            {"organisation": "Lewisham", "category": "Courier", "amounts_pence": [3]},
            {"organisation": "Brent", "category": "Courier", "amounts_pence": [4]},
        ],
    }
    r = shared.api.ingest.put(shared.path("cost-tables/2024/3"), json=body, headers=shared.staff)
    assert r.status_code == 200, r.text
    assert r.json()["categories"] == ["Equipment", "Mobile telephony", "Courier"]
    assert [(x["organisation_id"], x["category"]) for x in r.json()["rows"]] == [
        (brent, "Equipment"),
        (brent, "Courier"),
        (lewisham, "Mobile telephony"),
        (lewisham, "Courier"),
    ]

    # A table stored before the order was kept (categories null) reads alphabetically.
    with owner_engine.begin() as conn:
        conn.execute(
            text("UPDATE cost_tables SET categories = NULL WHERE id = :i"), {"i": csv_table["id"]}
        )
    old = shared.api.ingest.get(shared.path(f"cost-tables/{csv_table['id']}"), headers=shared.staff)
    assert old.json()["categories"] == ["Courier", "Equipment", "Mobile telephony"]
    assert [(x["organisation_id"], x["category"]) for x in old.json()["rows"]] == [
        (brent, "Courier"),
        (brent, "Equipment"),
        (brent, "Mobile telephony"),
        (lewisham, "courier"),
        (lewisham, "Equipment"),
        (lewisham, "Mobile telephony"),
    ]
