"""A session as the database owner, for the CLI and demo loader (not used by services)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from shared.db.engine import make_engine


@contextmanager
def admin_session(database_url: str, role: str | None = "ingest") -> Iterator[Session]:
    engine = make_engine(database_url, role=role, pool_size=1)
    try:
        with Session(engine) as session, session.begin():
            yield session
    finally:
        engine.dispose()
