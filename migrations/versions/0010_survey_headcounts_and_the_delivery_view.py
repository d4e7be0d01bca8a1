"""survey headcounts (weighting) and the survey_campaign_delivery view (undeliverable invitations)

Revision ID: 0010
Revises: 0008
Create Date: 2026-11-30 03:03:00.398512
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from shared.db.grants import grant_table, revoke_table, role_name

revision = "0010"
down_revision = "0008"
branch_labels = None
depends_on = None


GRANTS = [
    ("survey_headcounts", "survey", ("metrics",)),
    ("survey_headcount_cells", "survey", ("metrics",)),
]

# Invitations per campaign and how many of them could not be delivered (bounced, or an
# address no mail could be built for), for the adjusted response rate. The metrics role
# has no privilege on survey_invitations (addresses live there); a view runs with its
# owner's privileges, so metrics reads these two counts and nothing else of that table.
DELIVERY_VIEW = """
CREATE VIEW survey_campaign_delivery AS
SELECT campaign_id,
       count(*)::integer AS invitations,
       (count(*) FILTER (WHERE bounced))::integer AS undeliverable
FROM survey_invitations
GROUP BY campaign_id
"""


def upgrade() -> None:
    op.create_table(
        "survey_headcounts",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("attributes", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("uploaded_by", sa.Text(), nullable=False),
        sa.Column(
            "uploaded_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("now()"),
            nullable=False,
        ),
        sa.CheckConstraint("kind IN ('cells','margins')", name=op.f("ck_survey_headcounts_kind")),
        sa.CheckConstraint("total >= 0", name=op.f("ck_survey_headcounts_total")),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["survey_campaigns.id"],
            name=op.f("fk_survey_headcounts_campaign_id_survey_campaigns"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", name=op.f("pk_survey_headcounts")),
        info={"owner": "survey", "readers": ("metrics",)},
    )
    op.create_table(
        "survey_headcount_cells",
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("cell", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("headcount", sa.Integer(), nullable=False),
        sa.CheckConstraint("headcount >= 0", name=op.f("ck_survey_headcount_cells_headcount")),
        sa.ForeignKeyConstraint(
            ["campaign_id"],
            ["survey_headcounts.campaign_id"],
            name=op.f("fk_survey_headcount_cells_campaign_id_survey_headcounts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("campaign_id", "position", name=op.f("pk_survey_headcount_cells")),
        info={"owner": "survey", "readers": ("metrics",)},
    )
    conn = op.get_bind()
    for table, owner, readers in GRANTS:
        grant_table(conn, table, owner, readers)
    op.execute(DELIVERY_VIEW)
    op.execute("REVOKE ALL ON TABLE survey_campaign_delivery FROM PUBLIC")
    for service in ("survey", "metrics"):
        op.execute(f"GRANT SELECT ON TABLE survey_campaign_delivery TO {role_name(service)}")


def downgrade() -> None:
    op.execute("DROP VIEW survey_campaign_delivery")
    conn = op.get_bind()
    for table, _owner, _readers in GRANTS:
        revoke_table(conn, table)
    op.drop_table("survey_headcount_cells")
    op.drop_table("survey_headcounts")
