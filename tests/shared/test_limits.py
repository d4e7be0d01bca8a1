"""The edge of every service, on a small app built by the real factory: body limits
(413 before the body is read), NUL anywhere in JSON (422 naming the field), the strict
field types, 405 ``Allow``, links never built on the client's Host, rate-limit buckets."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest
from fastapi import APIRouter, Request
from fastapi.testclient import TestClient
from pydantic import BaseModel

from shared.app import create_app
from shared.ratelimit import Buckets, RateLimiter, TooManyRequests
from shared.settings import Settings
from shared.testing.asgi import drive
from shared.types import IsoDate, MultiLine, SingleLine

router = APIRouter()


class Item(BaseModel):
    title: SingleLine | None = None
    text: MultiLine | None = None
    day: IsoDate | None = None
    extra: dict[str, Any] = {}


@router.post("/items")
def create_item(item: Item) -> dict[str, Any]:
    return {"ok": True}


@router.get("/items/{item_id}", name="get_item")
def get_item(item_id: int, request: Request) -> dict[str, Any]:
    return {"self": str(request.url_for("get_item", item_id=item_id))}


@router.patch("/items/{item_id}")
def patch_item(item_id: int) -> dict[str, Any]:
    return {}


@router.post("/big", max_body_size=64 * 1024)
def big(item: Item) -> dict[str, Any]:
    return {"ok": True}


@pytest.fixture(scope="module")
def app():
    settings = Settings(
        environment="test",
        max_body_bytes=8 * 1024,
        ingest_url="https://ingest.example.org",
    )
    return create_app("ingest", [router], settings=settings)


@pytest.fixture(scope="module")
def client(app):
    return TestClient(app, raise_server_exceptions=False)  # no lifespan: no database


def call(app, method: str, path: str, headers: dict[str, str], chunks: list[bytes]):
    """Drive the ASGI app directly; report the answer and how many body chunks it read."""
    return drive(app, method, path, headers, chunks, timeout=10)


def test_declared_oversize_body_is_refused_before_a_byte_is_read(app):
    status, headers, body, read = call(
        app,
        "POST",
        "/items",
        {"content-type": "application/json", "content-length": str(50 * 1024 * 1024)},
        [b"x" * 65536] * 4,
    )
    assert status == 413
    assert headers["content-type"] == "application/problem+json"
    assert json.loads(body)["code"] == "payload_too_large"
    assert "8 KiB" in json.loads(body)["detail"]
    assert read == 0


def test_chunked_body_is_cut_off_once_past_the_limit(app):
    chunks = [b"[" + b"1," * 2000] + [b"1," * 2048] * 1000  # ~4 MB if read to the end
    status, _headers, body, read = call(
        app,
        "POST",
        "/items",
        {"content-type": "application/json", "transfer-encoding": "chunked"},
        chunks,
    )
    assert status == 413 and json.loads(body)["code"] == "payload_too_large"
    assert read <= 3  # 8 KiB: stopped at the third 4 KiB chunk, not after 1,000


def test_an_endpoint_declares_its_own_limit(client):
    padding = "a" * 20_000  # over the 8 KiB default, under /big's 64 KiB
    assert client.post("/big", json={"extra": {"p": padding}}).status_code == 200
    assert client.post("/items", json={"extra": {"p": padding}}).status_code == 413
    r = client.post("/big", json={"extra": {"p": "a" * 70_000}})
    assert r.status_code == 413 and "64 KiB" in r.json()["detail"]


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"title": "a\u0000b"}, "title"),
        ({"extra": {"deep": [{"x": 1}, {"note": ["ok", "bad\u0000"]}]}}, "extra.deep.1.note.1"),
        ({"extra": {"key\u0000": 1}}, "extra.key\u0000"),
    ],
)
def test_nul_anywhere_in_json_is_a_422_naming_the_field(client, document, field):
    r = client.post(
        "/items", content=json.dumps(document), headers={"content-type": "application/json"}
    )
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in r.json()["errors"]] == [field]


def test_an_escaped_backslash_before_u0000_is_not_a_nul(client):
    r = client.post(
        "/items",
        content=b'{"title": "C:\\\\u0000dir"}',
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 200, r.text


@pytest.mark.parametrize(
    "bad", ["Quarterly\r\nBcc: x@example.org", "tab\there", "nul\x00", "nel\x85", "ls\u2028"]
)
def test_single_line_text_refuses_control_characters(client, bad):
    r = client.post("/items", json={"title": bad})
    assert r.status_code == 422
    assert [e["field"] for e in r.json()["errors"]] == ["title"]
    assert "U+" in r.json()["errors"][0]["message"]  # names the character


def test_multi_line_text_keeps_line_breaks_and_refuses_other_controls(client):
    assert client.post("/items", json={"text": "line one\r\nline two\tend"}).status_code == 200
    r = client.post("/items", json={"text": "bell\x07"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "text"


@pytest.mark.parametrize(
    "bad", [0, 0.0, "0", "2025-04-01T00:00:00", "20250401", True, "2025-02-30"]
)
def test_dates_are_iso_strings_only(client, bad):
    r = client.post("/items", json={"day": bad})
    assert r.status_code == 422, (bad, r.text)
    assert r.json()["errors"][0]["field"] == "day"


def test_iso_date_is_accepted_and_schema_says_so():
    assert Item.model_validate({"day": "2025-04-01"}).day == date(2025, 4, 1)
    schema = Item.model_json_schema()
    day = schema["properties"]["day"]["anyOf"][0]
    assert day == {"type": "string", "format": "date"}
    assert schema["properties"]["title"]["anyOf"][0]["pattern"].startswith("^[^\\u0000-")


def test_405_allows_every_method_of_the_path(client):
    r = client.delete("/items/3")
    assert r.status_code == 405
    assert r.headers["allow"] == "GET, PATCH"
    assert "GET, PATCH" in r.json()["detail"]


def test_links_are_built_on_the_public_url_never_on_the_host_header(client):
    r = client.get("/items/3", headers={"Host": "evil.example"})
    assert r.json()["self"] == "https://ingest.example.org/items/3"


def test_buckets_allow_a_burst_then_refill_at_the_rate():
    buckets = Buckets(per_minute=60, burst=3)
    assert [buckets.take("a", 0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a", 0.0) == pytest.approx(1.0)
    assert buckets.take("b", 0.0) == 0.0  # keys are independent
    assert buckets.take("a", 1.0) == 0.0  # one token back after a second
    assert buckets.take("a", 1.0) > 0.0


def test_buckets_keep_a_bounded_number_of_keys():
    buckets = Buckets(per_minute=1, burst=1, max_keys=100)
    for i in range(10_000):
        buckets.take(f"k{i}", 0.0)
    assert len(buckets._state) == 100


def test_limiter_answers_429_with_retry_after_per_client_and_per_key():
    now = [0.0]
    limiter = RateLimiter(
        client_per_minute=60, client_burst=5, key_per_minute=6, key_burst=2, clock=lambda: now[0]
    )
    limiter.check("c1", "t1")
    limiter.check("c1", "t1")
    with pytest.raises(TooManyRequests) as refused:
        limiter.check("c1", "t1")  # the link's burst of 2 is spent
    assert refused.value.status == 429 and refused.value.headers == {"Retry-After": "10"}
    limiter.check("c1", "t2")
    limiter.check("c1", "t3")
    with pytest.raises(TooManyRequests) as refused:
        limiter.check("c1", "t4")  # the client's burst of 5 is spent
    assert refused.value.headers == {"Retry-After": "1"}
    limiter.check("c2", "t5")  # another client is unaffected
    now[0] = 10.0
    limiter.check("c1", "t1")
