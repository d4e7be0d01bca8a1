"""The OpenAPI lint: what a frontend needs from each committed spec to generate a client.

Every operation has an operationId ``{tag}-{name}`` unique in its spec and exactly one tag;
a security requirement (the three schemes as alternatives) or, for the public operations
only, an explicit ``security: []``; a typed schema for each 2xx JSON response (no bare
``{}``, no object without properties that takes anything); and an example of that response
which validates against the schema.

The committed specs are read (test_openapi.py keeps them equal to the code).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import jsonschema_rs
import pytest

from shared.settings import PROJECT_ROOT

SERVICES = ("ingest", "metrics", "survey")
OPERATION_ID = re.compile(r"^[a-z0-9-]+-[a-z0-9-]+$")
AUTHENTICATED = [{"bearerAuth": []}, {"apiKeyBearer": []}, {"basicAuth": []}]
PUBLIC_PATHS = re.compile(r"^(/healthz|/readyz|/api/v1/respond/.*)$")
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}

# Operations that do not meet the contract yet, by service and check; each entry comes off
# as its fix lands, and test_allow_list_only_names_operations_that_still_fail says when.
# - metrics: every report row is typed and every response has an example (issue #10 item
#   3); what remains are free-form objects: a computation job's ``payload`` (the event's
#   payload, typed once item 1's declared payload schemas are used here) and a run's
#   ``scope``/``detail`` (different per kind of run).
# - event payloads (outbox events, computation jobs) are typed once issue #10 item 1
#   declares each event's payload in shared/.
_EVENT_PAYLOAD_PENDING = {
    "operations-list-outbox-events",
    "operations-get-outbox-event",
    "operations-redrive-outbox-event",
}
PENDING: dict[str, dict[str, frozenset[str]]] = {
    "ingest": {"untyped": frozenset(_EVENT_PAYLOAD_PENDING)},
    "survey": {"untyped": frozenset(_EVENT_PAYLOAD_PENDING)},
    "metrics": {
        "untyped": frozenset({"operations-list-runs", "operations-list-jobs", "operations-get-job"})
    },
}


def _spec(service: str) -> dict[str, Any]:
    return json.loads((PROJECT_ROOT / "openapi" / f"{service}.json").read_text())


SPECS = {service: _spec(service) for service in SERVICES}


def operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def json_2xx(operation: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(status, media type object) of each 2xx JSON response."""
    for status, response in operation["responses"].items():
        media = response.get("content", {}).get("application/json")
        if status.startswith("2") and media is not None:
            yield status, media


def _resolve(schema: dict[str, Any], doc: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


ANNOTATIONS = {"title", "description", "default", "examples", "example", "readOnly", "deprecated"}


def untyped_parts(schema: dict[str, Any], doc: dict[str, Any], where: str = "") -> list[str]:
    """Where ``schema`` says nothing of what is sent: a bare ``{}`` as the body or an array's
    items, or an object that takes any properties and declares none (untyped rows)."""
    found: list[str] = []
    seen: set[str] = set()

    def walk(node: dict[str, Any], at: str, value_position: bool) -> None:
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            if name in seen:
                return
            seen.add(name)
            walk(doc["components"]["schemas"][name], f"{at}<{name}>", value_position)
            return
        if value_position and not (node.keys() - ANNOTATIONS):
            found.append(f"{at or '/'}: bare {{}}")
            return
        for key in ("anyOf", "oneOf", "allOf"):
            for i, option in enumerate(node.get(key, [])):
                walk(option, f"{at}/{key}[{i}]", value_position)
        properties = node.get("properties", {})
        patterns = node.get("patternProperties", {})
        extra = node.get("additionalProperties")
        typed_keys = properties or patterns or extra not in (None, True, {})
        if node.get("type") == "object" and not typed_keys:
            found.append(f"{at or '/'}: object with no declared properties")
        for name, prop in {**properties, **patterns}.items():
            walk(prop, f"{at}/{name}", False)
        if isinstance(extra, dict) and extra:
            walk(extra, f"{at}/*", False)
        if isinstance(node.get("items"), dict):
            walk(node["items"], f"{at}[]", True)

    walk(schema, where, True)
    return found


def _cases() -> list[Any]:
    return [
        pytest.param(service, path, method, id=f"{service}:{op['operationId']}")
        for service, doc in SPECS.items()
        for path, method, op in operations(doc)
    ]


def _problems(service: str, path: str, method: str) -> dict[str, list[str]]:
    """What the operation lacks, by check: {"operation_id": [...], "security": [...], ...}."""
    doc = SPECS[service]
    op = doc["paths"][path][method]
    problems: dict[str, list[str]] = {}
    op_id = op.get("operationId", "")
    if not OPERATION_ID.match(op_id):
        problems["operation_id"] = [f"operationId {op_id!r} is not {{tag}}-{{name}}"]
    if len(op.get("tags", [])) != 1:
        problems["tags"] = [f"tags {op.get('tags')} (exactly one expected)"]
    public = bool(PUBLIC_PATHS.match(path))
    if "security" not in op:
        problems["security"] = ["no security requirement"]
    elif op["security"] != ([] if public else AUTHENTICATED):
        problems["security"] = [f"security {op['security']} (public: {public})"]
    statuses = [s for s in op["responses"] if s.startswith("2")]
    if not statuses:
        problems["untyped"] = ["no 2xx response"]
    for status, media in json_2xx(op):
        schema = media.get("schema")
        if schema is None:
            problems.setdefault("untyped", []).append(f"{status}: no schema")
            continue
        for part in untyped_parts(schema, doc):
            problems.setdefault("untyped", []).append(f"{status} {part}")
        examples = (
            [media["example"]]
            if "example" in media
            else [e.get("value") for e in media.get("examples", {}).values()]
        )
        if not examples:
            problems.setdefault("example", []).append(f"{status}: no example")
        validator = jsonschema_rs.Draft202012Validator(
            {**schema, "components": doc["components"]}, validate_formats=True
        )
        for example in examples:
            for error in validator.iter_errors(example):
                problems.setdefault("example", []).append(
                    f"{status}: example invalid at {list(error.instance_path)}: {error.message}"
                )
    return problems


@pytest.mark.parametrize(("service", "path", "method"), _cases())
def test_operation_meets_the_contract(service, path, method):
    op_id = SPECS[service]["paths"][path][method].get("operationId")
    problems = _problems(service, path, method)
    for check, pending in PENDING.get(service, {}).items():
        if op_id in pending:
            problems.pop(check, None)
    assert not problems, f"{method.upper()} {path}: {problems}"


@pytest.mark.parametrize("service", SERVICES)
def test_operation_ids_are_unique(service):
    ids = [op["operationId"] for _, _, op in operations(SPECS[service])]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    assert not duplicates, f"{service}: operationIds used twice: {duplicates}"


@pytest.mark.parametrize("service", SERVICES)
def test_security_schemes_are_declared(service):
    schemes = SPECS[service]["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {
        **schemes["bearerAuth"],
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
    }
    assert schemes["apiKeyBearer"]["type"] == "http"
    assert schemes["apiKeyBearer"]["scheme"] == "bearer"
    assert "ys_…" in schemes["apiKeyBearer"]["description"]
    assert schemes["basicAuth"]["type"] == "http"
    assert schemes["basicAuth"]["scheme"] == "basic"
    assert "password" in schemes["basicAuth"]["description"]


def test_public_operations_are_only_health_and_the_respondent_link():
    public = sorted(
        f"{service} {method.upper()} {path}"
        for service, doc in SPECS.items()
        for path, method, op in operations(doc)
        if op.get("security") == []
    )
    assert public == sorted(
        [f"{s} GET /healthz" for s in SERVICES]
        + [f"{s} GET /readyz" for s in SERVICES]
        + [
            "survey GET /api/v1/respond/{token}",
            "survey POST /api/v1/respond/{token}/submission",
            "survey PUT /api/v1/respond/{token}/draft",
        ]
    )


def test_allow_list_only_names_operations_that_still_fail():
    """The allow-list shrinks: an entry whose operation now passes must be removed."""
    stale = []
    for service, checks in PENDING.items():
        by_id = {op["operationId"]: (p, m) for p, m, op in operations(SPECS[service])}
        for check, pending in checks.items():
            for op_id in sorted(pending):
                if op_id not in by_id:
                    stale.append(f"{service} {op_id} ({check}): no such operation")
                elif check not in _problems(service, *by_id[op_id]):
                    stale.append(f"{service} {op_id} ({check}): passes now")
    assert not stale, "remove from PENDING: " + "; ".join(stale)


def test_lint_catches_what_it_should():
    """The checks themselves: an untyped row, a bare body and a wrong example are seen."""
    doc = {
        "components": {
            "schemas": {
                "Report": {
                    "type": "object",
                    "properties": {
                        "rows": {
                            "type": "array",
                            "items": {"type": "object", "additionalProperties": True},
                        }
                    },
                },
                "Typed": {
                    "type": "object",
                    "properties": {
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}}
                    },
                },
            }
        }
    }
    assert untyped_parts({"$ref": "#/components/schemas/Report"}, doc) == [
        "<Report>/rows[]: object with no declared properties"
    ]
    assert untyped_parts({"title": "Response"}, doc) == ["/: bare {}"]
    assert untyped_parts({"$ref": "#/components/schemas/Typed"}, doc) == []
