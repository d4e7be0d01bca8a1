"""Admin view of the ingest outbox: dead events listed and re-driven (shared.outbox_api)."""
