"""`yardstick up` brings every service up, answers /readyz, and Ctrl-C leaves nothing;
each instance has a mail catcher of its own (issue 9, item 11)."""

import os
import random
import signal
import socket
import subprocess
import sys
import time
from datetime import timedelta

import httpx
import psutil
import pytest

from shared.auth import mint_token
from shared.embedded import data_folder
from shared.settings import PROJECT_ROOT, Settings
from yardstick.supervisor import MAIL_CATCHER_OFFSET, plan_ports


def _free_base_port() -> int:
    # Random, so that test runs on the same machine (other checkouts) do not pick the same;
    # below Linux's ephemeral range (32768 and up), where any outgoing connection of a
    # parallel test could take a port between this check and `up` binding it.
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(20000, 32000, 10)
        plan = plan_ports(base, Settings())
        ports = [*plan.services.values(), plan.worker_metrics_port, base + MAIL_CATCHER_OFFSET]
        if all(_is_free(p) for p in ports):
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
    deadline = time.monotonic() + 240
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


def _send_one_invitation(survey: str, ingest: str, address: str) -> None:
    """Through the public API of the running instance: organisation, campaign, one
    recipient, send."""
    settings = Settings()

    def auth(role: str, orgs: list[int]) -> dict[str, str]:
        token = mint_token(
            settings, subject="e2e", roles=[role], organisations=orgs, ttl=timedelta(minutes=10)
        )
        return {"Authorization": f"Bearer {token}"}

    with httpx.Client(timeout=30) as http:
        org = http.post(
            f"{ingest}/api/v1/organisations",
            json={"name": "Up Council", "type": "L", "nation": "England", "users": 100},
            headers=auth("admin", []),
        )
        assert org.status_code == 201, org.text
        staff = auth("participant", [org.json()["id"]])
        campaign = http.post(
            f"{survey}/api/v1/campaigns",
            json={"organisation_id": org.json()["id"], "kind": "user_skills", "users_in_scope": 9},
            headers=staff,
        )
        assert campaign.status_code == 201, campaign.text
        cid = campaign.json()["id"]
        r = http.post(
            f"{survey}/api/v1/campaigns/{cid}/recipients",
            content=f"email\n{address}\n".encode(),
            headers={**staff, "Content-Type": "text/csv"},
        )
        assert r.status_code == 200, r.text
        r = http.post(f"{survey}/api/v1/campaigns/{cid}/send", headers=staff)
        assert r.status_code == 202 and r.json()["queued"] == 1, r.text


def test_each_base_port_gets_its_own_mail_catcher(monkeypatch):
    for name in ("YARDSTICK_SMTP_HOST", "YARDSTICK_SMTP_PORT"):
        monkeypatch.delenv(name, raising=False)
    first, second = plan_ports(8001, Settings()), plan_ports(8101, Settings())
    assert (first.catcher_port, second.catcher_port) == (8025, 8125)
    assert (first.smtp_host, first.smtp_port) == ("127.0.0.1", 8025)
    assert set(first.services.values()) == {8001, 8002, 8003}
    # An explicit port wins; a configured SMTP server means no catcher at all.
    assert plan_ports(8101, Settings(smtp_port=2525)).catcher_port == 2525
    relay = plan_ports(8101, Settings(smtp_host="smtp.example.org", smtp_port=587))
    assert (relay.catcher_port, relay.smtp_host, relay.smtp_port) == (None, "smtp.example.org", 587)


@pytest.mark.xdist_group("e2e")
def test_up_with_database_url_then_ctrl_c(database_url, tmp_path):
    base = _free_base_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("YARDSTICK_SMTP_HOST", "YARDSTICK_SMTP_PORT", "YARDSTICK_SURVEY_URL")
    }
    env.update(DATABASE_URL=database_url, YARDSTICK_DATA_DIR=str(tmp_path))
    proc, banner = _run_up(env, base)
    try:
        for i, service in enumerate(("ingest", "metrics", "survey")):
            assert f"http://127.0.0.1:{base + i}" in banner
            ready = httpx.get(f"http://127.0.0.1:{base + i}/readyz", timeout=5)
            assert ready.status_code == 200 and ready.json()["service"] == service
        # This instance's own catcher, on a port derived from its base port, says so.
        catcher = base + MAIL_CATCHER_OFFSET
        assert f"smtp://127.0.0.1:{catcher} -> {tmp_path / 'mail'}" in banner
        # An invitation sent through this instance lands in this instance's mail folder.
        _send_one_invitation(
            f"http://127.0.0.1:{base + 2}", f"http://127.0.0.1:{base}", "someone@council.gov.uk"
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not list((tmp_path / "mail").glob("*.eml")):
            time.sleep(0.2)
        (caught,) = (tmp_path / "mail").glob("*.eml")
        mail = caught.read_bytes()
        assert b"To: someone@council.gov.uk" in mail
        assert f"http://127.0.0.1:{base + 2}/s/".encode() in mail
    finally:
        out = _stop_and_check(proc)
    assert "stopped" in out


@pytest.mark.xdist_group("e2e")
def test_up_refuses_when_its_mail_catcher_port_is_taken(database_url):
    base = _free_base_port()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("YARDSTICK_SMTP_HOST", "YARDSTICK_SMTP_PORT")
    }
    with socket.socket() as blocker:  # e.g. the first instance's catcher
        blocker.bind(("127.0.0.1", base + MAIL_CATCHER_OFFSET))
        blocker.listen()
        result = subprocess.run(
            [sys.executable, "-m", "yardstick.cli", "up", "--base-port", str(base)],
            cwd=PROJECT_ROOT,
            env={**env, "DATABASE_URL": database_url},
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert result.returncode == 1
    assert f"mail catcher port {base + MAIL_CATCHER_OFFSET} on 127.0.0.1" in result.stderr
    assert "--base-port" in result.stderr and "YARDSTICK_SMTP_PORT" in result.stderr
    assert "migrations applied" not in result.stdout  # refused before touching anything


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
    # An explicit catcher port is used as it is.
    smtp_port = _free_base_port() + 5
    env["YARDSTICK_SMTP_PORT"] = str(smtp_port)
    env.pop("YARDSTICK_SMTP_HOST", None)
    proc, banner = _run_up(env, base)
    try:
        assert "database embedded" in banner
        assert f"smtp://127.0.0.1:{smtp_port} -> " in banner
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
