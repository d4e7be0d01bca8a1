"""Engines (one per service role) and the per-request session."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from fastapi import Request
from sqlalchemy import Engine, create_engine, event
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


def make_engine(url: str, *, role: str | None = None, pool_size: int = 10) -> Engine:
    """An engine whose every connection acts as ``role`` (a service name), when given."""
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
        connect_args={
            "application_name": f"yardstick-{role or 'admin'}",
            # An unreachable host (packets dropped, not refused) must not hold a request
            # for the operating system's TCP timeout, minutes long.
            "connect_timeout": CONNECT_TIMEOUT_SECONDS,
        },
    )
    if role is not None:
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
