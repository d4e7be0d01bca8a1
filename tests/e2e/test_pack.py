"""A shared service's committee pack end to end, over real HTTP between the three services
of `yardstick up`: the service's data loaded through ingest's API (partners, calendars and
policies, ticket exports, the outturn as the finance system exports it, a cost table, the
risk register, incidents, commentary), the SLA outcomes computed by metrics after the
outbox delivers the imports, then the pack read with its checks, frozen, issued and read
as JSON, HTML and PDF by a partner council, and refused to anyone else."""

from __future__ import annotations

import os
import time
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from services.metrics.packs.examples import WORKED_OUTTURN, WORKED_PRINTED_TOTALS
from shared.auth import mint_token
from shared.settings import Settings
from tests.e2e.test_up import _free_base_port, _run_up, _stop_and_check

HOURS = {
    d: [{"start": "08:00", "end": "18:00"}]
    for d in ("monday", "tuesday", "wednesday", "thursday", "friday")
}
TICKETS = (
    "ticket_ref,type,priority,logged_at,resolved_at,status,nps_rating\n"
    "E1,incident,P1,03/06/2024 09:00,03/06/2024 11:00,resolved,10\n"  # 2 h: met
    "E2,incident,P1,04/06/2024 09:00,04/06/2024 15:00,resolved,3\n"  # 6 h: missed
    "E3,incident,P2,13/05/2024 09:00,13/05/2024 10:00,resolved,9\n"  # 1 h: met
)


def _money(pounds: int) -> str:
    """As the finance system prints it: `£ 1,234`, `-£ 30,000`, `£ -`."""
    if pounds == 0:
        return "£ -"
    return f"{'-' if pounds < 0 else ''}£ {abs(pounds):,}"


def _outturn_csv() -> bytes:
    """DOMAIN.md's worked outturn as the finance system exports it."""
    rows = ["Shared ICT Service - revenue outturn 2024/25 to P3 (whole pounds)"]
    rows.append("Group,Line,Budget,Forecast,Variance,Actuals,Remaining")
    totals = {g: rest for g, *rest in WORKED_PRINTED_TOTALS}
    for i, (group, line, *amounts) in enumerate(WORKED_OUTTURN):
        rows.append(f"{group.title()},{line}," + ",".join(f'"{_money(a)}"' for a in amounts))
        last = i + 1 == len(WORKED_OUTTURN) or WORKED_OUTTURN[i + 1][0] != group
        if last:
            printed = ",".join(f'"{_money(a)}"' for a in totals[group])
            rows.append(f"{group.title()},Total,{printed}")
    return ("\n".join(rows) + "\n").encode()


def _wait_for(check: Any, what: str, seconds: float = 120) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.25)  # polling a condition, bounded by the deadline
    pytest.fail(f"timed out waiting for {what}")


@pytest.mark.xdist_group("e2e")
def test_a_shared_service_loads_its_data_and_issues_its_pack(database_url, tmp_path):
    base = _free_base_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("YARDSTICK_SMTP")}
    env.update(DATABASE_URL=database_url, YARDSTICK_DATA_DIR=str(tmp_path))
    proc, _ = _run_up(env, base)
    ingest, metrics = f"http://127.0.0.1:{base}", f"http://127.0.0.1:{base + 1}"
    settings = Settings()

    def auth(role: str, orgs: list[int]) -> dict[str, str]:
        token = mint_token(
            settings,
            subject=f"e2e-{role}",
            roles=[role],
            organisations=orgs,
            ttl=timedelta(minutes=30),
        )
        return {"Authorization": f"Bearer {token}"}

    admin = auth("admin", [])
    tag = uuid.uuid4().hex[:6]
    try:
        with httpx.Client(timeout=120) as http:

            def ok(response: httpx.Response, status: int = 200) -> Any:
                assert response.status_code == status, response.text
                return response.json() if "json" in response.headers["content-type"] else None

            def org(name: str) -> int:
                body = {"name": f"{name} {tag}", "type": "O", "nation": "England", "users": 900}
                return int(
                    ok(http.post(f"{ingest}/api/v1/organisations", json=body, headers=admin), 201)[
                        "id"
                    ]
                )

            svc = org("Shared ICT Service")
            partners = [org(n) for n in ("Brent", "Lewisham", "Southwark")]
            brent = partners[0]
            ok(
                http.put(
                    f"{ingest}/api/v1/organisations/{svc}/partners",
                    json={"partner_ids": partners},
                    headers=admin,
                )
            )
            for p in partners:
                cal = ok(
                    http.post(
                        f"{ingest}/api/v1/organisations/{p}/calendars",
                        json={"name": "Office", "nation": "GB-ENG", "hours": HOURS},
                        headers=admin,
                    ),
                    201,
                )
                for priority, hours in (("P1", "4"), ("P2", "8")):
                    ok(
                        http.post(
                            f"{ingest}/api/v1/organisations/{p}/sla-policies",
                            json={
                                "priority": priority,
                                "target_hours": hours,
                                "calendar_id": cal["id"],
                                "target_share_pct": "95",
                                "effective_from": "2020-01-01",
                            },
                            headers=admin,
                        ),
                        201,
                    )
            pushed = http.post(
                f"{ingest}/api/v1/ticket-imports",
                params={"organisation_id": brent, "profile": "yardstick", "source_system": "sn"},
                content=TICKETS.encode(),
                headers={**admin, "Content-Type": "text/csv"},
            )
            ok(pushed, 202)
            job_url = pushed.headers["location"]
            _wait_for(
                lambda: http.get(f"{ingest}{job_url}", headers=admin).json()["status"] == "done",
                "the ticket import",
            )

            staff = auth("participant", [svc])
            g = f"{ingest}/api/v1/organisations/{svc}"
            ok(
                http.put(
                    f"{g}/finance-reports/2024/3/file",
                    files={"file": ("outturn.csv", _outturn_csv(), "text/csv")},
                    headers=staff,
                )
            )
            ok(
                http.put(
                    f"{g}/cost-tables/2024/3",
                    headers=staff,
                    json={
                        "title": "Covid-19 costs",
                        "columns": ["P1", "P2", "P3"],
                        "rows": [
                            {
                                "organisation": brent,
                                "category": "Courier",
                                "amounts_pence": [10_000, 20_050, 0],
                            },
                            {
                                "organisation": partners[1],
                                "category": "Equipment",
                                "amounts_pence": [5_000, 0, 12_345],
                            },
                        ],
                        "printed_totals": [
                            {"organisation": None, "column": None, "amount_pence": 47_395}
                        ],
                    },
                )
            )
            ok(
                http.put(
                    f"{g}/risk-register/2024/3",
                    headers=staff,
                    json={
                        "risks": [
                            {
                                "reference": "R1",
                                "section": "financial",
                                "title": "Contributions fall",
                                "impact": 4,
                                "probability": 5,
                                "priority": 16,
                            },
                            {
                                "reference": "R2",
                                "section": "resourcing",
                                "title": "Vacancies",
                                "impact": 3,
                                "probability": 3,
                                "priority": 9,
                            },
                        ]
                    },
                )
            )
            ok(
                http.post(
                    f"{g}/security-incidents",
                    headers=staff,
                    json={
                        "reference": "SI-1",
                        "title": "Phishing",
                        "opened_on": "2024-05-10",
                        "severity": "high",
                        "status": "closed",
                        "closed_on": "2024-05-12",
                    },
                ),
                201,
            )
            ok(
                http.put(
                    f"{g}/commentary/2024/3",
                    headers=staff,
                    json={
                        "entries": [
                            {
                                "section": "sla",
                                "measure": "sla.P1",
                                "body": "One P1 took six hours.",
                            }
                        ]
                    },
                )
            )

            # Metrics has the outcomes once the outbox has delivered the import
            _wait_for(
                lambda: http.get(
                    f"{metrics}/api/v1/sla/monthly",
                    params={"organisation_id": brent},
                    headers=admin,
                ).json()["items"],
                "the SLA outcomes",
            )
            query = {"service_id": svc, "financial_year": 2024, "period": 3}
            partner = auth("reader", [brent])
            pack = ok(
                http.get(f"{metrics}/api/v1/committee-packs/draft", params=query, headers=partner)
            )
            assert pack["kpi"]["p1_incidents"] == 2 and pack["kpi"]["p1_met"] == 1
            sla = {m["key"]: (m["value"], m["rag"], m["comment"]) for m in pack["kpi"]["measures"]}
            assert sla["sla.P1"] == (50.0, "red", "One P1 took six hours.")
            assert sla["sla.P2"] == (100.0, "green", None)
            assert pack["kpi"]["nps"] == 33.3  # 2 promoters, 1 detractor
            assert pack["outturn"]["total"]["remaining_pence"] == 128_216_400
            found = [(c["kind"], c["row"], c["column"], c["difference"]) for c in pack["checks"]]
            assert found == [
                ("line_remaining", "staffing / STATUTORY SICK PAY", "remaining", "50000"),
                ("group_total", "staffing / total", "forecast", "4000"),
                ("group_total", "staffing / total", "variance", "4000"),
                ("group_total", "staffing / total", "actuals", "-50000"),
                ("risk_priority", "R1 Contributions fall", "priority", "-4"),
            ]
            assert pack["cost_tables"][0]["grand_total_pence"] == 47_395

            created = http.post(f"{metrics}/api/v1/committee-packs", json=query, headers=staff)
            version = ok(created, 201)
            assert version["data_version"] == pack["header"]["data_version"]
            where = metrics + created.headers["location"]
            assert http.post(f"{where}/issue", headers=partner).status_code == 403
            issued = ok(http.post(f"{where}/issue", headers=staff))
            assert issued["status"] == "issued" and issued["seconds_to_issue"] > 0
            html = http.get(where, params={"format": "html"}, headers=partner)
            assert html.status_code == 200 and "STATUTORY SICK PAY" in html.text
            assert html.headers["x-frame-options"] == "DENY"
            pdf = http.get(where, params={"format": "pdf"}, headers=partner)
            assert pdf.headers["content-type"] == "application/pdf"
            assert pdf.content.startswith(b"%PDF-")
            outsider = auth("participant", [org("Croydon")])
            refused = http.get(where, headers=outsider)
            assert refused.status_code == 403
            assert refused.headers["content-type"].startswith("application/problem+json")
    finally:
        _stop_and_check(proc)
