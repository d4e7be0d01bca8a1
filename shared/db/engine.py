"""Engines (one per service role) and the per-request session."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from fastapi import Request
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from shared.db.grants import role_name
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
