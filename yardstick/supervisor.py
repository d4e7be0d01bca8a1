"""``yardstick up``: one process group, no orphans.

The parent starts (or attaches to) the database, migrates, then runs each service under
uvicorn and the worker as child processes. Children get PR_SET_PDEATHSIG so that even a
SIGKILL of the parent takes them down; Ctrl-C or SIGTERM stops them in order, then the
embedded PostgreSQL stops as the parent exits.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import FrameType

import httpx

from shared.settings import PROJECT_ROOT, SERVICES, get_settings


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def run_all(*, demo: bool, host: str, base_port: int) -> int:
    from shared.db.migrate import upgrade
    from shared.embedded import resolve_database_url

    ports: dict[str, int] = {svc: base_port + i for i, svc in enumerate(SERVICES)}
    busy = [port for port in ports.values() if not _port_free(host, port)]
    if busy:
        print(
            f"port {', '.join(map(str, busy))} on {host} is in use; "
            "stop what uses it or choose other ports with --base-port",
            file=sys.stderr,
        )
        return 1

    settings = get_settings()
    embedded = settings.database_url is None
    print("starting the embedded PostgreSQL…" if embedded else "using DATABASE_URL", flush=True)
    url = resolve_database_url(settings)
    upgrade(url)
    print("migrations applied", flush=True)
    if demo:
        from yardstick.demo import load_demo

        print(load_demo(url), flush=True)

    env = {
        **os.environ,
        "DATABASE_URL": url,
        **{f"YARDSTICK_{svc.upper()}_URL": f"http://{host}:{port}" for svc, port in ports.items()},
    }
    procs: list[subprocess.Popen[bytes]] = []

    def spawn(args: list[str]) -> None:
        procs.append(subprocess.Popen(args, cwd=PROJECT_ROOT, env=env, preexec_fn=_die_with_parent))

    for svc, port in ports.items():
        spawn(
            [
                sys.executable,
                "-m",
                "uvicorn",
                f"services.{svc}.main:app",
                "--host",
                host,
                "--port",
                str(port),
                "--no-server-header",
                "--log-level",
                "warning",
            ]
        )
    mail_folder = None
    if "YARDSTICK_SMTP_HOST" not in os.environ and _port_free("127.0.0.1", settings.smtp_port):
        mail_folder = Path(settings.data_dir) / "mail"
        spawn(
            [
                sys.executable,
                "-m",
                "yardstick.mailcatcher",
                "--port",
                str(settings.smtp_port),
                "--folder",
                str(mail_folder),
            ]
        )

    stopping = False

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    ready = _wait_ready(host, ports, procs, lambda: stopping)
    if ready:
        # Only now: started with the services, its first deliveries (the demo's recompute
        # events) hit ports not yet listening and filled the console with retries.
        spawn([sys.executable, "-m", "yardstick.cli", "worker"])
        print("\nYardstick is up:", flush=True)
        for svc, port in ports.items():
            print(f"  {svc:<8} http://{host}:{port}   docs: http://{host}:{port}/docs", flush=True)
        print(f"  database {'embedded, ' if embedded else ''}{_redact(url)}", flush=True)
        if mail_folder is not None:
            print(f"  mail     smtp://127.0.0.1:{settings.smtp_port} -> {mail_folder}/*.eml")
        print("  token:   yardstick token --role admin   (then: Authorization: Bearer <token>)")
        print("Press Ctrl-C to stop.", flush=True)
    code = 0
    while not stopping and ready:
        if _report_exited(procs):
            print("stopping everything", file=sys.stderr)
            code = 1
            break
        time.sleep(0.3)
    _stop(procs)
    print("stopped", flush=True)
    return code if ready else 1


def _port_free(host: str, port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _wait_ready(
    host: str,
    ports: Mapping[str, int],
    procs: list[subprocess.Popen[bytes]],
    stopping: Callable[[], bool],
) -> bool:
    deadline = time.monotonic() + 60
    pending = dict(ports)
    while pending and time.monotonic() < deadline:
        if stopping():
            return False
        if _report_exited(procs):
            return False
        for svc, port in list(pending.items()):
            try:
                if httpx.get(f"http://{host}:{port}/readyz", timeout=1).status_code == 200:
                    del pending[svc]
            except httpx.HTTPError:
                pass
        time.sleep(0.3)
    return not pending


def _report_exited(procs: list[subprocess.Popen[bytes]]) -> bool:
    """Say which child ended (and how) so a failed start is never a mystery."""
    exited = [p for p in procs if p.poll() is not None]
    for p in exited:
        name = " ".join(str(a) for a in p.args[2:4])  # type: ignore[index]
        print(f"{name} exited with code {p.returncode}", file=sys.stderr, flush=True)
    return bool(exited)


def _stop(procs: list[subprocess.Popen[bytes]]) -> None:
    for p in procs:
        if p.poll() is None:
            p.terminate()
    deadline = time.monotonic() + 10
    for p in procs:
        try:
            p.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
