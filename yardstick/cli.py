"""The ``yardstick`` command: run, migrate, demo data, tokens, API keys, OpenAPI, tests."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from shared.settings import PROJECT_ROOT, SERVICES, get_settings

app = typer.Typer(
    help="Yardstick: peer benchmarking and service-performance reporting.", no_args_is_help=True
)
apikey_app = typer.Typer(help="Create, list and revoke API keys.", no_args_is_help=True)
app.add_typer(apikey_app, name="apikey")


def _database_url() -> str:
    from shared.embedded import resolve_database_url

    return resolve_database_url(get_settings())


@app.command()
def up(
    demo: Annotated[bool, typer.Option("--demo", help="Load the demo data set first")] = False,
    host: Annotated[str, typer.Option(help="Interface to listen on")] = "127.0.0.1",
    base_port: Annotated[
        int,
        typer.Option(
            min=1,
            max=65535,
            help="Services on base, base+1, base+2; the local mail catcher on base+24",
        ),
    ] = 8001,
) -> None:
    """Start everything: database (embedded unless DATABASE_URL), migrations, the three
    services, the worker and, unless YARDSTICK_SMTP_HOST names an SMTP server, a mail
    catcher of this instance's own (base port + 24, or YARDSTICK_SMTP_PORT) that writes
    invitations to <data dir>/mail. Ctrl-C stops them all."""
    from yardstick.supervisor import run_all

    raise typer.Exit(run_all(demo=demo, host=host, base_port=base_port))


@app.command()
def migrate(revision: Annotated[str, typer.Argument()] = "head") -> None:
    """Apply migrations up to REVISION (default: head)."""
    from shared.db.migrate import upgrade

    upgrade(_database_url(), revision)
    typer.echo(f"database migrated to {revision}")


@app.command()
def demo() -> None:
    """Load the demo data set (idempotent)."""
    from shared.db.migrate import upgrade
    from yardstick.demo import load_demo

    url = _database_url()
    upgrade(url)
    typer.echo(load_demo(url))


@app.command()
def worker() -> None:
    """Run the outbox worker (delivers events between services) and its periodic jobs,
    validation monitoring among them."""
    from shared.validation_jobs import start_validation_monitoring
    from shared.worker import run

    # run() sets up JSON logs (shared.observability), a line per delivery with its request id
    start_validation_monitoring(get_settings())
    run(get_settings(), _database_url())


@app.command()
def retention(
    months: Annotated[
        int | None,
        typer.Option(help="Months kept (default: YARDSTICK_TICKET_RETENTION_MONTHS)", min=1),
    ] = None,
    batch: Annotated[int, typer.Option(help="Rows removed per transaction", min=1)] = 5000,
) -> None:
    """Remove tickets and SLA outcomes finished before the retention cut-off (the first
    day of the month MONTHS months ago), in batches, per partition, logging counts."""
    from shared.db.engine import make_engine
    from shared.db.retention import prune
    from shared.observability import configure_logging

    settings = get_settings()
    configure_logging("retention", level=settings.log_level)
    kept = months if months is not None else settings.ticket_retention_months
    if kept is None:
        typer.echo(
            "No retention set (YARDSTICK_TICKET_RETENTION_MONTHS or --months): nothing removed."
        )
        return
    url = _database_url()
    ingest, metrics = make_engine(url, role="ingest"), make_engine(url, role="metrics")
    try:
        result = prune(ingest, metrics, kept, batch=batch)
    finally:
        ingest.dispose()
        metrics.dispose()
    typer.echo(
        f"Before {result.cutoff.isoformat()}: {result.total('tickets')} tickets and "
        f"{result.total('sla_outcomes')} SLA outcomes removed."
    )


@app.command()
def token(
    role: Annotated[str, typer.Option(help="admin, participant, partner or reader")] = "admin",
    org: Annotated[list[int] | None, typer.Option(help="Organisation id (repeat for more)")] = None,
    subject: Annotated[str, typer.Option(help="The token's subject")] = "local-user",
    hours: Annotated[float, typer.Option(help="Lifetime in hours")] = 8.0,
) -> None:
    """Mint a local development JWT (HS256, the configured issuer and audience)."""
    from shared.auth import ROLES, mint_token

    if role not in ROLES:
        raise typer.BadParameter(f"role must be one of {', '.join(ROLES)}")
    typer.echo(
        mint_token(
            get_settings(),
            subject=subject,
            roles=[role],
            organisations=list(org or []),
            ttl=timedelta(hours=hours),
        )
    )


@apikey_app.command("create")
def apikey_create(
    name: Annotated[str, typer.Option(help="What the key is for")],
    role: Annotated[str, typer.Option(help="admin, participant, partner or reader")] = "reader",
    org: Annotated[list[int] | None, typer.Option(help="Organisation id (repeat for more)")] = None,
    days: Annotated[int | None, typer.Option(help="Expire after this many days")] = None,
) -> None:
    """Create an API key; prints the key once."""
    from services.ingest.apikeys.schemas import ApiKeyCreate
    from services.ingest.apikeys.service import create
    from shared.auth import Principal
    from yardstick.dbsession import admin_session

    data = ApiKeyCreate(
        name=name,
        role=role,
        organisations=list(org or []),
        expires_at=datetime.now(UTC) + timedelta(days=days) if days else None,
    )
    cli = Principal(subject="cli", roles=frozenset(["admin"]), via="cli")
    with admin_session(_database_url()) as session:
        row = create(session, get_settings(), cli, data, created_by="cli")
    typer.echo(json.dumps({k: str(v) for k, v in row.items()}, indent=2))


@apikey_app.command("list")
def apikey_list() -> None:
    """List API keys (never their secrets)."""
    from services.ingest.apikeys.repository import list_keys
    from yardstick.dbsession import admin_session

    with admin_session(_database_url()) as session:
        rows, _ = list_keys(session, None, 10_000, 0)
    for r in rows:
        state = "revoked" if r["revoked_at"] else "active"
        typer.echo(
            f"{r['id']}  ys_{r['prefix']}_…  {r['role']:<11} {state:<7} {r['name']}  "
            f"orgs={r['organisations']}"
        )


@apikey_app.command("revoke")
def apikey_revoke(key_id: str) -> None:
    """Revoke the API key with this id."""
    import uuid

    from services.ingest.apikeys.repository import get_key, revoke_key
    from yardstick.dbsession import admin_session

    with admin_session(_database_url()) as session:
        if get_key(session, uuid.UUID(key_id)) is None:
            typer.echo(f"no API key {key_id}", err=True)
            raise typer.Exit(1)
        revoke_key(session, uuid.UUID(key_id))
    typer.echo(f"revoked {key_id}")


def openapi_documents() -> dict[str, dict[str, Any]]:
    import importlib

    docs: dict[str, dict[str, Any]] = {}
    for service in SERVICES:
        module = importlib.import_module(f"services.{service}.main")
        docs[service] = module.build().openapi()
    return docs


def render_openapi(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


@app.command()
def openapi(
    check: Annotated[
        bool, typer.Option("--check", help="Fail if the committed files differ")
    ] = False,
) -> None:
    """Write each service's OpenAPI document to openapi/<service>.json."""
    out = PROJECT_ROOT / "openapi"
    out.mkdir(exist_ok=True)
    stale = []
    for service, doc in openapi_documents().items():
        path = out / f"{service}.json"
        text = render_openapi(doc)
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
        else:
            path.write_text(text)
            typer.echo(f"wrote {path}")
    if stale:
        typer.echo("stale: " + ", ".join(stale) + " (run `yardstick openapi`)", err=True)
        raise typer.Exit(1)


@app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})
def test(ctx: typer.Context) -> None:
    """Run every check: ruff (lint, format), mypy, then the test suite in parallel.

    Extra arguments go to pytest. Uses DATABASE_URL when set, else an embedded PostgreSQL.
    """
    py = sys.executable
    bindir = Path(py).parent

    def tool(name: str) -> str:
        return shutil.which(name, path=str(bindir)) or name

    steps = [
        ("ruff lint", [tool("ruff"), "check", "."]),
        ("ruff format", [tool("ruff"), "format", "--check", "."]),
        ("mypy", [tool("mypy")]),
        (
            "pytest",
            [
                py,
                "-m",
                "pytest",
                "-n",
                os.environ.get("YARDSTICK_TEST_WORKERS", "auto"),
                "--dist",
                "loadgroup",
                *ctx.args,
            ],
        ),
    ]
    import tempfile

    with tempfile.TemporaryDirectory(prefix="yardstick-test-") as scratch:
        report = Path(scratch) / "skips.json"
        env = {**os.environ, "YARDSTICK_SKIP_REPORT": str(report)}
        for label, cmd in steps:
            typer.secho(f"==> {label}: {' '.join(cmd[1:]) if label == 'pytest' else ''}", bold=True)
            code = subprocess.call(cmd, cwd=PROJECT_ROOT, env=env)
            if label == "pytest":
                note = browser_summary(report)
                if note:
                    typer.secho(note, fg="yellow" if "skipped" in note else None, err=True)
            if code != 0:
                typer.secho(f"{label} failed", fg="red", err=True)
                raise typer.Exit(code)
    typer.secho("all checks passed", fg="green")


def browser_summary(report: Path) -> str | None:
    """What the pytest run wrote about its browser tests (shared/testing/plugin.py), as a
    line for the end of `yardstick test`: how many ran, or how many were skipped and why."""
    try:
        data = json.loads(report.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    skipped: dict[str, int] = data.get("browser_skipped") or {}
    ran = int(data.get("browser_ran") or 0)
    if not skipped:
        return f"browser tests: {ran} ran in headless Chromium" if ran else None
    count = sum(skipped.values())
    reasons = "; ".join(f"{reason} ({n})" for reason, n in sorted(skipped.items()))
    return (
        f"browser tests: {count} SKIPPED, {ran} ran: {reasons}. "
        "Install Chromium (e.g. apt-get install chromium) or set YARDSTICK_CHROMIUM."
    )


def _import_client() -> Any:
    """The HTTP client ``yardstick import`` uses (tests swap in an in-process transport)."""
    import httpx

    return httpx.Client(timeout=3600.0)


def _metrics_client() -> Any:
    """The HTTP client ``yardstick import`` reads the headline figures with (tests swap in
    an in-process transport)."""
    import httpx

    return httpx.Client(timeout=60.0)


def _month_range(touched: dict[str, list[str]]) -> tuple[str, str] | None:
    """First and last day of the months an import touched (local, YYYY-MM-DD)."""
    import calendar

    months = sorted({m for ms in touched.values() for m in ms})
    if not months:
        return None
    year, month = (int(x) for x in months[-1].split("-"))
    last = calendar.monthrange(year, month)[1]
    return f"{months[0]}-01", f"{months[-1]}-{last:02d}"


def _headline(client: Any, base: str, headers: dict[str, str], job: dict[str, Any]) -> list[str]:
    """One line per organisation and priority: the SLA totals of the tickets logged in the
    months the import touched, as the metrics service now has them."""
    touched = job.get("touched_months") or {}
    span = _month_range(touched)
    if span is None:
        return ["no tickets changed: the figures were already up to date"]
    lines = [f"SLA figures for tickets logged {span[0]} to {span[1]}:"]
    for org in sorted(touched, key=int):
        response = client.get(
            f"{base}/api/v1/sla/totals",
            params={"organisation_id": org, "logged_from": span[0], "logged_to": span[1]},
            headers=headers,
        )
        if response.status_code != 200:
            lines.append(f"  organisation {org}: figures unavailable ({response.status_code})")
            continue
        for row in response.json()["items"]:
            pct = "-" if row["pct_met"] is None else f"{row['pct_met']:.2f}%"
            target = (
                ""
                if row["target_share_pct"] is None
                else (f" (target {row['target_share_pct']:.2f}%)")
            )
            lines.append(
                f"  organisation {row['organisation_id']} {row['priority'] or 'no priority'}: "
                f"{row['met']} met, {row['missed']} missed, {pct} met{target}; "
                f"{row['open_within'] + row['open_breached']} open"
            )
    return lines


def _wait(seconds: float) -> None:
    """Pause between job polls (tests swap in running the outbox once)."""
    import time

    time.sleep(seconds)


@app.command("import")
def import_tickets(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV or JSON lines")],
    org: Annotated[int | None, typer.Option(help="Organisation of rows with none")] = None,
    source_system: Annotated[str | None, typer.Option(help="Source system name")] = None,
    profile: Annotated[str, typer.Option(help="Ready profile, e.g. servicenow")] = "yardstick",
    mapping_id: Annotated[int | None, typer.Option(help="A saved custom mapping")] = None,
    url: Annotated[str | None, typer.Option(help="Ingest service URL")] = None,
    token: Annotated[
        str | None, typer.Option(envvar="YARDSTICK_TOKEN", help="Bearer token or API key")
    ] = None,
    poll_seconds: Annotated[float, typer.Option(help="Seconds between status polls")] = 1.0,
    history: Annotated[
        bool, typer.Option(help="The file is a ticket history (events), not tickets")
    ] = False,
    metrics_url: Annotated[str | None, typer.Option(help="Metrics service URL")] = None,
    figures_timeout: Annotated[
        float, typer.Option(help="Seconds to wait for the SLA figures to include the import")
    ] = 600.0,
) -> None:
    """Stream a ticket export to the ingest service with a progress bar, follow the job,
    wait until the SLA figures include it (``figures_ready_at``) and print the headline
    figures."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    from shared.auth import mint_token

    settings = get_settings()
    base = (url or settings.ingest_url).rstrip("/")
    bearer = token or mint_token(
        settings, subject="cli-import", roles=["admin"], organisations=[org] if org else []
    )
    headers = {"Authorization": f"Bearer {bearer}"}
    suffix = file.suffix.lower()
    fmt = "jsonl" if suffix in (".jsonl", ".ndjson") else "json" if suffix == ".json" else "csv"
    params: dict[str, Any] = {"profile": profile, "format": fmt}
    if history:
        params["content"] = "history"
    for key, value in (("organisation_id", org), ("source_system", source_system)):
        if value is not None:
            params[key] = value
    if mapping_id is not None:
        params["mapping_id"] = mapping_id
    size = file.stat().st_size
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
    ) as bar:
        task = bar.add_task(f"uploading {file.name}", total=size)

        def chunks() -> Any:
            with file.open("rb") as fh:
                while block := fh.read(1 << 20):
                    bar.advance(task, len(block))
                    yield block

        with _import_client() as client:
            response = client.post(
                f"{base}/api/v1/ticket-imports",
                params=params,
                content=chunks(),
                headers={**headers, "Content-Type": "application/octet-stream"},
            )
            if response.status_code != 202:
                bar.stop()
                typer.secho(f"refused ({response.status_code}): {response.text}", fg="red")
                raise typer.Exit(1)
            location = response.headers["location"]
            rows = bar.add_task("processing (rows read)", total=None)
            while True:
                job = client.get(location, headers=headers).json()
                bar.update(rows, completed=job["progress"]["rows_read"])
                if job["status"] in ("done", "failed"):
                    break
                _wait(poll_seconds)
            lines: list[str] = []
            if job["status"] == "done":
                deadline = time.monotonic() + figures_timeout
                while job.get("figures_ready_at") is None and time.monotonic() < deadline:
                    _wait(poll_seconds)
                    job = client.get(location, headers=headers).json()
                if job.get("figures_ready_at") is None:
                    lines = [f"the SLA figures do not include the import yet (waited "
                             f"{figures_timeout:g} s); see {location}"]  # fmt: skip
                else:
                    lines = [f"figures ready at {job['figures_ready_at']} (computation run "
                             f"{job.get('computation_run_id')})"]  # fmt: skip
                    metrics_base = (metrics_url or settings.metrics_url).rstrip("/")
                    try:
                        with _metrics_client() as metrics:
                            lines += _headline(metrics, metrics_base, headers, job)
                    except Exception as exc:  # the import is done either way
                        lines.append(f"headline figures unavailable: {type(exc).__name__}")
    for line in lines:
        typer.echo(line)
    typer.echo(json.dumps(job, indent=2))
    if job["status"] == "failed":
        raise typer.Exit(1)


if __name__ == "__main__":
    app()
