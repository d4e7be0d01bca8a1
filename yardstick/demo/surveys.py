"""Demo survey data: one closed user-satisfaction campaign per organisation, with a few
hundred responses each. Responses are inserted directly (as the survey role would); no
invitation and no address is ever created for demo responses. Idempotent: an organisation
that already has a demo campaign is skipped."""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from shared.db.tables.survey_campaigns import survey_campaigns, survey_responses

DEMO_TITLE = "ICT user satisfaction survey (demo)"
LOCATIONS = ["Town Hall", "Depot", "Library", "Home"]


def _answers(rng: random.Random, bias: int) -> dict[str, Any]:
    def rating() -> int:
        return max(1, min(7, round(rng.gauss(4.5 + bias * 0.4, 1.3))))

    answers: dict[str, Any] = {}
    for i in range(1, 21):
        if rng.random() < 0.9:
            answers[f"S{i}.satisfaction"] = rating()
            answers[f"S{i}.importance"] = max(1, min(7, rating() + 1))
    answers["overall"] = rating()
    answers["improvement"] = rating()
    if rng.random() < 0.8:
        answers["nps"] = max(0, min(10, round(rng.gauss(7 + bias, 2))))
    if rng.random() < 0.9:
        answers["attr.location"] = rng.choice(LOCATIONS)
    if rng.random() < 0.7:
        answers["attr.device_type"] = rng.choice(
            ["Desktop computer", "Laptop", "Tablet", "Smartphone"]
        )
    return answers


def load_demo_surveys(
    session: Session, organisation_ids: list[int], cycle_id: int | None = None, seed: int = 2020
) -> int:
    """Create one closed demo user-satisfaction campaign per organisation, with responses;
    return how many responses were inserted (0 on a second run).

    Call as ``load_demo_surveys(session, organisation_ids, cycle_id)`` from the demo loader.

    Expectations:

    - ``session`` is connected as the database owner or the survey service's role (it
      writes ``survey_campaigns`` and ``survey_responses``), on a migrated schema. This
      function only flushes statements; the caller commits (or rolls back) the transaction.
    - ``organisation_ids`` exist in ``organisations``; order matters: the n-th organisation
      gets ``200 + 60 * n`` responses and a rating bias of ``n - 1``, so the same ids in the
      same order give the same data (``seed`` fixes the rest).
    - ``cycle_id`` (optional) is an existing benchmarking cycle; with it, the campaigns count
      in that cycle's cross-organisation survey benchmark (the metrics service takes the
      latest closed user-satisfaction campaign per organisation in the cycle).
    - Campaigns run from 3 to 30 October 2020 and already closed, with addresses erased:
      no invitation, address or token is created. No ``survey.campaign_closed`` event is
      queued either; the metrics service computes and stores a closed campaign's results on
      the first read (``GET /api/v1/survey-results/campaigns/{id}``).
    - Idempotent per organisation: one that already has a campaign titled
      ``DEMO_TITLE`` is skipped, so re-running after adding organisations fills in only those.
    """
    rng = random.Random(seed)
    closes_on = date(2020, 10, 30)
    inserted = 0
    for index, organisation_id in enumerate(organisation_ids):
        exists = session.execute(
            select(survey_campaigns.c.id).where(
                survey_campaigns.c.organisation_id == organisation_id,
                survey_campaigns.c.title == DEMO_TITLE,
            )
        ).first()
        if exists:
            continue
        count = 200 + 60 * index
        campaign_id = session.execute(
            insert(survey_campaigns)
            .values(
                organisation_id=organisation_id,
                cycle_id=cycle_id,
                kind="user_satisfaction",
                title=DEMO_TITLE,
                opens_on=closes_on - timedelta(days=27),
                closes_on=closes_on,
                users_in_scope=count * 4,
                attribute_options={"location": LOCATIONS},
                breakdown_attributes=["location", "device_type", "mode_of_working", "role"],
                status="closed",
                closed_at=datetime(2020, 10, 31, tzinfo=UTC),
                addresses_erased_at=datetime(2020, 11, 30, tzinfo=UTC),
                created_by="demo",
            )
            .returning(survey_campaigns.c.id)
        ).scalar_one()
        rows = [
            {
                "organisation_id": organisation_id,
                "id": uuid.UUID(int=rng.getrandbits(128), version=4),
                "campaign_id": campaign_id,
                "response_date": closes_on - timedelta(days=rng.randrange(28)),
                "answers": _answers(rng, index - 1),
            }
            for _ in range(count)
        ]
        session.execute(insert(survey_responses), rows)
        inserted += count
    return inserted
