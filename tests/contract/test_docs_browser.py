"""/docs in a real browser: Swagger UI renders every operation from the service's own
assets (no request leaves the origin), the Authorize dialog offers the three schemes, and
"Try it out" with a bearer token gets a 200 from an authenticated operation. ReDoc renders
too; the one URL its bundle hard-codes (its logo, on a CDN) is blocked by the page's
Content-Security-Policy before it leaves the browser."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from shared.settings import PROJECT_ROOT
from shared.testing.browser import chromium, find_chromium, missing_reason, serve

CHROMIUM = find_chromium()
# Set to a folder to keep a screenshot of the page (for a person to look at).
SCREENSHOT_ENV = "YARDSTICK_DOCS_SCREENSHOT"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason=missing_reason()),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as browser:
        yield browser


@pytest.fixture
def ingest_server(api, settings, database_url) -> Iterator[str]:
    """The ingest service under uvicorn in a thread, as a developer's browser reaches it."""
    from services.ingest.main import build

    with serve(build(settings=settings, database_url=database_url), "ingest") as base:
        yield base


def test_swagger_ui_renders_every_operation_and_try_it_out_works(api, browser, ingest_server):
    doc = json.loads((PROJECT_ROOT / "openapi" / "ingest.json").read_text())
    operations = sum(
        1
        for item in doc["paths"].values()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    )
    page = browser.new_page(viewport={"width": 1280, "height": 1600})
    requested: list[str] = []
    blocked: dict[str, str] = {}
    page.on("request", lambda request: requested.append(request.url))
    page.on("requestfailed", lambda request: blocked.update({request.url: request.failure or ""}))
    page.goto(f"{ingest_server}/docs", wait_until="load", timeout=30_000)
    page.wait_for_selector(".opblock", timeout=30_000)
    assert page.locator(".opblock").count() == operations
    ids = page.locator(".opblock-summary-operation-id").all_inner_texts()
    assert "organisations-list-organisations" in ids, ids
    folder = os.environ.get(SCREENSHOT_ENV)
    if folder:
        page.screenshot(path=os.path.join(folder, "docs.png"))

    # Authorize: the three schemes, each a text field or user/password pair
    page.click("button.authorize")
    dialog = page.locator(".dialog-ux .modal-ux")
    dialog.wait_for(timeout=10_000)
    text = dialog.inner_text()
    for scheme in ("bearerAuth", "apiKeyBearer", "basicAuth"):
        assert scheme in text, text
    if folder:
        page.screenshot(path=os.path.join(folder, "docs-authorize.png"))
    bearer = dialog.locator(".auth-container", has_text="bearerAuth")
    bearer.locator("input").fill(api.token("admin"))
    bearer.locator("button.authorize").click()
    dialog.locator("button.btn-done").first.click()

    # Try it out on an authenticated operation
    api.ingest.post(
        "/api/v1/organisations",
        json={"name": "Swansea Council", "type": "W", "nation": "Wales", "users": 5200},
        headers=api.auth(),
    )
    block = page.locator("#operations-organisations-organisations-list-organisations")
    block.locator(".opblock-summary").click()
    block.locator("button.try-out__btn").click()
    block.locator("button.execute").click()
    status = block.locator(".live-responses-table .response .response-col_status").first
    status.wait_for(timeout=15_000)
    assert status.inner_text().strip() == "200"
    body = block.locator(".live-responses-table .response-col_description pre").first.inner_text()
    assert "Swansea Council" in body
    if folder:
        page.screenshot(path=os.path.join(folder, "docs-try-it-out.png"), full_page=False)

    origin = urlsplit(ingest_server).netloc

    def elsewhere() -> list[str]:
        return [url for url in requested if urlsplit(url).netloc not in (origin, "")]

    assert not elsewhere(), f"/docs fetched from another origin: {elsewhere()}"

    # ReDoc renders the same document from the same origin
    page.goto(f"{ingest_server}/redoc", wait_until="load", timeout=30_000)
    page.locator("h2", has_text="List organisations you can see").first.wait_for(timeout=30_000)
    if folder:
        page.screenshot(path=os.path.join(folder, "redoc.png"))
    for url in elsewhere():
        assert "csp" in blocked.get(url, "").lower(), f"/redoc fetched {url}: {blocked}"
    page.close()
