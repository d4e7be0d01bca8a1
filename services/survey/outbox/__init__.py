"""Admin view of the survey outbox: dead events listed and re-driven (shared.outbox_api)."""
