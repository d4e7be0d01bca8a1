"""Post-interaction feedback: ratings sent on their own rather than inside a ticket export.

Every item of a batch is checked before anything is stored, so a batch lands whole or
not at all, and each refusal names the item (``ratings.<index>.<field>``).
"""

from __future__ import annotations

from datetime import UTC
from typing import Any

from sqlalchemy.orm import Session

from services.ingest.feedback import repository as repo
from services.ingest.feedback.exceptions import UnknownOrganisations
from services.ingest.feedback.schemas import FeedbackBatch
from shared.auth import Principal
from shared.errors import Forbidden


def store(session: Session, principal: Principal, body: FeedbackBatch) -> dict[str, Any]:
    forbidden = [
        {
            "field": f"ratings.{n}.organisation_id",
            "message": f"organisation {r.organisation_id} is outside your credentials",
        }
        for n, r in enumerate(body.ratings)
        if not principal.can_see_organisation(r.organisation_id)
    ]
    if forbidden:
        raise Forbidden(
            "Some ratings name organisations your credentials do not cover; nothing was stored.",
            errors=forbidden[:100],
        )
    wanted = {r.organisation_id for r in body.ratings}
    known = repo.existing_organisations(session, wanted)
    unknown = [
        {
            "field": f"ratings.{n}.organisation_id",
            "message": f"there is no organisation {r.organisation_id}",
        }
        for n, r in enumerate(body.ratings)
        if r.organisation_id not in known
    ]
    if unknown:
        raise UnknownOrganisations(
            "Some ratings name organisations that do not exist; nothing was stored.",
            errors=unknown[:100],
        )
    repo.insert_ratings(
        session,
        [{**r.model_dump(), "created_by": principal.subject} for r in body.ratings],
    )
    received = [r.received_at.astimezone(UTC) for r in body.ratings]
    return {
        "stored": len(body.ratings),
        "organisations": sorted(wanted),
        "first_received_at": min(received),
        "last_received_at": max(received),
    }
