"""Every event one service sends another through an outbox: its type name, its receiver
and the shape of its payload, declared once here and used by sender and receiver alike.

A sender builds the payload model and queues it with :func:`shared.outbox.enqueue_event`
(type, target and path come from the model); a receiver reads it with :func:`read_event`,
which refuses an unknown type (422 ``unknown_event``) or a payload that does not fit its
model (422 ``validation_error`` naming each ``payload.<field>``), before anything is
recorded. Receivers ignore fields they do not know, so a sender may add one first.

Who receives what (the handlers): metrics, ``services/metrics/events/service.py``
(``HANDLERS``); ingest, its ticket-import processing endpoint; survey, its mail step
(``services/survey/mail/service.py``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from shared.errors import Unprocessable

Receiver = Literal["ingest", "metrics", "survey"]
METRICS_EVENTS_PATH = "/internal/events"
SURVEY_MAIL_PATH = "/internal/mail"


class EventType(StrEnum):
    # ingest → metrics
    BENCHMARK_INPUTS_CHANGED = "benchmark.inputs_changed"
    CYCLE_STATUS_CHANGED = "cycle.status_changed"
    TICKETS_IMPORTED = "tickets.imported"
    SLA_RECOMPUTE = "sla.recompute"
    # survey → metrics
    SURVEY_CAMPAIGN_CLOSED = "survey.campaign_closed"
    # ingest → ingest (a pushed ticket file is processed outside the request)
    TICKET_IMPORT_RECEIVED = "ticket_import.received"
    # ingest → ingest (validation monitoring found new violations: notify the reviewers)
    VALIDATION_VIOLATIONS_FOUND = "validation.violations_found"
    # survey → survey (mail is sent outside the request that asks for it)
    SURVEY_MAIL_INVITATION = "survey.mail.invitation"
    SURVEY_MAIL_REMINDER = "survey.mail.reminder"
    SURVEY_MAIL_FAILED = "survey.mail.failed"
    # Never sent: the survey inbox's record that a mail-problem notice went out.
    SURVEY_MAIL_NOTICE = "survey.mail.notice"


class EventPayload(BaseModel):
    """One event's payload; the class says which event it is and where it goes."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    event_type: ClassVar[EventType]
    target: ClassVar[Receiver]
    # Formatted with the payload's fields (e.g. ``{import_id}``).
    path_template: ClassVar[str] = METRICS_EVENTS_PATH

    def path(self) -> str:
        return self.path_template.format(**self.model_dump())


# ----------------------------------------------------------------- received by metrics


class BenchmarkInputsChanged(EventPayload):
    """Accepted answers changed (a submission accepted or reopened, an import completed):
    recompute these cycles' figures and every later cycle's ``past`` figures."""

    event_type = EventType.BENCHMARK_INPUTS_CHANGED
    target = "metrics"
    cycle_years: list[int] = Field(description="Cycles whose accepted answers changed")
    reason: str = Field(default="benchmark.inputs_changed", max_length=200)
    submission_id: int | None = None
    import_id: int | None = None


class CycleStatusChanged(EventPayload):
    event_type = EventType.CYCLE_STATUS_CHANGED
    target = "metrics"
    cycle_id: int
    status: str = Field(max_length=40)
    year: int | None = None


Month = Annotated[str, Field(pattern=r"^\d{4}-(0[1-9]|1[0-2])$")]


class ImportedMonths(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    organisation_id: int
    months: list[Month] = Field(description="Local months logged (YYYY-MM) the import touched")


class TicketsImported(EventPayload):
    """A ticket import finished: recompute SLA outcomes of the months it touched."""

    event_type = EventType.TICKETS_IMPORTED
    target = "metrics"
    import_id: int | None = None
    organisations: list[ImportedMonths]

    def months(self) -> dict[int, list[str]]:
        return {o.organisation_id: list(o.months) for o in self.organisations}


class SlaRecompute(EventPayload):
    """An organisation's SLA inputs changed (policy, calendar, intervals): recompute all
    its outcomes."""

    event_type = EventType.SLA_RECOMPUTE
    target = "metrics"
    organisation_id: int
    reason: str = Field(default="", max_length=200)


class SurveyCampaignClosed(EventPayload):
    event_type = EventType.SURVEY_CAMPAIGN_CLOSED
    target = "metrics"
    campaign_id: int


# ------------------------------------------------------------------ received by ingest


class TicketImportReceived(EventPayload):
    event_type = EventType.TICKET_IMPORT_RECEIVED
    target = "ingest"
    path_template = "/internal/ticket-imports/{import_id}/process"
    import_id: int
    resumed: bool = False


class ValidationViolationsFound(EventPayload):
    """A validation monitoring run found violations not seen before: tell the reviewers
    (a mail where one is configured; the run records that it went)."""

    event_type = EventType.VALIDATION_VIOLATIONS_FOUND
    target = "ingest"
    path_template = "/internal/validation-runs/{run_id}/notify"
    run_id: int
    cycle_year: int
    new_violations: int


# ------------------------------------------------------------------ received by survey


class InvitationMail(EventPayload):
    event_type = EventType.SURVEY_MAIL_INVITATION
    target = "survey"
    path_template = SURVEY_MAIL_PATH
    invitation_id: int
    kind: Literal["invitation"] = "invitation"


class ReminderMail(EventPayload):
    event_type = EventType.SURVEY_MAIL_REMINDER
    target = "survey"
    path_template = SURVEY_MAIL_PATH
    invitation_id: int
    kind: Literal["reminder"] = "reminder"


class MailFailed(EventPayload):
    """A message that could not be built: the durable record, and the campaign contact's
    notice (once per campaign and reason)."""

    event_type = EventType.SURVEY_MAIL_FAILED
    target = "survey"
    path_template = SURVEY_MAIL_PATH
    campaign_id: int
    reason_code: str = Field(max_length=40)
    invitation_id: int | None = None
    kind: str = Field(default="invitation", max_length=20)
    reason: str = ""


PAYLOADS: dict[EventType, type[EventPayload]] = {
    model.event_type: model
    for model in (
        BenchmarkInputsChanged,
        CycleStatusChanged,
        TicketsImported,
        SlaRecompute,
        SurveyCampaignClosed,
        TicketImportReceived,
        ValidationViolationsFound,
        InvitationMail,
        ReminderMail,
        MailFailed,
    )
}
MAIL_REQUESTS: dict[str, type[InvitationMail | ReminderMail]] = {
    "invitation": InvitationMail,
    "reminder": ReminderMail,
}


def _field(loc: tuple[int | str, ...]) -> str:
    return ".".join(["payload", *(str(p) for p in loc)])


def read_event(
    event_type: str, payload: Mapping[str, Any], accepted: Collection[EventType]
) -> EventPayload:
    """The payload as its declared model, if ``event_type`` is one the caller accepts.

    Raises :class:`~shared.errors.Unprocessable` (422): ``unknown_event`` for a type the
    receiver does not handle, ``validation_error`` naming each bad ``payload.<field>``.
    """
    if event_type not in accepted:
        known = ", ".join(sorted(accepted))
        raise Unprocessable(
            f"Unknown event type {event_type!r}; known: {known}.", code="unknown_event"
        )
    model = PAYLOADS[EventType(event_type)]
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        errors = [{"field": _field(e["loc"]), "message": e["msg"]} for e in exc.errors()]
        fields = ", ".join(sorted({e["field"] for e in errors}))
        raise Unprocessable(
            f"The {event_type} payload does not fit its declared shape; fix: {fields}.",
            errors=errors,
        ) from None
