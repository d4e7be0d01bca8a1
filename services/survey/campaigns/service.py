"""Campaign rules: windows in Europe/London, recipients merged on a keyed hash, anonymity
settings that cannot be loosened after the first invitation is sent."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal

from sqlalchemy.orm import Session

from services.survey import clock
from services.survey.campaigns import repository as repo
from services.survey.campaigns.exceptions import (
    AnonymityLocked,
    CampaignClosed,
    CampaignNotFound,
    CampaignNotOpen,
    InvalidCampaign,
    InvalidRecipients,
)
from services.survey.campaigns.schemas import (
    BounceReport,
    BounceResult,
    CampaignCreate,
    CampaignUpdate,
    DuplicateRow,
    RecipientUploadResult,
    RowProblem,
    SendResult,
)
from services.survey.instruments import Group, Instrument, Item, load_instrument
from services.survey.privacy import (
    InvalidAddressError,
    address_hash,
    encrypt_address,
    normalise_address,
    parse_recipients,
)
from shared.auth import Principal
from shared.db.tables.survey import survey_outbox
from shared.events import SurveyCampaignClosed
from shared.outbox import enqueue_event
from shared.settings import Settings

MAX_UPLOAD_BYTES = 10 * 1024 * 1024


def campaign_instrument(campaign: dict[str, Any]) -> Instrument:
    """The campaign's questionnaire: attributes not asked and a disabled comment removed,
    the organisation's own option lists applied."""
    options = campaign["attribute_options"] or {}
    return _campaign_instrument(
        campaign["kind"],
        tuple(campaign["breakdown_attributes"]),
        bool(campaign["comments_enabled"]),
        tuple(sorted((k, tuple(v)) for k, v in options.items())),
    )


@lru_cache(maxsize=512)
def _campaign_instrument(
    kind: str,
    breakdown_attributes: tuple[str, ...],
    comments_enabled: bool,
    attribute_options: tuple[tuple[str, tuple[str, ...]], ...],
) -> Instrument:
    # Every request on a link needs this, and building it costs more than the rest of a
    # submission: instruments are immutable, so equal settings share one.
    instrument = load_instrument(kind)
    asked = set(breakdown_attributes)
    drop = {f"attr.{name}" for name in instrument.attributes if name not in asked}
    if not comments_enabled and instrument.question("comment") is not None:
        drop.add("comment")
    if drop:
        instrument = _without(instrument, drop)
    options = {k: list(v) for k, v in attribute_options if k in asked}
    return instrument.with_attribute_options(options)


def _without(instrument: Instrument, keys: set[str]) -> Instrument:
    pages = []
    for page in instrument.pages:
        sections = []
        for section in page.sections:
            items: list[Item] = []
            for item in section.items:
                if isinstance(item, Group):
                    kept = tuple(q for q in item.questions if q.key not in keys)
                    if kept:
                        items.append(replace(item, questions=kept))
                elif item.key not in keys:
                    items.append(item)
            if items:
                sections.append(replace(section, items=tuple(items)))
        pages.append(replace(page, sections=tuple(sections)))
    return replace(instrument, pages=tuple(pages))


def _scoped(
    session: Session, principal: Principal, campaign_id: int, *, lock: bool = False
) -> dict[str, Any]:
    campaign = repo.get_campaign(session, campaign_id, lock=lock)
    if campaign is None or not principal.can_see_organisation(campaign["organisation_id"]):
        # Same answer whether it exists or not: ids of other organisations are not revealed.
        raise CampaignNotFound(campaign_id)
    return campaign


def visible_campaign(
    session: Session, principal: Principal, campaign_id: int, *, lock: bool = False
) -> dict[str, Any]:
    """The campaign if the principal may see it (else 404, the same whether it exists or
    not); for the other domain packages of this service."""
    return _scoped(session, principal, campaign_id, lock=lock)


def present(
    campaign: dict[str, Any], recipients: int, mail: dict[str, Any] | None = None
) -> dict[str, Any]:
    return campaign | {
        "opens_at": clock.opens_at(campaign["opens_on"]),
        "closes_at": clock.closes_at(campaign["closes_on"]),
        "anonymity_locked": campaign["first_sent_at"] is not None,
        "recipients": recipients,
        "mail_failed_count": mail["count"] if mail else 0,
        "mail_problem": mail["latest"] if mail else None,
    }


def _presented(session: Session, campaign: dict[str, Any]) -> dict[str, Any]:
    campaign_id = campaign["id"]
    return present(
        campaign,
        repo.recipient_counts(session, [campaign_id]).get(campaign_id, 0),
        repo.mail_failures(session, [campaign_id]).get(campaign_id),
    )


def _check_options(kind: str, options: dict[str, list[str]], attributes: list[str]) -> None:
    instrument = load_instrument(kind)
    errors = []
    for name, values in options.items():
        if name not in instrument.attributes:
            errors.append(
                {
                    "field": f"attribute_options.{name}",
                    "message": f"{kind} does not ask about {name}",
                }
            )
            continue
        cleaned = [v.strip() for v in values if v.strip()]
        if not cleaned or len(cleaned) > 200 or any(len(v) > 100 for v in cleaned):
            errors.append(
                {
                    "field": f"attribute_options.{name}",
                    "message": "give 1 to 200 options of up to 100 characters",
                }
            )
        elif len({v.casefold() for v in cleaned}) != len(cleaned):
            errors.append(
                {"field": f"attribute_options.{name}", "message": "the list repeats an option"}
            )
    for name in attributes:
        if name not in instrument.attributes:
            errors.append(
                {"field": "breakdown_attributes", "message": f"{kind} does not ask about {name}"}
            )
    if errors:
        raise InvalidCampaign(
            "Fix the attribute settings: " + "; ".join(e["message"] for e in errors) + ".",
            errors=errors,
        )


def create(
    session: Session, settings: Settings, principal: Principal, data: CampaignCreate
) -> dict[str, Any]:
    principal.require_organisation(data.organisation_id)
    if not repo.organisation_exists(session, data.organisation_id):
        raise InvalidCampaign(
            f"There is no organisation {data.organisation_id}.",
            errors=[{"field": "organisation_id", "message": "no such organisation"}],
        )
    opens_on = data.opens_on or clock.london_today()
    closes_on = data.closes_on or clock.default_closes_on(opens_on)
    if closes_on < opens_on:
        raise InvalidCampaign(
            "The closing date is before the opening date.",
            errors=[{"field": "closes_on", "message": "must be on or after opens_on"}],
        )
    if clock.closes_at(closes_on) <= clock.now_utc():
        raise InvalidCampaign(
            "The closing date has already passed (Europe/London).",
            errors=[{"field": "closes_on", "message": "must be today or later"}],
        )
    instrument = load_instrument(data.kind)
    attributes: list[str] = (
        list(instrument.attributes)
        if data.breakdown_attributes is None
        else [str(a) for a in dict.fromkeys(data.breakdown_attributes)]
    )
    options: dict[str, list[str]] = {
        k: [v.strip() for v in vs if v.strip()] for k, vs in data.attribute_options.items()
    }
    _check_options(data.kind, options, attributes)
    threshold = data.suppression_threshold or settings.survey_breakdown_threshold
    if threshold < settings.survey_breakdown_threshold:
        raise InvalidCampaign(
            f"The suppression threshold cannot be below {settings.survey_breakdown_threshold}.",
            errors=[
                {
                    "field": "suppression_threshold",
                    "message": f"at least {settings.survey_breakdown_threshold}",
                }
            ],
        )
    campaign = repo.insert_campaign(
        session,
        {
            "organisation_id": data.organisation_id,
            "cycle_id": data.cycle_id,
            "kind": data.kind,
            "title": data.title or instrument.title,
            "opens_on": opens_on,
            "closes_on": closes_on,
            "users_in_scope": data.users_in_scope,
            "reminder_count": data.reminder_count,
            "reminder_interval_days": data.reminder_interval_days,
            "retention_days": data.retention_days,
            "attribute_options": options,
            "breakdown_attributes": attributes,
            "comments_enabled": data.comments_enabled,
            "suppression_threshold": threshold,
            "created_by": principal.subject,
        },
    )
    return present(campaign, 0)


def get(session: Session, principal: Principal, campaign_id: int) -> dict[str, Any]:
    return _presented(session, _scoped(session, principal, campaign_id))


def listing(
    session: Session, principal: Principal, organisation_id: int | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    only = None if principal.is_admin else principal.organisations
    rows, total = repo.list_campaigns(session, only, organisation_id, limit, offset)
    ids = [r["id"] for r in rows]
    counts, mail = repo.recipient_counts(session, ids), repo.mail_failures(session, ids)
    return [present(r, counts.get(r["id"], 0), mail.get(r["id"])) for r in rows], total


def _loosens(current: dict[str, Any], changes: dict[str, Any]) -> list[str]:
    loosened = []
    if "breakdown_attributes" in changes and set(changes["breakdown_attributes"]) - set(
        current["breakdown_attributes"]
    ):
        loosened.append("breakdown_attributes: cannot ask about more attributes")
    if "attribute_options" in changes:
        for name, values in changes["attribute_options"].items():
            if values != current["attribute_options"].get(name):
                loosened.append(f"attribute_options.{name}: option lists cannot change")
    if changes.get("comments_enabled") and not current["comments_enabled"]:
        loosened.append("comments_enabled: comments cannot be switched on")
    if (
        changes.get("suppression_threshold", current["suppression_threshold"])
        < current["suppression_threshold"]
    ):
        loosened.append("suppression_threshold: cannot be lowered")
    return loosened


def update(
    session: Session,
    settings: Settings,
    principal: Principal,
    campaign_id: int,
    data: CampaignUpdate,
) -> dict[str, Any]:
    current = _scoped(session, principal, campaign_id, lock=True)
    if current["status"] == "closed":
        raise CampaignClosed("The campaign has closed; it can no longer be changed.")
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if "attribute_options" in changes:
        changes["attribute_options"] = {
            k: [v.strip() for v in vs if v.strip()]
            for k, vs in changes["attribute_options"].items()
        }
    if "breakdown_attributes" in changes:
        changes["breakdown_attributes"] = list(dict.fromkeys(changes["breakdown_attributes"]))
    _check_options(
        current["kind"],
        changes.get("attribute_options", {}),
        changes.get("breakdown_attributes", []),
    )
    if (
        changes.get("suppression_threshold", settings.survey_breakdown_threshold)
        < settings.survey_breakdown_threshold
    ):
        raise InvalidCampaign(
            f"The suppression threshold cannot be below {settings.survey_breakdown_threshold}.",
            errors=[
                {
                    "field": "suppression_threshold",
                    "message": f"at least {settings.survey_breakdown_threshold}",
                }
            ],
        )
    if current["first_sent_at"] is not None:
        loosened = _loosens(current, changes)
        if loosened:
            raise AnonymityLocked(
                "Invitations have been sent, so the anonymity settings can only be tightened: "
                + "; ".join(loosened)
                + ".",
                errors=[
                    {"field": m.split(":")[0], "message": m.split(": ", 1)[1]} for m in loosened
                ],
            )
        if "opens_on" in changes and changes["opens_on"] != current["opens_on"]:
            raise AnonymityLocked(
                "Invitations have been sent, so the opening date cannot change.",
                errors=[{"field": "opens_on", "message": "locked after the first invitation"}],
            )
    if "attribute_options" in changes:
        changes["attribute_options"] = current["attribute_options"] | changes["attribute_options"]
    opens_on = changes.get("opens_on", current["opens_on"])
    closes_on = changes.get("closes_on", current["closes_on"])
    if closes_on < opens_on:
        raise InvalidCampaign(
            "The closing date is before the opening date.",
            errors=[{"field": "closes_on", "message": "must be on or after opens_on"}],
        )
    if "closes_on" in changes and clock.closes_at(closes_on) <= clock.now_utc():
        raise InvalidCampaign(
            "The closing date has already passed (Europe/London).",
            errors=[{"field": "closes_on", "message": "must be today or later"}],
        )
    updated = repo.update_campaign(session, campaign_id, changes) if changes else current
    return _presented(session, updated)


def upload_recipients(
    session: Session,
    settings: Settings,
    principal: Principal,
    campaign_id: int,
    data: bytes,
    content_type: str,
) -> RecipientUploadResult:
    campaign = _scoped(session, principal, campaign_id, lock=True)
    if campaign["status"] == "closed":
        raise CampaignClosed("The campaign has closed; recipients can no longer be added.")
    if len(data) > MAX_UPLOAD_BYTES:
        raise InvalidRecipients(
            f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB; split it.",
            errors=[{"field": "body", "message": "file too large", "row": 0}],
        )
    fmt: Literal["csv", "json"] | None = (
        "json" if "json" in content_type else "csv" if "csv" in content_type else None
    )
    options = {k: v for k, v in campaign["attribute_options"].items() if k in ("location", "role")}
    parsed = parse_recipients(data, format=fmt, attribute_options=options)
    # Warnings (unknown columns: dropped, never stored) are reported; any error stops it all.
    errors = parsed.errors
    if errors:
        raise InvalidRecipients(
            f"{len(errors)} row(s) of the upload could not be used; nothing was stored. "
            "Fix the rows listed and upload the file again.",
            errors=[
                {"field": f"row {e.row}", "row": e.row, "code": e.code, "message": e.message}
                for e in errors
            ],
            invalid=len(errors),
        )
    if not parsed.recipients:
        raise InvalidRecipients(
            "The upload has no recipients.",
            errors=[{"field": "body", "row": 0, "message": "no rows"}],
        )
    hash_key, enc_key = settings.survey_hash_key_bytes(), settings.survey_encryption_key_bytes()
    context = _context(campaign_id)
    rows = [
        {
            "campaign_id": campaign_id,
            "address_hash": address_hash(r.email, hash_key),
            "address_encrypted": encrypt_address(r.email, enc_key, context=context),
            "location": r.location,
            "role": r.role,
        }
        for r in parsed.recipients
    ]
    new = sum(repo.add_invitations(session, rows[i : i + 1000]) for i in range(0, len(rows), 1000))
    total = repo.recipient_counts(session, [campaign_id]).get(campaign_id, 0)
    row_count = len(parsed.recipients) + len(parsed.duplicates)
    return RecipientUploadResult(
        rows=row_count,
        new=new,
        merged=row_count - new,
        invalid=0,
        duplicates=[DuplicateRow(row=d.row, first_row=d.first_row) for d in parsed.duplicates],
        warnings=[RowProblem(row=w.row, code=w.code, message=w.message) for w in parsed.warnings],
        recipients=total,
    )


def _context(campaign_id: int) -> bytes:
    return f"campaign:{campaign_id}".encode()


def send(
    session: Session, principal: Principal, campaign_id: int, now: datetime | None = None
) -> SendResult:
    campaign = _scoped(session, principal, campaign_id, lock=True)
    now = now or clock.now_utc()
    if campaign["status"] == "closed" or now >= clock.closes_at(campaign["closes_on"]):
        raise CampaignClosed("The campaign has closed; no invitations can be sent.")
    if now < clock.opens_at(campaign["opens_on"]):
        raise CampaignNotOpen(
            f"The campaign opens on {campaign['opens_on'].isoformat()} (Europe/London); "
            "invitations can be sent from then."
        )
    ids = repo.queue_invitations(session, campaign_id)
    repo.enqueue_mails(session, ids, "invitation")
    values: dict[str, Any] = {"status": "live"}
    if campaign["first_sent_at"] is None and ids:
        values["first_sent_at"] = now
    if campaign["first_sent_at"] is None and not ids:
        values = {}
    if values:
        campaign = repo.update_campaign(session, campaign_id, values)
    return SendResult(queued=len(ids), status=campaign["status"])


def close(
    session: Session, principal: Principal, campaign_id: int, now: datetime | None = None
) -> dict[str, Any]:
    """Close a campaign now, before its closing date; closing a closed campaign changes
    nothing (idempotent: no second event, ``closed_at`` kept)."""
    campaign = _scoped(session, principal, campaign_id, lock=True)
    if campaign["status"] != "closed":
        close_and_announce(session, [campaign_id], now or clock.now_utc())
    return get(session, principal, campaign_id)


def close_and_announce(session: Session, campaign_ids: list[int], now: datetime) -> None:
    """Mark campaigns closed and tell the metrics service through the outbox (it computes
    the results): the same for the close job and a manual close."""
    repo.close_campaigns(session, campaign_ids, now)
    for campaign_id in campaign_ids:
        enqueue_event(session, survey_outbox, SurveyCampaignClosed(campaign_id=campaign_id))


def report_bounces(
    session: Session, settings: Settings, principal: Principal, campaign_id: int, body: BounceReport
) -> BounceResult:
    _scoped(session, principal, campaign_id, lock=True)
    key = settings.survey_hash_key_bytes()
    hashes, invalid = [], 0
    for raw in body.addresses:
        try:
            hashes.append(address_hash(normalise_address(raw), key))
        except InvalidAddressError:
            invalid += 1
    unique = list(dict.fromkeys(hashes))
    column = "bounced" if body.kind == "bounce" else "opted_out"
    matched = repo.mark_by_hash(session, campaign_id, unique, column, clock.now_utc())
    return BounceResult(matched=matched, unmatched=len(unique) - matched, invalid=invalid)
