"""Every table, grouped by owning service. Importing this registers them on ``metadata``."""

from shared.db.tables import (
    ingest,
    ingest_tickets,
    metrics,
    metrics_sla,
    metrics_surveys,
    survey,
    survey_campaigns,
)

__all__ = [
    "ingest",
    "ingest_tickets",
    "metrics",
    "metrics_sla",
    "metrics_surveys",
    "survey",
    "survey_campaigns",
]
