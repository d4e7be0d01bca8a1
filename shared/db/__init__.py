from shared.db.metadata import metadata

__all__ = ["metadata"]
