"""Events delivered by other services' outboxes, applied exactly once in effect.

``HANDLERS`` is the one list of every event the metrics service accepts, with the family
service function that handles it; the payload shapes are declared in ``shared/events.py``
and checked on receipt (a bad one is refused with 422 before anything is recorded).

An ordinary handler runs in the same transaction as the inbox record and the event is
answered 200. A *job* handler (long work: SLA and benchmark recomputes) runs after: the
inbox record and a durable job row are written together and the event is answered 202,
and the work runs in the metrics process's job runner (services.metrics.runs.jobs) with
retries. Either way a repeated event finds its inbox record and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from services.metrics.benchmark import service as benchmark
from services.metrics.runs import repository as runs
from services.metrics.runs.jobs import JobHandler
from services.metrics.sla import service as sla
from services.metrics.surveys import service as surveys
from shared.db.tables.metrics import metrics_inbox
from shared.events import PAYLOADS, EventType, read_event
from shared.outbox import receive_once
from shared.settings import Settings

# (session, the payload as its shared.events model, settings) → the computation run, if any
Handler = Callable[[Session, Any, Settings], int | None]


@dataclass(frozen=True)
class Handled:
    run: Handler
    # Long work: acknowledged at once (202) and run by the job runner.
    job: bool = False


HANDLERS: dict[EventType, Handled] = {
    EventType.CYCLE_STATUS_CHANGED: Handled(benchmark.on_cycle_status_changed),
    EventType.BENCHMARK_INPUTS_CHANGED: Handled(benchmark.on_inputs_changed, job=True),
    EventType.SURVEY_CAMPAIGN_CLOSED: Handled(surveys.on_campaign_closed),
    EventType.TICKETS_IMPORTED: Handled(sla.on_tickets_imported, job=True),
    EventType.SLA_RECOMPUTE: Handled(sla.on_recompute_requested, job=True),
}


def _job(event_type: EventType, handled: Handled) -> JobHandler:
    def run(session: Session, payload: dict[str, Any], settings: Settings) -> int | None:
        # Stored payloads were checked on receipt; reading them again gives the model.
        return handled.run(session, PAYLOADS[event_type].model_validate(payload), settings)

    return run


def job_handlers() -> dict[str, JobHandler]:
    """The handlers the job runner may run, by event type."""
    return {str(t): _job(t, h) for t, h in HANDLERS.items() if h.job}


@dataclass(frozen=True)
class Receipt:
    handled: bool
    job_id: int | None = None


def receive(
    session: Session,
    settings: Settings,
    event_key: str,
    event_type: str,
    payload: dict[str, Any],
) -> Receipt:
    event = read_event(event_type, payload, HANDLERS)
    handled = HANDLERS[event.event_type]
    if not receive_once(session, metrics_inbox, event_key, event_type):
        return Receipt(handled=False)
    if handled.job:
        return Receipt(
            handled=True, job_id=runs.insert_job(session, event_key, event_type, payload)
        )
    handled.run(session, event, settings)
    return Receipt(handled=True)
