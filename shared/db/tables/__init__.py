"""Every table, grouped by owning service. Importing this registers them on ``metadata``."""

from shared.db.tables import ingest, metrics, survey

__all__ = ["ingest", "metrics", "survey"]
