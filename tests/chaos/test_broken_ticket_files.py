"""Chaos: broken ticket exports pushed through the real endpoint and processed through the
real path (outbox event → ``/internal/ticket-imports/{id}/process``).

For every file of the corpus: the import reaches ``done`` or ``failed`` (with a reason)
within a bounded time, and the stored tickets are exactly as a valid export left them.
The stored values differ from the broken rows' values (rating 9, team "Réparé"), so a
broken row that got through would show in the comparison.

Runs on the test server (no PostgreSQL restart is involved).
"""

from __future__ import annotations

import codecs
import random
import time
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import text

from tests.factories import assert_problem, make_org

DEADLINE_SECONDS = 30.0
HEADER = "ticket_ref,type,priority,team,logged_at,resolved_at,status,nps_rating"
ROWS = [
    "INC1,incident,P1,Desk,05/03/2021 17:30,08/03/2021 09:30,resolved,9",
    "INC2,incident,P2,Réparé,06/03/2021 10:00,08/03/2021 08:45,resolved,7",
    "INC3,request,P3,Field,07/03/2021 11:00,,open,10",
]
VALID = "".join(f"{line}\n" for line in [HEADER, *ROWS])
# Team last, for a cut inside a multi-byte character of the last cell.
TEAM_LAST = "ticket_ref,type,priority,logged_at,status,nps_rating,team"
TEAM_LAST_ROW = "INC2,incident,P2,06/03/2021 10:00,resolved,7,Réparé"


def crlf(s: str) -> str:
    return s.replace("\n", "\r\n")


def cr(s: str) -> str:
    return s.replace("\n", "\r")


@dataclass(frozen=True)
class Case:
    body: bytes
    status: str  # expected terminal status
    failure: str | None = None  # a word the failure reason must contain
    row_errors: frozenset[tuple[int, str]] = frozenset()  # (row, code) of error rows
    unchanged: int | None = None  # rows found identical to the stored tickets
    encoding: str | None = None
    file_format: str = "csv"


def _garbage(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


CASES: dict[str, Case] = {
    # The last row cut after its last separator: the rating cell is missing.
    "truncated_nps_cell": Case(
        VALID.rstrip("\n").removesuffix("10").encode(),
        "done",
        row_errors=frozenset({(4, "truncated_row")}),
        unchanged=2,
    ),
    "truncated_fewer_fields": Case(
        VALID.rstrip("\n").rsplit(",", 1)[0].encode(),
        "done",
        row_errors=frozenset({(4, "truncated_row")}),
        unchanged=2,
    ),
    "truncated_inside_quotes": Case(
        (VALID + 'INC1,incident,P1,"Desk').encode(),
        "done",
        row_errors=frozenset({(5, "truncated_row")}),
        unchanged=3,
    ),
    "truncated_quoted_empty_cell": Case(
        (crlf(VALID) + ROWS[0].removesuffix("9") + '"').encode(),
        "done",
        row_errors=frozenset({(5, "truncated_row")}),
        unchanged=3,
    ),
    "truncated_inside_a_character": Case(
        (TEAM_LAST + "\n" + TEAM_LAST_ROW).encode()[:-1],  # "Répar" + half of "é"
        "done",
        row_errors=frozenset({(2, "truncated_row")}),
    ),
    "bare_cr": Case(cr(VALID).encode(), "done", unchanged=3, encoding="utf-8"),
    "bare_cr_no_final_newline": Case(cr(VALID).rstrip("\r").encode(), "done", unchanged=3),
    "mixed_line_endings": Case(
        (HEADER + "\r\n" + ROWS[0] + "\r" + ROWS[1] + "\n" + ROWS[2] + "\r\n").encode(),
        "done",
        unchanged=3,
    ),
    "utf16_le_bom": Case(
        codecs.BOM_UTF16_LE + crlf(VALID).encode("utf-16-le"),
        "done",
        unchanged=3,
        encoding="utf-16-le",
    ),
    "utf16_be_bom": Case(
        codecs.BOM_UTF16_BE + VALID.encode("utf-16-be"), "done", unchanged=3, encoding="utf-16-be"
    ),
    "utf16_le_bom_cut_mid_character": Case(
        codecs.BOM_UTF16_LE + VALID.rstrip("\n").encode("utf-16-le")[:-1],
        "done",
        row_errors=frozenset({(4, "truncated_row")}),
        unchanged=2,
    ),
    "utf16_without_bom": Case(VALID.encode("utf-16-le"), "failed", failure="UTF-16"),
    "utf32_bom": Case(VALID.encode("utf-32"), "failed", failure="UTF-32"),
    "binary_garbage": Case(_garbage(4096, 1), "failed", failure="binary"),
    "binary_without_nul": Case(
        bytes(b for b in _garbage(8192, 2) if b != 0), "failed", failure="binary"
    ),
    "xlsx_workbook": Case(b"PK\x03\x04" + _garbage(2048, 3), "failed", failure="Excel"),
    "nul_in_a_cell_after_the_start": Case(
        (
            HEADER
            + "\n"
            + "".join(f"{r}\n" for r in ROWS * 60)  # identical repeats, merged
            + "INC2,incident,P2,De\x00sk,06/03/2021 10:00,08/03/2021 08:45,resolved,1\n"
        ).encode(),
        "done",
        row_errors=frozenset({(182, "nul_character")}),
        unchanged=3,
    ),
    "stray_quote_swallows_the_rest": Case(
        (
            HEADER
            + "\n"
            + ROWS[0]
            + "\n"
            + 'INC2,incident,P2,5" monitor,06/03/2021 10:00,,open,1\n'
            + ROWS[2]
            + "\n"
        ).encode(),
        "done",
        row_errors=frozenset({(3, "truncated_row")}),
        unchanged=1,
    ),
    "blank_lines_only": Case(b"\r\n\r\n  \r\n", "failed", failure="header"),
    "header_only": Case((HEADER + "\r\n").encode(), "done", unchanged=0),
    "header_only_no_newline": Case(HEADER.encode(), "done", unchanged=0),
    "semicolon_separated": Case(VALID.replace(",", ";").encode(), "failed", failure="';'"),
    "jsonl_cut_mid_object": Case(
        b'{"ticket_ref": "INC1", "type": "incident", "priority": "P1", '
        b'"logged_at": "05/03/2021 17:30", "nps_rating": ',
        "done",
        row_errors=frozenset({(1, "invalid_json")}),
        file_format="jsonl",
    ),
}


def _push(api: Any, org: int, body: bytes, file_format: str = "csv") -> Any:
    return api.ingest.post(
        "/api/v1/ticket-imports",
        params={
            "organisation_id": org,
            "profile": "yardstick",
            "source_system": "sn",
            "format": file_format,
        },
        content=body,
        headers={**api.auth("admin"), "Content-Type": "application/octet-stream"},
    )


def _settle(api: Any, job_id: int) -> dict[str, Any]:
    """Deliver events until the job is terminal; fail the test at the deadline."""
    deadline = time.monotonic() + DEADLINE_SECONDS
    while True:
        api.deliver()
        job = api.ingest.get(f"/api/v1/ticket-imports/{job_id}", headers=api.auth("admin")).json()
        if job["status"] in ("done", "failed"):
            return dict(job)
        assert time.monotonic() < deadline, f"import still {job['status']}: {job}"
        time.sleep(0.05)  # lets the outbox's next attempt fall due


def _tickets(owner_engine: Any) -> list[tuple[Any, ...]]:
    with owner_engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text("SELECT * FROM tickets ORDER BY 1, 2, 3"))]


def _row_errors(api: Any, job_id: int) -> set[tuple[int, str]]:
    r = api.ingest.get(
        f"/api/v1/ticket-imports/{job_id}/errors",
        params={"severity": "error", "limit": 100},
        headers=api.auth("admin"),
    )
    assert r.status_code == 200, r.text
    return {(e["row"], e["code"]) for e in r.json()["items"]}


@pytest.fixture
def loaded(api: Any, owner_engine: Any) -> tuple[int, list[tuple[Any, ...]]]:
    org = make_org(api)["id"]
    r = _push(api, org, VALID.encode())
    assert r.status_code == 202, r.text
    job = _settle(api, r.json()["id"])
    assert (job["status"], job["progress"]["rows_inserted"]) == ("done", 3)
    return org, _tickets(owner_engine)


@pytest.mark.parametrize("name", list(CASES))
def test_broken_file_ends_terminal_and_leaves_stored_tickets_unchanged(
    name: str, api: Any, owner_engine: Any, loaded: tuple[int, list[tuple[Any, ...]]]
) -> None:
    case = CASES[name]
    org, before = loaded
    r = _push(api, org, case.body, case.file_format)
    assert r.status_code == 202, r.text
    job = _settle(api, r.json()["id"])
    assert job["status"] == case.status, job
    if case.status == "failed":
        assert case.failure and case.failure in (job["failure"] or ""), job["failure"]
    else:
        assert job["failure"] is None
        assert _row_errors(api, job["id"]) == case.row_errors
        p = job["progress"]
        assert (p["rows_inserted"], p["rows_updated"]) == (0, 0), p
        if case.unchanged is not None:
            assert p["rows_unchanged"] == case.unchanged, p
    if case.encoding is not None:
        assert job["encoding"] == case.encoding
    assert _tickets(owner_engine) == before


def test_a_zero_byte_body_is_refused_and_creates_no_import(api: Any, owner_engine: Any) -> None:
    org = make_org(api)["id"]
    assert_problem(_push(api, org, b""), 422, "empty_file")
    with owner_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM ticket_imports")).scalar() == 0
