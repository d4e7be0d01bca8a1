"""Database roles per service and the grants that make table ownership real.

Migrations call these helpers with literal table names, so an old revision never depends
on today's models. Roles are cluster-wide and are created if missing, never dropped by a
downgrade (another database on the same server may use them); grants are per database.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import text
from sqlalchemy.engine import Connection

SERVICES = ("ingest", "metrics", "survey")
ROLE_PREFIX = "yardstick_"


def role_name(service: str) -> str:
    if service not in SERVICES:
        raise ValueError(f"unknown service {service!r}")
    return ROLE_PREFIX + service


def create_roles(conn: Connection) -> None:
    for service in SERVICES:
        role = role_name(service)
        # Roles are cluster-wide: two databases migrating at once (parallel test workers)
        # may both try to create one, so a duplicate is not an error.
        conn.execute(
            text(
                "DO $$ BEGIN "
                f"IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') THEN "
                f"CREATE ROLE {role} NOLOGIN; END IF; "
                "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
            )
        )
        # The connecting user must be able to SET ROLE to each service role.
        conn.execute(text(f"GRANT {role} TO CURRENT_USER"))
    conn.execute(text(f"GRANT USAGE ON SCHEMA public TO {', '.join(map(role_name, SERVICES))}"))


def grant_table(
    conn: Connection, table: str, owner: str, readers: Iterable[str] = ("metrics",)
) -> None:
    """Owner may read and write ``table``; each reader may only SELECT; others get nothing."""
    conn.execute(text(f"REVOKE ALL ON TABLE {table} FROM PUBLIC"))
    for service in SERVICES:
        conn.execute(text(f"REVOKE ALL ON TABLE {table} FROM {role_name(service)}"))
    conn.execute(
        text(f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLE {table} TO {role_name(owner)}")
    )
    for reader in readers:
        if reader != owner:
            conn.execute(text(f"GRANT SELECT ON TABLE {table} TO {role_name(reader)}"))
    # Identity/serial columns: the owner needs the sequence to insert.
    seqs = conn.execute(
        text(
            "SELECT s.relname FROM pg_class s JOIN pg_depend d ON d.objid = s.oid "
            "JOIN pg_class t ON d.refobjid = t.oid "
            "WHERE s.relkind = 'S' AND t.relname = :t"
        ),
        {"t": table},
    ).scalars()
    for seq in seqs:
        conn.execute(text(f"GRANT USAGE, SELECT ON SEQUENCE {seq} TO {role_name(owner)}"))


def revoke_table(conn: Connection, table: str) -> None:
    for service in SERVICES:
        conn.execute(text(f"REVOKE ALL ON TABLE {table} FROM {role_name(service)}"))
