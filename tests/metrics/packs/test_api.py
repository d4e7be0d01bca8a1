"""The live draft through HTTP: SLA tables from pushed tickets, NPS, KPIs, governance
figures and checks, exact to the ticket and the penny; who may read it."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from tests.factories import assert_problem, make_org
from tests.metrics.packs import seed_governance as seed

DRAFT = "/api/v1/committee-packs/draft"


def draft(api: Any, service_id: int, who: dict[str, str] | None = None, **params: Any) -> Any:
    query = {"service_id": service_id, "financial_year": 2024, "period": 3, **params}
    return api.metrics.get(DRAFT, params=query, headers=who or api.auth("admin"))


@pytest.fixture
def scenario(api, owner_engine):
    return seed.pack_scenario(api, owner_engine)


def _months(table: dict[str, Any]) -> dict[str, tuple]:
    return {
        m["month"]: (m["met"], m["missed"], m["total"], m["met_pct"], m["missed_pct"])
        for m in table["months"]
        if m["total"]
    }


def test_sla_tables_from_the_partners_tickets(api, scenario):
    got = draft(api, scenario["service"]["id"])
    assert got.status_code == 200, got.text
    assert got.headers["content-type"] == "application/json"
    pack = got.json()
    tables = {t["priority"]: t for t in pack["sla"]}
    assert list(tables) == ["P1", "P2", "P3"]
    p1, p2, p3 = tables["P1"], tables["P2"], tables["P3"]
    # P1: thirteen months, June 2023 to June 2024 (B2 of May 2023 is outside)
    assert [m["month"] for m in p1["months"]][::12] == ["2023-06-01", "2024-06-01"]
    assert len(p1["months"]) == 13
    assert _months(p1) == {
        "2023-07-01": (0, 1, 1, 0.0, 100.0),
        "2024-06-01": (2, 1, 3, 66.67, 33.33),
    }
    assert [
        (s["label"], s["met"], s["missed"], s["total"], s["met_pct"]) for s in p1["subtotals"]
    ] == [
        ("2023", 0, 1, 1, 0.0),
        ("2024", 2, 1, 3, 66.67),
        ("Total", 2, 2, 4, 50.0),
    ]
    assert p1["target_label"] == "95% within 4 hours" and p1["target_pct"] == 95.0
    assert {m["month"]: m["logged"] for m in p1["logged"] if m["logged"]} == {
        "2023-07-01": 1,
        "2024-06-01": 6,
    }
    # (2 + 6 + 1.5 + 5) / 4 business hours
    assert (p1["average_closure_hours"], p1["average_closure_unit"]) == (3.63, "business hours")
    assert (p1["open"], p1["open_breached"], p1["open_within"], p1["on_hold"], p1["reopened"]) == (
        3,
        2,
        1,
        0,
        0,
    )
    # P2 and P3: the reporting window only
    assert [m["month"] for m in p2["months"]] == ["2024-04-01", "2024-05-01", "2024-06-01"]
    assert _months(p2) == {
        "2024-04-01": (1, 0, 1, 100.0, 0.0),
        "2024-05-01": (0, 1, 1, 0.0, 100.0),
        "2024-06-01": (1, 0, 1, 100.0, 0.0),
    }
    assert [(s["label"], s["total"], s["met_pct"]) for s in p2["subtotals"]] == [
        ("2024", 3, 66.67),
        ("Total", 3, 66.67),
    ]
    assert [m["logged"] for m in p2["logged"]] == [1, 1, 2]
    assert p2["average_closure_hours"] == 5.67  # (3 + 13 + 1) / 3
    assert (p2["reopened"], p2["open"], p2["open_breached"]) == (1, 1, 1)
    assert p3["target_label"] == "80% within 2 working days"
    assert _months(p3) == {"2024-05-01": (1, 0, 1, 100.0, 0.0)}
    assert p3["average_closure_hours"] == 10.0


def test_kpis_nps_security_and_governance_figures(api, scenario):
    pack = draft(api, scenario["service"]["id"]).json()
    h = pack["header"]
    assert h["period_label"] == "Q1 2024/25 (P1–P3, April–June 2024)"
    assert [p["name"] for p in h["partners"]] == ["Brent", "Lewisham", "Southwark"]
    assert (h["status"], h["version"], len(h["data_version"])) == ("draft", None, 64)
    kpi = pack["kpi"]
    assert (kpi["p1_incidents"], kpi["p1_met"], kpi["severe_security_incidents"]) == (2, 2, 1)
    assert kpi["nps"] == 16.7  # 3 promoters, 1 passive, 2 detractors of 6
    measures = {
        m["key"]: (m["value"], m["target"], m["rag"], m["comment"]) for m in kpi["measures"]
    }
    assert measures == {
        "sla.P1": (66.67, 95.0, "red", "A P1 request was logged as an incident."),
        "sla.P2": (66.67, 95.0, "red", None),
        "sla.P3": (100.0, 80.0, "green", None),
        "nps": (16.7, None, None, None),
        "security.severe": (1.0, None, None, None),
    }
    ids = {o["name"]: o["id"] for o in scenario["partners"]}
    nps = {
        (r["month"], r["organisation"]["name"] if r["organisation"] else None): (
            r["responses"],
            r["promoters"],
            r["passives"],
            r["detractors"],
            r["nps"],
        )
        for r in pack["nps"]
    }
    assert nps[("2024-04-01", None)] == (1, 0, 0, 1, -100.0)
    assert nps[("2024-05-01", None)] == (1, 0, 1, 0, 0.0)
    assert nps[("2024-06-01", None)] == (4, 3, 0, 1, 50.0)
    assert nps[("2024-06-01", "Brent")] == (1, 1, 0, 0, 100.0)
    assert nps[("2024-06-01", "Lewisham")] == (2, 1, 0, 1, 0.0)
    assert nps[("2024-06-01", "Southwark")] == (1, 1, 0, 0, 100.0)
    assert nps[("2024-06-01", "Shared ICT Service")] == (0, 0, 0, 0, None)
    assert len(pack["nps"]) == 3 * 5 and ids
    assert [(i["reference"], i["severity"]) for i in pack["security_incidents"]] == [
        ("SI-2", "critical"),
        ("SI-1", "high"),
        ("SI-3", "low"),
    ]
    assert pack["outturn"]["total"]["actuals_pence"] == 51_208_600
    (costs,) = pack["cost_tables"]
    assert (costs["title"], costs["grand_total_pence"]) == ("Covid-19 costs", 447_395)
    assert [t["total_pence"] for t in costs["organisation_totals"]] == [330_050, 17_345, 100_000]
    risks = [
        (s["key"], r["reference"], r["priority"], r["band"], r["trend"])
        for s in pack["risks"]
        for r in s["risks"]
    ]
    assert risks == [
        ("financial", "R1", 12, "high", "up"),
        ("resourcing", "R2", 20, "very high", "up"),
        ("loss_of_service", "R3", 4, "low", "new"),
    ]
    assert [(c["kind"], c["row"], c["column"], c["difference"]) for c in pack["checks"]] == [
        ("line_remaining", "staffing / STATUTORY SICK PAY", "remaining", "50000"),
        ("group_total", "staffing / total", "forecast", "4000"),
        ("group_total", "staffing / total", "variance", "4000"),
        ("group_total", "staffing / total", "actuals", "-50000"),
        ("cost_total", "Covid-19 costs / Brent / total", "total", "150"),
        ("cost_total", "Covid-19 costs / Southwark / total", "total", "-1000"),
        ("risk_priority", "R2 Risk R2", "priority", "-4"),
    ]
    text = {s["key"]: s["text"] for s in pack["sentences"]}
    assert text["finance.ytd"] == "YTD spend £512,086 against a full-year budget of £1.79M."
    assert text["kpi.p1"] == (
        "2 P1 incidents resolved in April–June 2024; 2 (100%) met the target of 4 hours."
    )
    assert text["risks.summary"] == "3 open risks: 1 very high, 1 high, 0 medium, 1 low."
    assert [(c["section"], c["measure"]) for c in pack["commentary"]] == [
        ("sla", "sla.P1"),
        ("finance", ""),
    ]
    charts = {c["key"]: c for c in pack["charts"]}
    assert list(charts) == ["sla.P1", "sla.P2", "sla.P3", "nps", "finance.outturn"]
    assert charts["sla.P2"]["series"][0]["values"] == [100.0, 0.0, 100.0]
    assert charts["sla.P2"]["target"] == 95.0
    assert charts["finance.outturn"]["series"][2]["values"] == [157394.0, 354692.0]
    # The same data, the same data version
    again = draft(api, scenario["service"]["id"]).json()
    assert again["header"]["data_version"] == h["data_version"]


def test_draft_checks_as_envelope_and_csv(api, scenario):
    svc = scenario["service"]["id"]
    got = api.metrics.get(
        f"{DRAFT}/checks",
        params={"service_id": svc, "financial_year": 2024, "period": 3},
        headers=api.auth("admin"),
    )
    assert got.status_code == 200, got.text
    body = got.json()
    assert (body["total"], body["next"]) == (7, None)
    assert {c["origin"] for c in body["items"]} == {"live"}
    assert body["items"][0]["printed"] == "825000"
    as_csv = api.metrics.get(
        f"{DRAFT}/checks",
        params={"service_id": svc, "financial_year": 2024, "period": 3, "format": "csv"},
        headers=api.auth("admin"),
    )
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert len(rows) == 7
    assert rows[3]["difference"] == "'-50000"  # text cells starting "-" are escaped
    assert rows[6]["kind"] == "risk_priority"


def test_partners_read_other_organisations_do_not_and_partners_cannot_freeze(api, scenario):
    svc = scenario["service"]["id"]
    brent = scenario["by_name"]["Brent"]
    for role in ("participant", "partner", "reader"):
        assert draft(api, svc, api.auth(role, [brent])).status_code == 200, role
    assert draft(api, svc, api.auth("participant", [svc])).status_code == 200
    other = make_org(api, name="Croydon")["id"]
    assert_problem(draft(api, svc, api.auth("participant", [other])), 403, "organisation_forbidden")
    refused = api.metrics.post(
        "/api/v1/committee-packs",
        json={"service_id": svc, "financial_year": 2024, "period": 3},
        headers=api.auth("participant", [brent]),
    )
    body = assert_problem(refused, 403, "committee_pack_write_forbidden")
    assert "partner organisations read them" in body["detail"]
    as_reader = api.metrics.post(
        "/api/v1/committee-packs",
        json={"service_id": svc, "financial_year": 2024, "period": 3},
        headers=api.auth("reader", [svc]),
    )
    assert_problem(as_reader, 403, "role_forbidden")
    listed = api.metrics.get("/api/v1/committee-packs", headers=api.auth("partner", [other]))
    assert listed.json()["items"] == []


def test_bad_input_is_a_problem_naming_the_field(api, scenario):
    svc = scenario["service"]["id"]
    bad = assert_problem(draft(api, svc, period=13), 422)
    assert "period" in str(bad["errors"])
    assert_problem(draft(api, svc, format="docx"), 422)
    assert_problem(draft(api, 999_999), 404, "organisation_not_found")
    created = api.metrics.post(
        "/api/v1/committee-packs",
        json={"service_id": svc, "financial_year": 2024, "period": 0},
        headers=api.auth("admin"),
    )
    assert "period" in str(assert_problem(created, 422)["errors"])
    unknown = api.metrics.post(
        "/api/v1/committee-packs",
        json={"service_id": svc, "financial_year": 2024, "period": 3, "extra": 1},
        headers=api.auth("admin"),
    )
    assert_problem(unknown, 422)
    assert_problem(
        api.metrics.get("/api/v1/committee-packs/123456", headers=api.auth("admin")),
        404,
        "committee_pack_not_found",
    )


def test_draft_as_html_and_pdf(api, scenario):
    svc = scenario["service"]["id"]
    page = draft(api, svc, format="html")
    assert page.status_code == 200, page.text
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    for header, value in {
        "x-frame-options": "DENY",
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
        "cache-control": "no-store",
    }.items():
        assert page.headers[header] == value
    policy = page.headers["content-security-policy"]
    assert policy.startswith("default-src 'none'; style-src 'sha256-")
    assert "script-src" not in policy and "frame-ancestors 'none'" in policy
    assert "£512,086" in page.text and "STATUTORY SICK PAY" in page.text
    pdf = draft(api, svc, format="pdf")
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"] == (
        f'inline; filename="committee-pack-{svc}-2024-25-P3-draft.pdf"'
    )
    assert pdf.content.startswith(b"%PDF-")
