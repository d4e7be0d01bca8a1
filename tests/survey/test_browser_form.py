"""The respondent form as served: a real survey server (uvicorn on a free port, against
the test database), a real invitation link mailed through SMTP, filled in and sent in
headless Chromium driven by Playwright, with axe-core (WCAG 2.0/2.1/2.2 A and AA) run on
every page the respondent sees."""

from __future__ import annotations

import importlib.util
import pathlib
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from shared.testing.browser import chromium, find_chromium, missing_reason, serve
from tests.survey.conftest import make_campaign, upload

CHROMIUM = find_chromium()
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason=missing_reason()),
]


def _axe_script() -> str:
    spec = importlib.util.find_spec("axe_playwright_python")
    if spec is None or spec.origin is None:
        pytest.skip("axe-playwright-python is not installed (it bundles axe-core)")
    return pathlib.Path(spec.origin).with_name("axe.min.js").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def server(api, settings, database_url) -> Iterator[str]:
    """The survey service under uvicorn in a thread, as a respondent's browser reaches it."""
    from services.survey.main import build

    with serve(build(settings=settings, database_url=database_url), "survey") as base:
        yield base


@pytest.fixture
def link(api, smtp) -> dict[str, Any]:
    """A campaign with one invitation delivered over SMTP; the token comes from the mail."""
    campaign = make_campaign(api)
    assert upload(api, campaign, ["browser.user@council.gov.uk"]).status_code == 200
    headers = api.auth("participant", [campaign["organisation_id"]])
    sent = api.survey.post(f"/api/v1/campaigns/{campaign['id']}/send", headers=headers)
    assert sent.status_code == 202 and sent.json()["queued"] == 1
    api.deliver()
    assert len(smtp.messages) == 1
    return {"campaign": campaign, "token": smtp.messages[0].token}


def assert_accessible(page: Any, what: str) -> None:
    # Evaluated through the DevTools protocol: the page's Content-Security-Policy (no
    # script at all) would block a <script> tag, and stays in force for the page itself.
    page.evaluate(_axe_script())
    result = page.evaluate(
        "tags => axe.run(document, {runOnly: {type: 'tag', values: tags}})", WCAG_TAGS
    )
    problems = [
        (v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]
    ]
    assert problems == [], f"{what}: {problems}"
    assert result["passes"], f"{what}: axe ran no rules"


def checked(page: Any, key: str) -> str | None:
    value = page.evaluate(
        "key => { const e = document.querySelector(`input[name='${key}']:checked`);"
        " return e ? e.value : null; }",
        key,
    )
    return None if value is None else str(value)


def no_horizontal_scroll(page: Any) -> int:
    return int(
        page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
    )


def responses(owner_engine, campaign_id: int) -> list[dict[str, Any]]:
    with owner_engine.connect() as conn:
        rows = conn.execute(
            text("SELECT * FROM survey_responses WHERE campaign_id = :c"), {"c": campaign_id}
        )
        return [dict(r._mapping) for r in rows]


# What the respondent chooses: S1 by keyboard only, everything else by clicking.
FACTORS = {f"S{i}.satisfaction": 1 + i % 7 for i in range(2, 21)} | {
    f"S{i}.importance": 1 + (i * 3) % 7 for i in range(2, 21)
}
CHOICES = {
    "attr.location": ("Home", 5),
    "attr.device_type": ("Laptop", 2),
    "attr.mode_of_working": ("Hybrid (office and home)", 2),
    "attr.role": ("Professional or specialist", 4),
}


def click_rating(page: Any, key: str, value: int) -> None:
    # Radios are numbered from 1 in option order; ratings here run 1-7 (NPS 0-10).
    fid = "f-" + "".join(c if c.isalnum() else "-" for c in key)
    index = value + 1 if key == "nps" else value
    page.click(f"label[for='{fid}-{index}']")


def test_respondent_fills_in_saves_resumes_and_sends_the_served_form(
    api, server, link, browser, owner_engine
):
    token, campaign = link["token"], link["campaign"]
    url = f"{server}/s/{token}"
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()

    # Page 1, reached from the link in the mail.
    response = page.goto(url)
    assert response.status == 200
    assert response.headers["cache-control"] == "no-store"
    assert page.locator("h1").inner_text() == "ICT services, factors 1 to 10"
    assert page.locator("#progress-label").inner_text() == "Page 1 of 4"
    assert_accessible(page, "page 1")

    # Keyboard only for S1's two ratings: skip link, then Tab into the first radio group.
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.textContent.trim()") == (
        "Skip to main content"
    )
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.id") == "f-S1-satisfaction-1"
    page.keyboard.press("Space")  # chooses 1
    for _ in range(4):
        page.keyboard.press("ArrowRight")  # arrows move and choose: 5
    page.keyboard.press("Tab")  # leaves the group for the next one
    assert page.evaluate("() => document.activeElement.id") == "f-S1-importance-1"
    page.keyboard.press("Space")
    page.keyboard.press("ArrowRight")  # 2
    assert checked(page, "S1.satisfaction") == "5"
    assert checked(page, "S1.importance") == "2"
    for i in range(2, 11):
        for measure in ("satisfaction", "importance"):
            click_rating(page, f"S{i}.{measure}", FACTORS[f"S{i}.{measure}"])
    page.click("button[value=continue]")
    page.wait_for_url(f"{url}?page=2")

    # Page 2: half of it, then save and come back later.
    assert page.locator("#progress-label").inner_text() == "Page 2 of 4"
    assert_accessible(page, "page 2")
    for i in range(11, 16):
        for measure in ("satisfaction", "importance"):
            click_rating(page, f"S{i}.{measure}", FACTORS[f"S{i}.{measure}"])
    page.click("button[value=save]")
    page.wait_for_load_state()
    assert page.locator("h1").inner_text() == "Your answers have been saved"
    assert_accessible(page, "saved")
    context.close()

    # Come back later with the same link in a fresh browser: page 2, answers kept.
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(url)
    assert page.locator("#progress-label").inner_text() == "Page 2 of 4"
    assert checked(page, "S11.satisfaction") == str(FACTORS["S11.satisfaction"])
    assert checked(page, "S15.importance") == str(FACTORS["S15.importance"])
    assert checked(page, "S16.satisfaction") is None
    for i in range(16, 21):
        for measure in ("satisfaction", "importance"):
            click_rating(page, f"S{i}.{measure}", FACTORS[f"S{i}.{measure}"])
    page.click("button[value=back]")
    page.wait_for_url(f"{url}?page=1")
    assert checked(page, "S1.satisfaction") == "5" and checked(page, "S1.importance") == "2"
    page.goto(f"{url}?page=3")

    # Page 3: a comment that is too long gets an inline error and a summary linking to it.
    assert_accessible(page, "page 3")
    click_rating(page, "overall", 6)
    click_rating(page, "improvement", 5)
    click_rating(page, "nps", 9)
    for key, (_, index) in CHOICES.items():
        fid = "f-" + "".join(c if c.isalnum() else "-" for c in key)
        page.click(f"label[for='{fid}-{index}']")
    page.fill("#f-comment-1", "x" * 4001)
    page.click("button[value=continue]")
    page.wait_for_load_state()
    assert page.title().startswith("Error: ")
    summary = page.locator(".error-summary a")
    assert summary.count() == 1
    assert summary.get_attribute("href") == "#f-comment-1"
    assert page.evaluate(
        "() => { const t = document.querySelector('#f-comment-1');"
        " return [t.name, t.getAttribute('aria-invalid'), t.getAttribute('aria-describedby')]; }"
    ) == ["comment", "true", "f-comment-hint f-comment-error"]
    assert "4,000" in page.locator("#f-comment-error").inner_text()
    assert checked(page, "overall") == "6"  # what was chosen is shown again, not lost
    assert_accessible(page, "page 3 with an error")
    summary.click()
    assert page.evaluate("() => location.hash") == "#f-comment-1"
    page.fill("#f-comment-1", "The new laptops are great.")
    page.click("button[value=continue]")
    page.wait_for_url(f"{url}?page=4")

    # The check page, and the phone viewport on every page before sending.
    assert page.locator("h1").inner_text() == "Check your answers and send"
    assert "The new laptops are great." in page.locator("table.summary").last.inner_text()
    assert_accessible(page, "check page")
    phone = browser.new_context(
        viewport={"width": 375, "height": 667}, is_mobile=True, has_touch=True
    )
    small = phone.new_page()
    for number in (1, 2, 3, 4):
        small.goto(f"{url}?page={number}")
        assert no_horizontal_scroll(small) <= 0, f"page {number} scrolls sideways on a phone"
        assert_accessible(small, f"page {number} on a phone")
    phone.close()

    page.click("button[value=submit]")
    page.wait_for_url(url)
    assert page.locator("h1").inner_text() == "Thank you, your answers have been sent"
    assert_accessible(page, "thank you")
    context.close()

    # Exactly one response, holding what was chosen, and no link back to the invitation.
    stored = responses(owner_engine, campaign["id"])
    assert len(stored) == 1
    answers = stored[0]["answers"]
    expected: dict[str, Any] = {"S1.satisfaction": 5, "S1.importance": 2, **FACTORS}
    expected |= {"overall": 6, "improvement": 5, "nps": 9, "comment": "The new laptops are great."}
    expected |= {key: value for key, (value, _) in CHOICES.items()}
    assert answers == expected
    assert set(stored[0]) == {"organisation_id", "id", "campaign_id", "response_date", "answers"}

    # The link now shows the thank-you page and accepts nothing more, by form or by API.
    with httpx.Client(base_url=server, follow_redirects=False) as client:
        again = client.get(f"/s/{token}")
        assert again.status_code == 200 and "Thank you" in again.text
        post = client.post(f"/s/{token}", data={"page": "4", "action": "submit", "overall": "1"})
        assert post.status_code == 303 and post.headers["location"] == f"/s/{token}"
        api_post = client.post(
            f"/api/v1/respond/{token}/submission", json={"answers": {"overall": 1}}
        )
        assert api_post.status_code == 409
        assert api_post.json()["code"] == "already_submitted"
    assert len(responses(owner_engine, campaign["id"])) == 1

    context = browser.new_context()
    page = context.new_page()
    page.goto(url)
    assert page.locator("h1").inner_text() == "Thank you, your answers have been sent"
    context.close()


def test_unknown_link_gets_an_accessible_friendly_page(server, browser):
    context = browser.new_context(viewport={"width": 375, "height": 667})
    page = context.new_page()
    response = page.goto(f"{server}/s/{'A' * 43}")
    assert response.status == 404
    assert "Traceback" not in page.content()
    assert page.locator("h1").count() == 1
    assert no_horizontal_scroll(page) <= 0
    assert_accessible(page, "unknown link")
    context.close()
