"""Ticket file ingest: streaming parsing and source-system column profiles (pure)."""
