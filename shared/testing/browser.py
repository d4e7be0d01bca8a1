"""The headless browser of the browser tests, found on PATH rather than at a fixed path, and
the server those tests point it at (a service under uvicorn in a thread).

``YARDSTICK_CHROMIUM`` names the executable explicitly; set it to an empty string (or a
path that does not exist) to run as if no browser were installed.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
ENV = "YARDSTICK_CHROMIUM"
# The start of every skip reason for a missing browser: `yardstick test` counts these.
SKIP_PREFIX = "browser tests need Chromium"


def find_chromium() -> str | None:
    """The Chromium (or Chrome) executable to drive, or None when there is none."""
    if ENV in os.environ:
        chosen = os.environ[ENV]
        found = shutil.which(chosen) if chosen else None
        return found
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def missing_reason() -> str:
    if ENV in os.environ:
        return f"{SKIP_PREFIX}: {ENV}={os.environ[ENV]!r} is not an executable"
    return f"{SKIP_PREFIX}: none of {', '.join(CANDIDATES)} is on PATH"


# Headless, and quiet on a closed network (no background fetches, updates or sync).
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


@contextmanager
def chromium() -> Iterator[Any]:
    """A Playwright browser on the Chromium :func:`find_chromium` finds (skips the test when
    Playwright is not installed)."""
    import pytest

    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=find_chromium(), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(app: Any, name: str, port: int | None = None) -> Iterator[str]:
    """``app`` under uvicorn in a thread on a free loopback port (or ``port``: one the app
    was told is its public URL's), as a browser reaches it; yields its base URL and stops
    it afterwards."""
    import pytest
    import uvicorn

    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"{name}-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            pytest.fail(f"the {name} server did not start")
        time.sleep(0.02)  # waiting on a condition (uvicorn's started flag), bounded
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
    assert not thread.is_alive()
