"""Demo data: ``yardstick demo`` / ``yardstick up --demo``.

``load_demo`` is imported lazily so the pure generator (``benchmark_data``) can be used
without pulling in the database layer.
"""

from __future__ import annotations

from typing import Any

__all__ = ["load_demo"]


def __getattr__(name: str) -> Any:
    if name == "load_demo":
        from yardstick.demo.loader import load_demo

        return load_demo
    raise AttributeError(name)
