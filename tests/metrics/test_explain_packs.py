"""Explain committee pack totals (issue #14 item 5): every total of the pack JSON links to
its explanation; the rows listed recompute it exactly (sums in pence; the SLA % of the
KPI summary from its months' counts); a stored version explains its frozen figures after
the live data moved; only the service, its partners and admins may read them."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from tests.factories import assert_problem, make_org
from tests.metrics.packs import seed_governance as seed
from tests.metrics.packs.test_issue import PACKS, _create, _issue, _replace_sick_pay_actuals

WHERE = {"financial_year": 2024, "period": 3}


def _recomputed(exp: dict) -> float | int | None:
    values = [i["value"] for i in exp["items"]]
    if exp["figure"] != "kpi_sla":
        return sum(values)
    met = sum(i["value"] for i in exp["items"] if i["name"].startswith("met "))
    total = sum(i["value"] for i in exp["items"] if i["name"].startswith("resolved "))
    if not total:
        return None
    return float((Decimal(100 * met) / total).quantize(Decimal("0.01"), ROUND_HALF_UP))


def _crawl(api, pack: dict, who: dict[str, str]) -> dict[str, dict]:
    out = {}
    for name, href in pack["explanations"].items():
        got = api.metrics.get(href, headers=who)
        assert got.status_code == 200, (name, got.text)
        exp = got.json()
        assert exp["value"] == _recomputed(exp), name
        assert exp["data_version"] == pack["header"]["data_version"]
        out[name] = exp
    return out


def test_pack_totals_recompute_from_their_rows(api, owner_engine):
    sc = seed.pack_scenario(api, owner_engine)
    svc, brent = sc["service"]["id"], sc["by_name"]["Brent"]
    staff = api.auth("participant", [svc], subject="head.of.service")
    pack = api.metrics.get(
        f"{PACKS}/draft", params={"service_id": svc, **WHERE}, headers=staff
    ).json()
    groups = [g["key"] for g in pack["outturn"]["groups"]]
    # 5 columns of each group and of the grand total; the cost table: its grand total,
    # 3 columns and 3 organisations; SLA % of P1, P2, P3
    assert len(pack["explanations"]) == 5 * (len(groups) + 1) + 1 + 3 + 3 + 3
    exps = _crawl(api, pack, staff)
    # the figures as the pack shows them
    for g in pack["outturn"]["groups"]:
        assert exps[f"outturn.groups.{g['key']}.budget"]["value"] == g["budget_pence"]
        assert len(exps[f"outturn.groups.{g['key']}.budget"]["items"]) == len(g["lines"])
    total = exps["outturn.total.actuals"]
    assert total["value"] == pack["outturn"]["total"]["actuals_pence"]
    assert total["tolerance"].endswith(
        f"{50 * len(total['items'])} pence for {len(total['items'])} rows"
    )
    assert total["items"][0]["source"].startswith("finance import ")
    assert not total["frozen"] and total["version"] is None
    # the printed checks of the pack are listed with the total they are about
    listed = {
        (c["row"], c["column"]): c["message"]
        for c in pack["checks"]
        if c["kind"] in ("group_total", "grand_total")
    }
    for (row, column), message in listed.items():
        name = (
            f"outturn.total.{column}"
            if row == "total service charge"
            else f"outturn.groups.{row.removesuffix(' / total')}.{column}"
        )
        assert exps[name]["checks"] == [message]
    covid = pack["cost_tables"][0]
    assert exps["cost_tables.Covid-19 costs.grand_total"]["value"] == covid["grand_total_pence"]
    assert covid["grand_total_pence"] == 10_000 + 20_050 + 300_000 + 5_000 + 12_345 + 99_999 + 1
    brent_total = exps[f"cost_tables.Covid-19 costs.organisation_totals.{brent}"]
    assert brent_total["value"] == 330_050 and len(brent_total["items"]) == 2
    # Brent's printed 330,200 is 150 pence over its 2 rows' sum: allowed 100, so a check
    assert brent_total["tolerance"].endswith("100 pence for 2 rows")
    assert len(brent_total["checks"]) == 1 and "£3,302" in brent_total["checks"][0]
    p2 = exps["cost_tables.Covid-19 costs.column_totals.P2"]
    assert p2["value"] == 20_050 + 12_345
    kpi = {m["key"]: m["value"] for m in pack["kpi"]["measures"]}
    for p in ("P1", "P2", "P3"):
        assert exps[f"kpi.sla.{p}"]["value"] == kpi[f"sla.{p}"]
        assert [i["name"] for i in exps[f"kpi.sla.{p}"]["items"]][::2] == [
            "met 2024-04",
            "met 2024-05",
            "met 2024-06",
        ]
    # a partner reads them; another organisation may not
    partner = api.auth("participant", [brent])
    href = pack["explanations"]["outturn.total.budget"]
    assert api.metrics.get(href, headers=partner).status_code == 200
    stranger = api.auth("participant", [make_org(api)["id"]])
    assert_problem(api.metrics.get(href, headers=stranger), 403, "organisation_forbidden")
    bad = api.metrics.get(href.replace("column=budget", "column=price"), headers=staff)
    assert_problem(bad, 422, "bad_column")


def test_an_issued_version_explains_its_frozen_figures(api, owner_engine):
    sc = seed.pack_scenario(api, owner_engine)
    svc = sc["service"]["id"]
    staff = api.auth("participant", [svc], subject="head.of.service")
    created = _create(api, svc, staff)
    assert created.status_code == 201, created.text
    v1 = _issue(api, created.json()["id"], staff)
    frozen = api.metrics.get(f"{PACKS}/{v1['id']}", headers=staff).json()
    assert frozen["header"]["version"] == 1
    href = frozen["explanations"]["outturn.groups.staffing.actuals"]
    assert "version=1" in href
    before = api.metrics.get(href, headers=staff).json()
    assert before["frozen"] and before["status"] == "issued"
    assert before["data_version"] == v1["data_version"]
    sick = next(i for i in before["items"] if i["name"].endswith("STATUTORY SICK PAY"))
    assert sick["source"].startswith("finance import ")
    # the finance system re-exports the report: live data moves, the version does not
    _replace_sick_pay_actuals(owner_engine, svc)
    after = api.metrics.get(href, headers=staff).json()
    assert after["value"] == before["value"] == _recomputed(after)
    sick_after = next(i for i in after["items"] if i["name"].endswith("STATUTORY SICK PAY"))
    assert sick_after["value"] == sick["value"] != -25000
    assert "since replaced" in sick_after["source"]
    live = api.metrics.get(href.replace("&version=1", ""), headers=staff).json()
    assert live["version"] is None and not live["frozen"]
    assert live["value"] == _recomputed(live) != after["value"]
    missing = api.metrics.get(href.replace("version=1", "version=9"), headers=staff)
    assert_problem(missing, 404, "pack_not_found")
