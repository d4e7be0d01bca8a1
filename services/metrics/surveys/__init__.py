"""Survey figures computed from response rows (no database access here)."""
