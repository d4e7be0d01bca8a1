"""The public API contract every service publishes, derived from the routes themselves.

- operationIds are ``{tag}-{name}``: the route's (only) tag and its endpoint function's
  name, both in kebab-case (``organisations-list-organisations``), so a generated client
  has readable, stable method names grouped by tag.
- Security is read from each route's dependency tree: an operation that depends on
  :func:`shared.auth.get_principal` (directly, or through ``require_roles``) accepts a
  user's JWT, an API key as a bearer token, or an API key as the Basic password, and says
  so; one that depends on no principal is public and says ``security: []``.
- /docs (Swagger UI) and /redoc (ReDoc) load their scripts and styles from the assets the
  fastapi-offline wheel ships, served by the service itself under /docs/assets, and say
  so in a Content-Security-Policy: the pages cannot fetch anything from another origin
  (ReDoc's bundle would otherwise load its logo from a CDN).
- Every 2xx JSON response carries an example, built from the ``examples`` declared on the
  response models (``model_config = ConfigDict(json_schema_extra={"examples": [...]})``);
  a response whose models declare none gets no example, and the OpenAPI lint test names it.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable, Iterator
from importlib import resources
from typing import Any

import fastapi.routing
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from fastapi.staticfiles import StaticFiles

from shared.auth import get_principal, require_service
from shared.idempotency import IDEMPOTENCY_KEY, MAX_KEY_LENGTH

SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A user's access token from the identity provider (Microsoft Entra ID "
        "in production; `yardstick token` in development), sent as "
        "`Authorization: Bearer <JWT>`.",
    },
    "apiKeyBearer": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "ys_…",
        "description": "An API key (`ys_…`, made with `POST /api/v1/api-keys` on ingest or "
        "`yardstick apikey create`) sent as `Authorization: Bearer ys_…`. It carries one "
        "role and the organisations it may see.",
    },
    "basicAuth": {
        "type": "http",
        "scheme": "basic",
        "description": "HTTP Basic with any user name and an API key (`ys_…`) as the "
        "password, for tools that only speak Basic (Power BI, Tableau, Excel).",
    },
}
# Alternatives: any one of them authenticates the request.
AUTHENTICATED: list[dict[str, list[str]]] = [{name: []} for name in SECURITY_SCHEMES]
# Internal endpoints (outbox deliveries) take only a service token, a JWT.
SERVICE_ONLY: list[dict[str, list[str]]] = [{"bearerAuth": []}]
PUBLIC: list[dict[str, list[str]]] = []

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Problem",
    "description": "RFC 9457 problem details",
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "code": {"type": "string"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
    "required": ["type", "title", "status", "code", "detail"],
    "examples": [
        {
            "type": "about:blank",
            "title": "Not found",
            "status": 404,
            "code": "not_found",
            "detail": "No organisation 42; list them with GET /api/v1/organisations.",
        }
    ],
}

_NOT_KEBAB = re.compile(r"[^a-z0-9]+")


def kebab(text: str) -> str:
    """``"sla reports"`` → ``sla-reports``; ``comparison_csv`` → ``comparison-csv``."""
    return _NOT_KEBAB.sub("-", text.lower()).strip("-")


def operation_id(route: APIRoute) -> str:
    """``{tag}-{name}``: FastAPI's ``generate_unique_id_function`` for every service.

    ``route`` is an APIRoute or, for a route included from a router, FastAPI's view of it
    in that inclusion (same attributes, the router's tags and dependencies merged in).
    FastAPI may build that view at the first request, so an untagged route is named
    ``untagged-…`` rather than refused here; the OpenAPI lint test refuses it in a spec."""
    name = kebab(getattr(route.endpoint, "__name__", route.name))
    tag = kebab(str(route.tags[0])) if route.tags else "untagged"
    return f"{tag}-{name}"


def _depends_on(dependant: Dependant | None, call: Callable[..., Any]) -> bool:
    if dependant is None:
        return False
    return dependant.call is call or any(_depends_on(d, call) for d in dependant.dependencies)


def api_routes(app: FastAPI) -> Iterator[APIRoute]:
    """Every API route as the app serves it: for a route included from a router, FastAPI's
    view of it in that inclusion (path, tags and dependencies with the router's merged in)."""
    iter_contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    if iter_contexts is None:  # FastAPI before routers were included lazily
        yield from (route for route in app.routes if isinstance(route, APIRoute))
        return
    for context in iter_contexts(app.routes):
        if isinstance(context.original_route, APIRoute):
            yield context


def security_of(route: APIRoute) -> list[dict[str, list[str]]]:
    """What the route's dependencies demand: no principal dependency means public."""
    if _depends_on(route.dependant, require_service):
        return SERVICE_ONLY
    if _depends_on(route.dependant, get_principal):
        return AUTHENTICATED
    return PUBLIC


# ------------------------------------------------------------------------ examples

_MISSING: Any = object()
_ENVELOPE = {"items", "total", "limit", "offset"}


def _component(ref: str, components: dict[str, Any]) -> dict[str, Any]:
    found: dict[str, Any] = components[ref.rsplit("/", 1)[-1]]
    return found


def example_for(schema: dict[str, Any], components: dict[str, Any], depth: int = 0) -> Any:
    """An example of ``schema`` assembled from the examples, defaults and constants it and
    the models it refers to declare, or ``_MISSING`` where a required part has none."""
    if depth > 20:
        return _MISSING
    if "$ref" in schema:
        return example_for(_component(schema["$ref"], components), components, depth + 1)
    if schema.get("examples"):
        return schema["examples"][0]
    if "example" in schema:
        return schema["example"]
    if "const" in schema:
        return schema["const"]
    if "default" in schema:
        return schema["default"]
    if schema.get("enum"):
        return schema["enum"][0]
    alternatives = schema.get("anyOf") or schema.get("oneOf")
    if alternatives:
        for option in alternatives:
            if option.get("type") != "null":
                found = example_for(option, components, depth + 1)
                if found is not _MISSING:
                    return found
        return None if any(o.get("type") == "null" for o in alternatives) else _MISSING
    if schema.get("type") == "array" and "items" in schema:
        item = example_for(schema["items"], components, depth + 1)
        return _MISSING if item is _MISSING else [item]
    properties: dict[str, Any] = schema.get("properties", {})
    if properties:
        if properties.keys() >= _ENVELOPE:
            # The pagination envelope (shared/pagination.py): one item on the first page.
            items = example_for(properties["items"], components, depth + 1)
            if items is _MISSING:
                return _MISSING
            return {"items": items, "total": len(items), "limit": 50, "offset": 0, "next": None}
        out: dict[str, Any] = {}
        for name, prop in properties.items():
            value = example_for(prop, components, depth + 1)
            if value is not _MISSING:
                out[name] = value
            elif name in schema.get("required", ()):
                return _MISSING
        return out
    return _MISSING


def _admits_null(schema: dict[str, Any]) -> bool:
    kinds = schema.get("type")
    options = schema.get("anyOf") or schema.get("oneOf") or []
    return (
        kinds == "null"
        or (isinstance(kinds, list) and "null" in kinds)
        or any(o.get("type") == "null" for o in options)
    )


def restore_nulls(example: Any, schema: dict[str, Any], components: dict[str, Any]) -> None:
    """Put back the nulls FastAPI strips from the examples when it encodes the document
    (``exclude_none``): a nullable property missing from an example object was null."""
    while "$ref" in schema:
        schema = _component(schema["$ref"], components)
    if isinstance(example, list) and isinstance(schema.get("items"), dict):
        for item in example:
            restore_nulls(item, schema["items"], components)
    if not isinstance(example, dict):
        return
    for name, prop in schema.get("properties", {}).items():
        if name not in example:
            if _admits_null(prop):
                example[name] = None
            continue
        target = prop
        if "$ref" not in prop:
            options = [o for o in prop.get("anyOf", []) if o.get("type") != "null"]
            target = options[0] if len(options) == 1 else prop
        restore_nulls(example[name], target, components)


def _add_examples(doc: dict[str, Any]) -> None:
    components = doc.get("components", {}).get("schemas", {})
    for component in components.values():
        for example in component.get("examples", []):
            restore_nulls(example, component, components)
    for operations in doc.get("paths", {}).values():
        for operation in operations.values():
            for status, response in operation.get("responses", {}).items():
                media = response.get("content", {}).get("application/json")
                if not str(status).startswith("2") or media is None or "schema" not in media:
                    continue
                if "example" in media:
                    # An example the route declared: FastAPI stripped its nulls too.
                    restore_nulls(media["example"], media["schema"], components)
                    continue
                if "examples" in media:
                    continue
                found = example_for(media["schema"], components)
                if found is not _MISSING:
                    media["example"] = found


# ------------------------------------------------------------------------ the document


def customise(app: FastAPI, doc: dict[str, Any]) -> dict[str, Any]:
    """Add the problem schema, security schemes, per-operation security and examples."""
    components = doc.setdefault("components", {})
    components.setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
    components["securitySchemes"] = SECURITY_SCHEMES
    for route in api_routes(app):
        if not route.include_in_schema:
            continue
        operations = doc.get("paths", {}).get(route.path_format, {})
        for method in route.methods or ():
            operation = operations.get(method.lower())
            if operation is not None:
                operation["security"] = security_of(route)
                if not operation["security"]:  # no credentials asked, none refused
                    for status in ("401", "403"):
                        operation["responses"].pop(status, None)
    _declare_idempotency_key(doc)
    _add_examples(doc)
    return doc


def _declare_idempotency_key(doc: dict[str, Any]) -> None:
    """Every ``Idempotency-Key`` header is declared as shared/idempotency.py checks it
    (1 to 200 characters), whichever router declared the parameter."""
    for item in doc.get("paths", {}).values():
        for operation in item.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                if parameter.get("in") == "header" and parameter.get("name") == IDEMPOTENCY_KEY:
                    parameter["schema"] = {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": MAX_KEY_LENGTH,
                        "title": IDEMPOTENCY_KEY,
                    }


def install_openapi(app: FastAPI) -> None:
    """Make ``app.openapi()`` return the customised document (built once, then cached)."""
    original = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = customise(app, original())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


# ------------------------------------------------------------------------ docs pages

DOCS_ASSETS = "/docs/assets"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


def _with_policy(page: HTMLResponse) -> HTMLResponse:
    """The page with a policy that lets it load only from this origin; its inline scripts
    are allowed by hash. Styles may be inline (both UIs set style attributes)."""
    html = bytes(page.body).decode("utf-8")
    scripts = ["'self'"] + [
        "'sha256-" + base64.b64encode(hashlib.sha256(code.encode()).digest()).decode() + "'"
        for code in _INLINE_SCRIPT.findall(html)
    ]
    policy = "; ".join(
        [
            "default-src 'none'",
            "script-src " + " ".join(scripts),
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "worker-src 'self' blob:",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )
    return HTMLResponse(html, headers={"Content-Security-Policy": policy})


def install_docs(app: FastAPI) -> None:
    """/docs and /redoc from the Swagger UI and ReDoc bundles inside the fastapi-offline
    wheel (no CDN, no download at start-up)."""
    static = resources.files("fastapi_offline") / "static"
    app.mount(DOCS_ASSETS, StaticFiles(directory=str(static)), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    swagger = _with_policy(
        get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon.png",
            oauth2_redirect_url=None,
            # No validator badge (it would send the spec's URL to a third party); show each
            # operationId, the name a generated client gives the call.
            swagger_ui_parameters={"validatorUrl": None, "displayOperationId": True},
        )
    )
    redoc = _with_policy(
        get_redoc_html(
            openapi_url=openapi_url,
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{DOCS_ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{DOCS_ASSETS}/favicon.png",
            with_google_fonts=False,
        )
    )

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        return swagger

    @app.get("/redoc", include_in_schema=False)
    async def redoc_ui() -> HTMLResponse:
        return redoc
