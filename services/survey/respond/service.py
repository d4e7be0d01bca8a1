"""The respondent's side: resolve a link, keep a draft, submit exactly once."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from services.survey import clock
from services.survey.campaigns.service import campaign_instrument
from services.survey.instruments import AnswerValue, Instrument
from services.survey.privacy import looks_like_token, token_hash
from services.survey.respond import repository as repo

LinkProblem = Literal["unknown", "closed", "used"]


@dataclass(frozen=True)
class Link:
    token_hash: str
    invitation_id: int
    campaign: dict[str, Any]
    instrument: Instrument
    organisation_name: str
    completed: bool
    prefill: dict[str, AnswerValue]


@dataclass(eq=False)  # not frozen: raising through a context manager sets __traceback__
class LinkError(Exception):
    problem: LinkProblem
    title: str = "Survey"


def resolve(session: Session | Connection, token: str, now: datetime | None = None) -> Link:
    """The link's invitation and campaign, or :class:`LinkError`.

    A completed link resolves (the caller shows the thank-you page); what a link shows
    depends only on the link, never on an address.
    """
    if not looks_like_token(token):
        raise LinkError("unknown")
    hashed = token_hash(token)
    row = repo.find_link(session, hashed)
    if row is None:
        raise LinkError("unknown")
    instrument = campaign_instrument(row)
    now = now or clock.now_utc()
    open_ = row["status"] != "closed" and clock.opens_at(row["opens_on"]) <= now < clock.closes_at(
        row["closes_on"]
    )
    if not row["completed"] and not open_:
        raise LinkError("closed", instrument.title)
    prefill: dict[str, AnswerValue] = {}
    for name in ("location", "role"):
        key = f"attr.{name}"
        question = instrument.question(key)
        if row[name] and question is not None and row[name] in {o.value for o in question.options}:
            prefill[key] = row[name]
    return Link(
        token_hash=hashed,
        invitation_id=row["invitation_id"],
        campaign=row,
        instrument=instrument,
        organisation_name=row["organisation_name"],
        completed=row["completed"],
        prefill=prefill,
    )


def draft(session: Session, link: Link) -> tuple[dict[str, AnswerValue], int]:
    found = repo.get_draft(session, link.invitation_id)
    if found is None:
        return dict(link.prefill), 1
    return dict(found["answers"]), int(found["page"])


def save(session: Session, link: Link, answers: dict[str, AnswerValue], page: int) -> None:
    repo.save_draft(session, link.invitation_id, answers, page)


def submit(session: Session, link: Link, answers: dict[str, AnswerValue]) -> bool:
    """Store the response; False if this link had already been used (nothing stored)."""
    return repo.submit(
        session,
        link.token_hash,
        link.campaign["organisation_id"],
        link.campaign["id"],
        clock.london_today(),
        answers,
    )


def opt_out(session: Session, link: Link) -> None:
    repo.opt_out(session, link.invitation_id)


@dataclass(eq=False)
class AnswersInvalid(Exception):
    errors: dict[str, str]


def submit_answers(engine: Engine, token: str, answers: dict[str, Any]) -> bool:
    """The JSON API's submission, on the hot path: one statement resolves the link and
    stores the response, then the answers are checked against the campaign's instrument
    in the same transaction (rolled back with :class:`AnswersInvalid` if they fail, so
    nothing is stored and the link stays usable). Raises :class:`LinkError` for an unknown
    or closed link; returns False when the link had already been used.

    Its own short transaction on a pooled connection rather than the request session: the
    ORM session and the extra thread hops of the session dependency cost more than the
    statement itself (bench/bench_survey.py).
    """
    if not looks_like_token(token):
        raise LinkError("unknown")
    hashed = token_hash(token)
    given = {k: v for k, v in answers.items() if v is not None}
    now = clock.now_utc()
    response_id = uuid.uuid4()
    with engine.begin() as conn:
        row = repo.submit_by_token(conn, hashed, now, response_id, clock.london_today(now), given)
        if row is None:
            link = resolve(conn, token, now)  # raises "unknown" or "closed"
            if link.completed:
                return False
            # Resolved as open at the same instant: only a campaign closed in between.
            raise LinkError("closed", link.instrument.title)
        if not row["stored"]:
            return False
        instrument = campaign_instrument(row)
        errors = instrument.validate(given, partial=False)
        if errors:
            raise AnswersInvalid(errors)
        cleaned = instrument.clean(given)
        if cleaned != given:
            repo.replace_answers(conn, row["organisation_id"], response_id, cleaned)
    return True
