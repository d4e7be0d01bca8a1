"""SLA scenarios end to end through the HTTP API: mappings, JSON lines, recomputes,
reopenings, each nation's bank holidays, clock changes, restart, the import command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from services.ingest.tickets import repository as tickets_repo
from services.ingest.tickets import service as tickets_service
from shared.db.engine import make_engine
from tests.factories import make_org
from tests.ingest.test_tickets import HEADER, errors, push
from tests.metrics.test_sla_reports import STD_HOURS, report

JSON_HEADERS = {"Content-Type": "application/x-ndjson"}


def calendar(api: Any, org: int, nation: str = "GB-ENG", hours: Any = None) -> int:
    r = api.ingest.post(
        f"/api/v1/organisations/{org}/calendars",
        json={"name": f"Office {nation}", "nation": nation, "hours": hours or STD_HOURS},
        headers=api.auth("participant", [org]),
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def policy(api: Any, org: int, calendar_id: int | None, priority: str = "P1", hours: str = "4"):
    r = api.ingest.post(
        f"/api/v1/organisations/{org}/sla-policies",
        json={
            "priority": priority,
            "target_hours": hours,
            "calendar_id": calendar_id,
            "target_share_pct": "95",
            "effective_from": "2020-01-01",
        },
        headers=api.auth("admin"),
    )
    assert r.status_code == 201, r.text


def monthly(api: Any, org: int) -> dict[str, tuple[Any, ...]]:
    r = report(api, "monthly", org)
    assert r.status_code == 200, r.text
    return {
        row["month"]: (
            row["met"],
            row["missed"],
            row["avg_closure_sla_clock_hours"],
            row["avg_closure_wall_hours"],
        )
        for row in r.json()["items"]
    }


def test_saved_custom_mapping_is_used_for_an_upload(api):
    org = make_org(api)["id"]
    policy(api, org, calendar(api, org))
    r = api.ingest.post(
        f"/api/v1/organisations/{org}/ticket-mappings",
        json={
            "name": "homegrown desk",
            "columns": {
                "Ref": "ticket_ref",
                "Opened": "logged_at",
                "Fixed": "resolved_at",
                "Urgency": "priority",
                "Kind": "type",
            },
            "priority_map": {"Sev1": "P1"},
            "type_map": {"Fault": "incident"},
        },
        headers=api.auth("participant", [org]),
    )
    assert r.status_code == 201, r.text
    mapping_id = r.json()["id"]
    body = (
        b"Ref,Urgency,Kind,Opened,Fixed\n"
        b"D1,Sev1,Fault,01/03/2021 09:00,01/03/2021 12:00\n"  # 3 working hours: met
        b"D2,Sev1,Fault,01/03/2021 09:00,02/03/2021 09:00\n"  # 9 + 1 = 10 h: missed
        b"D3,Sev9,Fault,01/03/2021 09:00,02/03/2021 09:00\n"  # not in the priority map
    )
    job = api.ingest.post(
        "/api/v1/ticket-imports",
        params={"mapping_id": mapping_id, "organisation_id": org, "source_system": "desk"},
        content=body,
        headers={**api.auth("partner", [org]), "Content-Type": "text/csv"},
    )
    assert job.status_code == 202, job.text
    assert job.json()["profile"] == "mapping:homegrown desk"
    api.deliver()
    done = api.ingest.get(job.headers["location"], headers=api.auth("admin")).json()
    assert done["status"] == "done"
    assert (done["progress"]["rows_accepted"], done["progress"]["rows_rejected"]) == (2, 1)
    assert [(e["row"], e["code"]) for e in errors(api, done["id"])] == [(4, "unknown_priority")]
    api.deliver()
    assert monthly(api, org) == {"2021-03-01": (1, 1, 6.5, 13.5)}


def test_calendar_change_recomputes_everything_and_changes_the_figures(api):
    org = make_org(api)["id"]
    cal = calendar(api, org)
    policy(api, org, cal)
    push(
        api,
        org,
        (
            HEADER
            + "W1,incident,P1,,Desk,Fixed,05/03/2021 17:30,08/03/2021 09:30,resolved\n"
            + "X1,incident,P1,,Desk,Fixed,01/03/2021 08:00,01/03/2021 13:00,resolved\n"
        ).encode(),
    )
    api.deliver()
    # 08:00-18:00: W1 0.5 h Friday + 1.5 h Monday = 2 h (met); X1 5 h (missed).
    assert monthly(api, org)["2021-03-01"][:3] == (1, 1, 3.5)
    nine_to_five = {d: [{"start": "09:00", "end": "17:00"}] for d in STD_HOURS}
    r = api.ingest.put(
        f"/api/v1/organisations/{org}/calendars/{cal}",
        json={"name": "Office", "nation": "GB-ENG", "hours": nine_to_five},
        headers=api.auth("participant", [org]),
    )
    assert r.status_code == 200, r.text
    assert api.deliver() >= 1
    # 09:00-17:00: W1 0.5 h (Monday only); X1 4 h, exactly on target, so met.
    assert monthly(api, org)["2021-03-01"][:3] == (2, 0, 2.25)


def test_json_lines_upload(api):
    org = make_org(api)["id"]
    policy(api, org, calendar(api, org), "P2", "8")
    lines = [
        {
            "ticket_ref": "J1",
            "type": "incident",
            "priority": "P2",
            "logged_at": "2021-03-01T09:00:00Z",
            "resolved_at": "2021-03-01T11:30:00Z",
            "status": "resolved",
            "team": "Desk ’A’ £",
        },
        {
            "ticket_ref": "J2",
            "type": "incident",
            "priority": "P2",
            "logged_at": "01/03/2021 09:00",
            "resolved_at": "03/03/2021 09:00",
        },
    ]
    body = "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + '\n{"ticket_ref": \n'
    r = api.ingest.post(
        "/api/v1/ticket-imports",
        params={"organisation_id": org, "profile": "yardstick", "source_system": "sn"},
        content=body.encode(),
        headers={**api.auth("admin"), **JSON_HEADERS},
    )
    assert r.status_code == 202, r.text
    assert r.json()["file_format"] == "jsonl"
    api.deliver()
    job = api.ingest.get(r.headers["location"], headers=api.auth("admin")).json()
    p = job["progress"]
    assert (p["rows_read"], p["rows_accepted"], p["rows_rejected"]) == (3, 2, 1)
    assert [(e["row"], e["code"]) for e in errors(api, job["id"])] == [(3, "invalid_json")]
    api.deliver()
    # J1 2.5 h met; J2 Mon 09-18 9 h + Tue 10 h + Wed 08-09 1 h = 20 h missed (P2 8 h).
    assert monthly(api, org) == {"2021-03-01": (1, 1, 11.25, 25.25)}


def test_reopen_interval_is_not_counted(api):
    org = make_org(api)["id"]
    policy(api, org, calendar(api, org))
    push(
        api,
        org,
        (
            HEADER + "R1,incident,P1,,Desk,Fixed,01/03/2021 09:00,01/03/2021 15:00,resolved\n"
        ).encode(),
    )
    api.deliver()
    assert monthly(api, org)["2021-03-01"] == (0, 1, 6.0, 6.0)
    # First resolved at 10:00, reopened by the user at 13:00: those 3 h are not SLA time.
    r = api.ingest.post(
        "/api/v1/ticket-intervals",
        json={
            "organisation_id": org,
            "source_system": "sn",
            "intervals": [
                {
                    "reference": "R1",
                    "kind": "reopen",
                    "start": "2021-03-01T10:00:00+00:00",
                    "end": "2021-03-01T13:00:00+00:00",
                }
            ],
        },
        headers=api.auth("partner", [org]),
    )
    assert r.status_code == 200, r.text
    api.deliver()
    assert monthly(api, org)["2021-03-01"] == (1, 0, 3.0, 6.0)


def test_st_andrews_day_is_a_holiday_in_scotland_only(api):
    england, scotland = make_org(api)["id"], make_org(api)["id"]
    for org, nation in ((england, "GB-ENG"), (scotland, "GB-SCT")):
        policy(api, org, calendar(api, org, nation))
        # Mon 29 Nov 17:00 → Wed 1 Dec 09:00; Tuesday 30 November 2021 is St Andrew's Day.
        push(
            api,
            org,
            (
                HEADER + "A1,incident,P1,,Desk,Fixed,29/11/2021 17:00,01/12/2021 09:00,resolved\n"
            ).encode(),
        )
    api.deliver()
    assert monthly(api, england) == {"2021-12-01": (0, 1, 12.0, 40.0)}
    assert monthly(api, scotland) == {"2021-12-01": (1, 0, 2.0, 40.0)}


def test_both_clock_changes_on_a_24x7_policy(api):
    org = make_org(api)["id"]
    policy(api, org, None)
    push(
        api,
        org,
        (
            HEADER
            # 00:30 GMT → 03:30 BST on 28 March: 2 real hours, not 3.
            + "S1,incident,P1,,Desk,Fixed,28/03/2021 00:30,28/03/2021 03:30,resolved\n"
            # 00:30 BST → 03:30 GMT on 31 October: 4 real hours, not 3; exactly on target.
            + "A1,incident,P1,,Desk,Fixed,31/10/2021 00:30,31/10/2021 03:30,resolved\n"
        ).encode(),
    )
    api.deliver()
    assert monthly(api, org) == {
        "2021-03-01": (1, 0, 2.0, 2.0),
        "2021-10-01": (1, 0, 4.0, 4.0),
    }


def test_restart_from_checkpoint_after_a_crash(api, database_url, owner_engine, monkeypatch):
    org = make_org(api)["id"]
    monkeypatch.setattr(tickets_service, "IMPORT_BATCH_SIZE", 3)
    body = HEADER + "".join(
        f"C{i},incident,P1,,Desk,Fixed,01/03/2021 09:00,01/03/2021 10:00,resolved\n"
        for i in range(10)
    )
    r = api.ingest.post(
        "/api/v1/ticket-imports",
        params={"organisation_id": org, "profile": "yardstick", "source_system": "sn"},
        content=body.encode(),
        headers={**api.auth("admin"), "Content-Type": "text/csv"},
    )
    assert r.status_code == 202
    job_id = r.json()["id"]
    real_upsert = tickets_repo.upsert_batch
    calls: list[int] = []

    def crashing(session: Any, frame: Any, import_id: int, **kw: Any) -> Any:
        calls.append(frame.height)
        if len(calls) == 3:
            # what a crash looks like to the job: the connection gone mid-batch (transient,
            # so the job stays `processing` for the outbox to retry from its checkpoint)
            raise psycopg.OperationalError("simulated crash in the middle of the third batch")
        return real_upsert(session, frame, import_id, **kw)

    monkeypatch.setattr(tickets_repo, "upsert_batch", crashing)
    engine = make_engine(database_url, role="ingest")
    try:
        with pytest.raises(psycopg.OperationalError, match="simulated crash"):
            tickets_service.process_import(engine, job_id)
    finally:
        engine.dispose()
    with owner_engine.connect() as conn:
        state = conn.execute(
            text("SELECT status, checkpoint_row, rows_inserted FROM ticket_imports WHERE id = :i"),
            {"i": job_id},
        ).one()
        assert tuple(state) == ("processing", 7, 6)  # two batches (rows 2-7) committed
        assert conn.execute(text("SELECT count(*) FROM tickets")).scalar_one() == 6
    calls.clear()
    monkeypatch.setattr(tickets_repo, "upsert_batch", real_upsert)
    api.deliver()  # the outbox event is still pending: the job resumes
    job = api.ingest.get(r.headers["location"], headers=api.auth("admin")).json()
    p = job["progress"]
    assert job["status"] == "done"
    assert (p["rows_read"], p["rows_accepted"], p["rows_inserted"], p["rows_updated"]) == (
        10,
        10,
        10,
        0,
    )
    with owner_engine.connect() as conn:
        refs = conn.execute(text("SELECT reference FROM tickets ORDER BY 1")).scalars().all()
    assert refs == sorted(f"C{i}" for i in range(10))
    # The resumed job did not see its first batches: it scans for the touched months.
    assert imported_months(owner_engine, job_id) == {org: ["2021-03"]}


def imported_months(owner_engine: Any, import_id: int) -> dict[int, list[str]] | None:
    """Organisation → months of the import's tickets.imported event (None: no event)."""
    with owner_engine.connect() as conn:
        payload = conn.execute(
            text(
                "SELECT payload FROM ingest_outbox WHERE event_type = 'tickets.imported' "
                "AND (payload->>'import_id')::int = :i"
            ),
            {"i": import_id},
        ).scalar()
    if payload is None:
        return None
    return {o["organisation_id"]: o["months"] for o in payload["organisations"]}


def test_touched_months_are_collected_per_batch(api, owner_engine, monkeypatch):
    """The months sent to metrics are those of inserted or changed tickets only (in local
    time), collected batch by batch; the same as a scan of the tickets afterwards."""
    org = make_org(api)["id"]
    monkeypatch.setattr(tickets_service, "IMPORT_BATCH_SIZE", 2)
    rows = [
        "M1,incident,P1,,Desk,Fixed,15/01/2021 09:00,15/01/2021 10:00,resolved\n",
        "M2,incident,P1,,Desk,Fixed,15/02/2021 09:00,15/02/2021 10:00,resolved\n",
        # 00:30 BST on 1 April is 23:30 UTC on 31 March: an April ticket.
        "M3,incident,P1,,Desk,Fixed,01/04/2021 00:30,01/04/2021 02:00,resolved\n",
        "M4,incident,P1,,Desk,Fixed,20/05/2021 09:00,20/05/2021 10:00,resolved\n",
        "M5,incident,P1,,Desk,Fixed,20/06/2021 09:00,20/06/2021 10:00,resolved\n",
    ]
    first = push(api, org, (HEADER + "".join(rows)).encode())
    assert imported_months(owner_engine, first["id"]) == {
        org: ["2021-01", "2021-02", "2021-04", "2021-05", "2021-06"]
    }
    # Batches: [M1, M2*] partly changed (a query), [M3*, M4*] all changed (the batch's
    # own months), [M5, M6 new] partly changed; * = a changed team.
    changed = [rows[0], *(r.replace("Desk", "Field") for r in rows[1:4]), rows[4]]
    changed.append("M6,incident,P1,,Desk,Fixed,20/07/2021 09:00,20/07/2021 10:00,resolved\n")
    second = push(api, org, (HEADER + "".join(changed)).encode())
    p = second["progress"]
    assert (p["rows_inserted"], p["rows_updated"], p["rows_unchanged"]) == (1, 3, 2)
    expected = {org: ["2021-02", "2021-04", "2021-05", "2021-07"]}
    assert imported_months(owner_engine, second["id"]) == expected
    with owner_engine.connect() as conn:
        assert tickets_repo.touched_months(Session(bind=conn), second["id"]) == expected
    third = push(api, org, (HEADER + "".join(changed)).encode())
    assert third["progress"]["rows_unchanged"] == 6
    assert imported_months(owner_engine, third["id"]) is None  # nothing changed, no event


def test_import_command_pushes_a_file_and_follows_the_job(api, tmp_path: Path, monkeypatch):
    from yardstick import cli

    org = make_org(api)["id"]
    path = tmp_path / "export.csv"
    path.write_bytes(
        (
            HEADER + "K1,incident,P1,,Desk £,Fixed,01/03/2021 09:00,01/03/2021 10:00,resolved\n"
        ).encode("cp1252")
    )
    transport = api.transports["ingest"]
    monkeypatch.setattr(
        cli,
        "_import_client",
        lambda: httpx.Client(transport=transport, base_url="http://ingest", timeout=60),
    )
    monkeypatch.setattr(cli, "_wait", lambda seconds: api.deliver())
    token = api.token("partner", [org])
    result = CliRunner().invoke(
        cli.app,
        [
            "import",
            str(path),
            "--org",
            str(org),
            "--source-system",
            "cli",
            "--url",
            "http://ingest",
            "--token",
            token,
            "--poll-seconds",
            "0",
        ],
    )
    assert result.exit_code == 0, result.output
    job = json.loads(result.output[result.output.index("{") :])
    assert job["status"] == "done"
    assert job["encoding"] == "cp1252"
    assert job["source_system"] == "cli"
    assert (job["progress"]["rows_read"], job["progress"]["rows_inserted"]) == (1, 1)
