"""tickets partitioned by organisation hash (as sla_outcomes since 0008)

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30 06:00:00.000000

``tickets`` becomes ``PARTITION BY HASH (organisation_id)`` into 16 partitions
(``tickets_p00`` … ``tickets_p15``), for the reasons 0008 gives for ``sla_outcomes``: the
key (organisation_id, source_system, reference) already holds the partition key, the
import's upsert targets it, and every read, recompute and retention pass is scoped to
organisations, so each touches its own partitions only. What stopped this in 0008 — the
import counting inserted against updated rows with ``RETURNING (xmax = 0)``, which a
partitioned table refuses — is gone (services/ingest/tickets/repository.py ``_UPSERT``).

The table is rebuilt: a new partitioned table like the old one, every row copied, the old
one dropped, the new one renamed, and its constraints, indexes, grants and the foreign keys
that reference it (``ticket_intervals``, ``ticket_events``) recreated from the catalog's
own definitions, so their names stay those the models declare. The downgrade rebuilds the
plain table the same way. Written out here (not imported from 0008), so this revision does
the same whatever later revisions change.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shared.db.grants import grant_table

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

TABLE = "tickets"
PARTITIONS = 16
OWNER, READERS = "ingest", ("metrics",)


def _rebuild(table: str, partitions: int | None) -> None:
    """Rebuild ``table`` partitioned by organisation hash into ``partitions`` (or plain)."""
    conn = op.get_bind()
    oid = f"'{table}'::regclass"
    constraints = conn.execute(
        sa.text(
            f"SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
            f"WHERE conrelid = {oid} AND conparentid = 0 "
            "ORDER BY CASE contype WHEN 'p' THEN 0 WHEN 'u' THEN 1 WHEN 'c' THEN 2 ELSE 3 END, "
            "conname"
        )
    ).all()
    indexes = conn.execute(
        sa.text(
            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' "
            f"AND tablename = '{table}' AND indexname NOT IN "
            f"(SELECT conname FROM pg_constraint WHERE conrelid = {oid}) ORDER BY indexname"
        )
    ).all()
    incoming = conn.execute(
        sa.text(
            "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid) "
            f"FROM pg_constraint WHERE confrelid = {oid} AND contype = 'f' AND conparentid = 0 "
            "ORDER BY 1, 2"
        )
    ).all()
    for referrer, name, _ in incoming:
        op.execute(f'ALTER TABLE {referrer} DROP CONSTRAINT "{name}"')
    scheme = " PARTITION BY HASH (organisation_id)" if partitions else ""
    op.execute(f"CREATE TABLE {table}_rebuilt (LIKE {table} INCLUDING DEFAULTS){scheme}")
    for i in range(partitions or 0):
        op.execute(
            f"CREATE TABLE {table}_p{i:02d} PARTITION OF {table}_rebuilt "
            f"FOR VALUES WITH (MODULUS {partitions}, REMAINDER {i})"
        )
    op.execute(f"INSERT INTO {table}_rebuilt SELECT * FROM {table}")
    op.execute(f"DROP TABLE {table}")
    op.execute(f"ALTER TABLE {table}_rebuilt RENAME TO {table}")
    for name, definition in constraints:
        op.execute(f'ALTER TABLE {table} ADD CONSTRAINT "{name}" {definition}')
    for _, definition in indexes:
        op.execute(definition.replace(" ON ONLY ", " ON "))
    for referrer, name, definition in incoming:
        op.execute(f'ALTER TABLE {referrer} ADD CONSTRAINT "{name}" {definition}')
    grant_table(conn, table, OWNER, READERS)
    op.execute(f"ANALYZE {table}")


def upgrade() -> None:
    _rebuild(TABLE, PARTITIONS)


def downgrade() -> None:
    _rebuild(TABLE, None)
