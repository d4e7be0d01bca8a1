"""Every table, grouped by owning service. Importing this registers them on ``metadata``."""

from shared.db.tables import (
    ingest,
    ingest_governance,
    ingest_histories,
    ingest_submissions,
    ingest_tickets,
    ingest_trust,
    ingest_workshops,
    metrics,
    metrics_benchmark,
    metrics_packs,
    metrics_sla,
    metrics_surveys,
    metrics_trust,
    metrics_workshops,
    survey,
    survey_campaigns,
)

__all__ = [
    "ingest",
    "ingest_governance",
    "ingest_histories",
    "ingest_submissions",
    "ingest_tickets",
    "ingest_trust",
    "ingest_workshops",
    "metrics",
    "metrics_benchmark",
    "metrics_packs",
    "metrics_sla",
    "metrics_surveys",
    "metrics_trust",
    "metrics_workshops",
    "survey",
    "survey_campaigns",
]
