"""Validation monitoring and follow-up.

A scheduled job (the worker calls ``/internal/jobs/validation-monitoring`` every
``validation_monitoring_interval_seconds``) re-runs every cycle's cross-field rules and
outlier checks over its submitted and accepted submissions, but only for a cycle whose
fingerprint changed since its last run: the catalogue (questions, metrics, rules,
thresholds), the cycles' statuses (which cycle is the last published), the peer
references and metric values metrics published (their computation runs), and the cycle's
submissions. Each run records its violations (``validation_violations``: new ones
inserted, those still found refreshed, those no longer found resolved) and, when it found
any new, queues an outbox event whose delivery notifies the reviewers (a mail to
``reviewer_notice_to`` where that is set; the run records that it went).

Reviewers mark values for follow-up (a question or a metric of a submission, optionally
from a violation) and keep the list with its state: open → contacted → resolved or
dismissed (these two need a resolution).
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import smtplib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from services.ingest.checks import repository as checks_repo
from services.ingest.checks import service as checks
from services.ingest.checks.engine import Flag
from services.ingest.monitoring import mail
from services.ingest.monitoring import repository as repo
from services.ingest.submissions.repository import stored_value
from shared.auth import Principal
from shared.catalogue import Catalogue, available_cycles, load_catalogue
from shared.db.tables.ingest import ingest_outbox
from shared.errors import Forbidden, NotFound, ProblemError, Unprocessable
from shared.events import ValidationViolationsFound
from shared.outbox import enqueue_event
from shared.settings import Settings

log = logging.getLogger("yardstick.validation")


@functools.cache
def catalogue_digest(year: int) -> str:
    text = json.dumps(load_catalogue(year).to_dict(), sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def fingerprint(session: Session, year: int, cycles: Sequence[dict[str, Any]]) -> str:
    data = {
        "catalogue": catalogue_digest(year),
        "cycles": [(c["year"], c["status"]) for c in cycles],
        "references": checks_repo.references_version(session),
        "submissions": repo.submissions_version(session, year),
    }
    return hashlib.sha256(json.dumps(data, default=str).encode()).hexdigest()


# ------------------------------------------------------------------ checking a cycle


def _answers(session: Session, year: int) -> dict[int, dict[str, object]]:
    out: dict[int, dict[str, object]] = {}
    for row in repo.answers_of(session, year):
        out.setdefault(row["submission_id"], {})[row["question_key"]] = stored_value(row)
    return out


def _prepared(
    session: Session, year: int, catalogue: Catalogue
) -> list[tuple[dict[str, Any], dict[str, object], dict[str, object]]]:
    """(submission, its answers, its organisation's other modules' answers) of every
    submitted or accepted submission of the cycle."""
    subs = repo.submissions_of(session, year)
    answers = _answers(session, year)
    by_org: dict[int, list[dict[str, Any]]] = {}
    for sub in subs:
        by_org.setdefault(sub["organisation_id"], []).append(sub)
    out = []
    for sub in subs:
        if sub["state"] not in repo.CHECKED_STATES:
            continue
        own = answers.get(sub["id"], {})
        context: dict[str, object] = {}
        for other in by_org[sub["organisation_id"]]:
            if other["id"] != sub["id"]:
                context.update(
                    (k, v)
                    for k, v in answers.get(other["id"], {}).items()
                    if k in catalogue.questions
                )
        out.append((sub, own, context))
    return out


def outlier_flags(session: Session, year: int) -> list[tuple[int, Flag]]:
    """The outlier checks of every metric value of the cycle's submitted and accepted
    submissions (what ``bench/trust_bench.py`` times against the recompute)."""
    return checks.cycle_flags(session, year, load_catalogue(year))


def findings(session: Session, year: int, catalogue: Catalogue) -> list[dict[str, Any]]:
    prepared = _prepared(session, year, catalogue)
    found: list[dict[str, Any]] = []
    for sub, own, context in prepared:
        for issue in catalogue.validate_answers(sub["module"], own, context):
            if issue.code != "rule_violated":
                continue
            found.append(
                {
                    "submission_id": sub["id"],
                    "kind": "rule",
                    "key": issue.rule_key,
                    "severity": issue.severity,
                    "message": issue.message,
                    "question_keys": list(issue.question_keys),
                    "detail": {},
                }
            )
    for submission_id, flag in checks.cycle_flags(session, year, catalogue):
        metric = catalogue.metrics[flag.metric_key]
        found.append(
            {
                "submission_id": submission_id,
                "kind": "outlier",
                "key": f"{flag.metric_key}:{flag.check}",
                "severity": "warning",
                "message": flag.reason,
                "question_keys": list(metric.inputs),
                "detail": {
                    "metric_key": flag.metric_key,
                    "check": flag.check,
                    "value": flag.value,
                    **flag.detail,
                },
            }
        )
    return found


# ------------------------------------------------------------------ the job


def run(
    session: Session, trigger: str, now: datetime, *, force: bool = False
) -> list[dict[str, Any]]:
    """One pass over every cycle; returns a summary per cycle it re-ran."""
    repo.lock(session)
    cycles = repo.cycles(session)
    with_catalogue = set(available_cycles())
    out = []
    for cycle in cycles:
        year = cycle["year"]
        if year not in with_catalogue:
            continue
        print_ = fingerprint(session, year, cycles)
        last = repo.last_run(session, year)
        if not force and last is not None and last["fingerprint"] == print_:
            continue
        out.append(_run_cycle(session, year, print_, trigger, now))
    return out


def _run_cycle(
    session: Session, year: int, print_: str, trigger: str, now: datetime
) -> dict[str, Any]:
    found = findings(session, year, load_catalogue(year))
    existing = repo.violations_of(session, year)
    run_id = repo.insert_run(
        session,
        {
            "cycle_year": year,
            "fingerprint": print_,
            "trigger": trigger,
            "submissions": len({f["submission_id"] for f in found}),
            "violations": 0,
            "new_violations": 0,
            "resolved": 0,
        },
    )
    new_rows, seen, new = [], set(), 0
    for f in found:
        key = (f["submission_id"], f["kind"], f["key"])
        if key in seen:
            continue
        seen.add(key)
        row = existing.get(key)
        if row is None:
            new_rows.append(
                {**f, "cycle_year": year, "first_run_id": run_id, "last_run_id": run_id}
            )
            new += 1
            continue
        if row["resolved_at"] is not None:
            new += 1  # found again after it was resolved
        repo.refresh_violation(
            session,
            row["id"],
            last_run_id=run_id,
            severity=f["severity"],
            message=f["message"],
            question_keys=f["question_keys"],
            detail=f["detail"],
            resolved_at=None,
            **({"first_run_id": run_id} if row["resolved_at"] is not None else {}),
        )
    repo.insert_violations(session, new_rows)
    gone = [r["id"] for k, r in existing.items() if k not in seen and r["resolved_at"] is None]
    repo.resolve_violations(session, gone, now)
    repo.update_run(session, run_id, violations=len(seen), new_violations=new, resolved=len(gone))
    if new:
        enqueue_event(
            session,
            ingest_outbox,
            ValidationViolationsFound(run_id=run_id, cycle_year=year, new_violations=new),
        )
    return {
        "run_id": run_id,
        "cycle_year": year,
        "violations": len(seen),
        "new_violations": new,
        "resolved": len(gone),
    }


class NoticeFailed(ProblemError):
    status, code, title = 503, "notice_not_sent", "Service unavailable"


def notify(session: Session, settings: Settings, run_id: int, now: datetime) -> dict[str, Any]:
    """Deliver a run's notice once: the mail, where an address is set; then mark it sent.
    A mail server that fails answers 503, so the outbox tries again later."""
    run_row = repo.get_run(session, run_id, lock=True)
    if run_row is None:
        raise NotFound(f"There is no validation run {run_id}.", code="validation_run_not_found")
    if run_row["notified_at"] is not None:
        return {"run_id": run_id, "status": "already_notified", "to": run_row["notified_to"]}
    to = settings.reviewer_notice_to
    if to:
        rows = repo.list_violations(session, run_row["cycle_year"], True, run_id=run_id)
        lines = [
            f"- submission {r['submission_id']} (organisation {r['organisation_id']}, "
            f"{r['module']}): {r['kind']} {r['key']}: {r['message']}"
            for r in rows
        ]
        subject = (
            f"Yardstick: {run_row['new_violations']} new validation finding(s) in cycle "
            f"{run_row['cycle_year']}"
        )
        body = (
            f"Validation monitoring run {run_id} ({run_row['trigger']}) found:\n\n"
            + "\n".join(lines)
            + "\n\nMark values for follow-up at /api/v1/follow-ups.\n"
        )
        try:
            mail.send(settings, to, subject, body)
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("validation notice for run %s not sent: %s", run_id, type(exc).__name__)
            raise NoticeFailed(
                f"The notice of validation run {run_id} could not be mailed; "
                "it will be tried again."
            ) from None
    repo.update_run(session, run_id, notified_at=now, notified_to=to)
    return {"run_id": run_id, "status": "notified" if to else "recorded", "to": to}


# ------------------------------------------------------------------ reads


def _require_reviewer(principal: Principal) -> None:
    if not principal.is_admin:
        raise Forbidden(
            "Only reviewers (admins) read validation findings and keep follow-ups.",
            code="role_forbidden",
        )


def violations(
    session: Session, principal: Principal, year: int | None, open_only: bool
) -> list[dict[str, Any]]:
    _require_reviewer(principal)
    return repo.list_violations(session, year, open_only)


def runs(
    session: Session, principal: Principal, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    _require_reviewer(principal)
    return repo.list_runs(session, limit, offset)


# ------------------------------------------------------------------ follow-ups

CLOSING = ("resolved", "dismissed")


def _target_visible(principal: Principal, sub: dict[str, Any]) -> None:
    """A follow-up names a value; whoever may not see that value may not mark it."""
    if not principal.can_see_organisation(sub["organisation_id"]):
        raise Forbidden(
            f"Submission {sub['id']}'s values are not yours to see, so you cannot mark "
            "them for follow-up.",
            code="value_forbidden",
        )
    _require_reviewer(principal)


def create_follow_up(
    session: Session, principal: Principal, body: dict[str, Any]
) -> dict[str, Any]:
    sub = repo.submission(session, body["submission_id"])
    if sub is None:
        raise NotFound(
            f"There is no submission {body['submission_id']}.", code="submission_not_found"
        )
    _target_visible(principal, sub)
    catalogue = load_catalogue(sub["cycle_year"])
    errors = []
    if body.get("question_key") is None and body.get("metric_key") is None:
        errors.append({"field": "question_key", "message": "name a question or a metric"})
    q, m = body.get("question_key"), body.get("metric_key")
    if q is not None and q not in catalogue.questions_for(sub["module"]):
        errors.append({"field": "question_key", "message": f"not a question of {sub['module']}"})
    if m is not None and m not in catalogue.metrics_for(sub["module"]):
        errors.append({"field": "metric_key", "message": f"not a metric of {sub['module']}"})
    vid = body.get("violation_id")
    if vid is not None:
        v = repo.violation(session, vid)
        if v is None or v["submission_id"] != sub["id"]:
            errors.append({"field": "violation_id", "message": "not a finding of this submission"})
    if errors:
        raise Unprocessable(
            "Fix these fields: " + ", ".join(e["field"] for e in errors) + ".",
            code="invalid_follow_up",
            errors=errors,
        )
    new_id = repo.insert_follow_up(
        session,
        {
            "submission_id": sub["id"],
            "question_key": q,
            "metric_key": m,
            "violation_id": vid,
            "note": body["note"].strip(),
            "due_on": body.get("due_on"),
            "created_by": principal.subject,
            "updated_by": principal.subject,
        },
    )
    found = repo.get_follow_up(session, new_id)
    assert found is not None
    return found


def get_follow_up(session: Session, principal: Principal, follow_up_id: int) -> dict[str, Any]:
    _require_reviewer(principal)
    row = repo.get_follow_up(session, follow_up_id)
    if row is None:
        raise NotFound(f"There is no follow-up {follow_up_id}.", code="follow_up_not_found")
    return row


def update_follow_up(
    session: Session, principal: Principal, follow_up_id: int, changes: dict[str, Any]
) -> dict[str, Any]:
    _require_reviewer(principal)
    row = repo.get_follow_up(session, follow_up_id, lock=True)
    if row is None:
        raise NotFound(f"There is no follow-up {follow_up_id}.", code="follow_up_not_found")
    merged = {**row, **changes}
    if merged["state"] in CLOSING and not (merged.get("resolution") or "").strip():
        raise Unprocessable(
            f"A follow-up that is {merged['state']} needs a resolution saying what was found.",
            code="resolution_required",
            errors=[{"field": "resolution", "message": "required when resolved or dismissed"}],
        )
    if changes:
        repo.update_follow_up(session, follow_up_id, {**changes, "updated_by": principal.subject})
    found = repo.get_follow_up(session, follow_up_id)
    assert found is not None
    return found


def follow_ups(
    session: Session, principal: Principal, filters: dict[str, Any]
) -> list[dict[str, Any]]:
    _require_reviewer(principal)
    return repo.list_follow_ups(session, filters)
