"""Demo data: ``yardstick demo`` / ``yardstick up --demo``."""

from yardstick.demo.loader import load_demo

__all__ = ["load_demo"]
