from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from shared.db.tables.ingest import organisations
from shared.db.tables.survey import survey_outbox
from shared.db.tables.survey_campaigns import survey_campaigns as c
from shared.db.tables.survey_campaigns import survey_invitations as inv
from shared.events import MAIL_REQUESTS, EventType, MailFailed
from shared.outbox import enqueue_event


def organisation_exists(session: Session, organisation_id: int) -> bool:
    found = session.execute(
        select(organisations.c.id).where(organisations.c.id == organisation_id)
    ).first()
    return found is not None


def insert_campaign(session: Session, values: dict[str, Any]) -> dict[str, Any]:
    return dict(session.execute(insert(c).values(**values).returning(c)).mappings().one())


def get_campaign(
    session: Session, campaign_id: int, *, lock: bool = False
) -> dict[str, Any] | None:
    query = select(c).where(c.c.id == campaign_id)
    if lock:
        query = query.with_for_update()
    row = session.execute(query).mappings().first()
    return dict(row) if row else None


def update_campaign(session: Session, campaign_id: int, values: dict[str, Any]) -> dict[str, Any]:
    return dict(
        session.execute(
            update(c)
            .where(c.c.id == campaign_id)
            .values(**values, updated_at=func.now())
            .returning(c)
        )
        .mappings()
        .one()
    )


def list_campaigns(
    session: Session,
    only_orgs: Collection[int] | None,
    organisation_id: int | None,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    query = select(c)
    if only_orgs is not None:
        query = query.where(c.c.organisation_id.in_(list(only_orgs)))
    if organisation_id is not None:
        query = query.where(c.c.organisation_id == organisation_id)
    total = session.execute(select(func.count()).select_from(query.subquery())).scalar_one()
    rows = session.execute(query.order_by(c.c.id).limit(limit).offset(offset)).mappings().all()
    return [dict(r) for r in rows], total


def recipient_counts(session: Session, campaign_ids: Sequence[int]) -> dict[int, int]:
    if not campaign_ids:
        return {}
    rows = session.execute(
        select(inv.c.campaign_id, func.count())
        .where(inv.c.campaign_id.in_(list(campaign_ids)), inv.c.address_hash.is_not(None))
        .group_by(inv.c.campaign_id)
    ).all()
    return {int(cid): int(n) for cid, n in rows}


def add_invitations(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert recipients, merging on (campaign, keyed hash); returns how many were new."""
    if not rows:
        return 0
    inserted = session.execute(
        pg_insert(inv)
        .values(rows)
        .on_conflict_do_nothing(index_elements=[inv.c.campaign_id, inv.c.address_hash])
        .returning(inv.c.id)
    ).all()
    return len(inserted)


def queue_invitations(session: Session, campaign_id: int) -> list[int]:
    ids = session.execute(
        update(inv)
        .where(
            inv.c.campaign_id == campaign_id,
            inv.c.invitation_queued.is_(False),
            inv.c.address_encrypted.is_not(None),
            inv.c.bounced.is_(False),
            inv.c.opted_out.is_(False),
            inv.c.completed.is_(False),
        )
        .values(invitation_queued=True)
        .returning(inv.c.id)
    ).scalars()
    return [int(i) for i in ids]


def enqueue_mails(session: Session, invitation_ids: Sequence[int], kind: str) -> None:
    if not invitation_ids:
        return
    model = MAIL_REQUESTS[kind]
    # One multi-row INSERT (a campaign may invite thousands), of declared events.
    events = [model(invitation_id=i) for i in invitation_ids]
    session.execute(
        insert(survey_outbox),
        [
            {
                "event_type": e.event_type,
                "target": e.target,
                "path": e.path(),
                "payload": e.model_dump(mode="json"),
            }
            for e in events
        ],
    )


def mark_by_hash(
    session: Session, campaign_id: int, hashes: Sequence[str], column: str, now: datetime
) -> int:
    if not hashes:
        return 0
    result = session.execute(
        update(inv)
        .where(inv.c.campaign_id == campaign_id, inv.c.address_hash.in_(list(hashes)))
        .values({column: True})
        .returning(inv.c.id)
    ).all()
    return len(result)


def close_campaigns(session: Session, campaign_ids: list[int], now: datetime) -> None:
    session.execute(
        update(c).where(c.c.id.in_(campaign_ids)).values(status="closed", closed_at=now)
    )


def record_mail_failure(
    session: Session,
    *,
    campaign_id: int,
    invitation_id: int,
    kind: str,
    reason_code: str,
    reason: str,
) -> None:
    """The durable record of one message that could not be built (read back by
    :func:`mail_failures`), delivered to the survey service's mail step, which tells the
    campaign's contact once per campaign and reason."""
    enqueue_event(
        session,
        survey_outbox,
        MailFailed(
            campaign_id=campaign_id,
            invitation_id=invitation_id,
            kind=kind,
            reason_code=reason_code,
            reason=reason,
        ),
    )


def mail_failures(session: Session, campaign_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Per campaign: how many messages could not be built, and the latest one's reason."""
    if not campaign_ids:
        return {}
    campaign = survey_outbox.c.payload["campaign_id"].as_integer()
    latest = func.array_agg(
        aggregate_order_by(
            func.jsonb_build_object(
                "reason",
                survey_outbox.c.payload["reason"].astext,
                "kind",
                survey_outbox.c.payload["kind"].astext,
                "failed_at",
                survey_outbox.c.created_at,
            ),
            survey_outbox.c.id.desc(),
        )
    )[1]
    rows = session.execute(
        select(campaign, func.count(), latest)
        .where(
            survey_outbox.c.event_type == EventType.SURVEY_MAIL_FAILED,
            campaign.in_(list(campaign_ids)),
        )
        .group_by(campaign)
    ).all()
    return {int(cid): {"count": int(n), "latest": last} for cid, n, last in rows}
