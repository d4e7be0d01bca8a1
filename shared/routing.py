"""The app's routes as one flat table (FastAPI keeps included routers nested), for the
answers that need to know about a path before or beside the router: the body limit of an
endpoint, and every method a path allows."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from fastapi.routing import iter_route_contexts
from starlette.types import Scope


@dataclass(frozen=True, slots=True)
class RouteEntry:
    path_regex: re.Pattern[str]
    methods: frozenset[str]
    max_body_size: int | None


def route_table(app: Any) -> list[RouteEntry]:
    """Every HTTP route of ``app`` in matching order; built once (routes are fixed once
    the app serves) and kept on ``app.state``."""
    table: list[RouteEntry] | None = getattr(app.state, "route_table", None)
    if table is None:
        table = [
            RouteEntry(
                path_regex=context.path_regex,
                methods=frozenset(context.methods),
                max_body_size=getattr(context, "max_body_size", None),
            )
            for context in iter_route_contexts(app.routes)
            if context.methods and getattr(context, "path_regex", None) is not None
        ]
        app.state.route_table = table
    return table


def _route_path(scope: Scope) -> str:
    path: str = scope["path"]
    root = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def find_route(scope: Scope) -> RouteEntry | None:
    """The route the router will pick for this request's method and path, if any."""
    path = _route_path(scope)
    for entry in route_table(scope["app"]):
        if scope["method"] in entry.methods and entry.path_regex.match(path):
            return entry
    return None


def allowed_methods(scope: Scope) -> list[str]:
    """Every method some route accepts on this request's path.

    Starlette's 405 lists the methods of the first route whose path matched, but one path
    is often served by several routes (GET and PATCH of ``/things/{id}`` are two
    functions), so ``Allow`` is the union over all of them, as RFC 9110 means it.
    """
    path = _route_path(scope)
    methods: set[str] = set()
    for entry in route_table(scope["app"]):
        if entry.path_regex.match(path):
            methods |= entry.methods
    return sorted(methods)
