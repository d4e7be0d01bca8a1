"""Engines (one per service role) and the per-request session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import Request
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from shared.db.grants import role_name


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
        pool_pre_ping=True,
        connect_args={"application_name": f"yardstick-{role or 'admin'}"},
    )
    if role is not None:
        pg_role = role_name(role)

        @event.listens_for(engine, "connect")
        def _set_role(dbapi_conn: Any, _record: Any) -> None:
            with dbapi_conn.cursor() as cur:
                cur.execute(f"SET ROLE {pg_role}")
            dbapi_conn.commit()

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
        session.rollback()
        raise
    finally:
        session.close()
