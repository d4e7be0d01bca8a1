"""Load the demo data set into the database (idempotent: a second run changes nothing).

Benchmarking: the data set of ``yardstick.demo.benchmark_data`` (about 70 organisations,
cycles 2016-2020, 44 participants in 2020, submissions in every state with their answers
and audit entries), anonymous codes per cycle, then a recompute of every cycle's figures.

Committee pack: a shared service with three partner councils, their tickets and the
service's governance data, ready for its 2024/25 P3 pack (``yardstick.demo.governance``).

Release dates: cycles 2016-2019 are published with their historical release dates (so a
participant's 12 months of access to them are over, and they appear only in trends); the
latest cycle, 2020, is published with a release date one month before the day the demo
is loaded, so its results are visible to participants for the next eleven months. That
date is for demonstration only; a real cycle's date is set by the benchmark team.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects.postgresql import insert

from services.ingest.cycles.service import ensure_codes
from services.metrics.benchmark.service import recompute
from services.metrics.sla.service import recompute as sla_recompute
from services.metrics.surveys.service import store_closed_campaign
from shared.catalogue import load_catalogue
from shared.db.tables.ingest import cycles, organisations
from shared.db.tables.ingest_submissions import submission_answers, submission_audit, submissions
from shared.db.tables.survey_campaigns import survey_campaigns
from shared.settings import get_settings
from yardstick.dbsession import admin_session
from yardstick.demo.benchmark_data import generate_benchmark_data
from yardstick.demo.governance import load_governance_demo
from yardstick.demo.surveys import DEMO_TITLE, load_demo_surveys
from yardstick.demo.tickets import load_ticket_demo

DEMO_ACTOR = "demo-loader"
LATEST_YEAR = 2020


def _release_date(year: int, today: date) -> date:
    if year == LATEST_YEAR:
        return today - timedelta(days=30)
    return date(year, 11, 1)


def _users(data: Any, org_id: int) -> int:
    values = [
        s.answers["users"]
        for s in data.submissions
        if s.organisation_id == org_id and s.module == "estate" and "users" in s.answers
    ]
    return int(values[-1]) if values else 500


def load_demo(database_url: str) -> str:
    data = generate_benchmark_data()
    today = date.today()
    with admin_session(database_url) as session:
        for org in data.organisations:
            session.execute(
                insert(organisations)
                .values(
                    name=org.name,
                    type=org.type,
                    nation=org.nation,
                    partnership=org.partnership,
                    users=_users(data, org.id),
                )
                .on_conflict_do_nothing(index_elements=["name"])
            )
        ids = dict(session.execute(select(organisations.c.name, organisations.c.id)).all())
        org_id = {o.id: ids[o.name] for o in data.organisations}
        for cycle in data.cycles:
            session.execute(
                insert(cycles)
                .values(
                    year=cycle.year,
                    status="published",
                    results_release_date=_release_date(cycle.year, today),
                )
                .on_conflict_do_nothing(index_elements=["year"])
            )
        cycle_rows = {r["year"]: dict(r) for r in session.execute(select(cycles)).mappings()}
        for cycle in data.cycles:
            ensure_codes(
                session,
                cycle_rows[cycle.year],
                {org_id[i] for i in data.participants(cycle.year)},
            )
        existing = {
            (r[0], r[1], r[2])
            for r in session.execute(
                select(submissions.c.organisation_id, submissions.c.cycle_id, submissions.c.module)
            )
        }
        created = 0
        for sub in data.submissions:
            cycle_id = cycle_rows[sub.cycle_year]["id"]
            key = (org_id[sub.organisation_id], cycle_id, sub.module)
            if key in existing:
                continue
            reached_review = sub.state != "draft"
            new_id = session.execute(
                insert(submissions)
                .values(
                    organisation_id=key[0],
                    cycle_id=cycle_id,
                    module=sub.module,
                    state=sub.state,
                    created_by=DEMO_ACTOR,
                    submitted_at=func.now() if reached_review else None,
                    decided_at=func.now() if sub.state in ("accepted", "returned") else None,
                )
                .returning(submissions.c.id)
            ).scalar_one()
            catalogue = load_catalogue(sub.cycle_year)
            rows = []
            for qkey, value in sub.answers.items():
                qtype = catalogue.questions[qkey].type
                rows.append(
                    {
                        "submission_id": new_id,
                        "question_key": qkey,
                        "value_number": Decimal(str(value))
                        if qtype not in ("choice", "boolean")
                        else None,
                        "value_text": str(value) if qtype == "choice" else None,
                        "value_boolean": bool(value) if qtype == "boolean" else None,
                    }
                )
            if rows:
                session.execute(insert(submission_answers), rows)
            trail: list[dict[str, object]] = [
                {"action": "created", "new_value": {"answers": sub.answers}, "reason": None},
            ]
            if reached_review:
                trail.append(
                    {"action": "submitted", "new_value": {"state": "submitted"}, "reason": None}
                )
            if sub.state == "returned":
                trail.append(
                    {
                        "action": "returned",
                        "new_value": {"state": "returned"},
                        "reason": "Demo: please check the figures against last year's",
                    }
                )
            if sub.state == "accepted":
                trail.append(
                    {"action": "accepted", "new_value": {"state": "accepted"}, "reason": None}
                )
            session.execute(
                insert(submission_audit),
                [{"submission_id": new_id, "actor": DEMO_ACTOR, **t} for t in trail],
            )
            created += 1
    with admin_session(database_url, role="metrics") as session:
        result = recompute(session, None, min_n=get_settings().disclosure_min_n, trigger="demo")
    survey_orgs = [org_id[i] for i in sorted(data.participants(LATEST_YEAR))[:3]]
    responses = _load_surveys(database_url, survey_orgs, cycle_rows[LATEST_YEAR]["id"])
    tickets_note = load_ticket_demo(database_url, survey_orgs)
    shared_note, partner_ids = load_governance_demo(database_url)
    with admin_session(database_url, role="metrics") as session:
        # The ticket demos also leave these recomputes in the outbox for the worker; doing
        # them here makes `yardstick demo` complete without one (a second pass is a no-op).
        sla_recompute(session, organisation_ids=survey_orgs + partner_ids, as_of=datetime.now(UTC))
    latest = len(data.participants(LATEST_YEAR))
    return (
        f"demo data loaded: {len(data.organisations)} organisations, cycles "
        f"{data.cycles[0].year}-{data.cycles[-1].year} ({latest} in {LATEST_YEAR}, released "
        f"{_release_date(LATEST_YEAR, today).isoformat()}), {created} new submissions; "
        f"recomputed {result['metric_values']} metric values and {result['statistics']} "
        f"statistics; {responses} new survey responses for organisations "
        f"{', '.join(map(str, survey_orgs))}; {tickets_note}; {shared_note}"
    )


def _load_surveys(database_url: str, organisation_ids: list[int], cycle_id: int) -> int:
    """Closed demo campaigns (no addresses, ever) and their computed results."""
    with admin_session(database_url, role="survey") as session:
        inserted = load_demo_surveys(session, organisation_ids, cycle_id)
        campaign_ids = list(
            session.execute(
                select(survey_campaigns.c.id).where(survey_campaigns.c.title == DEMO_TITLE)
            ).scalars()
        )
    with admin_session(database_url, role="metrics") as session:
        for campaign_id in campaign_ids:
            store_closed_campaign(session, campaign_id)
    return inserted
