"""Delivering one invitation or reminder: a fresh single-use link per mail (only its hash is
stored), the address decrypted only to hand it to the SMTP server."""

from __future__ import annotations

import logging
import unicodedata
from typing import Any

from sqlalchemy import RowMapping, delete, insert, select, update
from sqlalchemy.orm import Session

from services.survey import clock
from services.survey.campaigns import repository as campaigns
from services.survey.mail import smtp
from services.survey.privacy import decrypt_address, new_link_token
from services.survey.web.render import (
    render_invitation_email,
    render_mail_problem_email,
    render_reminder_email,
)
from shared.db.tables.ingest import organisations
from shared.db.tables.survey_campaigns import survey_campaigns as c
from shared.db.tables.survey_campaigns import survey_inbox
from shared.db.tables.survey_campaigns import survey_invitation_tokens as tokens
from shared.db.tables.survey_campaigns import survey_invitations as inv
from shared.errors import ProblemError
from shared.events import EventType, InvitationMail, MailFailed, ReminderMail, read_event
from shared.outbox import receive_once
from shared.settings import Settings

log = logging.getLogger("services.survey.mail")

# The events the mail step receives (through the survey outbox, from this service itself).
MAIL_EVENTS = (
    EventType.SURVEY_MAIL_INVITATION,
    EventType.SURVEY_MAIL_REMINDER,
    EventType.SURVEY_MAIL_FAILED,
)


class MailDeferred(ProblemError):
    status, code, title = 503, "mail_deferred", "Mail not sent yet"


def deliver(
    session: Session, settings: Settings, event_key: str, event_type: str, payload: dict[str, Any]
) -> str:
    event = read_event(event_type, payload, MAIL_EVENTS)
    if isinstance(event, MailFailed):
        return notify_owner(session, settings, event_key, event)
    assert isinstance(event, InvitationMail | ReminderMail)
    kind, invitation_id = event.kind, event.invitation_id
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
    try:
        body = (
            render_invitation_email(**common, reminders=row["reminder_count"])
            if kind == "invitation"
            else render_reminder_email(**common)
        )
        message = smtp.build_message(settings, address, body.subject, body.text, body.html)
        smtp.send(settings, message)
    except smtp.Unbuildable as exc:
        _failed(session, row, kind, link.token_hash, exc)
        return "failed"
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


def _has_control(text: str) -> bool:
    return len(text.splitlines()) > 1 or any(unicodedata.category(ch) == "Cc" for ch in text)


def _reason(exc: smtp.Unbuildable, row: RowMapping) -> tuple[str, str]:
    """A stable code and a sentence saying what is wrong and how to put it right."""
    campaign = f"/api/v1/campaigns/{row['campaign_id']}"
    again = f"then send again (POST {campaign}/send): invitations that failed are queued again."
    if exc.part == "subject" and _has_control(row["title"]):
        return "title", (
            "The campaign title contains a line break or another control character, so no "
            f"mail subject can be made from it. Change the title (PATCH {campaign}), {again}"
        )
    if exc.part == "subject" and _has_control(row["organisation_name"]):
        return "organisation_name", (
            "The organisation's name contains a line break or another control character, so "
            "no mail subject can be made from it. Ask an administrator to correct the "
            f"organisation's name, {again}"
        )
    if exc.part == "to":
        return "address", (
            f"A recipient's address cannot be used ({exc.detail}). That recipient is marked "
            "as bounced and gets no more mail; upload a corrected address to invite them."
        )
    if exc.part == "from":
        return "sender", (
            f"The configured sender address (YARDSTICK_SMTP_FROM) cannot be used "
            f"({exc.detail}). Ask an administrator to correct it, {again}"
        )
    return exc.part, f"The mail could not be built ({exc.part}: {exc.detail}); {again}"


def _failed(
    session: Session, row: RowMapping, kind: str, token_hash: str, exc: smtp.Unbuildable
) -> None:
    """A message that can never be built as it is: answer 200 (a retry of the same data
    fails the same way, so the outbox must not retry it), record why for the campaign's
    owner, and leave the invitation so that it is not mailed with the same data again."""
    invitation_id = int(row["id"])
    session.execute(delete(tokens).where(tokens.c.token_hash == token_hash))
    code, reason = _reason(exc, row)
    if code == "address":
        # The address itself is unusable: like a bounce, no more mail goes to it.
        session.execute(update(inv).where(inv.c.id == invitation_id).values(bounced=True))
    elif kind == "invitation":
        # The campaign's data is at fault: once it is corrected, a send queues it again.
        session.execute(
            update(inv).where(inv.c.id == invitation_id).values(invitation_queued=False)
        )
    campaigns.record_mail_failure(
        session,
        campaign_id=int(row["campaign_id"]),
        invitation_id=invitation_id,
        kind=kind,
        reason_code=code,
        reason=reason,
    )
    log.warning(
        "%s for invitation %s of campaign %s cannot be built (%s): %s",
        kind,
        invitation_id,
        row["campaign_id"],
        code,
        exc,
    )


def notify_owner(session: Session, settings: Settings, event_key: str, event: MailFailed) -> str:
    """Tell the campaign's contact (``survey_mail_problems_to``) that its mail cannot be
    built: one notice per campaign and reason however many messages failed."""
    campaign_id, code = event.campaign_id, event.reason_code
    if not receive_once(session, survey_inbox, event_key, EventType.SURVEY_MAIL_FAILED):
        return "duplicate"
    to = settings.survey_mail_problems_to
    if not to:
        return "recorded"
    notice_key = f"{EventType.SURVEY_MAIL_FAILED}:notice:{campaign_id}:{code}"
    if not receive_once(session, survey_inbox, notice_key, EventType.SURVEY_MAIL_NOTICE):
        return "already_notified"
    row = (
        session.execute(
            select(c.c.title, organisations.c.name)
            .join(organisations, organisations.c.id == c.c.organisation_id)
            .where(c.c.id == campaign_id)
        )
        .tuples()
        .first()
    )
    if row is None:
        return "skipped"
    body = render_mail_problem_email(
        campaign_id=campaign_id,
        survey_title=row[0],
        organisation_name=row[1],
        failed_kind="reminder" if event.kind == "reminder" else "invitation",
        reason=event.reason,
    )
    try:
        smtp.send(settings, smtp.build_message(settings, to, body.subject, body.text))
    except (smtp.Unbuildable, smtp.PermanentFailure) as exc:
        log.error("the mail problem notice for campaign %s was refused: %s", campaign_id, exc)
        return "notice_refused"
    except smtp.TemporaryFailure as exc:
        raise MailDeferred(
            f"The mail server did not take the notice ({exc}); will retry."
        ) from None
    return "notified"
