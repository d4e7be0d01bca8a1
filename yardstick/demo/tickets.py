"""Demo ticket data: per organisation a business calendar (England & Wales, Mon-Fri
08:00-18:00), the shared service's SLA pack and a few thousand tickets over the last six
months, with some post-interaction ratings.

Everything goes through the ingest service layer with the ingest database role: the
calendar and policies through ``sla_config.service``, the tickets as a CSV export through
``tickets.service`` (an import job, processed in place), so the demo exercises the same
parsing, validation and upsert as a real push. The SLA recompute is left as events in
the ingest outbox (``sla.recompute``, ``tickets.imported``) for the caller to deliver.

Idempotent: an organisation that already has the demo calendar is skipped.
"""

from __future__ import annotations

import random
import tempfile
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from services.ingest.sla_config import service as sla_config
from services.ingest.sla_config.schemas import CalendarIn, PolicyIn
from services.ingest.tickets import service as tickets
from shared.auth import Principal
from shared.db.engine import make_engine

DEMO_CALENDAR = "England & Wales office hours (demo)"
SOURCE_SYSTEM = "demo-servicedesk"
TICKETS_PER_ORG = 1500
REQUEST_TYPES = {"New starter": Decimal("5"), "Software install": Decimal("3")}
# The status of a ticket history that stops the demo policies' clocks.
PAUSE_STATUS = "Awaiting customer"
TEAMS = ["Service Desk", "Infrastructure", "Applications", "Field Services"]
CLOSURES = ["Fixed", "Advice given", "Workaround", "Duplicate"]
HEADER = (
    "ticket_ref,type,priority,request_type,team,closure_category,logged_at,resolved_at,"
    "status,reopen_count,resolved_first_contact,nps_rating\n"
)


def demo_policies(calendar_id: int) -> list[PolicyIn]:
    start = datetime(2015, 1, 1).date()

    def pol(priority: str, share: str, **target: Decimal | None) -> PolicyIn:
        return PolicyIn(
            priority=priority,
            calendar_id=calendar_id,
            target_share_pct=Decimal(share),
            effective_from=start,
            pause_statuses=[PAUSE_STATUS],
            **target,
        )

    return [
        pol("P0", "95", target_hours=Decimal("4")),
        pol("P1", "95", target_hours=Decimal("4")),
        pol("P2", "95", target_hours=Decimal("8")),
        pol("P3", "80", target_working_days=Decimal("2")),
        *(
            PolicyIn(
                priority="P4",
                request_type=name,
                target_working_days=days,
                calendar_id=calendar_id,
                target_share_pct=Decimal("80"),
                effective_from=start,
                pause_statuses=[PAUSE_STATUS],
            )
            for name, days in REQUEST_TYPES.items()
        ),
    ]


def _tickets_csv(rng: random.Random, now: datetime, org_index: int) -> str:
    """Realistic-looking tickets logged in working hours over the last ~182 days."""
    lines = [HEADER]
    # Typical resolution times (hours of wall clock) per priority, skewed right.
    scale = {"P0": 2.0, "P1": 3.0, "P2": 10.0, "P3": 30.0, "P4": 60.0}
    for i in range(TICKETS_PER_ORG + 250 * org_index):
        day = now - timedelta(days=rng.uniform(1, 182))
        while day.weekday() >= 5:
            day -= timedelta(days=1)
        logged = day.replace(hour=rng.randint(8, 17), minute=rng.randint(0, 59), second=0)
        priority = rng.choices(["P0", "P1", "P2", "P3", "P4"], [1, 4, 15, 45, 35])[0]
        kind = "request" if priority == "P4" else "incident"
        request_type = rng.choice(list(REQUEST_TYPES)) if priority == "P4" else ""
        hours = rng.lognormvariate(0, 0.9) * scale[priority] * (1 + 0.1 * org_index)
        resolved = logged + timedelta(hours=hours)
        is_open = resolved > now or rng.random() < 0.03
        fcr = "yes" if hours < 0.25 or rng.random() < 0.2 else "no"
        nps = ""
        if not is_open and rng.random() < 0.15:
            nps = str(max(0, min(10, round(rng.gauss(8 - org_index * 0.5, 2)))))
        lines.append(
            ",".join(
                [
                    f"DEMO{org_index:02d}-{i:06d}",
                    kind,
                    priority,
                    request_type,
                    rng.choice(TEAMS),
                    "" if is_open else rng.choice(CLOSURES),
                    logged.strftime("%d/%m/%Y %H:%M"),
                    "" if is_open else resolved.strftime("%d/%m/%Y %H:%M"),
                    "open" if is_open else "resolved",
                    "1" if rng.random() < 0.02 else "0",
                    fcr,
                    nps,
                ]
            )
            + "\n"
        )
    return "".join(lines)


def load_ticket_demo(database_url: str, organisation_ids: list[int], seed: int = 2024) -> str:
    """Create the demo calendar, policies and tickets; returns a one-line summary."""
    rng = random.Random(seed)
    engine = make_engine(database_url, role="ingest", pool_size=2)
    principal = Principal(
        subject="demo-loader", roles=frozenset({"admin"}), organisations=frozenset()
    )
    now = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    created = skipped = rows = 0
    try:
        for index, org in enumerate(organisation_ids):
            with Session(engine) as session:
                if has_demo_calendar(session, principal, org):
                    skipped += 1
                    continue
                set_up_sla(session, principal, org)
                data = _tickets_csv(rng, now, index).encode()
                job_id = queue_tickets(session, principal, org, data)
                session.commit()
            rows += process_tickets(engine, principal, job_id)
            created += 1
    finally:
        engine.dispose()
    return (
        f"ticket demo: {created} organisation(s) loaded with {rows} tickets, "
        f"{skipped} already present; SLA recompute events queued in the ingest outbox"
    )


OFFICE_HOURS = {
    d: [{"start": "08:00", "end": "18:00"}]
    for d in ("monday", "tuesday", "wednesday", "thursday", "friday")
}


def set_up_sla(session: Session, principal: Principal, organisation_id: int) -> int:
    """The demo calendar and its SLA policies for an organisation; the calendar's id."""
    calendar = sla_config.create_calendar(
        session,
        principal,
        organisation_id,
        CalendarIn.model_validate(
            {"name": DEMO_CALENDAR, "nation": "GB-ENG", "hours": OFFICE_HOURS}
        ),
    )
    for body in demo_policies(calendar["id"]):
        sla_config.create_policy(session, principal, organisation_id, body)
    return int(calendar["id"])


def has_demo_calendar(session: Session, principal: Principal, organisation_id: int) -> bool:
    existing = sla_config.list_calendars(session, principal, organisation_id)
    return any(c["name"] == DEMO_CALENDAR for c in existing)


def queue_tickets(
    session: Session,
    principal: Principal,
    organisation_id: int,
    data: bytes,
    content: str = "tickets",
) -> int:
    """A ticket-import job for ``data`` (a CSV export in the yardstick profile; with
    ``content="history"``, a history file), as a push would make it; the caller commits,
    then runs :func:`process_tickets`."""
    with tempfile.NamedTemporaryFile("wb", suffix=".csv", delete=False, dir=_spool()) as fh:
        fh.write(data)
    job = tickets.create_import(
        session,
        principal,
        organisation_id=organisation_id,
        source_system=SOURCE_SYSTEM,
        profile="yardstick",
        mapping_id=None,
        file_format="csv",
        spool_path=Path(fh.name),
        size=len(data),
        content=content,
    )
    return int(job["id"])


def process_tickets(engine: Engine, principal: Principal, job_id: int) -> int:
    """Process the job here (the queued event then finds it done); rows accepted. It queues
    the metrics recompute for the months it touched."""
    tickets.process_import(engine, job_id)
    with Session(engine) as session:
        done = tickets.visible_import(session, principal, job_id)
    return int(done["rows_accepted"])


def _spool() -> str:
    path = Path(tempfile.gettempdir()) / "yardstick-demo-tickets"
    path.mkdir(parents=True, exist_ok=True)
    return str(path)
