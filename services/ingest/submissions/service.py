"""Submissions and their review.

States: ``draft`` → (submit) → ``submitted`` → (return, with a reason per question) →
``returned`` → (submit) → … → (accept) → ``accepted``, locked; an admin may reopen an
accepted submission, with a reason, back to ``draft``.

- Participants of the organisation (and admins) create, edit and submit; only ``draft``
  and ``returned`` submissions can be edited or submitted (409 otherwise).
- Saving checks each answer on its own (known question of this module, type, range):
  partial answers are kept. Submitting runs the whole validation: errors (types,
  ranges, required questions, error-severity cross-field rules) block with 422 listing
  every one; each warning-severity rule that fires needs a comment, else 422 naming it.
- Only admins (reviewers) return, accept and reopen.
- Every change and decision is appended to ``submission_audit`` in the same transaction.
- Accepting and reopening change the benchmark inputs: an outbox event tells the metrics
  service to recompute the cycle, in the same transaction.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy.orm import Session

from services.ingest.catalogue.service import catalogue_for
from services.ingest.checks import repository as checks_repo
from services.ingest.checks import service as checks
from services.ingest.cycles.service import ensure_codes
from services.ingest.submissions import repository as repo
from services.ingest.submissions.exceptions import (
    CycleNotOpen,
    InvalidAnswers,
    ReasonRequired,
    SubmissionInvalid,
    SubmissionLocked,
    SubmissionNotFound,
    WarningCommentRequired,
    WrongState,
)
from shared.auth import Principal
from shared.catalogue import Catalogue, Issue, Question
from shared.db.tables.ingest import ingest_outbox
from shared.errors import Forbidden, Unprocessable
from shared.events import BenchmarkInputsChanged
from shared.outbox import enqueue_event

EDITABLE = ("draft", "returned")
# Issues about one answer on its own: checked on every save. The rest (required
# questions, cross-field rules) only at submission, so partial drafts can be kept.
SHAPE_CODES = frozenset(
    {
        "unknown_question",
        "wrong_module",
        "wrong_type",
        "invalid_choice",
        "not_finite",
        "not_integer",
        "out_of_range",
    }
)


# ------------------------------------------------------------------ values


def coerce(question: Question | None, raw: object) -> object:
    """A JSON answer as the catalogue validates it: numbers (or numeric strings) become
    Decimal so money is never a float; anything else is left for validation to judge."""
    if question is None or raw is None:
        return raw
    if question.type in ("count", "amount_gbp", "percentage", "number"):
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, int | float):
            return Decimal(str(raw))
        if isinstance(raw, str):
            try:
                value = Decimal(raw.strip())
            except InvalidOperation:
                return raw
            return value if value.is_finite() else raw
    return raw


def storage_row(submission_id: int, question: Question, value: object) -> dict[str, Any]:
    row: dict[str, Any] = {
        "submission_id": submission_id,
        "question_key": question.key,
        "value_number": None,
        "value_text": None,
        "value_boolean": None,
        "comment": None,
    }
    if question.type == "boolean":
        row["value_boolean"] = bool(value)
    elif question.type == "choice":
        row["value_text"] = str(value)
    else:
        row["value_number"] = value
    return row


def audit_value(value: object) -> object:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def issue_errors(issues: list[Issue], prefix: str = "answers") -> list[dict[str, Any]]:
    """One problem entry per (issue, question) so every question is named."""
    out = []
    for issue in issues:
        for key in issue.question_keys:
            out.append(
                {
                    "field": f"{prefix}.{key}",
                    "message": issue.message,
                    "code": issue.code,
                    "severity": issue.severity,
                    "rule_key": issue.rule_key,
                }
            )
    return out


# ------------------------------------------------------------------ access


def _can_write(principal: Principal, organisation_id: int) -> None:
    if principal.is_admin:
        return
    if "participant" not in principal.roles:
        raise Forbidden(
            "Only participants of the organisation and admins can change submissions.",
            code="role_forbidden",
        )
    principal.require_organisation(organisation_id)


def _can_read(principal: Principal, organisation_id: int) -> None:
    if principal.is_admin:
        return
    if not principal.has_any_role(("participant",)):
        raise Forbidden(
            "Only participants of the organisation and admins can read submissions.",
            code="role_forbidden",
        )
    principal.require_organisation(organisation_id)


def _load(session: Session, submission_id: int, *, lock: bool = False) -> dict[str, Any]:
    sub = repo.get_submission(session, submission_id, lock=lock)
    if sub is None:
        raise SubmissionNotFound(submission_id)
    return sub


def _require_editable(sub: dict[str, Any]) -> None:
    if sub["state"] == "accepted":
        raise SubmissionLocked(
            f"Submission {sub['id']} was accepted and is locked; an admin can reopen it "
            "with a reason.",
        )
    if sub["state"] not in EDITABLE:
        raise WrongState(
            f"Submission {sub['id']} is {sub['state']}: it can be changed only when it is a "
            "draft or has been returned.",
        )


def _require_open_cycle(sub_or_cycle_status: str, cycle_year: int) -> None:
    if sub_or_cycle_status != "open":
        raise CycleNotOpen(
            f"Cycle {cycle_year} is {sub_or_cycle_status}; submissions can be changed only "
            "while the cycle is open.",
        )


def _audit(
    sub_id: int, actor: str, action: str, *, question_key: str | None = None, **kw: Any
) -> dict[str, Any]:
    return {
        "submission_id": sub_id,
        "actor": actor,
        "action": action,
        "question_key": question_key,
        "old_value": kw.get("old"),
        "new_value": kw.get("new"),
        "reason": kw.get("reason"),
    }


def _notify(session: Session, sub: dict[str, Any], why: str) -> None:
    enqueue_event(
        session,
        ingest_outbox,
        BenchmarkInputsChanged(
            cycle_years=[sub["cycle_year"]], reason=why, submission_id=sub["id"]
        ),
    )


# ------------------------------------------------------------------ reads


def detail(session: Session, principal: Principal, submission_id: int) -> dict[str, Any]:
    sub = _load(session, submission_id)
    _can_read(principal, sub["organisation_id"])
    return _detail(session, sub)


def _detail(session: Session, sub: dict[str, Any]) -> dict[str, Any]:
    rows = repo.answers(session, sub["id"])
    answers = {k: repo.stored_value(r) for k, r in rows.items()}
    catalogue = catalogue_for(sub["cycle_year"])
    issues = catalogue.validate_answers(sub["module"], answers, _context(session, sub, catalogue))
    # The outlier flags as last checked (on save or submit), one warning per metric.
    issues += checks.issues(catalogue, checks_repo.flags(session, sub["id"]))
    return {
        **sub,
        **_since_acceptance(session, sub),
        "answers": answers,
        "answer_comments": {k: r["comment"] for k, r in rows.items() if r["comment"]},
        "warning_comments": repo.warning_comments(session, sub["id"]),
        "review_reasons": repo.latest_review_reasons(session, sub["id"])
        if sub["state"] == "returned"
        else [],
        "issues": [i.to_dict() for i in issues],
    }


def _since_acceptance(session: Session, sub: dict[str, Any]) -> dict[str, Any]:
    """Change after acceptance: for a submission accepted before and reopened, the fields
    changed since that acceptance (from the audit trail: each answer's value then and
    now, who changed it last and when) and that it needs accepting again."""
    entries = repo.since_last_acceptance(session, sub["id"])
    if entries is None or sub["state"] == "accepted":
        return {"reacceptance_required": False, "changes_since_acceptance": []}
    changes: dict[str, dict[str, Any]] = {}
    for e in entries:
        if e["action"] not in ("answer_set", "answer_removed") or e["question_key"] is None:
            continue
        change = changes.setdefault(e["question_key"], {"accepted_value": e["old_value"]})
        change.update(
            question_key=e["question_key"],
            current_value=e["new_value"],
            changed_by=e["actor"],
            changed_at=e["at"],
        )
    reopened = next((e for e in entries if e["action"] == "reopened"), None)
    return {
        "reacceptance_required": True,
        "reopened_reason": reopened["reason"] if reopened else None,
        "changes_since_acceptance": [
            c for _k, c in sorted(changes.items()) if c["accepted_value"] != c["current_value"]
        ],
    }


def listing(
    session: Session,
    principal: Principal,
    filters: dict[str, Any],
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    only = None
    if not principal.is_admin:
        if not principal.has_any_role(("participant",)):
            raise Forbidden(
                "Only participants and admins can list submissions.", code="role_forbidden"
            )
        only = set(principal.organisations)
    return repo.list_submissions(session, filters, only, limit, offset)


def audit_trail(
    session: Session, principal: Principal, submission_id: int, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    sub = _load(session, submission_id)
    _can_read(principal, sub["organisation_id"])
    return repo.audit(session, submission_id, limit, offset)


def _context(session: Session, sub: dict[str, Any], catalogue: Catalogue) -> dict[str, object]:
    return {
        r["question_key"]: repo.stored_value(r)
        for r in repo.answers_of_other_modules(
            session, sub["organisation_id"], sub["cycle_id"], sub["module"]
        )
        if r["question_key"] in catalogue.questions
    }


# ------------------------------------------------------------------ writes


def create(
    session: Session, principal: Principal, organisation_id: int, cycle_id: int, module: str
) -> dict[str, Any]:
    _can_write(principal, organisation_id)
    errors = []
    if repo.get_organisation(session, organisation_id) is None:
        errors.append({"field": "organisation_id", "message": "no such organisation"})
    cycle = repo.get_cycle(session, cycle_id)
    if cycle is None:
        errors.append({"field": "cycle_id", "message": "no such cycle"})
    if errors:
        raise Unprocessable(
            "Fix these fields: " + ", ".join(e["field"] for e in errors) + ".", errors=errors
        )
    assert cycle is not None
    catalogue = catalogue_for(cycle["year"])
    if module not in catalogue.modules:
        raise Unprocessable(
            f"{module!r} is not a module of the {cycle['year']} catalogue; use one of "
            f"{', '.join(catalogue.modules)}.",
            errors=[{"field": "module", "message": "unknown module"}],
        )
    _require_open_cycle(cycle["status"], cycle["year"])
    new_id = repo.insert_submission(
        session,
        {
            "organisation_id": organisation_id,
            "cycle_id": cycle_id,
            "module": module,
            "state": "draft",
            "created_by": principal.subject,
        },
    )
    repo.insert_audit(session, [_audit(new_id, principal.subject, "created")])
    return _detail(session, _load(session, new_id))


def save_answers(
    session: Session,
    principal: Principal,
    submission_id: int,
    answers: dict[str, object],
    comments: dict[str, str | None],
    *,
    replace: bool,
) -> dict[str, Any]:
    """Merge (or with ``replace``, set exactly) the answers of an editable submission.
    A null answer removes it. Nothing is stored unless every answer is acceptable."""
    sub = _load(session, submission_id, lock=True)
    _can_write(principal, sub["organisation_id"])
    _require_editable(sub)
    _require_open_cycle(sub["cycle_status"], sub["cycle_year"])
    catalogue = catalogue_for(sub["cycle_year"])
    coerced = {k: coerce(catalogue.questions.get(k), v) for k, v in answers.items()}
    issues = [
        i for i in catalogue.validate_answers(sub["module"], coerced) if i.code in SHAPE_CODES
    ]
    comment_errors = [
        {"field": f"comments.{k}", "message": "not a question of this module"}
        for k in comments
        if k not in catalogue.questions_for(sub["module"])
    ]
    if issues or comment_errors:
        errors = issue_errors(issues) + comment_errors
        raise InvalidAnswers(
            "Some answers cannot be saved: "
            + ", ".join(sorted({e["field"] for e in errors}))
            + ". Nothing was stored.",
            errors=errors,
        )
    current = repo.answers(session, submission_id)
    target: dict[str, object] = (
        {} if replace else {k: repo.stored_value(r) for k, r in current.items()}
    )
    for key, value in coerced.items():
        if value is None:
            target.pop(key, None)
        else:
            target[key] = value
    target_comments = {k: r["comment"] for k, r in current.items() if r["comment"]}
    if replace:
        target_comments = {}
    for key, text in comments.items():
        if text is None or not text.strip():
            target_comments.pop(key, None)
        else:
            target_comments[key] = text.strip()
    audit_rows, upserts = [], []
    for key, value in target.items():
        old_row = current.get(key)
        old = repo.stored_value(old_row) if old_row else None
        new = audit_value(value)
        old_comment = old_row["comment"] if old_row else None
        if old_row is None or old != new or old_comment != target_comments.get(key):
            row = storage_row(submission_id, catalogue.questions[key], value)
            row["comment"] = target_comments.get(key)
            upserts.append(row)
        if old != new:
            audit_rows.append(
                _audit(
                    submission_id,
                    principal.subject,
                    "answer_set",
                    question_key=key,
                    old=old,
                    new=new,
                )
            )
        if old_comment != target_comments.get(key):
            audit_rows.append(
                _audit(
                    submission_id,
                    principal.subject,
                    "comment_set",
                    question_key=key,
                    old=old_comment,
                    new=target_comments.get(key),
                )
            )
    removed = [k for k in current if k not in target]
    for key in removed:
        audit_rows.append(
            _audit(
                submission_id,
                principal.subject,
                "answer_removed",
                question_key=key,
                old=repo.stored_value(current[key]),
                new=None,
            )
        )
    repo.delete_answers(session, submission_id, removed)
    repo.upsert_answers(session, upserts)
    repo.insert_audit(session, audit_rows)
    if audit_rows:
        repo.touch(session, submission_id)
    _check(session, sub, catalogue, target)
    return _detail(session, _load(session, submission_id))


def _check(
    session: Session, sub: dict[str, Any], catalogue: Catalogue, answers: dict[str, object]
) -> list[Issue]:
    """Flag outliers among the answers' metric values and score the data quality (both
    stored); return the flags as warnings."""
    context = _context(session, sub, catalogue)
    flags = checks.check(session, sub, catalogue, answers, context)
    checks.store_quality(
        session, sub, checks.quality(session, sub, catalogue, answers, context, flags)
    )
    return checks.issues(catalogue, flags)


def submit(
    session: Session, principal: Principal, submission_id: int, warning_comments: dict[str, str]
) -> dict[str, Any]:
    sub = _load(session, submission_id, lock=True)
    _can_write(principal, sub["organisation_id"])
    if sub["state"] == "submitted":
        raise WrongState(f"Submission {submission_id} has already been submitted for review.")
    _require_editable(sub)
    _require_open_cycle(sub["cycle_status"], sub["cycle_year"])
    catalogue = catalogue_for(sub["cycle_year"])
    answers = {k: repo.stored_value(r) for k, r in repo.answers(session, submission_id).items()}
    issues = catalogue.validate_answers(sub["module"], answers, _context(session, sub, catalogue))
    errors = [i for i in issues if i.severity == "error"]
    if errors:
        raise SubmissionInvalid(
            f"The submission has {len(errors)} error(s); fix every question listed and "
            "submit again.",
            errors=issue_errors(errors),
        )
    warnings = [i for i in issues if i.severity == "warning"]
    context = _context(session, sub, catalogue)
    flags = checks.check(session, sub, catalogue, answers, context)
    warnings += checks.issues(catalogue, flags)
    missing = [w for w in warnings if not (warning_comments.get(w.rule_key or "") or "").strip()]
    if missing:
        raise WarningCommentRequired(
            "Each warning needs a comment explaining the figures: "
            + ", ".join(str(w.rule_key) for w in missing)
            + ". Send them as warning_comments keyed by rule.",
            errors=[
                {
                    "field": f"warning_comments.{w.rule_key}",
                    "message": w.message,
                    "code": "comment_required",
                    "questions": list(w.question_keys),
                }
                for w in missing
            ],
        )
    kept = [
        {
            "submission_id": submission_id,
            "rule_key": w.rule_key,
            "message": w.message,
            "comment": warning_comments[w.rule_key or ""].strip(),
            "created_by": principal.subject,
        }
        for w in warnings
    ]
    repo.replace_warning_comments(session, submission_id, kept)
    repo.set_state(session, submission_id, "submitted", submitted_at=_now())
    repo.insert_audit(
        session,
        [
            _audit(
                submission_id,
                principal.subject,
                "submitted",
                old={"state": sub["state"]},
                new={
                    "state": "submitted",
                    "warning_comments": {k["rule_key"]: k["comment"] for k in kept},
                },
            )
        ],
    )
    # Timeliness counts from the first submission, recorded just above.
    checks.store_quality(
        session, sub, checks.quality(session, sub, catalogue, answers, context, flags)
    )
    return _detail(session, _load(session, submission_id))


def return_to_participant(
    session: Session, principal: Principal, submission_id: int, reasons: dict[str, str]
) -> dict[str, Any]:
    sub = _load(session, submission_id, lock=True)
    catalogue = catalogue_for(sub["cycle_year"])
    module_questions = catalogue.questions_for(sub["module"])
    errors = []
    if not reasons:
        errors.append({"field": "reasons", "message": "give a reason for at least one question"})
    for key, reason in reasons.items():
        if key not in module_questions:
            errors.append(
                {"field": f"reasons.{key}", "message": f"not a question of {sub['module']}"}
            )
        elif not reason.strip():
            errors.append({"field": f"reasons.{key}", "message": "the reason is empty"})
    if errors:
        raise ReasonRequired(
            "Returning a submission needs a reason per question: "
            + ", ".join(e["field"] for e in errors)
            + ".",
            errors=errors,
        )
    if sub["state"] != "submitted":
        raise WrongState(
            f"Submission {submission_id} is {sub['state']}; only a submitted one can be returned."
        )
    repo.insert_review_reasons(
        session,
        [
            {
                "submission_id": submission_id,
                "question_key": k,
                "reason": r.strip(),
                "created_by": principal.subject,
            }
            for k, r in sorted(reasons.items())
        ],
    )
    repo.set_state(session, submission_id, "returned", decided_at=_now())
    repo.insert_audit(
        session,
        [
            _audit(
                submission_id,
                principal.subject,
                "returned",
                old={"state": "submitted"},
                new={"state": "returned"},
            ),
            *[
                _audit(
                    submission_id,
                    principal.subject,
                    "return_reason",
                    question_key=k,
                    reason=r.strip(),
                )
                for k, r in sorted(reasons.items())
            ],
        ],
    )
    return _detail(session, _load(session, submission_id))


def accept(
    session: Session, principal: Principal, submission_id: int, note: str | None
) -> dict[str, Any]:
    sub = _load(session, submission_id, lock=True)
    if sub["state"] != "submitted":
        raise WrongState(
            f"Submission {submission_id} is {sub['state']}; only a submitted one can be accepted."
        )
    repo.set_state(session, submission_id, "accepted", decided_at=_now())
    repo.insert_audit(
        session,
        [
            _audit(
                submission_id,
                principal.subject,
                "accepted",
                old={"state": "submitted"},
                new={"state": "accepted"},
                reason=(note or "").strip() or None,
            )
        ],
    )
    cycle = repo.get_cycle(session, sub["cycle_id"])
    assert cycle is not None
    ensure_codes(session, cycle, {sub["organisation_id"]})
    _notify(session, sub, "submission.accepted")
    return _detail(session, _load(session, submission_id))


def reopen(
    session: Session, principal: Principal, submission_id: int, reason: str
) -> dict[str, Any]:
    if not reason.strip():
        raise ReasonRequired(
            "Reopening an accepted submission needs a reason.",
            errors=[{"field": "reason", "message": "the reason is empty"}],
        )
    sub = _load(session, submission_id, lock=True)
    if sub["state"] != "accepted":
        raise WrongState(
            f"Submission {submission_id} is {sub['state']}; only an accepted one can be reopened."
        )
    repo.set_state(session, submission_id, "draft", decided_at=None, submitted_at=None)
    repo.insert_audit(
        session,
        [
            _audit(
                submission_id,
                principal.subject,
                "reopened",
                old={"state": "accepted"},
                new={"state": "draft"},
                reason=reason.strip(),
            )
        ],
    )
    _notify(session, sub, "submission.reopened")
    return _detail(session, _load(session, submission_id))


def _now() -> Any:
    from sqlalchemy import func

    return func.now()
