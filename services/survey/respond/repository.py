from __future__ import annotations

import json
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, literal, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from shared.db.tables.ingest import organisations
from shared.db.tables.survey_campaigns import survey_campaigns as c
from shared.db.tables.survey_campaigns import survey_drafts as drafts
from shared.db.tables.survey_campaigns import survey_invitation_tokens as tokens
from shared.db.tables.survey_campaigns import survey_invitations as inv
from shared.db.tables.survey_campaigns import survey_responses as responses


def find_link(session: Session | Connection, token_hash: str) -> dict[str, Any] | None:
    row = (
        session.execute(
            select(
                inv.c.id.label("invitation_id"),
                inv.c.completed,
                inv.c.opted_out,
                inv.c.location,
                inv.c.role,
                c,
                organisations.c.name.label("organisation_name"),
            )
            .select_from(tokens)
            .join(inv, inv.c.id == tokens.c.invitation_id)
            .join(c, c.c.id == inv.c.campaign_id)
            .join(organisations, organisations.c.id == c.c.organisation_id)
            .where(tokens.c.token_hash == token_hash)
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def get_draft(session: Session, invitation_id: int) -> dict[str, Any] | None:
    row = (
        session.execute(select(drafts).where(drafts.c.invitation_id == invitation_id))
        .mappings()
        .first()
    )
    return dict(row) if row else None


def save_draft(session: Session, invitation_id: int, answers: dict[str, Any], page: int) -> None:
    stmt = pg_insert(drafts).values(invitation_id=invitation_id, answers=answers, page=page)
    session.execute(
        stmt.on_conflict_do_update(
            index_elements=[drafts.c.invitation_id],
            set_={
                "answers": stmt.excluded.answers,
                "page": stmt.excluded.page,
                "updated_at": stmt.excluded.updated_at,
            },
        )
    )


def submit(
    session: Session,
    token_hash: str,
    organisation_id: int,
    campaign_id: int,
    response_date: date,
    answers: dict[str, Any],
) -> bool:
    """In one statement: flip the invitation to completed if it was not, and only then
    store the response and drop the draft. The database decides which of any number of
    simultaneous submissions wins: the row lock serialises them, and the losers re-check
    ``NOT completed`` after the winner commits and update (so insert) nothing. The response
    row carries no invitation id, token or time."""
    won = (
        update(inv)
        .where(
            inv.c.id
            == select(tokens.c.invitation_id)
            .where(tokens.c.token_hash == token_hash)
            .scalar_subquery(),
            inv.c.completed.is_(False),
        )
        .values(completed=True)
        .returning(inv.c.id)
        .cte("won")
    )
    dropped = (
        delete(drafts)
        .where(drafts.c.invitation_id.in_(select(won.c.id)))
        .returning(drafts.c.invitation_id)
        .cte("dropped")
    )
    stored = session.execute(
        insert(responses)
        .from_select(
            ["organisation_id", "id", "campaign_id", "response_date", "answers"],
            select(
                literal(organisation_id),
                literal(uuid.uuid4(), type_=responses.c.id.type),
                literal(campaign_id),
                literal(response_date, type_=responses.c.response_date.type),
                literal(answers, type_=responses.c.answers.type),
            ).select_from(won),
        )
        .add_cte(dropped)  # data-modifying CTEs run even though nothing selects from them
        .returning(responses.c.id)
    ).first()
    return stored is not None


def opt_out(session: Session, invitation_id: int) -> None:
    session.execute(update(inv).where(inv.c.id == invitation_id).values(opted_out=True))


# The JSON submission in one round trip: resolve the link (open campaign, Europe/London
# window), flip the invitation to completed if it was not, store the response, drop the
# draft; return the campaign settings the caller validates the answers against (it rolls
# back if they fail). Same race guarantee as ``submit``: losers wait on the invitation's row
# lock, re-check ``NOT completed`` and store nothing. The window test mirrors
# ``services.survey.clock.opens_at``/``closes_at``.
_SUBMIT_BY_TOKEN = text(
    """
WITH link AS (
    SELECT i.id AS invitation_id, c.id AS campaign_id, c.organisation_id, c.kind,
           c.breakdown_attributes, c.comments_enabled, c.attribute_options
    FROM survey_invitation_tokens t
    JOIN survey_invitations i ON i.id = t.invitation_id
    JOIN survey_campaigns c ON c.id = i.campaign_id
    WHERE t.token_hash = :token_hash
      AND c.status <> 'closed'
      AND (c.opens_on::timestamp AT TIME ZONE 'Europe/London') <= :now
      AND :now < ((c.closes_on + 1)::timestamp AT TIME ZONE 'Europe/London')
), won AS (
    UPDATE survey_invitations i SET completed = true
    FROM link
    WHERE i.id = link.invitation_id AND NOT i.completed
    RETURNING i.id
), dropped AS (
    DELETE FROM survey_drafts d USING won WHERE d.invitation_id = won.id
), stored AS (
    INSERT INTO survey_responses (organisation_id, id, campaign_id, response_date, answers)
    SELECT link.organisation_id, :response_id, link.campaign_id, :response_date,
           CAST(:answers AS jsonb)
    FROM link, won
    RETURNING id
)
SELECT link.organisation_id, link.campaign_id, link.kind, link.breakdown_attributes,
       link.comments_enabled, link.attribute_options,
       EXISTS (SELECT 1 FROM stored) AS stored
FROM link
"""
)


def submit_by_token(
    conn: Connection,
    token_hash: str,
    now: datetime,
    response_id: uuid.UUID,
    response_date: date,
    answers: dict[str, Any],
) -> dict[str, Any] | None:
    """None when the link is unknown or its campaign is not open; else the campaign's
    settings and ``stored`` (False: the link had already been used, nothing stored)."""
    row = (
        conn.execute(
            _SUBMIT_BY_TOKEN,
            {
                "token_hash": token_hash,
                "now": now,
                "response_id": response_id,
                "response_date": response_date,
                "answers": json.dumps(answers),
            },
        )
        .mappings()
        .first()
    )
    return dict(row) if row else None


def replace_answers(
    conn: Connection, organisation_id: int, response_id: uuid.UUID, answers: dict[str, Any]
) -> None:
    conn.execute(
        update(responses)
        .where(responses.c.organisation_id == organisation_id, responses.c.id == response_id)
        .values(answers=answers)
    )
