"""Tables owned (written) by the survey service."""

from __future__ import annotations

from shared.db.tables.common import idempotency_table, outbox_table

survey_outbox = outbox_table("survey")
survey_idempotency = idempotency_table("survey")
