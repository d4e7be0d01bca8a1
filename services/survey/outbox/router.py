from __future__ import annotations

from shared.db.tables.survey import survey_outbox
from shared.outbox_api import admin_router

router = admin_router(survey_outbox)
