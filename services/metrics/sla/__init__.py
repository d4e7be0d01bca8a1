"""SLA computation core: business calendars and the ticket SLA engine (no DB, no HTTP)."""
