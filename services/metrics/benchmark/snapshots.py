"""The per-request snapshot of the results API, read for many concurrent requests at once.

Every results request needs a fresh look at the database before it may be answered: its
cycle's row (is it published, since when), whether its organisation exists, and the data
version that decides whether a cached body is still current (see ``ResultCache``). One
round trip per request is exact but, at a few thousand requests a second, the round trips
themselves become the work. So requests share them, *without* giving up exactness:

- a request joins the batch that has not been sent yet (creating it if there is none);
- one query per batch reads the cycles of every year and the existence of every
  organisation asked for in it, and the data version;
- while a batch's query is in flight, new requests wait for the next batch, which is sent
  as soon as the current one answers.

So the snapshot a request gets was always read by a query sent *after* the request
arrived: every commit that finished before the request is seen, as with a query of its
own. Under light load each request still gets its own query; under heavy load a query
serves every request that arrived during the previous round trip.

The connection is the process's own asyncio psycopg connection (autocommit, acting as the
metrics role), opened on first use; a connection found dropped is replaced and the query
tried once more. A database that cannot be reached is a 503 for the requests of that
batch, never a stale answer.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import Any

import psycopg

from services.metrics.benchmark import repository as repo
from shared.errors import DatabaseUnavailable

log = logging.getLogger("yardstick.metrics.snapshots")


@dataclass
class _Batch:
    future: asyncio.Future[repo.Snapshots]
    years: set[int] = field(default_factory=set)
    organisations: set[int] = field(default_factory=set)


class SnapshotReader:
    """``transaction_pooling``: the connection goes through PgBouncer in transaction mode
    (shared.db.engine.make_engine): no prepared statements, and the role is set inside
    each query's own transaction rather than once for the session."""

    def __init__(
        self, conninfo: str, role: str | None, *, transaction_pooling: bool = False
    ) -> None:
        self._conninfo = conninfo
        self._role = role
        self._pooled = transaction_pooling
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._next: _Batch | None = None  # the batch not sent yet
        self._sender: asyncio.Task[None] | None = None
        self.queries = 0  # batches sent (tests and the bench read it)
        self.requests = 0

    async def read(self, year: int, organisation_id: int) -> dict[str, Any]:
        """``repository.Snapshots.for_request`` for this request, read after it arrived."""
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # a new event loop (a test client's): start afresh there
            self._loop, self._conn, self._next, self._sender = loop, None, None, None
        batch = self._next
        if batch is None:
            batch = self._next = _Batch(loop.create_future())
        batch.years.add(year)
        batch.organisations.add(organisation_id)
        self.requests += 1
        if self._sender is None or self._sender.done():
            self._sender = loop.create_task(self._send())
        # shield: one waiter giving up (client gone) must not cancel the batch for the rest
        snapshots = await asyncio.shield(batch.future)
        return snapshots.for_request(year, organisation_id)

    async def _send(self) -> None:
        while self._next is not None:
            batch, self._next = self._next, None
            try:
                result = await self._query(batch)
            except Exception as exc:
                batch.future.set_exception(exc)
                batch.future.exception()  # retrieved here, so no waiter-less warning
            else:
                batch.future.set_result(result)

    async def _query(self, batch: _Batch) -> repo.Snapshots:
        # A connection that was open may have been dropped while idle (a server restart,
        # an idle timeout in between): then one fresh connection and one more try, as
        # the engine's pre-ping does for the pool. A fresh connection failing is a 503.
        reused = self._conn is not None and not self._conn.closed
        while True:
            try:
                conn = await self._connection()
                self.queries += 1
                if self._pooled and self._role:
                    async with conn.transaction():
                        await conn.execute(f"SET LOCAL ROLE {self._role}")
                        return await repo.snapshots(conn, batch.years, batch.organisations)
                return await repo.snapshots(conn, batch.years, batch.organisations)
            except psycopg.OperationalError as exc:
                await self.close()
                if reused:
                    log.info("results snapshot connection lost (%s); reconnecting", exc)
                    reused = False
                    continue
                log.warning("results snapshot failed: %s", type(exc).__name__)
                raise DatabaseUnavailable(
                    "The database is not reachable; try again shortly."
                ) from exc

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None or self._conn.closed:
            conn = await psycopg.AsyncConnection.connect(
                self._conninfo,
                autocommit=True,
                application_name="yardstick-metrics-snapshots",
                prepare_threshold=None if self._pooled else 5,
            )
            if self._role and not self._pooled:
                await conn.execute(f"SET ROLE {self._role}")
            self._conn = conn
        return self._conn

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None and self._loop is asyncio.get_running_loop():
            await conn.close()
