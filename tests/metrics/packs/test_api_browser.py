"""The pack's HTML as a browser gets it from the API: its Content-Security-Policy lets the
page's own stylesheet and inline charts through and nothing else (no violation reported),
and the page is styled, not bare."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from shared.testing.browser import chromium, find_chromium, missing_reason, serve
from tests.metrics.packs import seed_governance as seed

CHROMIUM = find_chromium()
# Set to a folder to keep a screenshot of the page (for a person to look at).
SCREENSHOT_ENV = "YARDSTICK_PACK_SCREENSHOT"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason=missing_reason()),
]


@pytest.fixture
def metrics_server(api, settings, database_url) -> Iterator[str]:
    from services.metrics.main import build

    with serve(build(settings=settings, database_url=database_url), "metrics") as base:
        yield base


def test_the_served_page_keeps_its_styles_under_its_policy(api, owner_engine, metrics_server):
    sc = seed.pack_scenario(api, owner_engine)
    svc = sc["service"]["id"]
    brent = sc["by_name"]["Brent"]
    with chromium() as browser:
        page = browser.new_page(
            viewport={"width": 1280, "height": 900},
            extra_http_headers=api.auth("reader", [brent]),
        )
        console: list[str] = []
        page.on("console", lambda message: console.append(message.text))
        url = (
            f"{metrics_server}/api/v1/committee-packs/draft?service_id={svc}"
            "&financial_year=2024&period=3&format=html"
        )
        response = page.goto(url, wait_until="load")
        assert response is not None and response.status == 200
        assert [m for m in console if "Content Security Policy" in m] == []
        styled: Any = page.evaluate(
            "() => [document.styleSheets.length, document.styleSheets[0].cssRules.length,"
            " getComputedStyle(document.body).fontFamily,"
            " document.querySelectorAll('svg').length]"
        )
        sheets, rules, font, charts = styled
        assert sheets >= 1 and rules > 10
        assert font not in ("", "Times New Roman")
        assert charts == 5  # P1, P2, P3, NPS, outturn
        folder = os.environ.get(SCREENSHOT_ENV)
        if folder:
            page.screenshot(path=str(Path(folder) / "pack-draft.png"), full_page=False)
        page.close()
