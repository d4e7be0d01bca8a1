"""Events delivered by other services' outboxes, applied exactly once in effect.

Handlers register by event type; each runs in the same transaction as the inbox record.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from services.metrics.benchmark.recompute import recompute
from services.metrics.runs import repository as runs
from services.metrics.survey_results import service as survey_results
from shared.db.tables.metrics import metrics_inbox
from shared.errors import Unprocessable
from shared.outbox import receive_once
from shared.settings import Settings

Handler = Callable[[Session, dict[str, Any], Settings], None]
HANDLERS: dict[str, Handler] = {}


def handler(event_type: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[event_type] = fn
        return fn

    return register


@handler("cycle.status_changed")
def _cycle_status_changed(session: Session, payload: dict[str, Any], _settings: Settings) -> None:
    runs.record(
        session,
        kind="cycle_status",
        scope={"cycle_id": payload.get("cycle_id"), "status": payload.get("status")},
        trigger="cycle.status_changed",
    )


@handler("survey.campaign_closed")
def _survey_campaign_closed(session: Session, payload: dict[str, Any], _settings: Settings) -> None:
    campaign_id = payload.get("campaign_id")
    if not isinstance(campaign_id, int):
        raise Unprocessable("survey.campaign_closed needs an integer campaign_id.")
    survey_results.on_campaign_closed(session, campaign_id)


@handler("benchmark.inputs_changed")
def _benchmark_inputs_changed(
    session: Session, payload: dict[str, Any], settings: Settings
) -> None:
    years = payload.get("cycle_years")
    if not isinstance(years, list) or not all(isinstance(y, int) for y in years):
        raise Unprocessable(
            "benchmark.inputs_changed needs cycle_years, a list of cycle years.",
            errors=[{"field": "payload.cycle_years", "message": "a list of integers"}],
        )
    recompute(
        session,
        years,
        min_n=settings.disclosure_min_n,
        trigger=str(payload.get("reason", "benchmark.inputs_changed")),
    )


def receive(
    session: Session,
    settings: Settings,
    event_key: str,
    event_type: str,
    payload: dict[str, Any],
) -> bool:
    fn = HANDLERS.get(event_type)
    if fn is None:
        raise Unprocessable(
            f"Unknown event type {event_type!r}; known: {', '.join(sorted(HANDLERS))}.",
            code="unknown_event",
        )
    if not receive_once(session, metrics_inbox, event_key, event_type):
        return False
    fn(session, payload, settings)
    return True
