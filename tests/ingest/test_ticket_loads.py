"""Batches of a ticket import load on two connections at once but commit in batch order:
the checkpoint always means "every row up to here is stored", a batch sharing a ticket with
the one before waits for it (the later row wins, no lock wait between the two loads), and a
failed batch rolls back every later one. Driven directly, against the test database."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from sqlalchemy import text

from services.ingest.tickets import repository as tickets_repo
from services.ingest.tickets.parsing import parse_tickets
from services.ingest.tickets.service import (
    YARDSTICK_PROFILE,
    Prepared,
    _check_organisations,
    _OrderedLoads,
)
from shared.db.engine import make_engine
from tests.factories import make_org
from tests.ingest.test_tickets import HEADER


def _job(api: Any, org: int) -> int:
    """An import job (its upload is never processed: the test loads batches itself)."""
    r = api.ingest.post(
        "/api/v1/ticket-imports",
        params={"organisation_id": org, "profile": "yardstick", "source_system": "sn"},
        content=(HEADER + "X0,incident,P1,,Desk,Fixed,01/03/2021 09:00,,open\n").encode(),
        headers={**api.auth("admin"), "Content-Type": "text/csv"},
    )
    assert r.status_code == 202, r.text
    return int(r.json()["id"])


def _batch(org: int, lines: list[str], shares: bool = False) -> Prepared:
    batches, _ = parse_tickets(
        [(HEADER + "".join(lines)).encode()],
        YARDSTICK_PROFILE,
        source_system="sn",
        organisation_id=str(org),
    )
    rows, issues = _check_organisations(batches[0].rows, {org})
    assert not issues and rows.height == len(lines)
    return Prepared(rows, [], tickets_repo.copy_payload(rows), shares)


def _line(ref: str, team: str = "Desk") -> str:
    return f"{ref},incident,P1,,{team},Fixed,01/03/2021 09:00,01/03/2021 10:00,resolved\n"


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url, role="ingest")
    yield engine
    engine.dispose()


@pytest.fixture
def recorded(monkeypatch):
    """The first batch's upsert is held back 0.3 s; the checkpoints, as committed."""
    real_upsert, real_update = tickets_repo.upsert_batch, tickets_repo.update_import
    checkpoints: list[int] = []
    calls = {"n": 0}

    def slow_first(session: Any, frame: Any, import_id: int, **kw: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            time.sleep(0.3)
        return real_upsert(session, frame, import_id, **kw)

    def update(session: Any, import_id: int, values: dict[str, Any]) -> None:
        checkpoints.append(values["checkpoint_row"])
        real_update(session, import_id, values)

    monkeypatch.setattr(tickets_repo, "upsert_batch", slow_first)
    monkeypatch.setattr(tickets_repo, "update_import", update)
    return checkpoints


def _run(loads: _OrderedLoads, batches: list[tuple[Prepared, int]]) -> BaseException | None:
    """Load the batches in a thread, so a lock wait between the loads fails the test
    instead of hanging it."""
    outcome: list[BaseException | None] = []

    def go() -> None:
        try:
            with loads:
                for prepared, last_row in batches:
                    loads.submit(prepared, [], {"rows_read": last_row}, last_row)
            outcome.append(None)
        except BaseException as exc:
            outcome.append(exc)

    thread = threading.Thread(target=go, daemon=True)
    thread.start()
    thread.join(30)
    assert not thread.is_alive(), "the loads are waiting on each other"
    return outcome[0]


def _state(owner_engine: Any, job: int) -> tuple[Any, ...]:
    with owner_engine.connect() as conn:
        return tuple(
            conn.execute(
                text(
                    "SELECT checkpoint_row, rows_read, rows_inserted, rows_updated, "
                    "rows_unchanged FROM ticket_imports WHERE id = :id"
                ),
                {"id": job},
            ).one()
        )


def _teams(owner_engine: Any) -> dict[str, str]:
    with owner_engine.connect() as conn:
        return dict(conn.execute(text("SELECT reference, team FROM tickets")).all())


def test_batches_commit_in_order_although_the_first_loads_last(api, engine, owner_engine, recorded):
    org = make_org(api)["id"]
    job = _job(api, org)
    counts = {"rows_inserted": 0, "rows_updated": 0, "rows_unchanged": 0, "warnings": 0}
    batches = [
        (_batch(org, [_line("A1"), _line("A2")]), 3),
        (_batch(org, [_line("B1"), _line("B2")]), 5),
        (_batch(org, [_line("C1")]), 6),
    ]
    assert _run(_OrderedLoads(engine, job, counts), batches) is None
    assert recorded == [3, 5, 6]  # the second batch waited for the slow first one
    assert _state(owner_engine, job) == (6, 6, 5, 0, 0)
    assert sorted(_teams(owner_engine)) == ["A1", "A2", "B1", "B2", "C1"]


def test_a_batch_sharing_a_ticket_with_the_one_before_waits_and_wins(
    api, engine, owner_engine, recorded
):
    org = make_org(api)["id"]
    job = _job(api, org)
    counts = {"rows_inserted": 0, "rows_updated": 0, "rows_unchanged": 0, "warnings": 0}
    batches = [
        (_batch(org, [_line("T1", "Desk"), _line("T2")]), 3),
        (_batch(org, [_line("T1", "Field")], shares=True), 4),
    ]
    assert _run(_OrderedLoads(engine, job, counts), batches) is None
    assert recorded == [3, 4]
    assert _teams(owner_engine) == {"T1": "Field", "T2": "Desk"}
    assert _state(owner_engine, job) == (4, 4, 2, 1, 0)


def test_a_failed_batch_rolls_back_every_later_one(
    api, engine, owner_engine, recorded, monkeypatch
):
    org = make_org(api)["id"]
    job = _job(api, org)
    counts = {"rows_inserted": 0, "rows_updated": 0, "rows_unchanged": 0, "warnings": 0}
    slow_first = tickets_repo.upsert_batch

    def failing_second(session: Any, frame: Any, import_id: int, **kw: Any) -> Any:
        if frame["reference"].to_list() == ["F2"]:
            raise RuntimeError("the second batch failed")
        return slow_first(session, frame, import_id, **kw)

    monkeypatch.setattr(tickets_repo, "upsert_batch", failing_second)
    batches = [
        (_batch(org, [_line("F1")]), 2),
        (_batch(org, [_line("F2")]), 3),
        (_batch(org, [_line("F3")]), 4),
        (_batch(org, [_line("F4")]), 5),
    ]
    error = _run(_OrderedLoads(engine, job, counts), batches)
    assert isinstance(error, RuntimeError) and str(error) == "the second batch failed"
    assert recorded == [2]
    assert _state(owner_engine, job) == (2, 2, 1, 0, 0)
    assert _teams(owner_engine) == {"F1": "Desk"}
