"""A cost table's categories reach the pack in the order the finance file gave them (JSON
and HTML), not alphabetically; a table stored before that order was kept reads
alphabetically."""

from __future__ import annotations

import lxml.html

from tests.metrics.packs import seed_governance as seed
from tests.metrics.packs.test_api import draft

COSTS = (
    "Organisation,Category,P1,P2,P3\n"
    "Brent,Mobile telephony,£ 800,£ 800,£ 800\n"
    'Brent,Courier,"£ 1,250",£ 980.50,£ -\n'
    'Brent,Equipment,"£ 12,000",£ -,"£ 3,400"\n'
    "Southwark,Courier,£ 450,£ 450,£ 450\n"
    'Southwark,Mobile telephony,"£ 1,200","£ 1,200","£ 1,200"\n'
)


def _rows_of(page: str) -> list[tuple[str, str, str]]:
    doc = lxml.html.document_fromstring(page)
    table = doc.get_element_by_id("cost-1")
    return [
        tuple(" ".join(c.text_content().split()) for c in tr if c.tag in ("th", "td"))[:3]
        for tr in table.iter("tr")
    ]


def test_the_pack_prints_categories_in_the_imported_order(api, owner_engine):
    s = seed.shared_service(api, owner_engine)
    svc = s["service"]["id"]
    brent, _, southwark = s["ids"]
    put = api.ingest.put(
        f"/api/v1/organisations/{svc}/cost-tables/2024/3/file",
        files={"file": ("covid.csv", COSTS.encode(), "text/csv")},
        data={"title": "Covid-19 costs"},
        headers=api.auth("participant", [svc]),
    )
    assert put.status_code == 200, put.text
    assert put.json()["categories"] == ["Mobile telephony", "Courier", "Equipment"]

    (table,) = draft(api, svc).json()["cost_tables"]
    assert [(r["organisation"]["id"], r["category"], r["total_pence"]) for r in table["rows"]] == [
        (brent, "Mobile telephony", 240_000),
        (brent, "Courier", 223_050),
        (brent, "Equipment", 1_540_000),
        # the table's order, though Southwark's own rows came the other way round
        (southwark, "Mobile telephony", 360_000),
        (southwark, "Courier", 135_000),
    ]
    assert table["grand_total_pence"] == 2_498_050
    html = draft(api, svc, format="html")
    assert html.status_code == 200, html.text
    assert _rows_of(html.text) == [
        ("Organisation", "Category", "P1"),
        ("Brent", "Mobile telephony", "£800"),
        ("Brent", "Courier", "£1,250"),
        ("Brent", "Equipment", "£12,000"),
        ("Brent total", "£14,050", "£1,780.50"),
        ("Southwark", "Mobile telephony", "£1,200"),
        ("Southwark", "Courier", "£450"),
        ("Southwark total", "£1,650", "£1,650"),
        ("Grand total", "£15,700", "£3,430.50"),
    ]

    # Stored before the order was kept: alphabetical
    seed.as_ingest(owner_engine, "UPDATE cost_tables SET categories = NULL WHERE service_id = :s",
                   {"s": svc})  # fmt: skip
    (old,) = draft(api, svc).json()["cost_tables"]
    assert [(r["organisation"]["id"], r["category"]) for r in old["rows"]] == [
        (brent, "Courier"),
        (brent, "Equipment"),
        (brent, "Mobile telephony"),
        (southwark, "Courier"),
        (southwark, "Mobile telephony"),
    ]
