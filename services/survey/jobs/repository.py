from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, cast, delete, func, select, update
from sqlalchemy.orm import Session

from shared.db.tables.survey_campaigns import survey_campaigns as c
from shared.db.tables.survey_campaigns import survey_drafts as drafts
from shared.db.tables.survey_campaigns import survey_invitation_tokens as tokens
from shared.db.tables.survey_campaigns import survey_invitations as inv


def campaigns_to_close(session: Session, now: datetime) -> list[int]:
    # closes_on is a London date; compare the instant at which it ends (24:00 London).
    end = func.timezone("Europe/London", cast(c.c.closes_on + 1, DateTime()))
    return [
        int(i)
        for i in session.execute(
            select(c.c.id)
            .where(c.c.status != "closed", end <= now)
            .order_by(c.c.id)
            .with_for_update(skip_locked=True)
        ).scalars()
    ]


def claim_reminders(session: Session, now: datetime) -> list[int]:
    """Mark due reminders as queued and return their invitations, in one statement: a
    second run finds them no longer due (``last_mail_at`` moved to now), so it sends nothing."""
    end = func.timezone("Europe/London", cast(c.c.closes_on + 1, DateTime()))
    due = (
        select(inv.c.id)
        .join(c, c.c.id == inv.c.campaign_id)
        .where(
            c.c.status == "live",
            end > now,
            inv.c.completed.is_(False),
            inv.c.bounced.is_(False),
            inv.c.opted_out.is_(False),
            inv.c.address_encrypted.is_not(None),
            inv.c.last_mail_at.is_not(None),
            inv.c.reminders_queued < c.c.reminder_count,
            inv.c.last_mail_at + func.make_interval(0, 0, 0, c.c.reminder_interval_days) <= now,
        )
        .with_for_update(of=inv, skip_locked=True)
    )
    ids = session.execute(
        update(inv)
        .where(inv.c.id.in_(due.scalar_subquery()))
        .values(reminders_queued=inv.c.reminders_queued + 1, last_mail_at=now)
        .returning(inv.c.id)
    ).scalars()
    return sorted(int(i) for i in ids)


def campaigns_to_erase(session: Session, now: datetime) -> list[int]:
    return [
        int(i)
        for i in session.execute(
            select(c.c.id)
            .where(
                c.c.status == "closed",
                c.c.addresses_erased_at.is_(None),
                c.c.closed_at + func.make_interval(0, 0, 0, c.c.retention_days) <= now,
            )
            .with_for_update(skip_locked=True)
        ).scalars()
    ]


def erase(session: Session, campaign_ids: list[int], now: datetime) -> int:
    invitation_ids = select(inv.c.id).where(inv.c.campaign_id.in_(campaign_ids))
    session.execute(delete(tokens).where(tokens.c.invitation_id.in_(invitation_ids)))
    session.execute(delete(drafts).where(drafts.c.invitation_id.in_(invitation_ids)))
    erased = session.execute(
        update(inv)
        .where(inv.c.campaign_id.in_(campaign_ids), inv.c.address_encrypted.is_not(None))
        .values(address_encrypted=None, address_hash=None, location=None, role=None)
        .returning(inv.c.id)
    ).all()
    session.execute(update(c).where(c.c.id.in_(campaign_ids)).values(addresses_erased_at=now))
    return len(erased)
