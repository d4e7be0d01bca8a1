"""The shared-service demo: a service, three partners, their tickets and the governance
data of a 2024/25 P3 committee pack, loaded through the ingest service layer, once."""

from __future__ import annotations

from sqlalchemy import text

from yardstick.demo.governance import load_governance_demo


def test_the_shared_service_demo_is_ready_for_its_pack(api, database_url, owner_engine):
    summary, partners = load_governance_demo(database_url)
    assert summary.startswith("shared service demo: Shared ICT Service (id ")
    assert "outturn, Covid-19 cost table, 8 risks, 5 incidents, commentary" in summary
    with owner_engine.connect() as conn:
        service = conn.execute(
            text("SELECT id FROM organisations WHERE name = 'Shared ICT Service'")
        ).scalar_one()
        months = dict(
            conn.execute(
                text(
                    "SELECT priority, count(DISTINCT date_trunc('month', logged_at "
                    "AT TIME ZONE 'Europe/London')) FROM tickets GROUP BY 1"
                )
            ).all()
        )
        per_partner = dict(
            conn.execute(text("SELECT organisation_id, count(*) FROM tickets GROUP BY 1")).all()
        )
        first, last = conn.execute(
            text(
                "SELECT min(logged_at AT TIME ZONE 'Europe/London'), "
                "max(logged_at AT TIME ZONE 'Europe/London') FROM tickets"
            )
        ).one()
    assert sorted(per_partner) == sorted(partners)
    assert all(700 < n < 1200 for n in per_partner.values()), per_partner
    assert months == {"P0": 13, "P1": 13, "P2": 3, "P3": 3, "P4": 3}
    assert first.date().isoformat() >= "2023-06-01"
    assert last.date().isoformat() <= "2024-06-30"

    admin = api.auth("admin")
    base = f"/api/v1/organisations/{service}"
    listed = api.ingest.get(f"{base}/partners", headers=admin).json()["items"]
    assert [p["name"] for p in listed] == [
        "London Borough of Brent",
        "London Borough of Lewisham",
        "London Borough of Southwark",
    ]
    partner = api.auth("reader", [partners[2]])
    report = api.ingest.get(f"{base}/finance-reports/2024/3", headers=partner).json()
    assert report["source"] == "xlsx"
    assert [
        (x["group"], x["line"], x["budget_pence"], x["actuals_pence"]) for x in report["lines"]
    ][6] == ("staffing", "STATUTORY SICK PAY", 800000, 25000)
    assert report["lines"][0]["period_actuals_pence"] == [3940100, 3940100, 3940200]
    assert [(t["group"], t["forecast_pence"]) for t in report["printed_totals"]] == [
        ("expenditure", 57775000),
        ("staffing", 132404000),
        ("contingency", 16000000),
    ]
    tables = api.ingest.get(f"{base}/cost-tables", headers=partner).json()["items"]
    assert [(t["title"], t["rows"]) for t in tables] == [("Covid-19 costs", 12)]
    table = api.ingest.get(f"{base}/cost-tables/{tables[0]['id']}", headers=partner).json()
    grand = [t for t in table["printed_totals"] if t["organisation_id"] is None]
    assert grand[-1]["amount_pence"] == sum(sum(r["amounts_pence"]) for r in table["rows"])
    for period in ("2023/12", "2024/3"):
        rows = api.ingest.get(f"{base}/risk-register/{period}", headers=partner).json()["items"]
        assert len(rows) == 8
    incidents = api.ingest.get(f"{base}/security-incidents", headers=partner).json()
    assert incidents["total"] == 5
    assert len(api.ingest.get(f"{base}/commentary/2024/3", headers=partner).json()["items"]) == 8

    # The SLA figures the pack reads: P1 over 13 months, every priority over the period.
    assert api.deliver() >= 1
    rows = api.metrics.get(
        "/api/v1/sla/monthly", params={"organisation_id": partners[0]}, headers=admin
    ).json()["items"]
    p1_months = {r["month"] for r in rows if r["priority"] == "P1"}
    assert min(p1_months) == "2023-06-01" and len(p1_months) == 13
    assert {r["month"] for r in rows if r["priority"] == "P3"} == {
        "2024-04-01",
        "2024-05-01",
        "2024-06-01",
    }

    # The export named the partners ("Brent", ...): the service's value mapping placed them.
    mapped = api.ingest.get(
        f"/api/v1/organisations/{service}/organisation-values",
        params={"source_system": "demo-servicedesk"},
        headers=admin,
    )
    assert mapped.status_code == 200, mapped.text
    assert {(m["value"], m["target_organisation_id"]) for m in mapped.json()["items"]} == {
        ("Brent", partners[0]),
        ("Lewisham", partners[1]),
        ("Southwark", partners[2]),
    }
    # The history file: every row landed (its count is in the summary).
    assert "2185 history events" in summary
    with owner_engine.connect() as conn:
        events = dict(
            conn.execute(text("SELECT kind, count(*) FROM ticket_events GROUP BY 1")).all()
        )
    assert events == {"assignment": 2149, "priority": 12, "status": 24}
    # OLAs per resolver group, per ticket, and pause by status.
    lewisham = api.auth("reader", [partners[1]])
    olas = api.metrics.get(
        "/api/v1/sla/olas", params={"organisation_id": partners[1]}, headers=lewisham
    ).json()["items"]
    by_group = {o["resolver_group"]: o for o in olas}
    assert sorted(by_group) == ["Infrastructure", "Service Desk"]
    assert (
        by_group["Service Desk"]["total"]
        + by_group["Service Desk"]["open_within"]
        + (by_group["Service Desk"]["open_breached"])
        == 532
    )
    assert all(o["met"] > 0 and o["missed"] > 0 for o in olas), olas
    per_ticket = api.metrics.get(
        "/api/v1/sla/ola-tickets",
        params={"organisation_id": partners[1], "resolver_group": "Infrastructure", "limit": 1},
        headers=lewisham,
    ).json()
    assert per_ticket["total"] == 219
    waited = api.metrics.get(
        "/api/v1/sla/tickets",
        params={"organisation_id": partners[1], "status": ["open_within", "open_breached"]},
        headers=lewisham,
    ).json()["items"]
    # Awaiting customer from Monday 1 July 2024 10:00 to Wednesday 11:30: 8 + 10 + 3.5
    # working hours; raised one priority 20 minutes after logging.
    paused = [t for t in waited if t["pending_seconds"]]
    assert len(paused) == 4 and {t["pending_seconds"] for t in paused} == {77400}
    assert all(t["priority_changed_at"] is not None for t in paused)
    # The pack is ready to issue: drafted with its checks, frozen for review, issued.
    query = {"service_id": service, "financial_year": 2024, "period": 3}
    draft = api.metrics.get("/api/v1/committee-packs/draft", params=query, headers=admin)
    assert draft.status_code == 200, draft.text
    pack = draft.json()
    assert [t["priority"] for t in pack["sla"]][:2] == ["P0", "P1"]
    (costs,) = pack["cost_tables"]
    assert [r["category"] for r in costs["rows"][:4]] == [
        "Courier",
        "Equipment",
        "Mobile telephony",
        "Software licences",
    ]  # as the demo's file lists them
    assert any(c["kind"] == "line_remaining" for c in pack["checks"])
    frozen = api.metrics.post("/api/v1/committee-packs", json=query, headers=admin)
    assert frozen.status_code == 201, frozen.text
    issued = api.metrics.post(f"/api/v1/committee-packs/{frozen.json()['id']}/issue", headers=admin)
    assert issued.status_code == 200, issued.text
    assert (issued.json()["status"], issued.json()["version"]) == ("issued", 1)

    again, _ = load_governance_demo(database_url)
    assert "0 new tickets, governance data already present" in again
    with owner_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM tickets")).scalar_one() == sum(
            per_partner.values()
        )
