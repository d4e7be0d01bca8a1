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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

import httpx

from shared.settings import PROJECT_ROOT, SERVICES, ServiceName, Settings, get_settings


def _die_with_parent() -> None:
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


# The local mail catcher listens on the base port + this: 8025 for the default base 8001,
# so two instances with different --base-port never share a catcher: invitations of one
# never land in the mail folder of another.
MAIL_CATCHER_OFFSET = 24
# The worker's /metrics and /healthz listen on the base port + this (8004 by default).
WORKER_METRICS_OFFSET = 3


@dataclass(frozen=True)
class PortPlan:
    """Where each part of one ``up`` listens. ``catcher_port`` is None when an SMTP server
    is configured (YARDSTICK_SMTP_HOST): then mail really goes out through it."""

    services: dict[ServiceName, int]
    worker_metrics_port: int
    smtp_host: str
    smtp_port: int
    catcher_port: int | None
    catcher_port_from: str  # how the catcher's port was chosen, for messages


def plan_ports(base_port: int, settings: Settings) -> PortPlan:
    services = {svc: base_port + i for i, svc in enumerate(SERVICES)}
    worker = (
        settings.worker_metrics_port
        if "worker_metrics_port" in settings.model_fields_set
        else base_port + WORKER_METRICS_OFFSET
    )
    if "smtp_host" in settings.model_fields_set:
        return PortPlan(services, worker, settings.smtp_host, settings.smtp_port, None, "")
    if "smtp_port" in settings.model_fields_set:
        port, source = settings.smtp_port, "YARDSTICK_SMTP_PORT"
    else:
        port, source = base_port + MAIL_CATCHER_OFFSET, f"--base-port + {MAIL_CATCHER_OFFSET}"
    return PortPlan(services, worker, "127.0.0.1", port, port, source)


def _refusal(plan: PortPlan, host: str) -> str | None:
    """Why ``up`` cannot start on these ports, naming the port and what to change."""
    too_high = [p for p in [*plan.services.values(), plan.catcher_port or 0] if p > 65535]
    if too_high:
        return (
            f"port {too_high[0]} is above 65535; choose a lower --base-port "
            f"(the services use base..base+2, the mail catcher base+{MAIL_CATCHER_OFFSET})"
        )
    busy = [port for port in plan.services.values() if not _port_free(host, port)]
    if busy:
        return (
            f"port {', '.join(map(str, busy))} on {host} is in use; "
            "stop what uses it or choose other ports with --base-port"
        )
    worker = plan.worker_metrics_port
    if worker and not _port_free("127.0.0.1", worker):
        return (
            f"the worker's metrics port {worker} on 127.0.0.1 is in use; choose other ports "
            f"with --base-port (the worker uses base+{WORKER_METRICS_OFFSET}) or set "
            "YARDSTICK_WORKER_METRICS_PORT (0: none)"
        )
    if plan.catcher_port is not None and not _port_free("127.0.0.1", plan.catcher_port):
        change = (
            "set YARDSTICK_SMTP_PORT to a free port"
            if plan.catcher_port_from == "YARDSTICK_SMTP_PORT"
            else f"choose other ports with --base-port (the catcher uses base+"
            f"{MAIL_CATCHER_OFFSET}) or set YARDSTICK_SMTP_PORT"
        )
        return (
            f"mail catcher port {plan.catcher_port} on 127.0.0.1 ({plan.catcher_port_from}) is "
            "in use, perhaps by another Yardstick's catcher: survey invitations would go to "
            f"it instead of this instance's mail folder. Stop what uses it, {change}, or set "
            "YARDSTICK_SMTP_HOST to send through a real SMTP server"
        )
    return None


def run_all(*, demo: bool, host: str, base_port: int) -> int:
    from shared.db.migrate import upgrade
    from shared.embedded import resolve_database_url

    settings = get_settings()
    plan = plan_ports(base_port, settings)
    ports = plan.services
    refusal = _refusal(plan, host)
    if refusal:
        print(refusal, file=sys.stderr)
        return 1

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
        "YARDSTICK_WORKER_METRICS_HOST": "127.0.0.1",
        "YARDSTICK_WORKER_METRICS_PORT": str(plan.worker_metrics_port),
    }
    mail_folder = None
    if plan.catcher_port is not None:
        # Told explicitly, so that the survey service sends to this instance's catcher and
        # to nothing else, whatever its own defaults say.
        mail_folder = Path(settings.data_dir) / "mail"
        env.update(
            YARDSTICK_SMTP_HOST="127.0.0.1",
            YARDSTICK_SMTP_PORT=str(plan.catcher_port),
            YARDSTICK_SMTP_TLS="none",
        )
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
                # Requests are logged by the app (JSON, one line each, no client address).
                "--no-access-log",
                "--log-level",
                "warning",
            ]
        )
    if plan.catcher_port is not None:
        spawn(
            [
                sys.executable,
                "-m",
                "yardstick.mailcatcher",
                "--port",
                str(plan.catcher_port),
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

    listening = [plan.catcher_port] if plan.catcher_port is not None else []
    ready = _wait_ready(
        host, ports, procs, lambda: stopping, listening, limit=settings.ready_timeout
    )
    if ready:
        # Only now: started with the services, its first deliveries (the demo's recompute
        # events) hit ports not yet listening and filled the console with retries.
        spawn([sys.executable, "-m", "yardstick.cli", "worker"])
        print("\nYardstick is up:", flush=True)
        for svc, port in ports.items():
            print(f"  {svc:<8} http://{host}:{port}   docs: http://{host}:{port}/docs", flush=True)
        if plan.worker_metrics_port:
            print(
                f"  worker   http://127.0.0.1:{plan.worker_metrics_port}/metrics   "
                "(each service: /metrics, loopback only unless YARDSTICK_METRICS_TOKEN)",
                flush=True,
            )
        print(f"  database {'embedded, ' if embedded else ''}{_redact(url)}", flush=True)
        if mail_folder is not None:
            print(
                f"  mail     smtp://127.0.0.1:{plan.catcher_port} -> {mail_folder}/*.eml   "
                f"(local catcher on {plan.catcher_port_from}: nothing is really sent)",
                flush=True,
            )
        else:
            print(
                f"  mail     smtp://{plan.smtp_host}:{plan.smtp_port}   (YARDSTICK_SMTP_HOST: "
                "invitations are really sent; no local catcher)",
                flush=True,
            )
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
    ports: Mapping[ServiceName, int],
    procs: list[subprocess.Popen[bytes]],
    stopping: Callable[[], bool],
    listening: Sequence[int] = (),
    *,
    limit: float,
) -> bool:
    """Wait up to ``limit`` seconds until every service answers /readyz and every port in
    ``listening`` (on 127.0.0.1) accepts connections."""
    deadline = time.monotonic() + limit
    pending = dict(ports)
    waiting = list(listening)
    while (pending or waiting) and time.monotonic() < deadline:
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
        for port in list(waiting):
            with socket.socket() as sock:
                sock.settimeout(1)
                if sock.connect_ex(("127.0.0.1", port)) == 0:
                    waiting.remove(port)
        time.sleep(0.3)
    for svc, port in pending.items():
        print(f"{svc} on port {port} did not answer /readyz within {limit:g} s", file=sys.stderr)
    for port in waiting:
        print(f"the mail catcher did not listen on port {port} within {limit:g} s", file=sys.stderr)
    return not pending and not waiting


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
