"""Every table, grouped by owning service. Importing this registers them on ``metadata``."""

from shared.db.tables import ingest, ingest_submissions, metrics, metrics_benchmark, survey

__all__ = ["ingest", "ingest_submissions", "metrics", "metrics_benchmark", "survey"]
