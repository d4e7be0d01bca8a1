"""The per-cycle catalogue as the API shows it: the packaged YAML files, resolved.

Each cycle's file extends the previous cycle's (``extends: YYYY-1``), so a new cycle
starts from the previous one's definitions and states only what changed; the API says
which file and cycle each catalogue extends.
"""

from __future__ import annotations

import functools
from typing import Any

import yaml

from shared.catalogue import Catalogue, CatalogueError, available_cycles, load_catalogue
from shared.catalogue.loader import DATA_DIR
from shared.errors import NotFound


class CatalogueNotFound(NotFound):
    code = "catalogue_not_found"


@functools.cache
def _header(year: int) -> dict[str, Any]:
    doc = yaml.safe_load((DATA_DIR / f"{year}.yaml").read_text(encoding="utf-8")) or {}
    extends = doc.get("extends")
    return {
        "cycle": year,
        "file": f"{year}.yaml",
        "extends": None if extends is None else str(extends),
        "extends_cycle": int(str(extends)) if str(extends).isdigit() else None,
        "description": " ".join(str(doc.get("description", "")).split()),
    }


def listing() -> list[dict[str, Any]]:
    return [_header(year) for year in available_cycles()]


def catalogue_for(year: int) -> Catalogue:
    if year not in available_cycles():
        raise CatalogueNotFound(
            f"There is no catalogue for cycle {year}; available: "
            f"{', '.join(map(str, available_cycles()))}."
        )
    try:
        return load_catalogue(year)
    except CatalogueError as exc:  # a broken data file is our bug, but say what it is
        raise RuntimeError(str(exc)) from exc


def get(year: int) -> dict[str, Any]:
    catalogue = catalogue_for(year)
    return {**_header(year), **catalogue.to_dict()}
