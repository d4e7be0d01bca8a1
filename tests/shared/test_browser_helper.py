"""The browser tests find Chromium on PATH, and `yardstick test` says when they skipped."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shared.settings import PROJECT_ROOT
from shared.testing.browser import ENV, SKIP_PREFIX, find_chromium
from yardstick.cli import browser_summary

BROWSER_TESTS = "tests/unit/survey/test_survey_browser.py"


def _fake(folder: Path, name: str) -> Path:
    path = folder / name
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


def test_chromium_is_found_on_path_under_any_of_its_names(tmp_path, monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    assert find_chromium() is None
    google = _fake(tmp_path, "google-chrome")
    assert find_chromium() == str(google)
    browser = _fake(tmp_path, "chromium-browser")
    assert find_chromium() == str(browser)  # chromium before chrome
    # named explicitly, or explicitly none
    monkeypatch.setenv(ENV, str(google))
    assert find_chromium() == str(google)
    monkeypatch.setenv(ENV, "")
    assert find_chromium() is None
    monkeypatch.setenv(ENV, str(tmp_path / "nowhere"))
    assert find_chromium() is None


def _run_browser_tests(tmp_path: Path, env: dict[str, str], *args: str) -> dict:
    report = tmp_path / "skips.json"
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, **env, "YARDSTICK_SKIP_REPORT": str(report)},
        capture_output=True,
        timeout=300,
        check=False,
    )
    return dict(json.loads(report.read_text()))


def test_a_run_without_chromium_reports_why_its_browser_tests_skipped(tmp_path):
    data = _run_browser_tests(tmp_path, {ENV: ""}, BROWSER_TESTS)
    assert data["browser_ran"] == 0
    ((reason, count),) = data["browser_skipped"].items()
    assert reason.startswith(SKIP_PREFIX) and ENV in reason
    assert count >= 7  # every browser test in the file
    note = browser_summary(tmp_path / "skips.json")
    assert note is not None
    assert f"{count} SKIPPED, 0 ran" in note and SKIP_PREFIX in note


@pytest.mark.skipif(find_chromium() is None, reason="Chromium is not installed here")
def test_a_run_with_chromium_reports_its_browser_tests_ran(tmp_path):
    data = _run_browser_tests(tmp_path, {}, BROWSER_TESTS, "-k", "skip_link")
    assert data == {"browser_ran": 1, "browser_skipped": {}}
    assert browser_summary(tmp_path / "skips.json") == ("browser tests: 1 ran in headless Chromium")


def test_no_report_no_line(tmp_path):
    assert browser_summary(tmp_path / "missing.json") is None
