"""Engines (one per service role) and the per-request session."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from typing import Any

from fastapi import Request
from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from shared import observability
from shared.db.grants import role_name
from shared.errors import Unprocessable
from shared.observability_tracing import instrument_engine

log = logging.getLogger("yardstick.db")

CONNECT_TIMEOUT_SECONDS = 5
POOL_TIMEOUT_SECONDS = 10


def normalise_url(url: str) -> str:
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def psycopg_conninfo(url: str) -> str:
    """``url`` (any form ``normalise_url`` accepts) as a plain psycopg connection URI."""
    from sqlalchemy.engine import make_url

    return (
        make_url(normalise_url(url))
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )


def make_engine(
    url: str,
    *,
    role: str | None = None,
    pool_size: int = 10,
    transaction_pooling: bool = False,
) -> Engine:
    """An engine whose every connection acts as ``role`` (a service name), when given.

    ``transaction_pooling``: the URL goes through a pooler in transaction mode (PgBouncer
    ``pool_mode = transaction``), where consecutive transactions of one client connection
    may run on different server connections, each shared with other clients. Then
    nothing may live in the server session beyond a transaction:

    - no prepared statements (psycopg prepares a query it has run 5 times, on the server
      connection it happened to have; the next transaction may be elsewhere, and PgBouncer
      1.18, Debian's, does not track them): ``prepare_threshold=None``;
    - no ``SET ROLE`` at connect (it would act for whichever client got that server
      connection next, and be missing from this client's next transaction): each
      transaction starts with ``SET LOCAL ROLE``, which ends with it.

    Better still for production: each service logs in as its own role (``role=None``,
    ``YARDSTICK_DB_SET_ROLE=false``; see docs/operations.md), so PgBouncer keeps a pool per
    role and a compromised service cannot ``RESET ROLE`` to anything else.
    """
    connect_args: dict[str, Any] = {
        "application_name": f"yardstick-{role or 'admin'}",
        # An unreachable host (packets dropped, not refused) must not hold a request
        # for the operating system's TCP timeout, minutes long.
        "connect_timeout": CONNECT_TIMEOUT_SECONDS,
    }
    if transaction_pooling:
        connect_args["prepare_threshold"] = None
    engine = create_engine(
        normalise_url(url),
        pool_size=pool_size,
        max_overflow=pool_size,
        # A database restart leaves every pooled connection dead. pre_ping tests each one
        # as it is checked out and replaces a dead one (and, on the first dead one found,
        # retires every connection older than it), so the services recover by themselves
        # once the database is back; meanwhile requests get a 503 (shared.errors).
        pool_pre_ping=True,
        # A request waits at most this long for a free connection before it gets a 503.
        pool_timeout=POOL_TIMEOUT_SECONDS,
        connect_args=connect_args,
    )
    if role is not None and transaction_pooling:
        pg_role = role_name(role)

        @event.listens_for(engine, "begin")
        def _set_local_role(conn: Connection) -> None:
            # On the DBAPI connection: its first statement opens the transaction that
            # SQLAlchemy is beginning, and SET LOCAL lasts exactly as long.
            with conn.connection.dbapi_connection.cursor() as cur:  # type: ignore[union-attr]
                cur.execute(f"SET LOCAL ROLE {pg_role}")

    elif role is not None:
        pg_role = role_name(role)

        @event.listens_for(engine, "connect")
        def _set_role(dbapi_conn: Any, _record: Any) -> None:
            with dbapi_conn.cursor() as cur:
                cur.execute(f"SET ROLE {pg_role}")
            dbapi_conn.commit()

    instrument_engine(engine)
    return engine


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False, autoflush=True)


DATA_VERSION_HEADER = "X-Data-Version"
MIN_DATA_VERSION_HEADER = "X-Min-Data-Version"
_LSN = re.compile(r"^[0-9A-Fa-f]{1,8}/[0-9A-Fa-f]{1,8}$")


def lsn_value(lsn: str) -> int:
    """A WAL position ``X/Y`` (hex) as one comparable number."""
    high, _, low = lsn.partition("/")
    return (int(high, 16) << 32) | int(low, 16)


def min_data_version(request: Request) -> str | None:
    """The request's ``X-Min-Data-Version``, checked (422 naming the header if malformed)."""
    wanted = request.headers.get(MIN_DATA_VERSION_HEADER)
    if wanted is not None and not _LSN.match(wanted):
        raise Unprocessable(
            f"{MIN_DATA_VERSION_HEADER} must be a data version as answered in "
            f"{DATA_VERSION_HEADER} (e.g. 0/16B3748), not {wanted[:40]!r}.",
            code="invalid_data_version",
        )
    return wanted


class ReadRouter:
    """Where a read-only request reads: the streaming replica, unless it is down or has
    not yet replayed the data version (WAL position) the caller must see.

    The data version is PostgreSQL's WAL position: a write's is the primary's after its
    commit (answered as ``X-Data-Version`` when ``data_version_header`` is on); a read's
    is the position its source had replayed. A caller that must see its own write sends
    that value back as ``X-Min-Data-Version``; a replica behind it is not used for that
    request. A replica that fails (down, unreachable) is not tried again for
    ``read_replica_retry_seconds``; meanwhile reads go to the primary."""

    def __init__(
        self,
        primary: sessionmaker[Session],
        replica: sessionmaker[Session] | None,
        *,
        retry_seconds: float = 10.0,
    ) -> None:
        self.primary = primary
        self.replica = replica
        self.retry_seconds = retry_seconds
        self._down_until = 0.0

    def replica_up(self) -> bool:
        return self.replica is not None and time.monotonic() >= self._down_until

    def mark_down(self, why: str) -> None:
        self._down_until = time.monotonic() + self.retry_seconds
        log.warning("read replica unavailable (%s); reading from the primary", why)

    @staticmethod
    def current_enough(replayed: str | None, min_version: str | None) -> bool:
        """Whether a source that replayed ``replayed`` may answer (None: not a replica)."""
        if replayed is None:
            return False
        return min_version is None or lsn_value(replayed) >= lsn_value(min_version)

    def open(self, min_version: str | None) -> tuple[Session, str, str | None]:
        """A session, its source ("replica" or "primary") and the source's data version."""
        if self.replica is not None and self.replica_up():
            session = self.replica()
            try:
                replayed = session.execute(text("SELECT pg_last_wal_replay_lsn()::text")).scalar()
            except DBAPIError as exc:
                session.close()
                self.mark_down(type(exc).__name__)
            else:
                if self.current_enough(replayed, min_version):
                    return session, "replica", str(replayed)
                session.close()  # behind the caller's write (or not a replica at all)
        session = self.primary()
        version = session.execute(text("SELECT pg_current_wal_lsn()::text")).scalar()
        return session, "primary", str(version) if version is not None else None


def get_read_session(request: Request) -> Iterator[Session]:
    """A read-only session for the request, from ``request.app.state.reads``; answers the
    data version it read at. 422 for an ``X-Min-Data-Version`` that is not a WAL position."""
    reads: ReadRouter = request.app.state.reads
    session, source, version = reads.open(min_data_version(request))
    note_data_version(version, source)
    try:
        yield session
    finally:
        session.close()  # read only: nothing to commit


def note_data_version(version: str | None, source: str | None = None) -> None:
    ctx = observability.current()
    if ctx is not None and version is not None:
        ctx.extra["data_version"] = version
        if source is not None:
            ctx.extra["data_source"] = source


def get_session(request: Request) -> Iterator[Session]:
    """One transaction per request, committed here, before the response is sent.

    Use with ``Depends(get_session, scope="function")`` (see ``shared.deps.DbSession``) so a
    failing commit becomes the response instead of happening after it was sent.
    """
    factory: sessionmaker[Session] = request.app.state.sessionmaker
    session = factory()
    try:
        yield session
        session.commit()
        if request.app.state.settings.data_version_header:
            # The WAL position after this commit: a replica that has replayed it has it.
            version = session.execute(text("SELECT pg_current_wal_lsn()::text")).scalar()
            session.commit()
            note_data_version(str(version))
    except BaseException:
        try:
            session.rollback()
        except Exception:
            # The connection is gone (a database restart): the pool discards it, and the
            # error being raised already says what happened; don't replace it with this one.
            log.debug("rollback failed after an error", exc_info=True)
        raise
    finally:
        session.close()
