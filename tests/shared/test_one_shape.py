"""Ingest and survey speak one shape: every list is the envelope (items, total, limit,
offset, next), every instant is UTC with ``Z``, no figure is a string, and every 201/202
says where its resource is with a path that answers GET."""

from __future__ import annotations

import re
from typing import Any

from tests.factories import make_cycle, make_org, make_submission
from tests.metrics.test_sla_reports import STD_HOURS
from tests.survey.conftest import make_campaign

ENVELOPE = {"items", "total", "limit", "offset", "next"}
# "..._at": "<text>" and "at": "<text>" anywhere in a raw JSON document
INSTANT = re.compile(r'"(\w*_at|at)":\s*"([^"]*)"')
TICKETS = b"ticket_ref,type,priority,logged_at,status\nT1,incident,P1,2021-03-05 10:00,open\n"
UTC_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def _schema(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _public_operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, op)
        for path, item in spec["paths"].items()
        if path.startswith("/api/")
        for method, op in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def test_every_collection_a_get_returns_is_the_envelope(api):
    checked = 0
    for app in (api.ingest.app, api.survey.app):
        spec = app.openapi()
        for method, path, op in _public_operations(spec):
            if method != "get":
                continue
            for status, response in op["responses"].items():
                content = response.get("content", {}).get("application/json")
                if not status.startswith("2") or content is None:
                    continue
                schema = _schema(spec, content["schema"])
                assert schema.get("type") != "array", f"GET {path} answers a bare array"
                props = schema.get("properties", {})
                if _schema(spec, props.get("items", {})).get("type") == "array":
                    assert set(props) >= ENVELOPE, f"GET {path}: {sorted(props)}"
                    checked += 1
    assert checked >= 15  # organisations, cycles, codes, calendars, policies, profiles, ...


def test_every_201_and_202_declares_a_location_path(api):
    for app in (api.ingest.app, api.survey.app):
        spec = app.openapi()
        for method, path, op in _public_operations(spec):
            for status in set(op["responses"]) & {"201", "202"}:
                headers = op["responses"][status].get("headers", {})
                assert "Location" in headers, f"{method.upper()} {path} {status}"
                assert headers["Location"]["schema"]["pattern"] == "^/"


def _instants(text: str) -> list[tuple[str, str]]:
    return INSTANT.findall(text)


def test_real_responses_write_every_instant_in_utc_with_z(api):
    admin = api.auth("admin")
    org = make_org(api)
    cycle = make_cycle(api, 2021)
    make_submission(api, org["id"], cycle["id"], "estate", {})
    make_campaign(api, org)
    other = make_org(api)
    make_cycle(api, 2019)
    imported = api.ingest.post(
        "/api/v1/imports",
        content=f"organisation,cycle,module,question,value\n{other['id']},2019,estate,users,5\n",
        headers={**admin, "Content-Type": "text/csv"},
    )
    assert imported.status_code == 201, imported.text
    pushed = api.ingest.post(
        "/api/v1/ticket-imports",
        params={"organisation_id": org["id"]},
        content=TICKETS,
        headers={**admin, "Content-Type": "text/csv"},
    )
    assert pushed.status_code == 202, pushed.text
    seen: set[str] = set()
    for client, url in [
        (api.ingest, "/api/v1/organisations"),
        (api.ingest, f"/api/v1/organisations/{org['id']}"),
        (api.ingest, "/api/v1/cycles"),
        (api.ingest, f"/api/v1/cycles/{cycle['id']}"),
        (api.ingest, "/api/v1/submissions"),
        (api.ingest, "/api/v1/imports"),
        (api.ingest, "/api/v1/ticket-imports"),
        (api.survey, "/api/v1/campaigns"),
    ]:
        r = client.get(url, headers=admin)
        assert r.status_code == 200, (url, r.text)
        assert "+00:00" not in r.text, url
        found = _instants(r.text)
        assert found, f"{url} shows no instant"
        for name, value in found:
            assert UTC_Z.match(value), f"{url}: {name}={value!r}"
            seen.add(name)
    assert {"created_at", "updated_at", "opens_at", "closes_at"} <= seen


def test_decimal_figures_are_json_numbers(api):
    org = make_org(api)
    who = api.auth("participant", [org["id"]])
    base = f"/api/v1/organisations/{org['id']}"
    cal = api.ingest.post(
        f"{base}/calendars",
        json={"name": "Office", "nation": "GB-ENG", "hours": STD_HOURS},
        headers=who,
    )
    assert cal.status_code == 201, cal.text
    assert re.search(r'"working_day_hours":\d+(\.\d+)?[,}]', cal.text), cal.text
    policy = api.ingest.post(
        f"{base}/sla-policies",
        json={
            "priority": "P1",
            "target_hours": "4.5",
            "target_share_pct": "92.5",
            "effective_from": "2020-01-01",
        },
        headers=api.auth("admin"),
    )
    assert policy.status_code == 201, policy.text
    listed = api.ingest.get(f"{base}/sla-policies", headers=who)
    assert '"target_share_pct":92.5' in listed.text, listed.text
    assert '"target_hours":4.5' in listed.text, listed.text
    assert listed.json()["items"][0]["target_share_pct"] == 92.5


def test_small_lists_page_like_the_rest(api):
    org = make_org(api)
    who = api.auth("participant", [org["id"]])
    base = f"/api/v1/organisations/{org['id']}"
    for name in ("A", "B", "C"):
        api.ingest.post(
            f"{base}/ticket-mappings",
            json={"name": name, "columns": {"Ref": "ticket_ref", "Opened": "logged_at"}},
            headers=who,
        )
    page = api.ingest.get(f"{base}/ticket-mappings?limit=2", headers={**who, "Host": "evil.test"})
    body = page.json()
    assert [m["name"] for m in body["items"]] == ["A", "B"]
    assert (body["total"], body["limit"], body["offset"]) == (3, 2, 0)
    assert body["next"] == f"{base}/ticket-mappings?limit=2&offset=2"  # a path, no host
    last = api.ingest.get(body["next"], headers=who).json()
    assert [m["name"] for m in last["items"]] == ["C"] and last["next"] is None
    profiles = api.ingest.get("/api/v1/ticket-profiles", headers=who).json()
    assert profiles["total"] == len(profiles["items"]) > 1 and profiles["next"] is None


def test_submissions_are_filtered_by_cycle_year(api):
    org = make_org(api)
    c20, c21 = make_cycle(api, 2020), make_cycle(api, 2021)
    make_submission(api, org["id"], c20["id"], "estate", {})
    make_submission(api, org["id"], c21["id"], "estate", {})
    r = api.ingest.get("/api/v1/submissions?cycle=2021", headers=api.auth("admin"))
    assert r.status_code == 200, r.text
    assert [s["cycle_year"] for s in r.json()["items"]] == [2021]
    assert r.json()["total"] == 1
    spec = api.ingest.app.openapi()
    names = {p["name"] for p in spec["paths"]["/api/v1/submissions"]["get"]["parameters"]}
    assert "cycle" in names and "cycle_id" not in names
