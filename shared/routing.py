"""What the routing table says about a path, for answers the router cannot give alone."""

from __future__ import annotations

from starlette.routing import Match
from starlette.types import Scope


def allowed_methods(scope: Scope) -> list[str]:
    """Every method some route accepts on this request's path.

    Starlette's 405 lists the methods of the first route whose path matched, but one path
    is often served by several routes (GET and PATCH of ``/things/{id}`` are two
    functions), so ``Allow`` is the union over all of them, as RFC 9110 means it.
    """
    methods: set[str] = set()
    probe = {**scope, "type": "http"}
    for route in scope["app"].router.routes:
        route_methods = getattr(route, "methods", None)
        if not route_methods:
            continue
        match, _ = route.matches(probe)
        if match != Match.NONE:
            methods.update(route_methods)
    return sorted(methods)
