"""Periodic survey jobs, run by the worker through an internal endpoint (every
``survey_jobs_interval_seconds``): close campaigns at 24:00 London time on their closing
date, queue due reminders, erase addresses once the retention period after close ends.
Each is safe to run twice: the second run finds nothing due."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from services.survey.campaigns import repository as campaigns
from services.survey.campaigns import service as campaign_service
from services.survey.jobs import repository as repo


def close_due(session: Session, now: datetime) -> int:
    ids = repo.campaigns_to_close(session, now)
    if ids:
        campaign_service.close_and_announce(session, ids, now)
    return len(ids)


def send_reminders(session: Session, now: datetime) -> int:
    ids = repo.claim_reminders(session, now)
    campaigns.enqueue_mails(session, ids, "reminder")
    return len(ids)


def erase_addresses(session: Session, now: datetime) -> int:
    ids = repo.campaigns_to_erase(session, now)
    return repo.erase(session, ids, now) if ids else 0
