from __future__ import annotations

from shared.db.tables.ingest import ingest_outbox
from shared.outbox_api import admin_router

router = admin_router(ingest_outbox)
