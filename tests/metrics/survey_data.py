"""Hand-built survey data for the group-view tests: closed campaigns and their responses
inserted as the survey service stores them (the demo loader does the same)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from services.ingest.cycles.service import assign_codes
from shared.db.tables.survey_campaigns import survey_campaigns, survey_responses
from tests.factories import make_cycle, make_org


def closed_campaign(
    owner_engine,
    organisation_id: int,
    cycle: dict[str, Any],
    answers: list[dict[str, Any]],
    *,
    kind: str = "user_satisfaction",
    users_in_scope: int = 50,
    threshold: int = 10,
) -> int:
    year = int(cycle["year"])
    with Session(owner_engine) as session, session.begin():
        campaign_id = session.execute(
            insert(survey_campaigns)
            .values(
                organisation_id=organisation_id,
                cycle_id=cycle["id"],
                kind=kind,
                title=f"{kind} {year}",
                opens_on=date(year, 10, 1),
                closes_on=date(year, 10, 28),
                users_in_scope=users_in_scope,
                breakdown_attributes=(
                    ["location", "device_type", "mode_of_working", "role"] if kind != "sdma" else []
                ),
                suppression_threshold=threshold,
                status="closed",
                closed_at=datetime(year, 10, 29, tzinfo=UTC),
                created_by="test",
            )
            .returning(survey_campaigns.c.id)
        ).scalar_one()
        if answers:
            session.execute(
                insert(survey_responses),
                [
                    {
                        "organisation_id": organisation_id,
                        "id": uuid.uuid4(),
                        "campaign_id": campaign_id,
                        "response_date": date(year, 10, 10),
                        "answers": a,
                    }
                    for a in answers
                ],
            )
    return int(campaign_id)


def orgs_and_cycles(api, owner_engine, n_orgs: int, years: list[int]):
    orgs = [make_org(api)["id"] for _ in range(n_orgs)]
    cycles = {y: make_cycle(api, year=y) for y in years}
    return orgs, cycles


def codes(owner_engine, cycles: dict[int, dict[str, Any]]) -> None:
    with Session(owner_engine) as session, session.begin():
        for cycle in cycles.values():
            assign_codes(session, cycle["id"])
