"""The respondent's link: a server-rendered form at /s/{token} (no JavaScript) and the same
survey as JSON at /api/v1/respond/{token} for third-party frontends.

These are the service's only unauthenticated endpoints, so every request is counted
against a per-client and a per-link rate limit before anything else happens, a body is
read only once the link is known to take answers, and bodies are small (``BODY_LIMIT``).
The token is the respondent's only credential and sits in the URL path, so every
response, error or not, says ``Cache-Control: no-store`` and ``Referrer-Policy:
no-referrer``, pages may not be framed, and the access log is redacted (see
``services.survey.main``).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, MutableHeaders
from starlette.types import Message, Receive, Scope, Send

from services.survey.instruments import AnswerValue
from services.survey.respond import service
from services.survey.respond.schemas import (
    DraftIn,
    DraftOut,
    RespondentSurvey,
    SubmissionIn,
    SubmissionOut,
    describe,
)
from services.survey.respond.service import Link, LinkError
from services.survey.web.render import (
    STYLE_SOURCE,
    parse_form,
    read_navigation,
    render_form_page,
    render_link_error,
    render_saved,
    render_thank_you,
)
from shared.deps import AppSettings, DbSession
from shared.errors import Conflict, NotFound, ProblemError, Unprocessable
from shared.idempotency import location_responses
from shared.page_headers import COMMON_HEADERS

# 4,000 characters of comment at 12 bytes each (an astral character \u-escaped in JSON,
# or percent-encoded in a form) plus every other answer stays well under this.
BODY_LIMIT = 128 * 1024

# The pages have no script, no images and one inline stylesheet (allowed by its hash);
# forms post back to the same origin.
PAGE_HEADERS = {
    **COMMON_HEADERS,
    "Content-Security-Policy": (
        f"default-src 'none'; style-src {STYLE_SOURCE}; form-action 'self'; "
        "base-uri 'none'; frame-ancestors 'none'"
    ),
}
API_HEADERS = {
    **COMMON_HEADERS,
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'; sandbox",
}


class PublicRoute(APIRoute):
    """A respondent endpoint: rate-limited first, and every answer (errors included,
    which the app's handlers render below this point) carries ``security_headers``."""

    security_headers: dict[str, str] = PAGE_HEADERS

    async def handle(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message).update(self.security_headers)
            await send(message)

        await super().handle(scope, receive, send_with_headers)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def limited(request: Request) -> Response:
            client = request.client.host if request.client else "unknown"
            request.app.state.rate_limiter.check(client, request.path_params.get("token", ""))
            await self.before_body(request)
            return await handler(request)

        return limited

    async def before_body(self, request: Request) -> None:
        """Runs after the rate limit, before FastAPI reads the body."""


class LinkFirstRoute(PublicRoute):
    """A JSON endpoint whose body is read only for a link that still takes answers: an
    unknown, closed or used link is refused before a byte of the body is read."""

    security_headers = API_HEADERS

    async def before_body(self, request: Request) -> None:
        if request.method in {"POST", "PUT", "PATCH"}:
            await run_in_threadpool(_check_open, request.app.state.engine, request.path_params)


html = APIRouter(tags=["respondent form"], include_in_schema=False, route_class=PublicRoute)

LIMIT_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {
        "description": description,
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
        **extra,
    }
    for status, description, extra in (
        (413, "The body is larger than this endpoint accepts", {}),
        (
            429,
            "Too many requests from this client or for this link",
            {"headers": {"Retry-After": {"schema": {"type": "integer"}}}},
        ),
    )
}
api = APIRouter(
    prefix="/api/v1/respond",
    tags=["respond"],
    route_class=LinkFirstRoute,
    responses=LIMIT_RESPONSES,
)

Token = Annotated[str, Path(min_length=1, max_length=200, description="The link token")]
STATUS = {"unknown": 404, "closed": 410, "used": 200}


def _page(body: str, status: int = 200) -> HTMLResponse:
    return HTMLResponse(body, status_code=status)


def _link_error(error: LinkError) -> HTMLResponse:
    return _page(render_link_error(error.problem, survey_title=error.title), STATUS[error.problem])


def _redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def _html_link(token: Token, session: DbSession) -> Link | LinkError:
    try:
        return service.resolve(session, token)
    except LinkError as error:
        return error


HtmlLink = Annotated[Link | LinkError, Depends(_html_link)]


async def _form(request: Request, link: HtmlLink) -> FormData | None:
    """The posted form, read only when the link can still take answers."""
    if isinstance(link, LinkError) or link.completed:
        return None
    return await request.form(max_files=0, max_fields=400)


@html.get("/s/{token}", response_class=HTMLResponse)
def form_page(token: Token, request: Request, session: DbSession) -> Response:
    try:
        link = service.resolve(session, token)
    except LinkError as error:
        return _link_error(error)
    if link.completed:
        return _page(render_thank_you(link.instrument, organisation_name=link.organisation_name))
    answers, saved_page = service.draft(session, link)
    raw = request.query_params.get("page", "")
    page = int(raw) if raw.isdigit() and len(raw) < 4 else saved_page
    page = min(max(page, 1), link.instrument.page_count)
    return _page(
        render_form_page(
            link.instrument,
            page=page,
            answers=answers,
            errors={},
            action_url=f"/s/{token}",
            organisation_name=link.organisation_name,
        )
    )


@html.post("/s/{token}", response_class=HTMLResponse, max_body_size=BODY_LIMIT)
def form_post(
    token: Token,
    session: DbSession,
    settings: AppSettings,
    link: HtmlLink,
    form: Annotated[FormData | None, Depends(_form)],
) -> Response:
    if isinstance(link, LinkError):
        return _link_error(link)
    here = f"/s/{token}"
    if link.completed or form is None:
        # A retry after a network failure, or a second tab: nothing more is accepted.
        return _redirect(here)
    instrument = link.instrument
    nav = read_navigation(instrument, form)
    stored, _ = service.draft(session, link)
    answers: dict[str, AnswerValue] = stored
    if nav.page <= instrument.question_page_count:
        submitted = parse_form(instrument, form)
        errors = instrument.validate(submitted, partial=True)
        if errors:
            shown = {**stored, **{k: v for k, v in submitted.items()}}
            return _page(
                render_form_page(
                    instrument,
                    page=nav.page,
                    answers=shown,
                    errors=errors,
                    action_url=here,
                    organisation_name=link.organisation_name,
                ),
                422,
            )
        answers = instrument.merge_page(stored, instrument.clean(submitted), nav.page)
    if nav.action == "save":
        service.save(session, link, answers, nav.page)
        return _page(
            render_saved(
                instrument,
                resume_url=f"{settings.public_survey_base()}{here}",
                closes_on=link.campaign["closes_on"],
                organisation_name=link.organisation_name,
            )
        )
    if nav.action == "submit":
        errors = instrument.validate(answers, partial=False)
        if errors:
            service.save(session, link, answers, instrument.page_count)
            return _page(
                render_form_page(
                    instrument,
                    page=instrument.page_count,
                    answers=answers,
                    errors=errors,
                    action_url=here,
                    organisation_name=link.organisation_name,
                ),
                422,
            )
        service.submit(session, link, answers)
        return _redirect(here)
    target = nav.page - 1 if nav.action == "back" else nav.page + 1
    target = min(max(target, 1), instrument.page_count)
    service.save(session, link, answers, target)
    return _redirect(f"{here}?page={target}")


@html.get("/s/{token}/opt-out", response_class=HTMLResponse)
def opt_out_page(token: Token, session: DbSession) -> Response:
    try:
        link = service.resolve(session, token)
    except LinkError as error:
        return _link_error(error)
    return _page(_opt_out_html(link, done=False))


@html.post("/s/{token}/opt-out", response_class=HTMLResponse, max_body_size=BODY_LIMIT)
def opt_out(token: Token, session: DbSession) -> Response:
    try:
        link = service.resolve(session, token)
    except LinkError as error:
        return _link_error(error)
    service.opt_out(session, link)
    return _page(_opt_out_html(link, done=True))


def _opt_out_html(link: Link, *, done: bool) -> str:
    from html import escape

    title = escape(link.instrument.title)
    if done:
        body = "<h1>You will get no more emails about this survey</h1>"
    else:
        body = (
            "<h1>Stop emails about this survey</h1>"
            "<p>You will get no more invitations or reminders for this survey.</p>"
            '<form method="post"><button type="submit">Stop emails</button></form>'
        )
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{title}</title></head><body><main>{body}</main></body></html>"
    )


# --------------------------------------------------------------------------- JSON API

LINK_RESPONSES: dict[int | str, dict[str, Any]] = {
    410: {
        "description": "The survey has closed",
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        },
    }
}


def _link_problem(error: LinkError) -> ProblemError:
    if error.problem == "closed":
        return ProblemError(
            "This survey has closed and accepts no more answers.",
            status=410,
            code="survey_closed",
            title="Survey closed",
        )
    return NotFound("This survey link does not work; check it is complete.", code="link_unknown")


def _check_open(engine: Engine, path_params: dict[str, Any]) -> None:
    with engine.connect() as conn:
        _resolve_json(conn, str(path_params.get("token", "")))


def _resolve_json(session: Session | Connection, token: str) -> Link:
    try:
        link = service.resolve(session, token)
    except LinkError as error:
        raise _link_problem(error) from None
    if link.completed:
        raise Conflict(
            "Answers have already been sent with this link; nothing more is accepted.",
            code="already_submitted",
        )
    return link


def _answers_problem(errors: dict[str, str]) -> Unprocessable:
    return Unprocessable(
        "Some answers need changing: " + "; ".join(f"{k}: {m}" for k, m in errors.items()),
        errors=[{"field": f"answers.{k}", "message": m} for k, m in errors.items()],
    )


def _clean_answers(link: Link, answers: dict[str, Any], *, partial: bool) -> dict[str, AnswerValue]:
    given = {k: v for k, v in answers.items() if v is not None}
    errors = link.instrument.validate(given, partial=partial)
    if errors:
        raise _answers_problem(errors)
    return link.instrument.clean(given)


@api.get(
    "/{token}",
    response_model=RespondentSurvey,
    responses=LINK_RESPONSES,
    summary="The survey behind a link, with answers saved so far",
)
def get_survey(token: Token, session: DbSession) -> RespondentSurvey:
    link = _resolve_json(session, token)
    answers, page = service.draft(session, link)
    return describe(
        link.instrument, link.organisation_name, link.campaign["closes_on"], answers, page
    )


@api.put(
    "/{token}/draft",
    max_body_size=BODY_LIMIT,
    response_model=DraftOut,
    responses=LINK_RESPONSES,
    summary="Save answers to come back to later",
)
def save_draft(token: Token, body: DraftIn, session: DbSession) -> DraftOut:
    link = _resolve_json(session, token)
    cleaned = _clean_answers(link, body.answers, partial=True)
    stored, _ = service.draft(session, link)
    cleared = {k for k, v in body.answers.items() if v is None}
    merged = {k: v for k, v in stored.items() if k not in cleared} | cleaned
    page = min(body.page, link.instrument.page_count)
    service.save(session, link, merged, page)
    return DraftOut(answers=merged, page=page)


@api.post(
    "/{token}/submission",
    max_body_size=BODY_LIMIT,
    status_code=201,
    response_model=SubmissionOut,
    responses={**LINK_RESPONSES, **location_responses(201, "the link's submission")},
    summary="Send the answers (once per link)",
)
def submit(token: Token, body: SubmissionIn, request: Request, response: Response) -> SubmissionOut:
    try:
        stored = service.submit_answers(request.app.state.engine, token, body.answers)
    except LinkError as error:
        raise _link_problem(error) from None
    except service.AnswersInvalid as invalid:
        raise _answers_problem(invalid.errors) from None
    if not stored:
        raise Conflict(
            "Answers have already been sent with this link; nothing more is accepted.",
            code="already_submitted",
        )
    # The link's one submission lives at the address it was sent to (GET it).
    response.headers["Location"] = request.url.path
    return SubmissionOut(status="received")


@api.get(
    "/{token}/submission",
    response_model=SubmissionOut,
    responses=LINK_RESPONSES,
    summary="Whether this link's answers were received (never the answers themselves)",
)
def get_submission(token: Token, session: DbSession) -> SubmissionOut:
    try:
        link = service.resolve(session, token)
    except LinkError as error:
        raise _link_problem(error) from None
    if not link.completed:
        raise NotFound(
            "No answers have been sent with this link yet; send them with POST to this address.",
            code="not_submitted",
        )
    return SubmissionOut(status="received")
