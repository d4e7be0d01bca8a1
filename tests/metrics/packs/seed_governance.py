"""Arrange a shared service for pack tests: organisations and tickets through the public
API (tests.factories, the SLA tests' helpers), governance rows by SQL run as the ingest
role (the role that owns those tables; ingest's governance API is helper A's, see
tests/ingest/governance)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, text

from shared.db.grants import role_name
from tests.factories import make_org
from tests.metrics.test_sla_reports import STD_HOURS


def as_ingest(engine: Engine, sql: str, rows: Sequence[dict[str, Any]] | dict[str, Any]) -> Any:
    """Run ``sql`` as the ingest role (so its grants are the ones tested)."""
    with engine.begin() as conn:
        conn.execute(text(f"SET LOCAL ROLE {role_name('ingest')}"))
        result = conn.execute(text(sql), rows)
        return result.all() if result.returns_rows else None


def shared_service(
    api: Any, engine: Engine, partners: Sequence[str] = ("Brent", "Lewisham", "Southwark")
) -> dict[str, Any]:
    """A shared service with partner councils, each with a Mon-Fri 08:00-18:00 calendar
    and SLA policies P1 4 h 95 %, P2 8 h 95 %, P3 2 working days 80 % (from 2020)."""
    service = make_org(api, name="Shared ICT Service", partnership=True)
    orgs = [make_org(api, name=name) for name in partners]
    as_ingest(
        engine,
        "INSERT INTO organisation_partners (shared_service_id, partner_id, position) "
        "VALUES (:s, :p, :i)",
        [{"s": service["id"], "p": o["id"], "i": i} for i, o in enumerate(orgs)],
    )
    for org in [service, *orgs]:
        policies(api, org["id"])
    return {"service": service, "partners": orgs, "ids": [o["id"] for o in orgs]}


def policies(api: Any, org: int) -> None:
    cal = api.ingest.post(
        f"/api/v1/organisations/{org}/calendars",
        json={"name": "Office", "nation": "GB-ENG", "hours": STD_HOURS},
        headers=api.auth("admin"),
    )
    assert cal.status_code == 201, cal.text
    for priority, target in (
        ("P1", {"target_hours": "4"}),
        ("P2", {"target_hours": "8"}),
        ("P3", {"target_working_days": "2"}),
    ):
        pol = api.ingest.post(
            f"/api/v1/organisations/{org}/sla-policies",
            json={
                "priority": priority,
                **target,
                "calendar_id": cal.json()["id"],
                "target_share_pct": "95" if priority != "P3" else "80",
                "effective_from": "2020-01-01",
            },
            headers=api.auth("admin"),
        )
        assert pol.status_code == 201, pol.text


def outturn(
    engine: Engine,
    service_id: int,
    financial_year: int,
    period: int,
    lines: Sequence[dict[str, Any]],
    printed: Sequence[dict[str, Any]] = (),
) -> int:
    """A finance report with its lines and printed totals (pence); returns its id."""
    ((report_id,),) = as_ingest(
        engine,
        "INSERT INTO finance_reports (service_id, financial_year, period, source, created_by) "
        "VALUES (:s, :fy, :p, 'api', 'test') RETURNING id",
        {"s": service_id, "fy": financial_year, "p": period},
    )
    defaults = {
        "category": None,
        "printed_variance_pence": None,
        "printed_remaining_pence": None,
        "is_recharge": False,
        "period_actuals_pence": None,
    }
    as_ingest(
        engine,
        "INSERT INTO finance_lines (report_id, position, group_key, category, line, "
        "budget_pence, forecast_pence, actuals_pence, printed_variance_pence, "
        "printed_remaining_pence, is_recharge, period_actuals_pence) VALUES (:r, :position, "
        ":group_key, :category, :line, :budget_pence, :forecast_pence, :actuals_pence, "
        ":printed_variance_pence, :printed_remaining_pence, :is_recharge, "
        ":period_actuals_pence)",
        [{**defaults, **line, "r": report_id, "position": i + 1} for i, line in enumerate(lines)],
    )
    if printed:
        as_ingest(
            engine,
            "INSERT INTO finance_printed_totals (report_id, group_key, budget_pence, "
            "forecast_pence, variance_pence, actuals_pence, remaining_pence) VALUES (:r, "
            ":group_key, :budget_pence, :forecast_pence, :variance_pence, :actuals_pence, "
            ":remaining_pence)",
            [{"r": report_id, **p} for p in printed],
        )
    return int(report_id)


def worked_outturn(engine: Engine, service_id: int) -> int:
    """DOMAIN.md's worked outturn (FY 2024/25 to P3) as a stored report."""
    from services.metrics.packs.examples import WORKED_OUTTURN, WORKED_PRINTED_TOTALS

    lines = [
        {
            "group_key": g,
            "line": line,
            "budget_pence": b * 100,
            "forecast_pence": f * 100,
            "actuals_pence": a * 100,
            "printed_variance_pence": v * 100,
            "printed_remaining_pence": r * 100,
        }
        for g, line, b, f, v, a, r in WORKED_OUTTURN
    ]
    printed = [
        {
            "group_key": g,
            "budget_pence": b * 100,
            "forecast_pence": f * 100,
            "variance_pence": v * 100,
            "actuals_pence": a * 100,
            "remaining_pence": r * 100,
        }
        for g, b, f, v, a, r in WORKED_PRINTED_TOTALS
    ]
    return outturn(engine, service_id, 2024, 3, lines, printed)


def cost_table(
    engine: Engine,
    service_id: int,
    financial_year: int,
    period: int,
    title: str,
    columns: Sequence[str],
    cells: Sequence[tuple[int, str, int, int]],
    printed: Sequence[tuple[int | None, int | None, int]] = (),
) -> int:
    """cells: (organisation_id, category, column_index, pence); printed: (organisation_id
    or None, column_index or None, pence)."""
    ((table_id,),) = as_ingest(
        engine,
        "INSERT INTO cost_tables (service_id, financial_year, period, title, columns, "
        "created_by) VALUES (:s, :fy, :p, :t, :c, 'test') RETURNING id",
        {"s": service_id, "fy": financial_year, "p": period, "t": title, "c": list(columns)},
    )
    as_ingest(
        engine,
        "INSERT INTO cost_table_cells (table_id, organisation_id, category, column_index, "
        "amount_pence) VALUES (:t, :o, :c, :i, :a)",
        [{"t": table_id, "o": o, "c": c, "i": i, "a": a} for o, c, i, a in cells],
    )
    if printed:
        as_ingest(
            engine,
            "INSERT INTO cost_table_printed_totals (table_id, organisation_id, column_index, "
            "amount_pence) VALUES (:t, :o, :i, :a)",
            [{"t": table_id, "o": o, "i": i, "a": a} for o, i, a in printed],
        )
    return int(table_id)


def risk(
    engine: Engine,
    service_id: int,
    reference: str,
    section: str,
    assessments: Sequence[tuple[int, int, int, int, int | None]],
    title: str = "",
) -> int:
    """assessments: (financial_year, period, impact, probability, imported_priority)."""
    ((risk_id,),) = as_ingest(
        engine,
        "INSERT INTO risks (service_id, reference, section, title, owner) "
        "VALUES (:s, :r, :sec, :t, 'Head of Service') RETURNING id",
        {"s": service_id, "r": reference, "sec": section, "t": title or f"Risk {reference}"},
    )
    as_ingest(
        engine,
        "INSERT INTO risk_assessments (risk_id, financial_year, period, impact, probability, "
        "imported_priority, developments) VALUES (:r, :fy, :p, :i, :pr, :ip, 'Reviewed')",
        [
            {"r": risk_id, "fy": fy, "p": p, "i": i, "pr": pr, "ip": ip}
            for fy, p, i, pr, ip in assessments
        ],
    )
    return int(risk_id)


def incident(
    engine: Engine, service_id: int, reference: str, opened_on: str, severity: str
) -> None:
    as_ingest(
        engine,
        "INSERT INTO security_incidents (service_id, reference, title, opened_on, severity, "
        "os, assets_affected, status) VALUES (:s, :r, :t, CAST(:o AS date), :sev, "
        "'Windows 11', '3 laptops', 'open')",
        {
            "s": service_id,
            "r": reference,
            "t": f"Incident {reference}",
            "o": opened_on,
            "sev": severity,
        },
    )


def comment(
    engine: Engine, service_id: int, fy: int, period: int, section: str, measure: str, body: str
) -> None:
    as_ingest(
        engine,
        "INSERT INTO pack_commentary (service_id, financial_year, period, section, measure, "
        "body, author) VALUES (:s, :fy, :p, :sec, :m, :b, 'Head of Service')",
        {"s": service_id, "fy": fy, "p": period, "sec": section, "m": measure, "b": body},
    )


TICKET_HEADER = (
    "ticket_ref,type,priority,request_type,team,closure_category,logged_at,resolved_at,"
    "status,reopen_count,nps_rating\n"
)
# Times are Europe/London; calendars Mon-Fri 08:00-18:00 (England & Wales).
TICKETS = {
    "Brent": [
        "A1,incident,P1,,Desk,Fixed,03/06/2024 09:00,03/06/2024 11:00,resolved,0,10",  # 2 h met
        "A2,incident,P1,,Desk,Fixed,03/07/2023 09:00,03/07/2023 15:00,resolved,0,",  # 6 h missed
        "A3,incident,P1,,Desk,,26/06/2024 09:00,,open,0,",  # open, 29 h: breached
        "A4,incident,P1,,Desk,,28/06/2024 17:00,,open,0,",  # open, 1 h: within
        "A5,incident,P1,,Desk,Fixed,27/06/2024 09:00,02/07/2024 09:00,resolved,0,",  # open at end
        "A6,request,P2,,Desk,Fixed,08/04/2024 09:00,08/04/2024 12:00,resolved,0,0",  # 3 h met
    ],
    "Lewisham": [
        "B1,incident,P1,,Desk,Fixed,04/06/2024 09:00,04/06/2024 10:30,resolved,0,9",  # 1.5 h met
        "B2,incident,P1,,Desk,Fixed,15/05/2023 09:00,15/05/2023 10:00,resolved,0,",  # too early
        "B3,incident,P2,,Desk,Fixed,13/05/2024 09:00,14/05/2024 12:00,resolved,0,",  # 13 h missed
        "B4,incident,P2,,Desk,Fixed,10/06/2024 10:00,10/06/2024 11:00,resolved,1,3",  # reopened
        "B5,request,P1,,Desk,Fixed,05/06/2024 09:00,05/06/2024 14:00,resolved,0,",  # 5 h missed
    ],
    "Southwark": [
        "C1,incident,P3,,Desk,Fixed,01/05/2024 09:00,02/05/2024 09:00,resolved,0,7",  # 10 h met
        "C2,incident,P2,,Desk,,28/06/2024 09:00,,open,0,",  # open, 9 h: breached
    ],
}


def push_tickets(api: Any, org: int, rows: Sequence[str], source: str = "sn") -> None:
    from tests.ingest.test_tickets import push

    job = push(
        api, org, (TICKET_HEADER + "".join(r + "\n" for r in rows)).encode(), source_system=source
    )
    assert job["status"] == "done", job
    assert job["progress"]["rows_rejected"] == 0, job


def pack_scenario(api: Any, engine: Engine) -> dict[str, Any]:
    """The shared service of the pack tests (FY 2024/25 P3): tickets of its three
    partners, a feedback rating, the worked outturn, a cost table, risks, security
    incidents and a comment on a red measure."""
    s = shared_service(api, engine)
    svc = s["service"]["id"]
    by_name = {o["name"]: o["id"] for o in s["partners"]}
    for name, rows in TICKETS.items():
        push_tickets(api, by_name[name], rows)
    sent = api.ingest.post(
        "/api/v1/feedback",
        json={
            "ratings": [
                {
                    "organisation_id": by_name["Southwark"],
                    "source_system": "survey",
                    "received_at": "2024-06-20T10:00:00+01:00",
                    "recommendation": 10,
                }
            ]
        },
        headers=api.auth("admin"),
    )
    assert sent.status_code == 200, sent.text
    api.deliver()
    worked_outturn(engine, svc)
    brent, lewisham, southwark = (by_name[n] for n in ("Brent", "Lewisham", "Southwark"))
    cost_table(
        engine,
        svc,
        2024,
        3,
        "Covid-19 costs",
        ["P1", "P2", "P3"],
        [
            (brent, "Courier", 0, 10_000),
            (brent, "Courier", 1, 20_050),
            (brent, "Equipment", 2, 300_000),
            (lewisham, "Courier", 0, 5_000),
            (lewisham, "Mobile telephony", 1, 12_345),
            (southwark, "Equipment", 0, 99_999),
            (southwark, "Equipment", 2, 1),
        ],
        [(None, None, 447_300), (brent, None, 330_200), (southwark, None, 99_000)],
    )
    risk(engine, svc, "R1", "financial", [(2024, 1, 3, 3, None), (2024, 3, 4, 3, 12)])
    risk(engine, svc, "R2", "resourcing", [(2023, 12, 4, 4, None), (2024, 3, 4, 5, 16)])
    risk(engine, svc, "R3", "loss_of_service", [(2024, 2, 2, 2, None)])
    incident(engine, svc, "SI-1", "2024-05-10", "high")
    incident(engine, svc, "SI-2", "2024-03-30", "critical")  # before the window, still open
    incident(engine, svc, "SI-3", "2024-06-01", "low")
    incident(engine, svc, "SI-0", "2024-01-05", "high")
    as_ingest(
        engine,
        "UPDATE security_incidents SET closed_on = '2024-02-01', status = "
        "'closed' WHERE reference = 'SI-0'",
        {},
    )
    comment(engine, svc, 2024, 3, "sla", "sla.P1", "A P1 request was logged as an incident.")
    comment(engine, svc, 2024, 3, "finance", "", "Agency staff cover two vacancies.")
    return {**s, "by_name": by_name}
