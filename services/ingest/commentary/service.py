"""The service's commentary for a period: a summary per section of the pack and a comment
on each measure that misses its target, kept with the financial year and period so an
issued pack's words stay its own."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from services.ingest.commentary import repository as repo
from services.ingest.commentary.exceptions import CommentNotFound
from services.ingest.commentary.schemas import CommentaryIn
from services.ingest.organisations.service import governance_access
from shared.auth import Principal
from shared.sheets import reject, row_error


def put(
    session: Session,
    principal: Principal,
    service_id: int,
    financial_year: int,
    period: int,
    body: CommentaryIn,
) -> list[dict[str, Any]]:
    """Create or replace each entry (others of the period stay); the period's commentary."""
    governance_access(session, principal, service_id, write=True)
    seen: dict[tuple[str, str], int] = {}
    errors = []
    for i, entry in enumerate(body.entries):
        key = (entry.section, entry.measure)
        if key in seen:
            errors.append(
                row_error(
                    i + 1,
                    "measure",
                    f"{entry.section} {entry.measure or 'summary'} is also entries.{seen[key]}",
                    "duplicate_entry",
                    field=f"entries.{i}.measure",
                )
            )
        seen.setdefault(key, i)
    if errors:
        raise reject("commentary", errors, len(body.entries))
    repo.upsert(
        session,
        [
            {
                "service_id": service_id,
                "financial_year": financial_year,
                "period": period,
                **entry.model_dump(),
                "author": principal.subject,
            }
            for entry in body.entries
        ],
    )
    return repo.listing(session, service_id, financial_year, period, None)


def listing(
    session: Session,
    principal: Principal,
    service_id: int,
    financial_year: int,
    period: int,
    section: str | None,
) -> list[dict[str, Any]]:
    governance_access(session, principal, service_id, write=False)
    return repo.listing(session, service_id, financial_year, period, section)


def remove(
    session: Session,
    principal: Principal,
    service_id: int,
    financial_year: int,
    period: int,
    section: str,
    measure: str,
) -> None:
    governance_access(session, principal, service_id, write=True)
    if not repo.remove(session, service_id, financial_year, period, section, measure):
        raise CommentNotFound(
            f"Service {service_id} has no {section} {measure or 'summary'} comment for "
            f"{financial_year} P{period}."
        )
