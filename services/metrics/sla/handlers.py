"""Outbox events that recompute SLA outcomes: jobs (acknowledged at once, run by the job
runner), registered on import of this module."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from services.metrics.events.service import handler
from services.metrics.runs import repository as runs
from services.metrics.sla import service
from shared.errors import Unprocessable
from shared.settings import Settings


def _months(payload: dict[str, Any]) -> dict[int, list[str]]:
    """tickets.imported's ``organisations`` as organisation → months touched."""
    try:
        return {int(o["organisation_id"]): list(o["months"]) for o in payload["organisations"]}
    except (KeyError, TypeError, ValueError) as exc:
        raise Unprocessable(
            "tickets.imported needs organisations: [{organisation_id, months}].",
            errors=[{"field": "payload.organisations", "message": str(exc) or type(exc).__name__}],
        ) from exc


def _organisation(payload: dict[str, Any]) -> int:
    try:
        return int(payload["organisation_id"])
    except (KeyError, TypeError, ValueError) as exc:
        raise Unprocessable(
            "sla.recompute needs an integer organisation_id.",
            errors=[{"field": "payload.organisation_id", "message": "an integer"}],
        ) from exc


@handler("tickets.imported", job=True, check=_months)
def _tickets_imported(session: Session, payload: dict[str, Any], _settings: Settings) -> int:
    months = _months(payload)
    n = service.recompute(session, months=months, as_of=datetime.now(UTC))
    return runs.record(
        session,
        kind="sla_outcomes",
        scope={"import_id": payload.get("import_id"), "organisations": sorted(months)},
        trigger="tickets.imported",
        detail={"tickets": n, "months": {str(k): v for k, v in months.items()}},
    )


@handler("sla.recompute", job=True, check=_organisation)
def _sla_recompute(session: Session, payload: dict[str, Any], _settings: Settings) -> int:
    org = _organisation(payload)
    n = service.recompute(session, organisation_ids=[org], as_of=datetime.now(UTC))
    return runs.record(
        session,
        kind="sla_outcomes",
        scope={"organisations": [org]},
        trigger=f"sla.recompute:{payload.get('reason', '')}",
        detail={"tickets": n},
    )
