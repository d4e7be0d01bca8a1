"""Database errors become problems by SQLSTATE: every integrity class (23xxx) a 409 (or a
422 for a value the client sent) naming what conflicts, an outage a 503 with Retry-After,
and none of them a 500."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from starlette.middleware.base import BaseHTTPMiddleware

from shared.db.engine import make_engine, normalise_url, psycopg_conninfo
from shared.errors import DatabaseUnavailable, database_problem, install_error_handlers
from tests.factories import assert_problem

SCRATCH = """
CREATE TEMP TABLE parent (id int PRIMARY KEY);
CREATE TEMP TABLE restricted (
    parent_id int CONSTRAINT restricted_parent_fk REFERENCES parent (id) ON DELETE RESTRICT
);
CREATE TEMP TABLE referring (
    parent_id int CONSTRAINT referring_parent_fk REFERENCES parent (id)
);
CREATE TEMP TABLE booking (
    name text NOT NULL CONSTRAINT booking_name_key UNIQUE,
    seats int CONSTRAINT booking_seats CHECK (seats > 0),
    during int4range,
    CONSTRAINT booking_no_overlap EXCLUDE USING gist (during WITH &&)
);
INSERT INTO parent VALUES (1), (2);
INSERT INTO restricted VALUES (1);
INSERT INTO referring VALUES (2);
INSERT INTO booking VALUES ('a', 1, '[1,5)');
"""

# statement → (SQLSTATE, status, code, words the detail must contain)
CASES: dict[str, tuple[str, int, str, list[str]]] = {
    # 23001 from PostgreSQL 18 on (ON DELETE RESTRICT); 23503 before it.
    "DELETE FROM parent WHERE id = 1": (
        "23001|23503",
        409,
        "still_referenced",
        ["still used by restricted", "restricted_parent_fk"],
    ),
    "DELETE FROM parent WHERE id = 2": (
        "23503",
        409,
        "still_referenced",
        ["still used by referring", "referring_parent_fk"],
    ),
    "INSERT INTO referring VALUES (99)": (
        "23503",
        409,
        "reference_not_found",
        ["does not exist", "referring_parent_fk"],
    ),
    "INSERT INTO booking VALUES ('a', 2, '[10,11)')": (
        "23505",
        409,
        "duplicate",
        ["A booking", "already exists", "booking_name_key"],
    ),
    "INSERT INTO booking VALUES ('b', 2, '[3,4)')": (
        "23P01",
        409,
        "overlaps",
        ["overlaps an existing booking", "booking_no_overlap"],
    ),
    "INSERT INTO booking VALUES (NULL, 2, '[20,21)')": (
        "23502",
        422,
        "missing_value",
        ["name of booking must have a value"],
    ),
    "INSERT INTO booking VALUES ('c', 0, '[30,31)')": (
        "23514",
        422,
        "constraint_violation",
        ["booking_seats"],
    ),
    "DO $$ BEGIN RAISE EXCEPTION 'generic' USING ERRCODE = '23000'; END $$": (
        "23000",
        409,
        "integrity_conflict",
        ["conflicts with stored data"],
    ),
    "DO $$ BEGIN RAISE EXCEPTION 'future' USING ERRCODE = '23P99'; END $$": (
        "23P99",
        409,
        "integrity_conflict",
        ["conflicts with stored data"],
    ),
}


@pytest.fixture
def scratch(owner_engine: Engine) -> Iterator[Connection]:
    """Temporary tables in a transaction rolled back afterwards."""
    with owner_engine.connect() as conn:
        outer = conn.begin()
        conn.exec_driver_sql(SCRATCH)
        yield conn
        outer.rollback()


def _error_of(conn: Connection, statement: str) -> DBAPIError:
    with pytest.raises(DBAPIError) as caught, conn.begin_nested():
        conn.exec_driver_sql(statement)
    return caught.value


@pytest.mark.parametrize("statement", list(CASES))
def test_every_integrity_class_maps_to_a_problem_naming_what_conflicts(scratch, statement):
    state, status, code, words = CASES[statement]
    error = _error_of(scratch, statement)
    assert error.orig.sqlstate in state.split("|")
    problem = database_problem(error)
    assert problem is not None, f"{state} would be a 500"
    assert (problem.status, problem.code) == (status, code)
    for word in words:
        assert word in problem.detail, problem.detail


def test_a_raw_driver_error_maps_the_same_as_a_wrapped_one(scratch):
    # Code that works on the psycopg connection directly (COPY) gets psycopg's own errors.
    driver = scratch.connection.driver_connection
    with pytest.raises(psycopg.Error) as caught, driver.transaction():
        driver.execute("DELETE FROM parent WHERE id = 1")
    problem = database_problem(caught.value)
    assert problem is not None and problem.status == 409
    # Without our statement at hand the direction is unknown (on PostgreSQL < 18, where
    # RESTRICT says 23503 like any foreign key), but both ends are named.
    assert "restricted" in problem.detail and "restricted_parent_fk" in problem.detail


def test_the_schema_names_what_still_refers_to_a_row(clean_db):
    """Real tables: the foreign key is found in the metadata and both ends are named."""
    with clean_db.begin() as conn:
        org = conn.execute(
            text(
                "INSERT INTO organisations (name, type, nation, users) "
                "VALUES ('Org', 'L', 'England', 10) RETURNING id"
            )
        ).scalar()
        cal = conn.execute(
            text(
                "INSERT INTO business_calendars (organisation_id, name, nation, hours) "
                """VALUES (:o, 'Office', 'GB-ENG', '{"0": [["09:00", "17:00"]]}') RETURNING id"""
            ),
            {"o": org},
        ).scalar()
        conn.execute(
            text(
                "INSERT INTO sla_policies (organisation_id, priority, target_seconds, "
                "calendar_id, target_share, effective_from) "
                "VALUES (:o, 'P1', 3600, :c, 0.9, '2020-01-01')"
            ),
            {"o": org, "c": cal},
        )
    with clean_db.connect() as conn:
        error = _error_of(conn, f"DELETE FROM business_calendars WHERE id = {cal}")
    problem = database_problem(error)
    assert problem is not None and problem.status == 409
    assert problem.detail.startswith("This business calendar is still used by SLA policies")
    assert "fk_sla_policies_calendar_id_business_calendars" in problem.detail


# ------------------------------------------------------------------------ over HTTP


def _app(engine: Engine, *, failing_middleware: bool = False) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/query")
    def query() -> dict[str, Any]:
        with engine.connect() as conn:
            return {"one": conn.execute(text("SELECT 1")).scalar()}

    @app.get("/restrict")
    def restrict() -> None:
        with engine.connect() as conn:
            conn.exec_driver_sql(SCRATCH)
            conn.exec_driver_sql("DELETE FROM parent WHERE id = 1")

    @app.get("/terminated")
    def terminated() -> None:
        # As an administrator's shutdown or a server restart does to a session (57P01).
        with engine.connect() as conn:
            conn.exec_driver_sql("SELECT pg_terminate_backend(pg_backend_pid())")

    @app.get("/driver-down")
    def driver_down() -> None:
        psycopg.connect("host=127.0.0.1 port=1 connect_timeout=2")

    if failing_middleware:

        async def touch_db(request: Request, call_next: Any) -> Any:
            with engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            return await call_next(request)

        app.add_middleware(BaseHTTPMiddleware, dispatch=touch_db)
    return app


@pytest.fixture
def unreachable_url(database_url: str) -> str:
    # Port 1 on the loopback: connection refused, as with a stopped server.
    url = make_url(normalise_url(database_url)).set(host="127.0.0.1", port=1)
    return url.render_as_string(hide_password=False)


def _assert_unavailable(response: Any) -> None:
    body = assert_problem(response, 503, "database_unavailable")
    assert int(response.headers["retry-after"]) > 0
    assert "retry" in body["detail"]


def test_an_unreachable_database_is_a_503_with_retry_after(unreachable_url):
    engine = make_engine(unreachable_url, pool_size=1)
    try:
        with TestClient(_app(engine), raise_server_exceptions=False) as client:
            _assert_unavailable(client.get("/query"))
            _assert_unavailable(client.get("/driver-down"))
    finally:
        engine.dispose()


def test_a_database_error_in_a_middleware_is_a_503_too(unreachable_url):
    engine = make_engine(unreachable_url, pool_size=1)
    try:
        app = _app(engine, failing_middleware=True)
        with TestClient(app, raise_server_exceptions=False) as client:
            _assert_unavailable(client.get("/query"))
    finally:
        engine.dispose()


def test_a_terminated_session_is_a_503_and_the_pool_recovers(database_url):
    engine = make_engine(database_url, pool_size=1)
    try:
        with TestClient(_app(engine), raise_server_exceptions=False) as client:
            assert client.get("/query").json() == {"one": 1}
            _assert_unavailable(client.get("/terminated"))
            # The dead connection was discarded: the next request gets a live one.
            assert client.get("/query").json() == {"one": 1}
            body = assert_problem(client.get("/restrict"), 409, "still_referenced")
            assert "restricted" in body["detail"]
    finally:
        engine.dispose()


@pytest.mark.parametrize("state", ["08006", "08001", "57P01", "57P02", "57P03", "53300"])
def test_outage_sqlstates_are_503(state):
    class Raised(psycopg.OperationalError):
        sqlstate = state

    problem = database_problem(DBAPIError("SELECT 1", None, Raised("x")))
    assert isinstance(problem, DatabaseUnavailable)
    assert problem.headers == {"Retry-After": "5"}


def test_an_unknown_server_error_stays_a_500(scratch):
    error = _error_of(scratch, "SELECT * FROM no_such_table")  # 42P01: our bug
    assert database_problem(error) is None


def test_conninfo_of_the_test_database_is_usable(database_url):
    # Guard for the helpers above: the raw-driver test relies on the same server.
    with psycopg.connect(psycopg_conninfo(database_url)) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)


def test_a_pool_with_no_free_connection_is_a_503(database_url):
    from sqlalchemy import create_engine

    engine = create_engine(
        normalise_url(database_url), pool_size=1, max_overflow=0, pool_timeout=0.1
    )
    try:
        with engine.connect(), TestClient(_app(engine), raise_server_exceptions=False) as client:
            response = client.get("/query")  # the only connection is held above
            _assert_unavailable(response)
            assert "busy" in response.json()["detail"]
    finally:
        engine.dispose()
