"""The headless browser of the browser tests, found on PATH rather than at a fixed path.

``YARDSTICK_CHROMIUM`` names the executable explicitly; set it to an empty string (or a
path that does not exist) to run as if no browser were installed.
"""

from __future__ import annotations

import os
import shutil

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
