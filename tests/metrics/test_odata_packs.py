"""The committee pack's tables in the OData feed (issue 12): KPI summary, SLA table rows,
outturn lines with group and grand totals, and the risk register of every stored pack
version the caller may read, the same figures as the pack API gives; a participant of
another organisation sees none of them."""

from __future__ import annotations

from tests.factories import make_org
from tests.metrics.packs import seed_governance as seed
from tests.metrics.test_odata import crawl

PACKS = "/api/v1/committee-packs"


def test_pack_tables_are_the_stored_packs_figures(api, owner_engine):
    sc = seed.pack_scenario(api, owner_engine)
    svc = sc["service"]["id"]
    staff = api.auth("participant", [svc], subject="head.of.service")
    created = api.metrics.post(
        PACKS, json={"service_id": svc, "financial_year": 2024, "period": 3}, headers=staff
    )
    assert created.status_code == 201, created.text
    pack_id = created.json()["id"]
    pack = api.metrics.get(f"{PACKS}/{pack_id}", headers=staff).json()
    only = {"$filter": f"pack_id eq {pack_id}"}

    kpis = crawl(api, "PackKpis", staff, **only)
    assert [(k["key"], k["value"], k["target"], k["rag"]) for k in kpis] == sorted(
        (m["key"], m["value"], m["target"], m["rag"]) for m in pack["kpi"]["measures"]
    )
    assert {(k["service_id"], k["financial_year"], k["period"], k["status"]) for k in kpis} == {
        (svc, 2024, 3, created.json()["status"])
    }

    months = crawl(api, "PackSlaMonths", staff, **{**only, "$filter": only["$filter"] +
                                                    " and total gt 0"})  # fmt: skip
    assert sorted((m["priority"], m["month"], m["met"], m["missed"], m["met_pct"])
                  for m in months) == sorted(
        (t["priority"], m["month"], m["met"], m["missed"], m["met_pct"])
        for t in pack["sla"] for m in t["months"] if m["total"]
    )  # fmt: skip

    outturn = crawl(api, "PackOutturn", staff, **{**only, "$orderby": "row"})
    lines = [r for r in outturn if r["kind"] == "line"]
    assert [(r["line"], r["budget_pence"], r["actuals_pence"]) for r in lines] == [
        (line["line"], line["budget_pence"], line["actuals_pence"])
        for g in pack["outturn"]["groups"]
        for line in g["lines"]
    ]
    groups = {r["group_key"]: r for r in outturn if r["kind"] == "group_total"}
    for g in pack["outturn"]["groups"]:
        assert groups[g["key"]]["forecast_pence"] == g["forecast_pence"]
        assert groups[g["key"]]["budget_pence"] == sum(
            r["budget_pence"] for r in lines if r["group_key"] == g["key"]
        )
    (total,) = [r for r in outturn if r["kind"] == "total"]
    assert total["actuals_pence"] == pack["outturn"]["total"]["actuals_pence"]

    risks = crawl(api, "PackRisks", staff, **only)
    assert [(r["reference"], r["priority"], r["band"], r["trend"]) for r in risks] == sorted(
        (r["reference"], r["priority"], r["band"], r["trend"])
        for s in pack["risks"]
        for r in s["risks"]
    )
    assert {r["reference"] for r in risks} == {"R1", "R2", "R3"}

    # a partner council reads its service's packs; an unrelated organisation sees nothing
    partner = api.auth("participant", [sc["by_name"]["Brent"]])
    assert len(crawl(api, "PackKpis", partner, **only)) == len(kpis)
    stranger = api.auth("participant", [make_org(api)["id"]])
    for name in ("PackKpis", "PackSlaMonths", "PackOutturn", "PackRisks"):
        assert crawl(api, name, stranger) == [], name
