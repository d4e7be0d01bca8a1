"""Demo shared service: a "Shared ICT Service" serving three partner councils (the London
Boroughs of Brent, Lewisham and Southwark), with everything its joint committee's
performance pack for 2024/25 P3 (April-June 2024) needs, so the pack is ready to issue:

- the partners' SLA calendar and policies, and tickets for each partner: every priority
  in April-June 2024, and P0/P1 over the 13 months to 30 June 2024 (the pack's longer
  P1 history), with post-interaction ratings for NPS; a few still open or on hold at
  the period end. They come as the service desk's one export, its organisation column
  naming the partner ("Brent", "Lewisham", "Southwark"), which the service's value
  mapping turns into the partners' ids;
- a ticket history as a second file: each period incident assigned to the Service Desk
  at logging, some escalated to Infrastructure (both groups have an OLA per partner);
  the incidents still open show their status changes, a priority raised after logging
  and a spell "Awaiting customer" (the demo policies' pause status) in July, after the
  period end, so the P3 pack's figures are the same with the history as without;
- the financial outturn for 2024/25 to P3, imported as the finance system's XLSX: the
  worked example of DOMAIN.md (expenditure and staffing, with its printed totals and its
  four inconsistencies) plus a contingency group, with actuals by period;
- a Covid-19 cost table (partners × categories × P1-P3) with printed totals, as CSV;
- eight risks assessed at P12 2023/24 and P3 2024/25 (so trends show), one whose printed
  priority disagrees with impact × probability;
- five security incidents, and the service's commentary for the period.

Everything goes through the ingest service layer with the ingest database role (the
functions the HTTP API calls), so the demo exercises the same parsing and rules as a
real upload. Idempotent: organisations are found by name; the tickets are skipped for a
partner that already has the demo calendar; the governance data is skipped when the
service already has its 2024/25 P3 outturn.
"""

from __future__ import annotations

import io
import random
from datetime import date, datetime, timedelta
from typing import Any

import openpyxl
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.ingest.commentary import service as commentary
from services.ingest.commentary.schemas import CommentaryIn
from services.ingest.costs import service as costs
from services.ingest.finance import repository as finance_repo
from services.ingest.finance import service as finance
from services.ingest.organisation_values import service as value_maps
from services.ingest.organisation_values.schemas import ValueMappingIn
from services.ingest.organisations import service as organisations
from services.ingest.organisations.schemas import OrganisationCreate
from services.ingest.risks import service as risks
from services.ingest.risks.schemas import RiskRegisterIn
from services.ingest.security_incidents import service as incidents
from services.ingest.sla_config import service as sla_config
from services.ingest.sla_config.schemas import OlaPolicyIn
from shared.auth import Principal
from shared.db.engine import make_engine
from shared.db.tables.ingest import organisations as organisations_table
from yardstick.demo.tickets import (
    CLOSURES,
    HEADER,
    PAUSE_STATUS,
    REQUEST_TYPES,
    SOURCE_SYSTEM,
    TEAMS,
    has_demo_calendar,
    process_tickets,
    queue_tickets,
    set_up_sla,
)

SERVICE_NAME = "Shared ICT Service"
PARTNERS = (
    ("London Borough of Brent", "BRE", 3400),
    ("London Borough of Lewisham", "LEW", 3100),
    ("London Borough of Southwark", "SOU", 3900),
)
FINANCIAL_YEAR, PERIOD = 2024, 3
PERIOD_START, PERIOD_END = date(2024, 4, 1), date(2024, 6, 30)
HISTORY_START = date(2023, 6, 1)  # 13 months of P0/P1 to the period end
ACTOR = "demo-loader"

# Tickets per month per partner, and each priority's typical resolution time (hours of
# wall clock; lognormal: median, spread). Southwark resolves a little slower, so the
# pack shows amber and red as well as green.
MONTHLY = {"P0": 1, "P1": 9, "P2": 40, "P3": 110, "P4": 90}
RESOLUTION = {
    "P0": (1.2, 0.5),
    "P1": (1.6, 0.55),
    "P2": (3.5, 0.6),
    "P3": (12.0, 0.8),
    "P4": (26.0, 0.8),
}


def _months(first: date, last: date) -> list[date]:
    months, month = [], first.replace(day=1)
    while month <= last:
        months.append(month)
        month = (month + timedelta(days=32)).replace(day=1)
    return months


def _working_moment(rng: random.Random, month: date) -> datetime:
    following = (month + timedelta(days=32)).replace(day=1)
    day = month + timedelta(days=rng.randrange((following - month).days))
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    if day < month:
        day += timedelta(days=3)
    return datetime(day.year, day.month, day.day, rng.randint(8, 17), rng.randint(0, 59))


def tickets_csv(rng: random.Random, index: int, code: str) -> str:
    """A partner's tickets: P0/P1 over the 13 months to the period end, P2-P4 over the
    period, as the service desk's CSV export (the yardstick profile)."""
    lines = [HEADER]
    slower = 1 + 0.15 * index
    number = 0
    for month in _months(HISTORY_START, PERIOD_END):
        in_period = month >= PERIOD_START
        for priority, per_month in MONTHLY.items():
            if priority not in ("P0", "P1") and not in_period:
                continue
            for _ in range(max(1, per_month + rng.randint(-1, 2) * (1 + per_month // 10))):
                number += 1
                logged = _working_moment(rng, month)
                median, spread = RESOLUTION[priority]
                hours = rng.lognormvariate(0, spread) * median * slower
                resolved = logged + timedelta(hours=hours)
                late_june = logged.date() >= date(2024, 6, 24)
                status = "resolved"
                if late_june and rng.random() < 0.12:
                    status = "on hold" if rng.random() < 0.3 else "open"
                is_open = status != "resolved"
                kind = "request" if priority == "P4" else "incident"
                request_type = rng.choice(list(REQUEST_TYPES)) if priority == "P4" else ""
                nps = ""
                if not is_open and rng.random() < 0.15:
                    nps = str(max(0, min(10, round(rng.gauss(8.4 - 0.7 * index, 1.8)))))
                lines.append(
                    ",".join(
                        [
                            f"SICT-{code}-{number:06d}",
                            kind,
                            priority,
                            request_type,
                            rng.choice(TEAMS),
                            "" if is_open else rng.choice(CLOSURES),
                            logged.strftime("%d/%m/%Y %H:%M"),
                            "" if is_open else resolved.strftime("%d/%m/%Y %H:%M"),
                            status,
                            "1" if rng.random() < 0.02 else "0",
                            "yes" if hours < 0.25 or rng.random() < 0.2 else "no",
                            nps,
                        ]
                    )
                    + "\n"
                )
    return "".join(lines)


def export_name(partner: str) -> str:
    """How the service desk's export names a partner: "Brent" for the London Borough of
    Brent."""
    return partner.removeprefix("London Borough of ")


def shared_export(partners: list[tuple[str, str]]) -> bytes:
    """The service desk's one export of its partners' tickets (``tickets_csv`` each), its
    first column naming the partner as the export does."""
    lines = ["organisation," + HEADER]
    for name, csv in partners:
        lines += [f"{name},{line}\n" for line in csv.splitlines()[1:]]
    return "".join(lines).encode()


# Resolver groups with an OLA per partner: (target, share %); both stop for the pause status.
OLAS = {"Service Desk": ("hours", "4", "90"), "Infrastructure": ("days", "2", "85")}
_AT = "%d/%m/%Y %H:%M"


def set_up_olas(
    session: Session, principal: Principal, organisation_id: int, calendar: int
) -> None:
    for group, (unit, target, share) in OLAS.items():
        sla_config.create_ola_policy(
            session,
            principal,
            organisation_id,
            OlaPolicyIn.model_validate(
                {
                    "resolver_group": group,
                    f"target_{'hours' if unit == 'hours' else 'working_days'}": target,
                    "calendar_id": calendar,
                    "target_share_pct": share,
                    "pause_statuses": [PAUSE_STATUS],
                    "effective_from": "2015-01-01",
                }
            ),
        )


def history_csv(partners: list[tuple[str, str]]) -> bytes:
    """The tickets' history as a second file (the yardstick profile's history columns).

    Every incident logged in the period (P1-P3) is assigned to the Service Desk when
    logged; about four in ten go on to Infrastructure before they are resolved. The
    incidents still open ("open", not on hold) were raised one priority 20 minutes after
    logging (the export gives the priority they have now), went "In progress", then
    waited on the customer from Monday 1 July 10:00 to Wednesday 3 July 11:30 (after the
    period end), so pause by status shows while the pack's figures do not move. Drawn
    from its own seed: the tickets are the same with or without it."""
    lines = ["organisation,ticket_ref,kind,at,value\n"]
    for name, csv in partners:
        rng = random.Random(f"history-{name}")
        for row in csv.splitlines()[1:]:
            ref, _t, priority, _r, _team, _c, logged_s, resolved_s, status = row.split(",")[:9]
            logged = datetime.strptime(logged_s, _AT)
            if priority not in ("P1", "P2", "P3") or logged.date() < PERIOD_START:
                continue

            def event(
                kind: str, at: datetime, value: str, ref: str = ref, name: str = name
            ) -> None:
                lines.append(f"{name},{ref},{kind},{at.strftime(_AT)},{value}\n")

            event("assignment", logged, "Service Desk")
            if resolved_s:
                taken = datetime.strptime(resolved_s, _AT) - logged
                if taken >= timedelta(minutes=10) and rng.random() < 0.4:
                    # A whole minute between logging and the resolution.
                    moved = (logged + taken * rng.uniform(0.2, 0.6)).replace(second=0)
                    event("assignment", moved.replace(microsecond=0), "Infrastructure")
                continue
            if status != "open":
                continue
            lower = f"P{int(priority[1]) + 1}"
            event("priority", logged, lower)
            event("status", logged, "New")
            event("status", logged + timedelta(minutes=15), "In progress")
            event("priority", logged + timedelta(minutes=20), priority)
            if rng.random() < 0.5:
                event("assignment", logged + timedelta(hours=1), "Infrastructure")
            event("status", datetime(2024, 7, 1, 10, 0), PAUSE_STATUS)
            event("status", datetime(2024, 7, 3, 11, 30), "In progress")
    return "".join(lines).encode()


# DOMAIN.md's worked outturn (whole pounds as printed): group, category, line, budget,
# forecast, printed variance, actuals, printed remaining; then its printed group totals.
OUTTURN_LINES: list[tuple[str, str, str, int, int, int, int, int]] = [
    ("Expenditure", "Supplies and services", "SOFTWARE LICENCES",
     410_000, 425_500, 15_500, 118_204, 291_796),
    ("Expenditure", "Supplies and services", "NETWORK AND INTERNET",
     180_250, 180_250, 0, 47_310, 132_940),
    ("Expenditure", "Supplies and services", "TELEPHONY", 96_000, 92_000, -4_000, 21_880, 74_120),
    ("Expenditure", "Income", "INCOME FROM PARTNERS",
     -120_000, -120_000, 0, -30_000, -90_000),
    ("Staffing", "Employees", "SALARIES", 1_200_000, 1_236_000, 36_000, 301_422, 898_578),
    ("Staffing", "Employees", "AGENCY STAFF", 0, 60_000, 60_000, 48_900, -48_900),
    ("Staffing", "Employees", "STATUTORY SICK PAY", 8_000, 8_000, 0, 250, 8_250),
    ("Staffing", "Employees", "TRAINING", 20_000, 20_000, 0, 4_120, 15_880),
    ("Contingency", "Reserves", "CONTINGENCY RESERVE", 150_000, 100_000, -50_000, 0, 150_000),
    ("Contingency", "Reserves", "INFLATION PROVISION", 60_000, 60_000, 0, 15_000, 45_000),
]  # fmt: skip
OUTTURN_TOTALS = {
    "Expenditure": (566_250, 577_750, 11_500, 157_395, 408_856),
    "Staffing": (1_228_000, 1_324_040, 96_040, 354_192, 873_808),
    "Contingency": (210_000, 160_000, -50_000, 15_000, 195_000),
}


def _split(amount: int) -> list[int]:
    """Actuals by period P1-P3: near-equal whole pounds that add up exactly."""
    third = amount // 3
    return [third, third, amount - 2 * third]


def outturn_workbook() -> bytes:
    """The outturn as the finance system's XLSX export: a title row, number cells, the
    accounting dash for zero, a total row after each group."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append([f"{SERVICE_NAME}: revenue outturn 2024/25 to P3"])
    sheet.append([])
    sheet.append(
        ["Group", "Category", "Line", "Budget (£)", "Forecast (£)", "Variance (£)",
         "Actuals (£)", "Remaining (£)", "P1", "P2", "P3"]
    )  # fmt: skip
    for i, (group, category, line, *amounts) in enumerate(OUTTURN_LINES):
        shown: list[Any] = ["£ -" if a == 0 else a for a in amounts]
        sheet.append([group, category, line, *shown, *_split(amounts[3])])
        last = i + 1 == len(OUTTURN_LINES) or OUTTURN_LINES[i + 1][0] != group
        if last:
            sheet.append([group, None, "Total", *OUTTURN_TOTALS[group]])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


COVID_CATEGORIES = {
    "Courier": (1_250, 980, 640),
    "Equipment": (12_000, 4_350, 3_400),
    "Mobile telephony": (2_800, 2_800, 2_650),
    "Software licences": (6_500, 0, 0),
}


def covid_csv() -> str:
    """The Covid-19 cost table: each partner × category × P1-P3, organisation totals and
    the grand total as printed."""
    rows = ["Organisation,Category,P1,P2,P3,Total"]
    grand = [0, 0, 0]
    for index, (name, _code, _users) in enumerate(PARTNERS):
        short = name.removeprefix("London Borough of ")
        org_totals = [0, 0, 0]
        for category, base in COVID_CATEGORIES.items():
            amounts = [round(b * (1 + 0.2 * index)) for b in base]
            org_totals = [t + a for t, a in zip(org_totals, amounts, strict=True)]
            rows.append(f"{short},{category}," + ",".join(f'"£ {a:,}"' for a in amounts) + ",")
        grand = [g + t for g, t in zip(grand, org_totals, strict=True)]
        rows.append(
            f"{short},Total," + ",".join(f'"£ {a:,}"' for a in [*org_totals, sum(org_totals)])
        )
    rows.append("Total,," + ",".join(f'"£ {a:,}"' for a in [*grand, sum(grand)]))
    return "\n".join(rows) + "\n"


# Reference, section, title, cause, event, consequence, owner; then per period
# (impact, probability, printed priority, developments, actions).
RISKS: list[dict[str, Any]] = [
    {"reference": "SR01", "section": "Financial", "title": "Partner contributions cut",
     "cause": "Councils' savings programmes", "event": "A partner reduces its contribution",
     "consequence": "Service levels reduced", "owner": "Head of Finance",
     "p12": (4, 3, 12, "Budget agreed for 2024/25.", "Agree a three-year funding deal"),
     "p3": (4, 2, 8, "Three-year deal in draft.", "Sign the three-year deal")},
    {"reference": "SR02", "section": "Financial", "title": "Licence price rises",
     "cause": "Supplier moves to subscription pricing", "event": "Renewal costs rise 20%",
     "consequence": "Overspend on software licences", "owner": "Head of Finance",
     "p12": (3, 3, 9, "Renewal due in May.", "Negotiate a multi-year renewal"),
     "p3": (3, 4, 12, "Renewal 6% above forecast.", "Rationalise unused licences")},
    {"reference": "SR03", "section": "Resourcing", "title": "Loss of key engineers",
     "cause": "Market rates above council pay", "event": "Two senior engineers leave",
     "consequence": "Slower fixes; reliance on agency staff", "owner": "Head of ICT",
     "p12": (4, 3, 12, "One resignation in March.", "Market supplement approved"),
     # Printed priority 12 disagrees with 4 × 4 = 16: the pack's check finds it.
     "p3": (4, 4, 12, "Agency cover in place; two vacancies.", "Recruit; train apprentices")},
    {"reference": "SR04", "section": "Loss of service", "title": "Data centre power failure",
     "cause": "Single power feed", "event": "Power lost beyond the UPS's runtime",
     "consequence": "All services down for the three councils", "owner": "Head of Infrastructure",
     "p12": (5, 3, 15, "Generator quote received.", "Install a generator"),
     "p3": (5, 2, 10, "Generator installed in May.", "Test the failover quarterly")},
    {"reference": "SR05", "section": "Loss of service", "title": "Ransomware attack",
     "cause": "Phishing or an unpatched system", "event": "Servers encrypted",
     "consequence": "Extended outage and data loss", "owner": "Information Security Lead",
     "p12": (5, 3, 15, "Immutable backups in place.", "Phishing training; patching"),
     "p3": (5, 3, 15, "Critical VPN flaw patched in April.", "Quarterly restore tests")},
    {"reference": "SR06", "section": "Supportability", "title": "Legacy finance system",
     "cause": "Vendor ends support in 2025", "event": "No security patches",
     "consequence": "Unsupported system holding financial data", "owner": "Head of Applications",
     "p12": (3, 4, 12, "Replacement business case drafted.", "Procure a replacement"),
     "p3": (3, 4, 12, "Procurement started.", "Award the contract by September")},
    {"reference": "SR07", "section": "Supportability", "title": "Windows 10 end of support",
     "cause": "Windows 10 support ends October 2025", "event": "Devices not upgraded in time",
     "consequence": "Unpatched devices on the network", "owner": "Head of Infrastructure",
     "p12": (3, 3, 9, "Device survey complete.", "Upgrade plan per council"),
     "p3": (3, 2, 6, "40% of devices upgraded.", "Complete upgrades by March 2025")},
    {"reference": "SR08", "section": "Resourcing", "title": "Service desk demand peaks",
     "cause": "Council restructures and new starters", "event": "Contacts exceed capacity",
     "consequence": "Longer waits; SLA misses", "owner": "Service Desk Manager",
     "p12": (2, 3, 6, "Peak expected in April.", "Self-service password resets"),
     "p3": (2, 2, 4, "Self-service cut calls 8%.", "Extend self-service")},
]  # fmt: skip


def _register(period_key: str) -> RiskRegisterIn:
    items = []
    for risk in RISKS:
        impact, probability, priority, developments, actions = risk[period_key]
        items.append(
            {
                **{k: risk[k] for k in ("reference", "section", "title", "cause", "event")},
                "consequence": risk["consequence"],
                "owner": risk["owner"],
                "impact": impact,
                "probability": probability,
                "priority": priority,
                "developments": developments,
                "actions": actions,
            }
        )
    return RiskRegisterIn.model_validate({"risks": items})


INCIDENTS_CSV = """Reference,Title,Opened,Closed,Severity,OS,Assets affected,Status
SEC-2024-003,Malware on a kiosk PC,2024-03-12,2024-03-13,low,Windows 10,1 kiosk,
SEC-2024-007,Critical VPN appliance vulnerability exploited,2024-04-03,2024-04-05,critical,FortiOS 7.2,1 VPN appliance,
SEC-2024-011,Phishing of finance staff,2024-05-14,2024-05-20,high,Windows 11,3 mailboxes,
SEC-2024-014,Lost laptop (encrypted),2024-06-11,2024-06-12,low,Windows 11,1 laptop,
SEC-2024-016,Suspicious logins to the HR system,2024-06-26,,medium,Ubuntu 22.04,HR application,investigating
"""  # noqa: E501

COMMENTARY = [
    ("kpi", "", "P1 incidents were resolved within target in two of the three councils; "
     "Southwark's P1 and P2 results were affected by two data centre incidents in May."),
    ("sla", "", "P3 and P4 requests met their targets across all partners. A storage "
     "fault in May delayed P2 fixes."),
    ("sla", "sla.P2", "A storage array fault on 14 May held up fixes for two days; the "
     "array has been replaced and monitoring extended."),
    ("nps", "", "Satisfaction held steady; Southwark's detractors cite password resets, "
     "now self-service."),
    ("security", "", "One critical incident (a VPN appliance vulnerability) was contained "
     "within two days; no data was lost."),
    ("finance", "", "The staffing forecast includes agency cover for two vacancies; the "
     "sick-pay actuals are being corrected by the finance team."),
    ("costs", "", "Covid-19 costs are now mostly mobile telephony and equipment refresh."),
    ("risks", "", "The generator installation lowered the data centre risk; licence price "
     "rises raised the financial risk."),
]  # fmt: skip


def _organisation(session: Session, principal: Principal, name: str, **fields: Any) -> int:
    found = session.execute(
        select(organisations_table.c.id).where(organisations_table.c.name == name)
    ).scalar()
    if found is not None:
        return int(found)
    body = OrganisationCreate.model_validate({"name": name, "nation": "England", **fields})
    return int(organisations.create(session, body)["id"])


def load_governance_demo(database_url: str, seed: int = 2411) -> tuple[str, list[int]]:
    """Load the shared service; a one-line summary and the organisations whose SLA
    figures need computing (the service's partners)."""
    rng = random.Random(seed)
    engine = make_engine(database_url, role="ingest", pool_size=2)
    principal = Principal(subject=ACTOR, roles=frozenset({"admin"}), organisations=frozenset())
    tickets = 0
    notes: list[str] = []
    try:
        with Session(engine) as session:
            service_id = _organisation(
                session, principal, SERVICE_NAME, type="O", partnership=True, users=0
            )
            partner_ids = [
                _organisation(session, principal, name, type="L", users=users)
                for name, _code, users in PARTNERS
            ]
            organisations.replace_partners(session, service_id, partner_ids)
            session.commit()
        fresh: list[tuple[str, str]] = []  # (the export's name for the partner, its CSV)
        for index, ((name, code, _users), org) in enumerate(
            zip(PARTNERS, partner_ids, strict=True)
        ):
            csv = tickets_csv(rng, index, code)  # drawn either way: same data
            with Session(engine) as session:
                if has_demo_calendar(session, principal, org):
                    continue
                calendar_id = set_up_sla(session, principal, org)
                set_up_olas(session, principal, org, calendar_id)
                session.commit()
            fresh.append((export_name(name), csv))
        if fresh:
            with Session(engine) as session:
                value_maps.replace(
                    session,
                    principal,
                    service_id,
                    SOURCE_SYSTEM,
                    ValueMappingIn.model_validate(
                        {"values": {export_name(n): o for (n, _c, _u), o in zip(
                            PARTNERS, partner_ids, strict=True)}}
                    ),
                )  # fmt: skip
                job_id = queue_tickets(session, principal, service_id, shared_export(fresh))
                session.commit()
            tickets += process_tickets(engine, principal, job_id)
            with Session(engine) as session:
                job_id = queue_tickets(
                    session, principal, service_id, history_csv(fresh), content="history"
                )
                session.commit()
            events = process_tickets(engine, principal, job_id)
            notes.append(f"{events} history events")
        with Session(engine) as session:
            if finance_repo.get_report(session, service_id, FINANCIAL_YEAR, PERIOD) is None:
                _governance(session, principal, service_id)
                notes.append("outturn, Covid-19 cost table, 8 risks, 5 incidents, commentary")
            else:
                notes.append("governance data already present")
            session.commit()
    finally:
        engine.dispose()
    summary = (
        f"shared service demo: {SERVICE_NAME} (id {service_id}) with partners "
        f"{', '.join(map(str, partner_ids))}, {tickets} new tickets, {'; '.join(notes)}; "
        f"pack ready for {FINANCIAL_YEAR}/{(FINANCIAL_YEAR + 1) % 100:02d} P{PERIOD}"
    )
    return summary, partner_ids


def _governance(session: Session, principal: Principal, service_id: int) -> None:
    finance.import_file(
        session,
        principal,
        service_id,
        FINANCIAL_YEAR,
        PERIOD,
        outturn_workbook(),
        "outturn-2024-25-p3.xlsx",
        None,
    )
    costs.import_file(
        session,
        principal,
        service_id,
        FINANCIAL_YEAR,
        PERIOD,
        "Covid-19 costs",
        covid_csv().encode(),
        "covid-19-costs.csv",
        "text/csv",
    )
    risks.put_register(session, principal, service_id, 2023, 12, _register("p12"))
    risks.put_register(session, principal, service_id, FINANCIAL_YEAR, PERIOD, _register("p3"))
    incidents.import_file(
        session, principal, service_id, INCIDENTS_CSV.encode(), "incidents.csv", "text/csv"
    )
    commentary.put(
        session,
        principal,
        service_id,
        FINANCIAL_YEAR,
        PERIOD,
        CommentaryIn.model_validate(
            {"entries": [{"section": s, "measure": m, "body": b} for s, m, b in COMMENTARY]}
        ),
    )
