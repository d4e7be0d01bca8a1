"""operations: request id (and trace context) on outbox events and metrics jobs; sla_outcomes partitioned by organisation hash

Revision ID: 0008
Revises: 0009 (0009 landed first; a database already at 0009 then gets this one)
Create Date: 2026-11-30 03:00:00.000000

Partitioning. ``sla_outcomes`` becomes a PostgreSQL declarative partitioned table,
``PARTITION BY HASH (organisation_id)`` into 16 partitions; ``tickets`` is ready to follow
(the same ``_rebuild``) but stays plain for now: the ticket import's upsert counts
inserted against updated rows with ``RETURNING (xmax = 0)``, and PostgreSQL cannot
return a system column from a partitioned table ("cannot retrieve a system column in this
context"), so that count must change first (services/ingest/tickets). Hash by
organisation, not range by month: the key, and the import's upsert target, is (organisation_id,
source_system, reference), and a partitioned table's unique keys must contain the
partition key, so a month key would have to join the primary key and a ticket whose
logged time was corrected would be stored twice; and every read and recompute is scoped
to organisations, so each touches its own partitions only. The table is rebuilt: a new
partitioned table like the old one, every row copied, the old one dropped, the new one
renamed, and its constraints, indexes, grants and the foreign key that references it
(``ticket_intervals``) recreated from the catalog's own definitions, so their names stay
those the models declare. The downgrade rebuilds the plain table the same way.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shared.db.grants import grant_table

revision = "0008"
down_revision = "0009"
branch_labels = None
depends_on = None

# The worker sends these again when it delivers the event, and the metrics job runner
# binds them while it runs the job, so one request id links every log line of the work a
# request caused (shared/observability.py).
TRACED = ("ingest_outbox", "survey_outbox", "metrics_jobs")
OWNERS = {"tickets": ("ingest", ("metrics",)), "sla_outcomes": ("metrics", ())}
# Written out here (not imported), so this revision does the same whatever comes later.
PARTITIONS = {"sla_outcomes": 16}


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
            f"FROM pg_constraint WHERE confrelid = {oid} AND contype = 'f' AND conparentid = 0"
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
    owner, readers = OWNERS[table]
    grant_table(conn, table, owner, readers)
    op.execute(f"ANALYZE {table}")


def upgrade() -> None:
    for table in TRACED:
        op.add_column(table, sa.Column("request_id", sa.Text(), nullable=True))
        op.add_column(table, sa.Column("traceparent", sa.Text(), nullable=True))
    for table, partitions in PARTITIONS.items():
        _rebuild(table, partitions)


def downgrade() -> None:
    for table in PARTITIONS:
        _rebuild(table, None)
    for table in TRACED:
        op.drop_column(table, "traceparent")
        op.drop_column(table, "request_id")
