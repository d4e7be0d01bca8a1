"""Server-rendered respondent pages and invitation emails (Jinja2; no JavaScript).

Every function takes plain data and returns a string; the HTTP layer chooses the status
code and headers. The form posts back to the respondent's own link URL as
``application/x-www-form-urlencoded`` with these fields:

- the answers, named by their canonical keys (``S1.satisfaction``, ``attr.role``, …);
- ``page``: the page the form was on (1-based);
- ``action``: ``continue`` | ``back`` | ``save`` | ``submit`` (the button pressed; pressing
  Enter sends ``continue``, the first button).

The link token in the URL is the respondent's only credential, so there is no CSRF token.
Suggested handling: merge the page with :meth:`Instrument.merge_page`, validate it with
``partial=True``; on errors re-render the same page; else go to the next/previous page or
show :func:`render_saved`. On ``submit`` validate everything with ``partial=False`` and
re-render the check page with the errors, which link to the page holding each field.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, cast

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from services.survey.instruments import Group, Instrument, Question

Action = Literal["continue", "back", "save", "submit"]
LinkProblem = Literal["expired", "closed", "unknown", "used"]

CONTROL_FIELDS = frozenset({"page", "action"})
MAX_RADIO_OPTIONS = 12  # longer option lists (e.g. an organisation's 40 sites) use a <select>


def field_id(key: str) -> str:
    """HTML id for an answer key: ``S1.satisfaction`` → ``f-S1-satisfaction``.

    Radios get ``-1``, ``-2``, … appended (1 = first option); a text box or select gets
    ``-1``, so ``#<field_id>-1`` always reaches the first control of a field.
    """
    return "f-" + "".join(c if c.isalnum() else "-" for c in key)


def _none_label(question: Question) -> str | None:
    # Without JavaScript a chosen radio cannot be un-chosen, so optional questions offer an
    # explicit "no answer" choice (value "", which parse_form treats as not answered).
    if question.required:
        return None
    if question.group is not None:
        return "Does not apply to me"
    return "Prefer not to say" if question.type == "choice" else "Prefer not to answer"


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("services.survey.web", "templates"),
        autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals.update(
        field_id=field_id,
        none_label_for=_none_label,
        max_radio_options=MAX_RADIO_OPTIONS,
    )
    return env


_ENV = _environment()


def _render(template: str, **context: Any) -> str:
    return _ENV.get_template(template).render(**context)


def _with_query(url: str, **params: object) -> str:
    sep = "&" if "?" in url else "?"
    return url + sep + "&".join(f"{k}={v}" for k, v in params.items())


def _format_date(day: dt.date | None) -> str | None:
    return f"{day.day} {day:%B %Y}" if day else None


def _page_context(instrument: Instrument, organisation_name: str | None) -> dict[str, Any]:
    return {
        "survey_title": instrument.title,
        "organisation_name": organisation_name,
        "description": instrument.description,
        "page_count": instrument.page_count,
    }


# --------------------------------------------------------------------------- form pages


def render_form_page(
    instrument: Instrument,
    *,
    page: int,
    answers: Mapping[str, object],
    errors: Mapping[str, str],
    action_url: str,
    organisation_name: str | None = None,
    attribute_options: Mapping[str, Sequence[str]] | None = None,
    saved_notice: bool = False,
) -> str:
    """One page of the questionnaire, or the check-and-send page when ``page`` is the last.

    ``page`` runs from 1 to ``instrument.page_count``; question pages come first, the last
    page lists every answer with "Change" links and the Send button. ``errors`` maps answer
    keys to messages (from :meth:`Instrument.validate`); errors for keys on other pages are
    linked to those pages, and errors for keys that are not questions are listed unlinked.
    """
    instrument = instrument.with_attribute_options(attribute_options)
    if not 1 <= page <= instrument.page_count:
        raise ValueError(f"page must be from 1 to {instrument.page_count}")
    error_items = _error_items(instrument, errors, page, action_url)
    context = _page_context(instrument, organisation_name) | {
        "answers": answers,
        "errors": errors,
        "error_items": error_items,
        "action_url": action_url,
        "saved_notice": saved_notice,
    }
    if page == instrument.page_count:
        return _render(
            "check_page.html", rows_by_page=_check_rows(instrument, answers, action_url), **context
        )
    return _render("form_page.html", page=instrument.page(page), **context)


def _error_items(
    instrument: Instrument, errors: Mapping[str, str], page: int, action_url: str
) -> list[tuple[str, str]]:
    items: list[tuple[str, str]] = []
    for key, message in errors.items():
        on_page = instrument.page_of(key)
        if on_page is None:
            href = "#main"
        elif on_page == page:
            href = f"#{field_id(key)}-1"
        else:
            href = f"{_with_query(action_url, page=on_page)}#{field_id(key)}-1"
        items.append((href, message))
    return items


@dataclass(frozen=True, slots=True)
class _CheckRow:
    label: str
    answer: str
    href: str


@dataclass(frozen=True, slots=True)
class _CheckPage:
    number: int
    title: str
    rows: tuple[_CheckRow, ...]


def _answer_text(question: Question, value: object) -> str:
    if value is None or (isinstance(value, str) and not value.strip()):
        return "Not answered"
    if question.type in ("rating", "nps"):
        label = question.point_label(int(str(value))) if str(value).lstrip("-").isdigit() else ""
        return f"{value} ({label.lower()})" if label else str(value)
    text = str(value)
    return text if len(text) <= 200 else text[:200].rstrip() + "…"


def _check_rows(
    instrument: Instrument, answers: Mapping[str, object], action_url: str
) -> tuple[_CheckPage, ...]:
    pages: list[_CheckPage] = []
    for page in instrument.pages:
        rows: list[_CheckRow] = []
        base = _with_query(action_url, page=page.number)
        for section in page.sections:
            for item in section.items:
                if isinstance(item, Group):
                    parts = [
                        f"{(q.measure or q.label).capitalize()}: "
                        f"{_answer_text(q, answers.get(q.key))}"
                        for q in item.questions
                    ]
                    rows.append(
                        _CheckRow(
                            item.label,
                            "; ".join(parts),
                            f"{base}#{field_id(item.questions[0].key)}-1",
                        )
                    )
                else:
                    rows.append(
                        _CheckRow(
                            item.label,
                            _answer_text(item, answers.get(item.key)),
                            f"{base}#{field_id(item.key)}-1",
                        )
                    )
        pages.append(_CheckPage(page.number, page.title, tuple(rows)))
    return tuple(pages)


# ---------------------------------------------------------------------- other pages


def render_thank_you(instrument: Instrument, *, organisation_name: str | None = None) -> str:
    return _render("thank_you.html", **_page_context(instrument, organisation_name))


def render_saved(
    instrument: Instrument,
    *,
    resume_url: str,
    closes_on: dt.date | None = None,
    organisation_name: str | None = None,
) -> str:
    """Confirmation after "Save and come back later": the same link resumes the survey."""
    return _render(
        "saved.html",
        resume_url=resume_url,
        closes_on=_format_date(closes_on),
        **_page_context(instrument, organisation_name),
    )


_LINK_PROBLEMS: Mapping[LinkProblem, tuple[str, tuple[str, ...]]] = {
    "unknown": (
        "This survey link does not work",
        (
            "The link may be incomplete. If you copied it from an email, check that you "
            "copied all of it, or click the link in the email instead.",
        ),
    ),
    "expired": (
        "This survey link has expired",
        ("Survey links only work for a limited time.",),
    ),
    "closed": (
        "This survey has closed",
        ("The survey is no longer accepting answers.",),
    ),
    "used": (
        "These answers have already been sent",
        (
            "Each survey link can be used to send answers once, and this one has been used. "
            "If you sent them, thank you: there is nothing more to do.",
        ),
    ),
}


def render_link_error(reason: LinkProblem, *, survey_title: str = "Survey") -> str:
    """Friendly page for a link that cannot be used.

    The text depends only on the link, never on an address, so it cannot reveal whether
    someone was invited or has responded. The caller sets the status (e.g. 404 or 410).
    """
    heading, paragraphs = _LINK_PROBLEMS[reason]
    return _render(
        "link_error.html",
        heading=heading,
        paragraphs=paragraphs,
        survey_title=survey_title,
        organisation_name=None,
    )


def _style_source() -> str:
    """The pages' one inline stylesheet as a Content-Security-Policy source (its SHA-256),
    taken from a rendered page so it is exactly what the browser hashes."""
    page = render_link_error("unknown")
    found = re.search(r"<style>(.*?)</style>", page, re.DOTALL)
    assert found is not None, "base.html has no <style> element"
    digest = hashlib.sha256(found.group(1).encode()).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


STYLE_SOURCE = _style_source()


# ---------------------------------------------------------------------------- emails


@dataclass(frozen=True, slots=True)
class EmailBody:
    subject: str
    text: str
    html: str


def _email(
    kind: Literal["invitation", "reminder"],
    subject: str,
    context: Mapping[str, Any],
) -> EmailBody:
    full = dict(context, subject=subject)
    return EmailBody(
        subject=subject,
        text=_render(f"email/{kind}.txt", **full),
        html=_render(f"email/{kind}.html", **full),
    )


def render_invitation_email(
    *,
    survey_title: str,
    organisation_name: str,
    link_url: str,
    opt_out_url: str,
    closes_on: dt.date | None = None,
    minutes: int = 10,
    reminders: int = 2,
) -> EmailBody:
    return _email(
        "invitation",
        f"{organisation_name}: please take part in the {survey_title}",
        {
            "greeting": "Hello,",
            "survey_title": survey_title,
            "organisation_name": organisation_name,
            "link_url": link_url,
            "opt_out_url": opt_out_url,
            "closes_on": _format_date(closes_on),
            "minutes": minutes,
            "reminders": reminders,
        },
    )


def render_reminder_email(
    *,
    survey_title: str,
    organisation_name: str,
    link_url: str,
    opt_out_url: str,
    closes_on: dt.date | None = None,
) -> EmailBody:
    closing = f", closes {_format_date(closes_on)}" if closes_on else ""
    return _email(
        "reminder",
        f"Reminder: {survey_title} for {organisation_name}{closing}",
        {
            "greeting": "Hello,",
            "survey_title": survey_title,
            "organisation_name": organisation_name,
            "link_url": link_url,
            "opt_out_url": opt_out_url,
            "closes_on": _format_date(closes_on),
        },
    )


def render_mail_problem_email(
    *,
    campaign_id: int,
    survey_title: str,
    organisation_name: str,
    failed_kind: Literal["invitation", "reminder"],
    reason: str,
) -> EmailBody:
    """The notice to a campaign's contact that its mails cannot be built (plain text only:
    the subject never contains the title, which may be what cannot be mailed)."""
    text = _render(
        "email/mail_problem.txt",
        campaign_id=campaign_id,
        survey_title_quoted=json.dumps(survey_title, ensure_ascii=False),
        organisation_name=json.dumps(organisation_name, ensure_ascii=False),
        failed_kind="an invitation" if failed_kind == "invitation" else "a reminder",
        reason=reason,
    )
    return EmailBody(
        subject=f"Yardstick: survey campaign {campaign_id} cannot send its mail",
        text=text,
        html="",
    )


# ------------------------------------------------------------------------ form input


class FormLike(Protocol):
    """What Starlette's ``FormData`` and Werkzeug's ``MultiDict`` both offer."""

    def keys(self) -> Iterable[str]: ...

    def getlist(self, key: str) -> list[Any]: ...


FormInput = FormLike | Mapping[str, str | Sequence[str]] | Iterable[tuple[str, str]]


def _form_items(form: FormInput) -> dict[str, list[str]]:
    values: dict[str, list[str]] = {}
    getlist: Callable[[str], list[Any]] | None = getattr(form, "getlist", None)
    if getlist is not None and hasattr(form, "keys"):
        for key in dict.fromkeys(form.keys()):
            values[key] = [v for v in getlist(key) if isinstance(v, str)]
    elif isinstance(form, Mapping):
        for key, value in form.items():
            values[key] = [value] if isinstance(value, str) else [str(v) for v in value]
    else:
        for key, value in cast(Iterable[tuple[str, str]], form):
            values.setdefault(key, []).append(value)
    return values


def parse_form(instrument: Instrument, form: FormInput) -> dict[str, object]:
    """Answers from a submitted form, keyed by answer key, ready for ``validate``.

    Blank values (an empty text box, a "Prefer not to say" choice) are left out, meaning
    "not answered". Ratings become ``int`` when they are whole numbers and are otherwise
    kept as sent, so that validation can say what is wrong. A field sent twice is kept as a
    list (validation rejects it). Unknown field names are kept, for validation to report;
    the control fields ``page`` and ``action`` are not answers and are dropped. Line breaks
    in text become ``\\n``.
    """
    answers: dict[str, object] = {}
    for key, raw_values in _form_items(form).items():
        if key in CONTROL_FIELDS:
            continue
        present = [v for v in raw_values if v.strip()]
        if not present:
            continue
        if len(present) > 1:
            answers[key] = present
            continue
        value = present[0]
        question = instrument.question(key)
        if question is None:
            answers[key] = value
        elif question.type in ("rating", "nps"):
            stripped = value.strip()
            answers[key] = int(stripped) if stripped.isdigit() and len(stripped) <= 3 else value
        elif question.type == "text":
            answers[key] = value.replace("\r\n", "\n").replace("\r", "\n")
        else:
            answers[key] = value.strip()
    return answers


@dataclass(frozen=True, slots=True)
class Navigation:
    action: Action
    page: int


def read_navigation(instrument: Instrument, form: FormInput) -> Navigation:
    """The button pressed and the page it was pressed on (defaults: continue, page 1)."""
    items = _form_items(form)
    action_raw = (items.get("action") or ["continue"])[0]
    action: Action = (
        action_raw if action_raw in ("continue", "back", "save", "submit") else "continue"  # type: ignore[assignment]
    )
    page_raw = (items.get("page") or ["1"])[0].strip()
    page = int(page_raw) if page_raw.isdigit() else 1
    return Navigation(action, min(max(page, 1), instrument.page_count))
