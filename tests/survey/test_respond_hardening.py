"""The survey's public endpoints under hostile use: a body is read only for a link that
takes answers, bodies are small, clients and links are rate-limited, NUL and control
characters are refused by field, pages cannot be framed, and the Host header is never
reflected; plus strict dates and single-line titles on the staff side."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from shared.testing.asgi import drive as drive_app
from tests.factories import assert_problem, make_org
from tests.survey.conftest import full_answers, make_campaign, staff, upload


def drive(app, method: str, path: str, headers: dict[str, str], chunks: list[bytes]):
    """Call the ASGI app directly; return (status, body, chunks of the body it read)."""
    status, _headers, body, read = drive_app(
        app, method, path, headers, chunks, client="203.0.113.9"
    )
    return status, body, read


def random_token() -> str:
    return secrets.token_urlsafe(32)


def live_link(api, smtp) -> tuple[dict[str, Any], str]:
    campaign = make_campaign(api)
    upload(api, campaign, ["edge@example.gov.uk"])
    api.survey.post(f"/api/v1/campaigns/{campaign['id']}/send", headers=staff(api, campaign))
    api.deliver()
    return campaign, smtp.messages[-1].token


def test_an_unknown_link_is_refused_before_its_body_is_read(api):
    app = api.apps["survey"]
    chunk = b'{"answers": {"overall": ' + b" " * 60_000 + b"1}}"
    for path in (f"/api/v1/respond/{random_token()}/submission",):
        status, body, read = drive(
            app,
            "POST",
            path,
            {"content-type": "application/json", "content-length": str(len(chunk))},
            [chunk],
        )
        assert status == 404 and b"link_unknown" in body
        assert read == 0
    status, body, read = drive(
        app,
        "PUT",
        f"/api/v1/respond/{random_token()}/draft",
        {"content-type": "application/json", "transfer-encoding": "chunked"},
        [chunk] * 50,
    )
    assert status == 404 and read == 0


def test_a_fifty_megabyte_submission_is_refused_unread(api):
    status, body, read = drive(
        api.apps["survey"],
        "POST",
        f"/api/v1/respond/{random_token()}/submission",
        {"content-type": "application/json", "content-length": str(50 * 1024 * 1024)},
        [b"x" * 1024 * 1024] * 50,
    )
    assert status == 413 and b"payload_too_large" in body and read == 0


def test_a_used_link_is_refused_before_its_body_is_read(api, smtp):
    _, token = live_link(api, smtp)
    r = api.survey.post(f"/api/v1/respond/{token}/submission", json={"answers": full_answers(1)})
    assert r.status_code == 201, r.text
    body = b'{"answers": {}}'
    status, out, read = drive(
        api.apps["survey"],
        "POST",
        f"/api/v1/respond/{token}/submission",
        {"content-type": "application/json", "content-length": str(len(body))},
        [body],
    )
    assert status == 409 and b"already_submitted" in out and read == 0


def test_nul_nested_in_answers_is_a_422_naming_the_field(api, smtp, owner_engine):
    _, token = live_link(api, smtp)
    answers = full_answers(2) | {"comment": "fine\u0000then"}
    for method, path in (("PUT", "draft"), ("POST", "submission")):
        r = api.survey.request(method, f"/api/v1/respond/{token}/{path}", json={"answers": answers})
        problem = assert_problem(r, 422)
        assert [e["field"] for e in problem["errors"]] == ["answers.comment"]
    r = api.survey.put(f"/api/v1/respond/{token}/draft", json={"answers": {"over\u0000all": 3}})
    assert [e["field"] for e in assert_problem(r, 422)["errors"]] == ["answers.over\u0000all"]
    with owner_engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM survey_responses")).scalar() == 0


def test_campaign_creation_refuses_nul_and_line_breaks_by_field(api):
    org = make_org(api)
    headers = api.auth("participant", [org["id"]])
    base = {"organisation_id": org["id"], "kind": "user_satisfaction", "users_in_scope": 10}
    cases = [
        ({"title": "Staff survey\r\nBcc: all@example.org"}, "title"),
        ({"title": "Staff\u0000survey"}, "title"),
        (
            {"attribute_options": {"location": ["Town hall", "Depot\u0000"]}},
            "attribute_options.location.1",
        ),
        ({"attribute_options": {"location": ["Depot\n2"]}}, "attribute_options.location.0"),
    ]
    for extra, field in cases:
        r = api.survey.post("/api/v1/campaigns", json=base | extra, headers=headers)
        assert [e["field"] for e in assert_problem(r, 422)["errors"]] == [field], extra


def test_dates_must_be_iso_strings(api):
    r = api.ingest.post(
        "/api/v1/cycles", json={"year": 2031, "results_release_date": 0}, headers=api.auth()
    )
    assert [e["field"] for e in assert_problem(r, 422)["errors"]] == ["results_release_date"]
    org = make_org(api)
    r = api.survey.post(
        "/api/v1/campaigns",
        json={"organisation_id": org["id"], "kind": "sdma", "users_in_scope": 5, "closes_on": 0},
        headers=api.auth("participant", [org["id"]]),
    )
    assert [e["field"] for e in assert_problem(r, 422)["errors"]] == ["closes_on"]
    r = api.ingest.post(
        "/api/v1/cycles",
        json={"year": 2031, "results_release_date": "2031-11-01"},
        headers=api.auth(),
    )
    assert r.status_code == 201 and r.json()["results_release_date"] == "2031-11-01"


def test_organisation_name_refuses_line_breaks(api):
    r = api.ingest.post(
        "/api/v1/organisations",
        json={"name": "Council\nof Evil", "type": "L", "nation": "England", "users": 5},
        headers=api.auth(),
    )
    assert [e["field"] for e in assert_problem(r, 422)["errors"]] == ["name"]


@pytest.fixture
def limited(api, database_url):
    """A survey app of its own with small rate limits."""
    import services.survey.main as survey_main

    settings = api.settings.model_copy(
        update={
            "public_rate_client_burst": 5,
            "public_rate_client_per_minute": 6,
            "public_rate_token_burst": 2,
            "public_rate_token_per_minute": 6,
        }
    )
    with TestClient(
        survey_main.build(settings=settings, database_url=database_url),
        raise_server_exceptions=False,
    ) as client:
        yield client


def test_unknown_tokens_from_one_client_are_rate_limited(limited):
    codes = [limited.get(f"/api/v1/respond/{random_token()}").status_code for _ in range(5)]
    assert codes == [404] * 5
    r = limited.post(f"/api/v1/respond/{random_token()}/submission", json={"answers": {}})
    problem = assert_problem(r, 429, "rate_limited")
    assert int(r.headers["Retry-After"]) >= 1 and "try again" in problem["detail"]
    r = limited.get(f"/s/{random_token()}")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1


def test_one_link_is_rate_limited(api, limited):
    token = random_token()
    limited.app.state.rate_limiter.per_client.burst = 1000.0
    assert [limited.get(f"/s/{token}").status_code for _ in range(2)] == [404, 404]
    r = limited.get(f"/api/v1/respond/{token}")
    assert_problem(r, 429, "rate_limited")
    assert r.headers["Retry-After"] == "10"
    assert limited.get(f"/s/{random_token()}").status_code == 404  # another link is fine


def _style_hash(page: str) -> str:
    style = re.search(r"<style>(.*?)</style>", page, re.DOTALL)
    assert style is not None
    return (
        "'sha256-"
        + base64.b64encode(hashlib.sha256(style.group(1).encode()).digest()).decode()
        + "'"
    )


def test_respondent_pages_cannot_be_framed_sniffed_or_cached(api, smtp):
    _, token = live_link(api, smtp)
    for r in (api.survey.get(f"/s/{token}"), api.survey.get(f"/s/{random_token()}")):
        assert r.status_code in (200, 404)
        h = r.headers
        csp = h["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
        assert f"style-src {_style_hash(r.text)}" in csp  # the inline stylesheet, by hash
        assert "script-src" not in csp and "unsafe-inline" not in csp
        assert h["X-Frame-Options"] == "DENY"
        assert h["X-Content-Type-Options"] == "nosniff"
        assert h["Referrer-Policy"] == "no-referrer"
        assert h["Cache-Control"] == "no-store"
    r = api.survey.put(f"/api/v1/respond/{token}/draft", json={"answers": {"overall": "x"}})
    assert r.status_code == 422  # an error answer carries them too
    assert r.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in r.headers["Content-Security-Policy"]


def test_links_never_carry_the_host_header(api, smtp):
    _campaign, token = live_link(api, smtp)
    r = api.survey.post(
        f"/s/{token}", data={"page": "1", "action": "save"}, headers={"Host": "evil.example"}
    )
    assert r.status_code == 200
    assert "evil.example" not in r.text
    assert f"{api.settings.public_survey_base()}/s/{token}" in r.text
    org_headers = api.auth()
    make_org(api, name="Second Council")
    r = api.ingest.get(
        "/api/v1/organisations?limit=1", headers={**org_headers, "Host": "evil.example"}
    )
    assert r.status_code == 200, r.text
    assert r.json()["next"] == "/api/v1/organisations?limit=1&offset=1"  # a path, no host


def test_405_lists_every_method_of_the_path(api):
    r = api.survey.delete("/api/v1/campaigns/1", headers=api.auth())
    assert r.status_code == 405
    assert r.headers["Allow"] == "GET, PATCH"
    r = api.survey.request("OPTIONS", "/api/v1/campaigns")
    assert r.status_code == 405 and r.headers["Allow"] == "GET, POST"
