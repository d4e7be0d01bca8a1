"""Accessibility smoke checks of the respondent pages in headless Chromium.

Runs axe-core (WCAG 2.0/2.1/2.2 A and AA rules) when its script is available: from the
``axe-playwright-python`` package if installed, or a path in ``YARDSTICK_AXE_JS``.
Layout checks (target size, reflow at 320 px, visible focus) run regardless.
"""

import importlib.util
import os
import pathlib

import pytest

from services.survey.instruments import load_instrument
from services.survey.web.render import render_form_page, render_link_error, render_thank_you
from shared.testing.browser import find_chromium, missing_reason

CHROMIUM = find_chromium()
ACTION = "/s/abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason=missing_reason()),
]


def axe_script():
    path = os.environ.get("YARDSTICK_AXE_JS")
    if path and os.path.exists(path):
        return pathlib.Path(path).read_text(encoding="utf-8")
    spec = importlib.util.find_spec("axe_playwright_python")
    if spec and spec.origin:
        candidate = pathlib.Path(spec.origin).with_name("axe.min.js")
        if candidate.exists():
            return candidate.read_text(encoding="utf-8")
    return None


def pages():
    us = load_instrument("user_satisfaction")
    bad = {"S3.satisfaction": 8, "comment": "x" * 4001, "attr.location": "Mars"}
    errors = us.validate(bad, partial=False)
    yield "page1", render_form_page(us, page=1, answers={}, errors={}, action_url=ACTION)
    yield (
        "page1-errors",
        render_form_page(us, page=1, answers=bad, errors=errors, action_url=ACTION),
    )
    yield (
        "page3-errors",
        render_form_page(us, page=3, answers=bad, errors=errors, action_url=ACTION),
    )
    yield "check", render_form_page(us, page=4, answers=bad, errors={}, action_url=ACTION)
    yield "thanks", render_thank_you(us)
    yield "link-used", render_link_error("used")


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def page_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("pages")
    files = {}
    for name, html in pages():
        path = root / f"{name}.html"
        path.write_text(html, encoding="utf-8")
        files[name] = path.as_uri()
    return files


NAMES = [name for name, _ in pages()]


@pytest.mark.parametrize("name", NAMES)
def test_axe_finds_no_wcag_a_or_aa_violations(browser, page_files, name):
    script = axe_script()
    if script is None:
        pytest.skip("axe-core script not available (pip install axe-playwright-python)")
    page = browser.new_page()
    page.goto(page_files[name])
    page.add_script_tag(content=script)
    result = page.evaluate(
        """() => axe.run(document, {runOnly: {type: 'tag', values:
             ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa']}})"""
    )
    page.close()
    problems = [
        (v["id"], v["help"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]
    ]
    assert problems == []
    assert result["passes"]  # axe actually ran rules


@pytest.mark.parametrize("name", ["page1", "page3-errors", "check"])
def test_targets_are_at_least_24px_and_page_reflows_at_320px(browser, page_files, name):
    page = browser.new_page(viewport={"width": 320, "height": 640})
    page.goto(page_files[name])
    too_small = page.evaluate(
        """() => [...document.querySelectorAll(
                 'input:not([type=hidden]), button, select, textarea')]
              .map(e => [e.id || e.name || e.textContent.trim(), e.getBoundingClientRect()])
              .filter(([_, r]) => r.width < 24 || r.height < 24)
              .map(([id, r]) => `${id} ${r.width}x${r.height}`)"""
    )
    assert too_small == []
    overflow = page.evaluate(
        "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
    )
    assert overflow <= 0
    page.close()


def test_skip_link_and_focus_are_visible(browser, page_files):
    page = browser.new_page()
    page.goto(page_files["page1"])
    page.keyboard.press("Tab")
    focused = page.evaluate(
        """() => { const e = document.activeElement; const r = e.getBoundingClientRect();
                   return [e.textContent.trim(), r.left >= 0 && r.top >= 0 && r.width > 0,
                           getComputedStyle(e).backgroundColor]; }"""
    )
    assert focused == ["Skip to main content", True, "rgb(255, 221, 0)"]
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"
    page.keyboard.press("Tab")
    radio = page.evaluate(
        """() => { const e = document.activeElement; const s = getComputedStyle(e);
                   return [e.type, s.outlineStyle, s.outlineColor]; }"""
    )
    assert radio == ["radio", "solid", "rgb(255, 221, 0)"]
    page.close()
