"""Named views: during a results workshop its consenting members see each other by name.

The one rule, :func:`named_view`: a results request shows names when its principal is
staff of an organisation (a participant explicitly scoped to it, asking as it) that
consented in a workshop of the requested cycle whose window holds ``now``. It then shows
the name of every organisation that consented in those workshops, beside its code in that
cycle; every other organisation stays a code. Nobody else gets names: not a member that
declined or never answered, not a non-member, not an admin (who sees names through the
ingest API, not as a waiver of the group's anonymity), not a read-only API key (a BI
extract would keep names past the session). Outside the window everything is codes again.

The workshop tables are ingest's (read here read-only); consent cannot change once a
workshop starts, so the stored state is the whole truth for the request. Every named view
is recorded (:func:`record`) in the transaction of the request it answers.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from services.metrics.workshops import repository as repo
from services.metrics.workshops.repository import Window
from shared.auth import Principal
from shared.errors import NotFound

NAMED_ROLE = "participant"


@dataclass(frozen=True)
class NamedView:
    """Names a request may show: organisation id -> name, for codes of cycle ``year``."""

    year: int
    windows: tuple[Window, ...]
    names: dict[int, str] = field(default_factory=dict)

    @property
    def workshop_ids(self) -> list[int]:
        return sorted({w.workshop_id for w in self.windows})

    def name_of(self, year: int, organisation_id: int) -> str | None:
        """The name to show beside ``organisation_id``'s code of cycle ``year``, if any
        (a code of another cycle, in a past peer group, stays a bare code)."""
        return self.names.get(organisation_id) if year == self.year else None


def open_windows(
    principal: Principal,
    viewer_orgs: Collection[int],
    year: int,
    windows: Collection[Window],
    now: datetime,
) -> tuple[Window, ...]:
    """The windows under which ``principal``, asking as ``viewer_orgs``, may see names at
    ``now`` (none: codes only). ``windows`` are the consented workshops of those
    organisations (``repository.windows`` or the results snapshot); pure, no I/O."""
    if NAMED_ROLE not in principal.roles:
        return ()
    mine = principal.organisations & set(viewer_orgs)
    return tuple(
        w
        for w in windows
        if w.organisation_id in mine and w.cycle_year == year and w.starts_at <= now < w.ends_at
    )


def named_view(
    session: Session,
    principal: Principal,
    viewer_orgs: Collection[int],
    year: int,
    windows: Collection[Window],
    now: datetime,
) -> NamedView | None:
    """Which organisations ``principal`` may see by name right now (None: codes only)."""
    found = open_windows(principal, viewer_orgs, year, windows, now)
    if not found:
        return None
    return NamedView(year, found, repo.consenting_members(session, {w.workshop_id for w in found}))


def record(
    session: Session, view: NamedView, principal: Principal, resource: str, now: datetime
) -> None:
    """One audit row per workshop the view was shown under: who, as which member, what,
    whose names and when."""
    viewer: dict[int, int] = {}
    for w in view.windows:
        viewer[w.workshop_id] = min(w.organisation_id, viewer.get(w.workshop_id, w.organisation_id))
    repo.record_views(
        session,
        [
            {
                "workshop_id": workshop_id,
                "subject": principal.subject,
                "organisation_id": organisation_id,
                "resource": resource,
                "named_organisations": sorted(view.names),
                "viewed_at": now,
            }
            for workshop_id, organisation_id in sorted(viewer.items())
        ],
    )


def trail(session: Session, workshop_id: int | None) -> list[dict[str, Any]]:
    """Every named view recorded (under ``workshop_id``, when given), oldest first."""
    rows = repo.views(session, workshop_id)
    if workshop_id is not None and not rows and not repo.workshop_exists(session, workshop_id):
        raise NotFound(f"There is no workshop {workshop_id}.", code="workshop_not_found")
    return rows
