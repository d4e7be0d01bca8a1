"""`yardstick up` brings every service up, answers /readyz, and Ctrl-C leaves nothing."""

import os
import random
import signal
import smtplib
import socket
import subprocess
import sys
import time

import httpx
import psutil
import pytest

from shared.embedded import data_folder
from shared.settings import PROJECT_ROOT, Settings


def _free_base_port() -> int:
    # Random, so that test runs on the same machine (other checkouts) do not pick the same.
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 60000, 10)
        if all(_is_free(p) for p in (base, base + 1, base + 2)):
            return base
    raise RuntimeError("no free ports")


def _is_free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _run_up(env, base):
    proc = subprocess.Popen(
        [sys.executable, "-m", "yardstick.cli", "up", "--base-port", str(base)],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines = []
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Press Ctrl-C" in line:
            return proc, "".join(lines)
    proc.kill()
    pytest.fail("yardstick up did not become ready:\n" + "".join(lines))


def _stop_and_check(proc):
    family = [proc.pid] + [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
    assert len(family) >= 5  # three services, the worker, plus the parent
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, out
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(
        psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in family
    ):
        time.sleep(0.2)
    alive = [
        p
        for p in family
        if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
    ]
    assert alive == [], f"orphans left: {alive}"
    return out


@pytest.mark.xdist_group("e2e")
def test_up_with_database_url_then_ctrl_c(database_url, tmp_path):
    base = _free_base_port()
    smtp_port = _free_base_port() + 5
    env = {k: v for k, v in os.environ.items() if k != "YARDSTICK_SMTP_HOST"}
    env.update(
        DATABASE_URL=database_url,
        YARDSTICK_DATA_DIR=str(tmp_path),
        YARDSTICK_SMTP_PORT=str(smtp_port),
    )
    proc, banner = _run_up(env, base)
    try:
        for i, service in enumerate(("ingest", "metrics", "survey")):
            assert f"http://127.0.0.1:{base + i}" in banner
            ready = httpx.get(f"http://127.0.0.1:{base + i}/readyz", timeout=5)
            assert ready.status_code == 200 and ready.json()["service"] == service
        # the local mail catcher keeps what the survey service would send
        assert f"smtp://127.0.0.1:{smtp_port} -> {tmp_path / 'mail'}" in banner
        with smtplib.SMTP("127.0.0.1", smtp_port, timeout=10) as smtp:
            smtp.sendmail("a@example.org", ["b@example.org"], b"Subject: hi\r\n\r\nhello\r\n")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not list((tmp_path / "mail").glob("*.eml")):
            time.sleep(0.1)
        (caught,) = (tmp_path / "mail").glob("*.eml")
        assert b"hello" in caught.read_bytes()
    finally:
        out = _stop_and_check(proc)
    assert "stopped" in out


@pytest.mark.xdist_group("e2e")
def test_up_refuses_a_busy_port(database_url):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "yardstick.cli", "up", "--base-port", str(port)],
            cwd=PROJECT_ROOT,
            env={**os.environ, "DATABASE_URL": database_url},
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 1
    assert f"port {port} on 127.0.0.1 is in use" in result.stderr


@pytest.mark.xdist_group("e2e")
def test_up_on_the_embedded_database(tmp_path):
    base = _free_base_port()
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["YARDSTICK_DATA_DIR"] = str(tmp_path / "data")
    # never the default 1025: another run's mail catcher may hold it
    env["YARDSTICK_SMTP_PORT"] = str(_free_base_port() + 5)
    proc, banner = _run_up(env, base)
    try:
        assert "database embedded" in banner
        for i in range(3):
            assert httpx.get(f"http://127.0.0.1:{base + i}/readyz", timeout=5).status_code == 200
        folder = str(data_folder(Settings(data_dir=tmp_path / "data")))
        postgres = [
            p
            for p in psutil.process_iter(["name", "cmdline"])
            if p.info["name"] == "postgres" and folder in " ".join(p.info["cmdline"] or [])
        ]
        assert postgres, "the embedded PostgreSQL should be running"
    finally:
        _stop_and_check(proc)
    # the embedded server stops with the command
    time.sleep(1)
    assert all(not p.is_running() or p.status() == psutil.STATUS_ZOMBIE for p in postgres)
