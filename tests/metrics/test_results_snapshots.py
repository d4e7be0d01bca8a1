"""The results API's snapshot reader: requests that arrive together share one query, a
request never rides a query sent before it arrived, a dropped connection is replaced
without failing the request, and an unreachable database is a 503. Against the test
database itself."""

from __future__ import annotations

import asyncio
from datetime import date

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from services.metrics.benchmark.snapshots import SnapshotReader
from shared.db.engine import normalise_url, psycopg_conninfo
from shared.db.grants import role_name
from shared.errors import ProblemError
from tests.factories import make_cycle, make_org


@pytest.fixture
def reader(database_url):
    return SnapshotReader(psycopg_conninfo(database_url), role_name("metrics"))


def test_requests_that_arrive_together_share_one_query(api, reader):
    cycle = make_cycle(api, 2020)
    org = make_org(api)

    async def scenario():
        asks = [(2020, org["id"]), (2021, org["id"]), (2020, org["id"] + 1000)] * 7
        snaps = await asyncio.gather(*(reader.read(y, o) for y, o in asks))
        await reader.close()
        return asks, snaps

    asks, snaps = asyncio.run(scenario())
    assert (reader.requests, reader.queries) == (21, 1)
    for (year, org_id), snap in zip(asks, snaps, strict=True):
        assert snap["year"] == year
        assert snap["cycle_id"] == (cycle["id"] if year == 2020 else None)
        assert snap["organisation_exists"] is (org_id == org["id"])
        assert snap["status"] == (cycle["status"] if year == 2020 else None)
    assert len({s["version"] for s in snaps}) == 1


def test_a_request_never_rides_a_query_sent_before_it_arrived(api, reader, owner_engine):
    cycle = make_cycle(api, 2020)
    org = make_org(api)
    conninfo = reader._conninfo

    async def waiting_on_lock(conn: psycopg.AsyncConnection) -> None:
        while True:
            cur = await conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' "
                "AND application_name = 'yardstick-metrics-snapshots'"
            )
            if (await cur.fetchone())[0] == 1:
                return
            await asyncio.sleep(0.01)

    async def scenario():
        async with (
            await psycopg.AsyncConnection.connect(conninfo) as locker,
            await psycopg.AsyncConnection.connect(conninfo, autocommit=True) as probe,
        ):
            # The first request's query is sent and held up behind a lock ...
            await locker.execute("LOCK TABLE organisation_codes IN ACCESS EXCLUSIVE MODE")
            first = asyncio.ensure_future(reader.read(2020, org["id"]))
            await asyncio.wait_for(waiting_on_lock(probe), 10)
            # ... a release date is committed while it is in flight ...
            await probe.execute(
                "UPDATE cycles SET results_release_date = '2021-03-01', updated_at = now() "
                "WHERE id = %s",
                (cycle["id"],),
            )
            # ... and a request arriving now must not take the in-flight query's answer.
            second = asyncio.ensure_future(reader.read(2020, org["id"]))
            await asyncio.sleep(0.05)
            assert not second.done()
            await locker.rollback()
            snaps = await asyncio.gather(first, second)
        await reader.close()
        return snaps

    _first, second = asyncio.run(scenario())
    assert reader.queries == 2
    assert second["results_release_date"] == date(2021, 3, 1)


def test_a_request_that_gives_up_does_not_cancel_the_others(api, reader):
    make_cycle(api, 2020)
    org = make_org(api)

    async def scenario():
        quitter = asyncio.ensure_future(reader.read(2020, org["id"]))
        stayer = asyncio.ensure_future(reader.read(2020, org["id"]))
        await asyncio.sleep(0)  # both have joined the batch
        quitter.cancel()
        snap = await stayer
        await reader.close()
        return quitter, snap

    quitter, snap = asyncio.run(scenario())
    assert quitter.cancelled()
    assert snap["organisation_exists"] is True and snap["year"] == 2020
    assert reader.queries == 1


def test_a_dropped_connection_is_replaced_without_failing_a_request(api, reader, owner_engine):
    make_cycle(api, 2020)
    org = make_org(api)

    async def scenario():
        before = await reader.read(2020, org["id"])
        dropped = reader._conn.info.backend_pid
        with owner_engine.begin() as conn:  # as a server restart or an idle timeout would
            assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": dropped}).scalar()
        after = await reader.read(2020, org["id"])
        replaced = reader._conn.info.backend_pid
        await reader.close()
        return before, after, dropped, replaced

    before, after, dropped, replaced = asyncio.run(scenario())
    assert replaced != dropped
    assert before == after and after["organisation_exists"] is True
    assert reader.queries == 3  # the first read, the failed try, the retry


def test_an_unreachable_database_is_a_503(database_url):
    url = make_url(normalise_url(database_url)).set(
        drivername="postgresql", host="127.0.0.1", port=1, query={}
    )
    unreachable = SnapshotReader(url.render_as_string(hide_password=False), None)
    with pytest.raises(ProblemError) as caught:
        asyncio.run(unreachable.read(2020, 1))
    assert (caught.value.status, caught.value.code) == (503, "database_unavailable")
    assert "not reachable" in caught.value.detail
