"""Periodic survey jobs, run by the worker through an internal endpoint (every
``survey_jobs_interval_seconds``): close campaigns at 24:00 London time on their closing
date, queue due reminders, erase addresses once the retention period after close ends.
Each is safe to run twice: the second run finds nothing due."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from services.survey.campaigns import repository as campaigns
from services.survey.jobs import repository as repo
from shared.db.tables.survey import survey_outbox
from shared.outbox import enqueue


def close_due(session: Session, now: datetime) -> int:
    ids = repo.campaigns_to_close(session, now)
    if ids:
        repo.close(session, ids, now)
        for campaign_id in ids:
            enqueue(
                session,
                survey_outbox,
                event_type="survey.campaign_closed",
                target="metrics",
                path="/internal/events",
                payload={"campaign_id": campaign_id},
            )
    return len(ids)


def send_reminders(session: Session, now: datetime) -> int:
    ids = repo.claim_reminders(session, now)
    campaigns.enqueue_mails(session, ids, "reminder")
    return len(ids)


def erase_addresses(session: Session, now: datetime) -> int:
    ids = repo.campaigns_to_erase(session, now)
    return repo.erase(session, ids, now) if ids else 0
