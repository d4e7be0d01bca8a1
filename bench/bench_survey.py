# ruff: noqa: E501
"""Response submissions per second at 50 concurrent clients (wrk, 50 connections) against
a uvicorn survey server, next to a bare FastAPI endpoint that inserts one row, measured in
the same run on the same database. Each survey request uses its own single-use link, so
every 201 is one stored response; rows are counted afterwards (zero lost).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/bench_survey.py [seconds]
    (without DATABASE_URL the embedded PostgreSQL is used)
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import httpx
import psycopg
from sqlalchemy import insert, text
from sqlalchemy.engine import make_url

from services.survey.privacy import new_link_token
from shared.db.engine import make_engine, normalise_url
from shared.db.migrate import upgrade
from shared.db.tables.survey_campaigns import (
    survey_campaigns,
    survey_invitation_tokens,
    survey_invitations,
)
from shared.settings import PROJECT_ROOT, Settings

CONNECTIONS, THREADS = 50, 4
ANSWERS = {f"S{i}.{m}": 1 + i % 7 for i in range(1, 21) for m in ("satisfaction", "importance")}
ANSWERS |= {"overall": 5, "improvement": 4, "nps": 9, "comment": "Bench response"}

LUA = r"""
local threads, counter = {}, 0
function setup(thread)
  thread:set("id", counter); counter = counter + 1; table.insert(threads, thread)
end
function init(args)
  tokens, i, ok, other = {}, 0, 0, 0
  local n = 0
  for line in io.lines(args[1]) do
    if n % tonumber(args[2]) == id then table.insert(tokens, line) end
    n = n + 1
  end
  body = args[3]
end
function request()
  i = i + 1
  local path = args_path
  if tokens[1] ~= nil then
    path = string.gsub(path_template, "TOKEN", tokens[((i - 1) % #tokens) + 1])
  end
  return wrk.format("POST", path, {["Content-Type"] = "application/json"}, body)
end
function response(status, headers, body)
  if status == 201 then ok = ok + 1 else other = other + 1 end
end
function done(summary, latency, requests)
  local ok_total, other_total = 0, 0
  for _, t in ipairs(threads) do ok_total = ok_total + t:get("ok"); other_total = other_total + t:get("other") end
  io.write(string.format("RESULT ok=%d other=%d p50=%.3f p99=%.3f duration=%.3f\n",
    ok_total, other_total, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.duration / 1e6))
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def admin_url() -> str:
    if os.environ.get("DATABASE_URL"):
        return os.environ["DATABASE_URL"]
    from shared import embedded

    return embedded.start(Settings(), name="pgdata-bench")


def wait_up(url: str) -> None:
    for _ in range(200):
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def serve(app: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            app,
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        env=env,
        cwd=PROJECT_ROOT,
    )


def wrk(
    base: str, url_template: str, tokens_file: str, seconds: int, script: str
) -> dict[str, float]:
    lua = Path(script)
    lua.write_text(f'path_template = "{url_template}"\nargs_path = path_template\n' + LUA)
    out = subprocess.run(
        [
            "wrk",
            "-t",
            str(THREADS),
            "-c",
            str(CONNECTIONS),
            "-d",
            f"{seconds}s",
            "--latency",
            "-s",
            str(lua),
            base,
            "--",
            tokens_file,
            str(THREADS),
            json.dumps({"answers": ANSWERS}),
        ],
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    match = re.search(
        r"RESULT ok=(\d+) other=(\d+) p50=([\d.]+) p99=([\d.]+) duration=([\d.]+)", out
    )
    assert match, out
    ok, other, p50, p99, duration = match.groups()
    return {
        "ok": int(ok),
        "other": int(other),
        "p50": float(p50),
        "p99": float(p99),
        "rps": int(ok) / float(duration),
    }


def settled_counts(owner) -> tuple[int, int, int]:
    last: tuple[int, int, int] | None = None
    for _ in range(100):
        with owner.connect() as conn:
            now = (
                conn.execute(text("SELECT count(*) FROM survey_responses")).scalar_one(),
                conn.execute(text("SELECT count(*) FROM bench_bare")).scalar_one(),
                conn.execute(
                    text("SELECT count(*) FROM survey_invitations WHERE completed")
                ).scalar_one(),
            )
        if now == last:
            return now
        last = now
        time.sleep(0.5)
    raise RuntimeError("row counts did not settle")


def main() -> None:
    load_before = os.getloadavg()
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    admin = admin_url()
    name = f"ys_bench_{uuid.uuid4().hex[:8]}"
    conninfo = (
        make_url(normalise_url(admin))
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(normalise_url(admin)).set(database=name).render_as_string(hide_password=False)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        upgrade(url)
        owner = make_engine(url, pool_size=2)
        n_tokens = 60_000
        tokens = [new_link_token() for _ in range(n_tokens)]
        with owner.begin() as conn:
            conn.execute(
                text("CREATE TABLE bench_bare (id uuid PRIMARY KEY, answers jsonb NOT NULL)")
            )
            conn.execute(text("GRANT ALL ON bench_bare TO CURRENT_USER"))
            org = conn.execute(
                text(
                    "INSERT INTO organisations (name, type, nation, users) VALUES ('Bench', 'L', 'England', 1) RETURNING id"
                )
            ).scalar_one()
            cid = conn.execute(
                insert(survey_campaigns)
                .values(
                    organisation_id=org,
                    kind="user_satisfaction",
                    title="Bench",
                    opens_on=date.today() - timedelta(days=1),
                    closes_on=date.today() + timedelta(days=10),
                    users_in_scope=n_tokens,
                    status="live",
                    created_by="bench",
                    breakdown_attributes=["location", "device_type", "mode_of_working", "role"],
                )
                .returning(survey_campaigns.c.id)
            ).scalar_one()
            ids = (
                conn.execute(
                    insert(survey_invitations).returning(survey_invitations.c.id),
                    [{"campaign_id": cid, "invitation_queued": True} for _ in tokens],
                )
                .scalars()
                .all()
            )
            conn.execute(
                insert(survey_invitation_tokens),
                [
                    {"token_hash": t.token_hash, "invitation_id": i}
                    for t, i in zip(tokens, ids, strict=True)
                ],
            )
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "YARDSTICK_DB_POOL_SIZE": "10",
            "POOL": "10",
            "YARDSTICK_ENVIRONMENT": "development",
        }
        p_survey, p_bare = free_port(), free_port()
        procs.append(serve("services.survey.main:app", p_survey, env))
        procs.append(serve("bench.bare_app:app", p_bare, env))
        wait_up(f"http://127.0.0.1:{p_survey}/healthz")
        wait_up(f"http://127.0.0.1:{p_bare}/docs")
        with tempfile.TemporaryDirectory() as tmp:
            tokens_file = Path(tmp) / "tokens.txt"
            tokens_file.write_text("\n".join(t.token for t in tokens) + "\n")
            empty = Path(tmp) / "none.txt"
            empty.write_text("")
            bare = wrk(
                f"http://127.0.0.1:{p_bare}",
                "/insert",
                str(empty),
                seconds,
                str(Path(tmp) / "a.lua"),
            )
            survey = wrk(
                f"http://127.0.0.1:{p_survey}",
                "/api/v1/respond/TOKEN/submission",
                str(tokens_file),
                seconds,
                str(Path(tmp) / "b.lua"),
            )
        # wrk stops at its deadline with requests still in flight; the servers finish them
        # after wrk has gone. Count rows only once the counts have stopped moving.
        stored, bare_rows, completed = settled_counts(owner)
        owner.dispose()
        load_after = os.getloadavg()
        print(
            f"{CONNECTIONS} concurrent clients (wrk -t{THREADS} -c{CONNECTIONS} -d{seconds}s), one uvicorn worker each; "
            f"{os.cpu_count()} CPUs, load average {load_before[0]:.2f} before, {load_after[0]:.2f} after"
        )
        print(
            f"{'endpoint':<34}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'2xx':>9}{'non-2xx':>9}{'rows':>9}"
        )
        print(
            f"{'bare FastAPI insert one row':<34}{bare['rps']:>10.0f}{bare['p50']:>10.2f}{bare['p99']:>10.2f}{bare['ok']:>9}{bare['other']:>9}{bare_rows:>9}"
        )
        print(
            f"{'survey submission (JSON API)':<34}{survey['rps']:>10.0f}{survey['p50']:>10.2f}{survey['p99']:>10.2f}{survey['ok']:>9}{survey['other']:>9}{stored:>9}"
        )
        ratio = survey["rps"] / bare["rps"]
        print(
            f"survey / bare throughput: {ratio:.2f} (target >= 0.50): {'MET' if ratio >= 0.5 else 'NOT MET'}"
        )
        # A lost response is a 201 without a row, or an invitation marked completed without
        # its response. Rows beyond the 201s wrk saw are requests in flight at its deadline,
        # answered after wrk stopped listening: stored, not lost.
        for label, ok, rows in (("survey", survey["ok"], stored), ("bare", bare["ok"], bare_rows)):
            print(
                f"{label}: 201 seen {ok}, rows {rows}: lost {max(0, ok - rows)}, "
                f"completed after wrk's deadline {max(0, rows - ok)}"
            )
        print(
            f"survey: invitations completed {completed}, response rows {stored}: "
            f"{'consistent' if completed == stored else 'MISMATCH'}"
        )
        if survey["ok"] >= n_tokens:
            print("warning: the token pool was exhausted; raise n_tokens")
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
