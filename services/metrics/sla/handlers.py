"""Outbox events that recompute SLA outcomes (registered on import of this module)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from services.metrics.events.service import handler
from services.metrics.runs import repository as runs
from services.metrics.sla import service
from shared.settings import Settings


@handler("tickets.imported")
def _tickets_imported(session: Session, payload: dict[str, Any], _settings: Settings) -> None:
    months = {int(o["organisation_id"]): list(o["months"]) for o in payload["organisations"]}
    n = service.recompute(session, months=months, as_of=datetime.now(UTC))
    runs.record(
        session,
        kind="sla_outcomes",
        scope={"import_id": payload.get("import_id"), "organisations": sorted(months)},
        trigger="tickets.imported",
        detail={"tickets": n, "months": {str(k): v for k, v in months.items()}},
    )


@handler("sla.recompute")
def _sla_recompute(session: Session, payload: dict[str, Any], _settings: Settings) -> None:
    org = int(payload["organisation_id"])
    n = service.recompute(session, organisation_ids=[org], as_of=datetime.now(UTC))
    runs.record(
        session,
        kind="sla_outcomes",
        scope={"organisations": [org]},
        trigger=f"sla.recompute:{payload.get('reason', '')}",
        detail={"tickets": n},
    )
