"""Survey campaigns, invitations, responses and drafts (owned by the survey service).

Anonymity by construction (DOMAIN.md, "Surveys"):

- ``survey_invitations`` is the only table holding an address (AES-GCM encrypted, plus a
  keyed hash for deduplication). It records that an invitation was completed, never when.
  The metrics role has no privilege on it (``readers=()``).
- ``survey_responses`` has a random id, the date only, and no reference to an invitation
  or a token; the metrics role may read it.
- ``survey_invitation_tokens`` holds only SHA-256 hashes of link tokens; an invitation has
  one per mail sent (invitation and each reminder), all opening the same questionnaire.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    Text,
    UniqueConstraint,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

from shared.db.metadata import metadata, owned
from shared.db.tables.common import inbox_table

survey_inbox = inbox_table("survey")

survey_campaigns = Table(
    "survey_campaigns",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column(
        "organisation_id",
        Integer,
        ForeignKey("organisations.id", ondelete="RESTRICT"),
        nullable=False,
    ),
    Column("cycle_id", Integer, ForeignKey("cycles.id", ondelete="SET NULL")),
    Column("kind", Text, nullable=False),
    Column("title", Text, nullable=False),
    # Dates in Europe/London: open from 00:00 on opens_on to 24:00 on closes_on.
    Column("opens_on", Date, nullable=False),
    Column("closes_on", Date, nullable=False),
    Column("users_in_scope", Integer, nullable=False),
    Column("reminder_count", SmallInteger, nullable=False, server_default="2"),
    Column("reminder_interval_days", SmallInteger, nullable=False, server_default="7"),
    Column("retention_days", SmallInteger, nullable=False, server_default="30"),
    # Anonymity settings: locked against loosening once the first invitation is sent.
    Column("attribute_options", JSONB, nullable=False, server_default="{}"),
    Column("breakdown_attributes", JSONB, nullable=False, server_default="[]"),
    Column("comments_enabled", Boolean, nullable=False, server_default="true"),
    Column("suppression_threshold", SmallInteger, nullable=False, server_default="10"),
    Column("status", Text, nullable=False, server_default="draft"),
    Column("first_sent_at", DateTime(timezone=True)),
    Column("closed_at", DateTime(timezone=True)),
    Column("addresses_erased_at", DateTime(timezone=True)),
    Column("created_by", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("kind IN ('user_satisfaction','user_skills','sdma')", name="kind"),
    CheckConstraint("status IN ('draft','live','closed')", name="status"),
    CheckConstraint("closes_on >= opens_on", name="window"),
    CheckConstraint("users_in_scope >= 0", name="users_in_scope"),
    CheckConstraint("reminder_count BETWEEN 0 AND 5", name="reminder_count"),
    CheckConstraint("reminder_interval_days BETWEEN 1 AND 60", name="reminder_interval"),
    CheckConstraint("retention_days BETWEEN 0 AND 365", name="retention_days"),
    CheckConstraint("suppression_threshold >= 5", name="suppression_threshold"),
    Index("ix_survey_campaigns_organisation_id", "organisation_id"),
    info=owned("survey", readers=("metrics",)),
)

survey_invitations = Table(
    "survey_invitations",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column(
        "campaign_id",
        Integer,
        ForeignKey("survey_campaigns.id", ondelete="CASCADE"),
        nullable=False,
    ),
    # Null once erased after the retention period.
    Column("address_encrypted", LargeBinary),
    Column("address_hash", Text),
    Column("location", Text),
    Column("role", Text),
    Column("invitation_queued", Boolean, nullable=False, server_default="false"),
    Column("mails_sent", SmallInteger, nullable=False, server_default="0"),
    Column("reminders_queued", SmallInteger, nullable=False, server_default="0"),
    Column("last_mail_at", DateTime(timezone=True)),
    Column("completed", Boolean, nullable=False, server_default="false"),
    Column("bounced", Boolean, nullable=False, server_default="false"),
    Column("opted_out", Boolean, nullable=False, server_default="false"),
    UniqueConstraint("campaign_id", "address_hash"),
    info=owned("survey", readers=()),
)

survey_invitation_tokens = Table(
    "survey_invitation_tokens",
    metadata,
    Column("token_hash", Text, primary_key=True),
    Column(
        "invitation_id",
        BigInteger,
        ForeignKey("survey_invitations.id", ondelete="CASCADE"),
        nullable=False,
    ),
    Index("ix_survey_invitation_tokens_invitation_id", "invitation_id"),
    info=owned("survey", readers=()),
)

survey_responses = Table(
    "survey_responses",
    metadata,
    Column("organisation_id", Integer, nullable=False),
    Column("id", UUID(as_uuid=True), nullable=False),
    # No foreign key to survey_campaigns, on purpose: every insert's key-share lock on the
    # one campaign row turned concurrent submissions into MultiXact contention (bench), and
    # a distributed (Citus) responses table could not reference a campaigns table anyway.
    # Campaigns are never deleted while they have responses (the survey service owns both).
    Column("campaign_id", Integer, nullable=False),
    Column("response_date", Date, nullable=False),
    Column("answers", JSONB, nullable=False),
    # Organisation first: distributable by organisation (Citus) without a schema change.
    PrimaryKeyConstraint("organisation_id", "id"),
    Index("ix_survey_responses_campaign_id", "campaign_id"),
    info=owned("survey", readers=("metrics",)),
)

survey_drafts = Table(
    "survey_drafts",
    metadata,
    # Keyed by invitation (not token) so that the invitation's link and every reminder's
    # link resume the same answers; deleted in the transaction that stores the response.
    Column(
        "invitation_id",
        BigInteger,
        ForeignKey("survey_invitations.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("answers", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("page", SmallInteger, nullable=False, server_default="1"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    info=owned("survey", readers=()),
)

# An organisation's headcount for one campaign, as HR holds it (DOMAIN.md, "Survey confidence
# and weighting"): either the full cross-classification of some breakdown attributes
# (kind ``cells``: one row per combination, e.g. role × location) or only the margins
# (kind ``margins``: one row per value of each attribute). Metrics weights results with it:
# cell weighting from ``cells``, raking from ``margins``.
survey_headcounts = Table(
    "survey_headcounts",
    metadata,
    Column(
        "campaign_id",
        Integer,
        ForeignKey("survey_campaigns.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("kind", Text, nullable=False),
    # The attribute names, in the order given (e.g. ["role", "location"]).
    Column("attributes", JSONB, nullable=False),
    Column("total", Integer, nullable=False),
    Column("uploaded_by", Text, nullable=False),
    Column("uploaded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("kind IN ('cells','margins')", name="kind"),
    CheckConstraint("total >= 0", name="total"),
    info=owned("survey", readers=("metrics",)),
)

survey_headcount_cells = Table(
    "survey_headcount_cells",
    metadata,
    Column(
        "campaign_id",
        Integer,
        ForeignKey("survey_headcounts.campaign_id", ondelete="CASCADE"),
        nullable=False,
    ),
    Column("position", Integer, nullable=False),
    # {"role": "Manager or team leader", "location": "Home"}; one key per row for margins.
    Column("cell", JSONB, nullable=False),
    Column("headcount", Integer, nullable=False),
    CheckConstraint("headcount >= 0", name="headcount"),
    PrimaryKeyConstraint("campaign_id", "position"),
    info=owned("survey", readers=("metrics",)),
)
