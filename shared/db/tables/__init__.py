"""Every table, grouped by owning service. Importing this registers them on ``metadata``."""

from shared.db.tables import ingest, metrics, metrics_surveys, survey, survey_campaigns

__all__ = ["ingest", "metrics", "metrics_surveys", "survey", "survey_campaigns"]
