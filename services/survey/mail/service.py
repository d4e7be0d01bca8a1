"""Delivering one invitation or reminder: a fresh single-use link per mail (only its hash is
stored), the address decrypted only to hand it to the SMTP server."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from services.survey import clock
from services.survey.mail import smtp
from services.survey.privacy import decrypt_address, new_link_token
from services.survey.web.render import render_invitation_email, render_reminder_email
from shared.db.tables.ingest import organisations
from shared.db.tables.survey_campaigns import survey_campaigns as c
from shared.db.tables.survey_campaigns import survey_inbox
from shared.db.tables.survey_campaigns import survey_invitation_tokens as tokens
from shared.db.tables.survey_campaigns import survey_invitations as inv
from shared.errors import ProblemError, Unprocessable
from shared.outbox import receive_once
from shared.settings import Settings

log = logging.getLogger("services.survey.mail")


class MailDeferred(ProblemError):
    status, code, title = 503, "mail_deferred", "Mail not sent yet"


def deliver(
    session: Session, settings: Settings, event_key: str, event_type: str, payload: dict[str, Any]
) -> str:
    kind = payload.get("kind")
    invitation_id = payload.get("invitation_id")
    if kind not in ("invitation", "reminder") or not isinstance(invitation_id, int):
        raise Unprocessable("payload needs kind (invitation|reminder) and invitation_id")
    if not receive_once(session, survey_inbox, event_key, event_type):
        return "duplicate"
    row = (
        session.execute(
            select(
                inv,
                c.c.kind,
                c.c.title,
                c.c.closes_on,
                c.c.status,
                c.c.reminder_count,
                organisations.c.name.label("organisation_name"),
            )
            .join(c, c.c.id == inv.c.campaign_id)
            .join(organisations, organisations.c.id == c.c.organisation_id)
            .where(inv.c.id == invitation_id)
            .with_for_update(of=inv)
        )
        .mappings()
        .first()
    )
    now = clock.now_utc()
    if (
        row is None
        or row["address_encrypted"] is None
        or row["completed"]
        or row["bounced"]
        or row["opted_out"]
        or row["status"] == "closed"
        or now >= clock.closes_at(row["closes_on"])
    ):
        return "skipped"
    link = new_link_token()
    session.execute(insert(tokens).values(token_hash=link.token_hash, invitation_id=invitation_id))
    address = decrypt_address(
        row["address_encrypted"],
        settings.survey_encryption_key_bytes(),
        context=f"campaign:{row['campaign_id']}".encode(),
    )
    base = settings.public_survey_base()
    common = {
        "survey_title": row["title"],
        "organisation_name": row["organisation_name"],
        "link_url": f"{base}/s/{link.token}",
        "opt_out_url": f"{base}/s/{link.token}/opt-out",
        "closes_on": row["closes_on"],
    }
    body = (
        render_invitation_email(**common, reminders=row["reminder_count"])
        if kind == "invitation"
        else render_reminder_email(**common)
    )
    message = smtp.build_message(settings, address, body.subject, body.text, body.html)
    try:
        smtp.send(settings, message)
    except smtp.PermanentFailure as exc:
        session.execute(update(inv).where(inv.c.id == invitation_id).values(bounced=True))
        log.info("invitation %s bounced: %s", invitation_id, exc)
        return "bounced"
    except smtp.TemporaryFailure as exc:
        # Roll back (token and inbox record) and let the outbox retry with back-off.
        raise MailDeferred(
            f"The mail server did not take the message ({exc}); will retry."
        ) from None
    session.execute(
        update(inv)
        .where(inv.c.id == invitation_id)
        .values(mails_sent=inv.c.mails_sent + 1, last_mail_at=now)
    )
    return "sent"
