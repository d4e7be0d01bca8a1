"""Events delivered by other services' outboxes, applied exactly once in effect.

Handlers register by event type. An ordinary handler runs in the same transaction as the
inbox record and the event is answered 200. A *job* handler (long work: SLA and benchmark
recomputes) only has its payload checked there; the inbox record and a durable job row
are written together and the event is answered 202, and the work runs in the metrics
process's job runner (services.metrics.runs.jobs) with retries. Either way a repeated
event finds its inbox record and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from services.metrics.benchmark.recompute import recompute
from services.metrics.runs import repository as runs
from services.metrics.runs.jobs import JobHandler
from services.metrics.survey_results import service as survey_results
from shared.db.tables.metrics import metrics_inbox
from shared.errors import Unprocessable
from shared.outbox import receive_once
from shared.settings import Settings

Handler = Callable[[Session, dict[str, Any], Settings], int | None]
PayloadCheck = Callable[[dict[str, Any]], object]


@dataclass(frozen=True)
class Registered:
    run: Handler
    # A job runs after the event is acknowledged; ``check`` refuses a bad payload first.
    job: bool = False
    check: PayloadCheck | None = None


HANDLERS: dict[str, Registered] = {}


def handler(
    event_type: str, *, job: bool = False, check: PayloadCheck | None = None
) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        HANDLERS[event_type] = Registered(fn, job, check)
        return fn

    return register


def job_handlers() -> dict[str, JobHandler]:
    """The handlers the job runner may run, by event type."""
    return {name: r.run for name, r in HANDLERS.items() if r.job}


@dataclass(frozen=True)
class Receipt:
    handled: bool
    job_id: int | None = None


@handler("cycle.status_changed")
def _cycle_status_changed(session: Session, payload: dict[str, Any], _settings: Settings) -> int:
    return runs.record(
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


def _cycle_years(payload: dict[str, Any]) -> list[int]:
    years = payload.get("cycle_years")
    if not isinstance(years, list) or not all(isinstance(y, int) for y in years):
        raise Unprocessable(
            "benchmark.inputs_changed needs cycle_years, a list of cycle years.",
            errors=[{"field": "payload.cycle_years", "message": "a list of integers"}],
        )
    return years


@handler("benchmark.inputs_changed", job=True, check=_cycle_years)
def _benchmark_inputs_changed(
    session: Session, payload: dict[str, Any], settings: Settings
) -> None:
    # recompute records its own computation run (the job's run_id stays empty).
    recompute(
        session,
        _cycle_years(payload),
        min_n=settings.disclosure_min_n,
        trigger=str(payload.get("reason", "benchmark.inputs_changed")),
    )


def receive(
    session: Session,
    settings: Settings,
    event_key: str,
    event_type: str,
    payload: dict[str, Any],
) -> Receipt:
    registered = HANDLERS.get(event_type)
    if registered is None:
        raise Unprocessable(
            f"Unknown event type {event_type!r}; known: {', '.join(sorted(HANDLERS))}.",
            code="unknown_event",
        )
    if registered.check is not None:
        registered.check(payload)
    if not receive_once(session, metrics_inbox, event_key, event_type):
        return Receipt(handled=False)
    if registered.job:
        return Receipt(
            handled=True, job_id=runs.insert_job(session, event_key, event_type, payload)
        )
    registered.run(session, payload, settings)
    return Receipt(handled=True)
